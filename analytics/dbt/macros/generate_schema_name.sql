{#- Custom schemas are used verbatim (`analytics`, `snapshots`), not prefixed with the target schema:
    the dashboards and the loader agree on these names (docs/CONTRACTS.md). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
