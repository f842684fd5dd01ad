{% macro stage(stream, key, tombstone=none) %}
{#- A stream's table as staging models start from: the columns of stream_columns() found by name whatever case
    and underscores the loader gave them (target-postgres keeps `configId`, target-duckdb writes `configid`),
    cast to one type each, renamed to snake_case, a column the table lacks as null; and one row per key, the
    latest extraction (a loader that appends keeps every version of a row). `tombstone` names the column set
    on a row the source deleted (`deleted_at`): a key whose latest extraction is one is left out, and so is
    the column. -#}
{%- set relation = source('sequentum', stream) -%}
{%- set landed = sequentum.landed_columns(relation) -%}
{%- set columns = sequentum.stream_columns(stream) -%}
with typed as (

    select
        {%- for source_name, name, kind in columns %}
        {{ sequentum.landed_column(landed, source_name, kind) }} as {{ name }},
        {%- endfor %}
        {{ sequentum.landed_column(landed, '_sdc_extracted_at', 'timestamp') }} as extracted_at,
        {{ sequentum.landed_column(landed, var('sequentum__loaded_at_field', '_sdc_batched_at'), 'timestamp') }} as loaded_at
    from {{ relation }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ key | join(', ') }}
            order by extracted_at desc nulls last, loaded_at desc nulls last
        ) as extraction_rank
    from typed

)

select
    {%- for source_name, name, kind in columns if name != tombstone %}
    {{ name }},
    {%- endfor %}
    extracted_at,
    loaded_at
from ranked
where extraction_rank = 1
{%- if tombstone %}
    and {{ tombstone }} is null
{%- endif %}
{%- endmacro %}



{% macro stage_decoded(stream, key, seed, code, decoded, tombstone=none) %}
{#- stage() with the code column `code` decoded by a seed the tap's own table generates (tap_sequentum/domain.py):
    `decoded` are expressions over the seed's row (`codes`, matched on `<code>_code`), after the stream's
    columns; a code the seed lacks decodes to null. -#}
with staged as (

    {{ sequentum.stage(stream, key, tombstone=tombstone) }}

),

codes as (

    select * from {{ ref(seed) }}

)

select
    staged.*,
    {{ decoded | join(',\n    ') }}
from staged
left join codes
    on staged.{{ code }} = codes.{{ code }}_code
{%- endmacro %}

{% macro landed_columns(relation) %}
{#- The relation's columns by their name lower-cased without underscores: `configid` -> `configId`. -#}
{%- set found = {} -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do found.update({sequentum.name_key(column.name): column.name}) -%}
    {%- endfor -%}
{%- endif -%}
{{ return(found) }}
{%- endmacro %}


{% macro name_key(name) %}
{{- return(name | lower | replace('_', '')) -}}
{%- endmacro %}


{% macro landed_column(landed, name, kind) %}
{%- set column = landed.get(sequentum.name_key(name)) -%}
{%- if column is none -%}
    cast(null as {{ sequentum.type_of(kind) }})
{%- else -%}
    cast({{ adapter.quote(column) }} as {{ sequentum.type_of(kind) }})
{%- endif -%}
{%- endmacro %}


{% macro type_of(kind) %}
{#- The warehouse type of a stream_columns() type; JSON stays text, which every warehouse can cast to. -#}
{%- if kind == 'integer' -%} {{ dbt.type_bigint() }}
{%- elif kind == 'number' -%} {{ dbt.type_numeric() }}
{%- elif kind == 'boolean' -%} {{ dbt.type_boolean() }}
{%- elif kind == 'timestamp' -%} {{ dbt.type_timestamp() }}
{%- else -%} {{ dbt.type_string() }}
{%- endif -%}
{%- endmacro %}
