{% test unique_combination(model, columns) %}
{#- No two rows share these columns' values: a key of several columns. -#}
select
    {{ columns | join(', ') }},
    count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
