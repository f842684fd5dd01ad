-- One row per content table, agent, run and data column: how many of the run's rows have the column filled
-- (not null and not blank). The columns come from the warehouse, so a column a later file added is here too.
{%- set tables = sequentum.content_relations() | selectattr('data_columns') | list %}

{% if tables %}
with
{% for table in tables %}
filled_{{ loop.index }} as (

    select
        _sdc_agent_id,
        _sdc_run_id,
        max(_sdc_run_created) as run_created_at,
        count(*) as row_count
        {%- for column in table.data_columns %},
        count(nullif(trim(cast({{ adapter.quote(column) }} as {{ dbt.type_string() }})), '')) as filled_{{ loop.index }}
        {%- endfor %}
    from {{ table.relation }}
    group by _sdc_agent_id, _sdc_run_id

){% if not loop.last %},{% endif %}
{% endfor %}

{% for table in tables %}
{%- set table_index = loop.index %}
{%- for column in table.data_columns %}
select
    cast('{{ table.name }}' as {{ dbt.type_string() }}) as content_table,
    cast(_sdc_agent_id as {{ dbt.type_bigint() }}) as agent_id,
    cast(_sdc_run_id as {{ dbt.type_bigint() }}) as run_id,
    cast(run_created_at as {{ dbt.type_timestamp() }}) as run_created_at,
    cast(row_count as {{ dbt.type_bigint() }}) as row_count,
    cast('{{ column }}' as {{ dbt.type_string() }}) as column_name,
    cast(filled_{{ loop.index }} as {{ dbt.type_bigint() }}) as filled_rows
from filled_{{ table_index }}
{% if not (loop.last and table_index == tables | length) %}union all{% endif %}
{%- endfor %}
{%- endfor %}
{% else %}
{{ sequentum.no_rows({'content_table': 'string', 'agent_id': 'integer', 'run_id': 'integer',
    'run_created_at': 'timestamp', 'row_count': 'integer', 'column_name': 'string', 'filled_rows': 'integer'}) }}
{% endif %}
