{% macro utc_now() %}
{#- Now as a UTC timestamp without time zone, as the loaders write the tap's date-times. -#}
{{- return(adapter.dispatch('utc_now', 'sequentum')()) -}}
{%- endmacro %}

{% macro default__utc_now() -%}
cast(timezone('UTC', current_timestamp) as {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro hours_between(start, end) -%}
{#- Hours from `start` to `end`, to two decimals. -#}
round(cast({{ dbt.datediff(start, end, 'second') }} as {{ dbt.type_numeric() }}) / 3600, 2)
{%- endmacro %}

