{% macro costs_per_period(dimensions, counts=[]) %}
{#- Billed runs' costs per period (the var sequentum__cost_period, by billing date) and `dimensions` (columns of
    sequentum__run_economics), with `counts` (aggregate expressions, e.g. 'count(distinct agent_id) as
    agents') before the billed runs. The costs marts differ only in what they group by. -#}
{%- set period = var('sequentum__cost_period', 'month') %}
with economics as (

    select * from {{ ref('sequentum__run_economics') }}
    where credits is not null

)

select
    cast({{ dbt.date_trunc(period, 'coalesce(billed_at, created_at)') }} as date) as period_start,
    {%- for column in dimensions + counts %}
    {{ column }},
    {%- endfor %}
    count(*) as billed_runs,
    sum(credits) as credits,
    sum(coalesce(exported_rows, 0)) as exported_rows,
    round(1000 * sum(credits) / nullif(sum(coalesce(exported_rows, 0)), 0), 4) as credits_per_1000_rows
from economics
group by 1, {{ dimensions | join(', ') }}
{%- endmacro %}
