{#- is_incremental(), except that it is false without asking the warehouse when the var
    `offline_compile` is true: `dbt compile --target prod --vars '{offline_compile: true}'` then
    renders every model without a Snowflake connection (CI has no account). -#}
{% macro is_incremental_run() -%}
    {{ return(not var('offline_compile', false) and is_incremental()) }}
{%- endmacro %}
