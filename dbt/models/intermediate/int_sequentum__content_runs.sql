-- One row per content table, agent and run: the rows and files the run delivered to the table and when they
-- were loaded. The content tables are found in the source schema by content_relations().
{%- set tables = sequentum.content_relations() %}

{% for table in tables %}
select
    cast('{{ table.name }}' as {{ dbt.type_string() }}) as content_table,
    cast(_sdc_agent_id as {{ dbt.type_bigint() }}) as agent_id,
    cast(_sdc_run_id as {{ dbt.type_bigint() }}) as run_id,
    cast(max(_sdc_run_created) as {{ dbt.type_timestamp() }}) as run_created_at,
    count(*) as row_count,
    count(distinct _sdc_file_id) as file_count,
    max({{ sequentum.loaded_at_column(table) }}) as loaded_at
from {{ table.relation }}
group by _sdc_agent_id, _sdc_run_id
{% if not loop.last %}union all{% endif %}
{%- else %}
{{ sequentum.no_rows({'content_table': 'string', 'agent_id': 'integer', 'run_id': 'integer',
    'run_created_at': 'timestamp', 'row_count': 'integer', 'file_count': 'integer', 'loaded_at': 'timestamp'}) }}
{%- endfor %}
