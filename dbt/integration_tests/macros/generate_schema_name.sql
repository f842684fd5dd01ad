{% macro generate_schema_name(custom_schema_name, node) -%}
{#- A custom schema as it is (the seeded schedules go to the tap's schema), else the target's. -#}
{{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
