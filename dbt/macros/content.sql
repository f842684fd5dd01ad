{% macro content_relations() %}
{#- The content streams' tables: every table of the source schema with the columns _sdc_agent_id, _sdc_run_id,
    _sdc_run_created, _sdc_file_id and _sdc_row_number (or the tables the var sequentum__content_tables
    lists), each as {name, relation, columns: [{name, data_type}], data_columns: [names]}. -#}
{%- set found = [] -%}
{%- if not execute -%}
    {{ return(found) }}
{%- endif -%}
{%- set database = var('sequentum_database', target.database) -%}
{%- set schema = var('sequentum_schema', 'tap_sequentum') -%}
{%- set listed = var('sequentum__content_tables', none) -%}
{%- set query -%}
    select table_name, column_name, data_type
    from information_schema.columns
    where lower(table_catalog) = lower('{{ database }}')
      and lower(table_schema) = lower('{{ schema }}')
    order by table_name, ordinal_position
{%- endset -%}
{%- set tables = {} -%}
{%- for row in run_query(query) -%}
    {%- do tables.setdefault(row[0], []).append({'name': row[1], 'data_type': row[2]}) -%}
{%- endfor -%}
{%- set required = ['_sdc_agent_id', '_sdc_run_id', '_sdc_run_created', '_sdc_file_id', '_sdc_row_number'] -%}
{%- for name, columns in tables.items() | sort -%}
    {%- set names = columns | map(attribute='name') | map('lower') | list -%}
    {%- set wanted = (name in listed) if listed is not none else true -%}
    {%- if wanted and required | reject('in', names) | list | length == 0 -%}
        {%- set data_columns = [] -%}
        {%- for column in columns if not column.name.startswith('_sdc_') -%}
            {%- do data_columns.append(column.name) -%}
        {%- endfor -%}
        {%- do found.append({
            'name': name,
            'relation': api.Relation.create(database=database, schema=schema, identifier=name),
            'columns': columns,
            'data_columns': data_columns,
        }) -%}
    {%- endif -%}
{%- endfor -%}
{{ return(found) }}
{%- endmacro %}


{% macro loaded_at_column(table) %}
{#- The table's load time column, or null when the loader writes none. -#}
{%- set wanted = var('sequentum__loaded_at_field', '_sdc_batched_at') | lower -%}
{%- set found = table.columns | selectattr('name', 'equalto', wanted) | list -%}
{%- if found -%}
    cast({{ adapter.quote(found[0].name) }} as {{ dbt.type_timestamp() }})
{%- else -%}
    cast(null as {{ dbt.type_timestamp() }})
{%- endif -%}
{%- endmacro %}


{% macro union_export_table(export_table, tables=none) %}
{#- One export table's rows across the agents that feed it, when merge_export_tables is off: the tables named
    `<export_table>`, `<export_table>_<agent id>` (a look-alike agent's own table) and `<agent>__<export_table>`,
    or the tables listed in `tables`. Columns are the union of theirs (null where a table lacks one; text where
    two tables type it differently); `_sdc_table` says which table a row came from. -#}
{%- set chosen = [] -%}
{%- for table in sequentum.content_relations() -%}
    {%- set name = table.name -%}
    {%- set suffix = name[(export_table | length) + 1:] if name.startswith(export_table ~ '_') else '' -%}
    {%- if tables is not none -%}
        {%- if name in tables -%}{%- do chosen.append(table) -%}{%- endif -%}
    {%- elif name == export_table or name.endswith('__' ~ export_table) -%}
        {%- do chosen.append(table) -%}
    {%- elif suffix.isdigit() and sequentum.owned_by(table, suffix) -%}
        {%- do chosen.append(table) -%}
    {%- endif -%}
{%- endfor -%}
{%- if execute and not chosen -%}
    {{ exceptions.raise_compiler_error(
        "union_export_table: no content table holds the export table '" ~ export_table ~ "' in schema "
        ~ var('sequentum_schema', 'tap_sequentum') ~ " (name its tables with tables=[...])") }}
{%- endif -%}
{%- set types = {} -%}
{%- for table in chosen -%}
    {%- for column in table.columns if not column.name.startswith('_sdc_') or column.name in
            ['_sdc_agent_id', '_sdc_run_id', '_sdc_run_created', '_sdc_file_id', '_sdc_row_number'] -%}
        {%- do types.setdefault(column.name, []).append(column.data_type | lower) -%}
    {%- endfor -%}
{%- endfor -%}
{%- for table in chosen %}
select
    '{{ table.name }}' as _sdc_table
    {%- set own = table.columns | map(attribute='name') | list %}
    {%- for column, kinds in types.items() %}
    {%- set type = kinds[0] if kinds | unique | list | length == 1 else dbt.type_string() %},
    {% if column in own %}cast({{ adapter.quote(column) }} as {{ type }}){% else %}cast(null as {{ type }}){% endif %} as {{ adapter.quote(column) }}
    {%- endfor %}
from {{ table.relation }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endmacro %}


{% macro owned_by(table, agent_id) %}
{#- Whether `<slug>_<digits>` is an agent's own table: the tap appends the agent's id to a taken name. -#}
{%- if not execute -%}{{ return(false) }}{%- endif -%}
{%- set query -%}
    select count(*) from {{ table.relation }} where _sdc_agent_id = {{ agent_id }}
{%- endset -%}
{{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}


{% macro no_rows(columns) %}
{#- An empty relation with `columns` ({name: type of type_of()}), for a model with no content table to read. -#}
select
    {%- for name, kind in columns.items() %}
    cast(null as {{ sequentum.type_of(kind) }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
where 1 = 0
{%- endmacro %}
