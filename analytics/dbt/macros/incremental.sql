{#- is_incremental(), except that it is false without asking the warehouse when the var
    `offline_compile` is true: `dbt compile --target prod --vars '{offline_compile: true}'` then
    renders every model without a Snowflake connection (CI has no account). -#}
{% macro is_incremental_run() -%}
    {{ return(not var('offline_compile', false) and is_incremental()) }}
{%- endmacro %}

{#- Session-incremental facts and marts. Each row carries `_input_version`, the version
    (int_sessions__input_versions.<version>) of the inputs its session was built from. A build

    1. deletes the sessions whose stored version is no longer current (`delete_stale`, the model's
       pre-hook: a re-landed session's old rows go, even where the new run has none), then
    2. appends the sessions whose current version it does not hold (`sessions_to_build`), which are
       exactly those whose inputs changed since the last build, whatever the order and timing of loads.

    `where` restricts the sessions the model holds (e.g. `laps_rows > 0`). A full build holds every
    session. The same works per season (grain 'season': int_seasons__input_versions, `seasons_to_build`):
    the standings recompute the seasons whose races, sprints or regulations changed.
    Configure with `session_incremental(...)`. -#}

{#- The grains: the column a model's rows are rebuilt by, and the model holding its versions. -#}
{%- macro _grain(grain) -%}
    {%- set grains = {'session': ('session_key', 'int_sessions__input_versions'),
                      'season': ('season', 'int_seasons__input_versions')} -%}
    {{ return(grains[grain]) }}
{%- endmacro -%}

{%- macro _current_versions(version, where, grain='session') -%}
    {%- set key, versions = _grain(grain) -%}
    select {{ key }}{{ ', season, round, session' if grain == 'session' }}, {{ version }} as input_version
    from {{ ref(versions) }}
    where {{ version }} is not null{% if where %} and ({{ where }}){% endif %}
{%- endmacro %}

{#- Whether {{ this }} records the versions its rows were built from: a table built before this mechanism
    has no `_input_version` (its rows are all stale; the column is added by on_schema_change). -#}
{%- macro _holds_versions() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('_input_version' in columns) }}
{%- endmacro -%}

{#- The key (session_key or season) and input_version of what the build (re)computes; a session's also with its
    season, round and session, the staging tables' own columns (a join on them prunes on Snowflake, one on a
    computed key cannot). -#}
{% macro to_build(version, where=none, grain='session') -%}
    {%- set key = _grain(grain)[0] -%}
    select current_versions.{{ key }},{{ ' current_versions.season, current_versions.round, current_versions.session,' if grain == 'session' }} current_versions.input_version
    from ({{ _current_versions(version, where, grain) }}) as current_versions
    {%- if is_incremental_run() and _holds_versions() %}
    where not exists (
        select 1 from {{ this }} as built
        where built.{{ key }} = current_versions.{{ key }} and built._input_version = current_versions.input_version
    )
    {%- endif %}
{%- endmacro %}

{% macro sessions_to_build(version, where=none) -%}
    {{ to_build(version, where, 'session') }}
{%- endmacro %}

{% macro seasons_to_build(version, where=none) -%}
    {{ to_build(version, where, 'season') }}
{%- endmacro %}

{#- The pre-hook: removes the rows of the sessions (seasons) whose inputs changed, or that the model no
    longer holds. -#}
{% macro delete_stale(version, where=none, grain='session') -%}
    {%- set key = _grain(grain)[0] -%}
    {%- if is_incremental_run() and not _holds_versions() -%}
    delete from {{ this }}
    {%- elif is_incremental_run() -%}
    delete from {{ this }}
    where {{ key }} in (
        select built.{{ key }}
        from (select distinct {{ key }}, _input_version from {{ this }}) as built
        left join ({{ _current_versions(version, where, grain) }}) as current_versions
            on built.{{ key }} = current_versions.{{ key }}
            and built._input_version = current_versions.input_version
        where current_versions.{{ key }} is null
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The config of a session-incremental model: `{{ config(**session_incremental(version, where)) }}`
    (grain 'season': `{{ config(**session_incremental(version, grain='season')) }}`, rows rebuilt per
    season). On Snowflake the table is clustered by the keys every delete and the version check filter on:
    (season, session_key), or season. -#}
{% macro session_incremental(version, where=none, grain='session') -%}
    {%- set hook_args = "'" ~ version ~ "', " ~ ("'" ~ where ~ "'" if where else "none") ~ ", '" ~ grain ~ "'" -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'pre_hook': '{{ delete_stale(' ~ hook_args ~ ') }}',
        'on_schema_change': 'append_new_columns',
        'cluster_by': ['season', 'session_key'] if grain == 'session' else ['season'],
    }) }}
{%- endmacro %}

{#- A session dataset's staging model, incremental by session on the session's current run (`session_version`):
    `{{ config(**session_staging_incremental('<staging table>')) }}`; `current_run_rows` then reads the rows of the
    sessions to build only. Its rows keep `_input_version` like the facts'. -#}
{% macro session_staging_incremental(table) -%}
    {{ return(session_incremental('session_version', session_staging_filter(table))) }}
{%- endmacro %}

{#- The sessions a session dataset's staging model holds: those whose current run has rows of the dataset. -#}
{% macro session_staging_filter(table) -%}
    {{ return(staging_tables()[table][1] ~ '_rows > 0') }}
{%- endmacro %}
