{#- is_incremental(), except that it is false without asking the warehouse when the var
    `offline_compile` is true: `dbt compile --target prod --vars '{offline_compile: true}'` then
    renders every model without a Snowflake connection (CI has no account). -#}
{% macro is_incremental_run() -%}
    {{ return(not var('offline_compile', false) and is_incremental()) }}
{%- endmacro %}

{#- Session-incremental facts and marts. Each row carries `_input_version`, the version
    (int_sessions__input_versions.<version>) of the inputs its session was built from. A build

    1. deletes the sessions whose stored version is no longer current (`delete_stale_sessions`, the
       model's pre-hook: a re-landed session's old rows go, even where the new run has none), then
    2. appends the sessions whose current version it does not hold (`sessions_to_build`), which are
       exactly those whose inputs changed since the last build, whatever the order and timing of loads.

    `where` restricts the sessions the model holds (e.g. `laps_rows > 0`). A full build holds every
    session. Use with incremental_strategy='append' and pre_hook=delete_stale_sessions(...). -#}

{%- macro _current_versions(version, where) -%}
    select session_key, {{ version }} as input_version
    from {{ ref('int_sessions__input_versions') }}
    where {{ version }} is not null{% if where %} and ({{ where }}){% endif %}
{%- endmacro %}

{#- Whether {{ this }} records the versions its rows were built from: a table built before this mechanism
    has no `_input_version` (its rows are all stale; the column is added by on_schema_change). -#}
{%- macro _holds_versions() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('_input_version' in columns) }}
{%- endmacro -%}

{#- session_key and input_version of the sessions the build (re)computes. -#}
{% macro sessions_to_build(version, where=none) -%}
    select current_versions.session_key, current_versions.input_version
    from ({{ _current_versions(version, where) }}) as current_versions
    {%- if is_incremental_run() and _holds_versions() %}
    where not exists (
        select 1 from {{ this }} as built
        where built.session_key = current_versions.session_key and built._input_version = current_versions.input_version
    )
    {%- endif %}
{%- endmacro %}

{#- The pre-hook: removes the rows of sessions whose inputs changed (or that the model no longer holds). -#}
{% macro delete_stale_sessions(version, where=none) -%}
    {%- if is_incremental_run() and not _holds_versions() -%}
    delete from {{ this }}
    {%- elif is_incremental_run() -%}
    delete from {{ this }}
    where session_key in (
        select built.session_key
        from (select distinct session_key, _input_version from {{ this }}) as built
        left join ({{ _current_versions(version, where) }}) as current_versions
            on built.session_key = current_versions.session_key
            and built._input_version = current_versions.input_version
        where current_versions.session_key is null
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The config of a session-incremental model: `{{ config(**session_incremental(version, where)) }}`.
    On Snowflake the table is clustered by (season, session_key), the keys every delete and the
    version check filter on. -#}
{% macro session_incremental(version, where=none) -%}
    {%- set hook_args = "'" ~ version ~ "'" ~ (", '" ~ where ~ "'" if where else "") -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'pre_hook': '{{ delete_stale_sessions(' ~ hook_args ~ ') }}',
        'on_schema_change': 'append_new_columns',
        'cluster_by': ['season', 'session_key'],
    }) }}
{%- endmacro %}
