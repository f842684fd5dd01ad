{% macro median(expression) %}
{#- The median of `expression` as an aggregate. -#}
{{- return(adapter.dispatch('median', 'sequentum')(expression)) -}}
{%- endmacro %}

{% macro default__median(expression) -%}
percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
