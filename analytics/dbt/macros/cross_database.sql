{#- Small dispatch macros for SQL that DuckDB and Snowflake spell differently.
    Everything else uses dbt's own cross-database macros (dbt.dateadd, dbt.type_*, dbt.hash, ...). -#}

{#- A timestamp from an Ergast date column and a 'HH:MM:SS' text column (null time -> null). -#}
{% macro date_and_time_to_timestamp(date_column, time_text_column) -%}
    {{ return(adapter.dispatch('date_and_time_to_timestamp', 'grandprix_insights')(date_column, time_text_column)) }}
{%- endmacro %}

{% macro default__date_and_time_to_timestamp(date_column, time_text_column) -%}
    cast({{ date_column }} as {{ dbt.type_timestamp() }}) + cast({{ time_text_column }} as time)
{%- endmacro %}

{% macro duckdb__date_and_time_to_timestamp(date_column, time_text_column) -%}
    cast({{ date_column }} + try_cast({{ time_text_column }} as time) as timestamp)
{%- endmacro %}

{% macro snowflake__date_and_time_to_timestamp(date_column, time_text_column) -%}
    timestamp_ntz_from_parts({{ date_column }}, try_to_time({{ time_text_column }}))
{%- endmacro %}

{#- A UTC timestamp column as a timezone-naive timestamp (the loader may store either kind). -#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'grandprix_insights')(column)) }}
{%- endmacro %}

{#- DuckDB: the profile pins the session TimeZone to UTC, so the cast keeps UTC. -#}
{% macro default__to_utc_timestamp(column) -%}
    cast({{ column }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro snowflake__to_utc_timestamp(column) -%}
    {#- TIMESTAMP_TZ values written by the loader carry +00:00, so the wall clock is UTC. -#}
    cast({{ column }} as timestamp_ntz)
{%- endmacro %}

{#- Canonical session key, e.g. '2023-01-R' (f1common.sessions.SessionId.key). -#}
{% macro session_key(season, round, session) -%}
    cast({{ season }} as {{ dbt.type_string() }}) || '-' || lpad(cast({{ round }} as {{ dbt.type_string() }}), 2, '0') || '-' || {{ session }}
{%- endmacro %}

{#- The rows of a staging table that the models read: those of the files of current runs
    (stg_landing__current_files: the latest complete run of a session or season, every complete
    Ergast run), one per natural key, the latest run winning (by manifest time, never load time).
    With `by_session` (a session dataset's incremental staging model, `session_staging_incremental`) the rows are those of the
    sessions to build only, with their `input_version`: they are joined to those sessions before the
    one-row-per-key window, so a build after one new session reads that session's rows through the window, not the
    whole history (a filter on the view above the window does not reach below it). The join is on the staging
    table's own season, round and session (its clustering key on Snowflake, f1common.snowpipe.StagingTable), so
    that Snowflake prunes the other sessions' micro-partitions. A row counts only in its file's run's own season,
    round and session (`staging_partition_columns`): the loader refuses a file holding rows of another session,
    Snowpipe does not check, so the rows of another session in a file are not read (its own session's are). -#}
{% macro current_run_rows(table, by_session=false) -%}
    {%- set source_name = staging_tables()[table][0] -%}
    select loaded.*{{ ', sessions.input_version' if by_session }}
    from {{ source(source_name, table) }} as loaded
    {%- if by_session %}
    inner join ({{ sessions_to_build('session_version', session_staging_filter(table)) }}) as sessions
        on loaded.season = sessions.season and loaded.round = sessions.round and loaded.session = sessions.session
    {%- endif %}
    inner join {{ ref('stg_landing__current_files') }} as current_files
        on loaded._file_name = current_files.file_name
        {%- for column in staging_partition_columns(table) %}
        and loaded.{{ column }} = current_files.{{ column }}
        {%- endfor %}
    qualify row_number() over (
        partition by {% for column in staging_natural_key(table) %}loaded.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        order by current_files.created_at desc, current_files.run_id desc, loaded._row_number desc
    ) = 1
{%- endmacro %}

{#- Text to integer, null when it is not a number ('R', 'DQ'). dbt.safe_cast is a plain CAST on
    DuckDB, which fails on such values; both warehouses accept TRY_CAST from text. -#}
{% macro try_cast_integer(text_column) -%}
    {{ return(adapter.dispatch('try_cast_integer', 'grandprix_insights')(text_column)) }}
{%- endmacro %}

{% macro default__try_cast_integer(text_column) -%}
    try_cast({{ text_column }} as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__try_cast_integer(text_column) -%}
    try_cast(cast({{ text_column }} as varchar) as integer)
{%- endmacro %}

{#- Joins each element of a JSON array column as `<alias>.value` (DuckDB json_each, Snowflake FLATTEN). -#}
{% macro json_array_elements(column, alias) -%}
    {{ return(adapter.dispatch('json_array_elements', 'grandprix_insights')(column, alias)) }}
{%- endmacro %}

{% macro default__json_array_elements(column, alias) -%}
    cross join json_each({{ column }}) as {{ alias }}
{%- endmacro %}

{% macro snowflake__json_array_elements(column, alias) -%}
    cross join lateral flatten(input => {{ column }}) as {{ alias }}
{%- endmacro %}

{#- A text field of a JSON object column (an element from json_array_elements: `<alias>.value`). -#}
{% macro json_text(json, field) -%}
    {{ return(adapter.dispatch('json_text', 'grandprix_insights')(json, field)) }}
{%- endmacro %}

{% macro default__json_text(json, field) -%}
    ({{ json }} ->> '{{ field }}')
{%- endmacro %}

{% macro snowflake__json_text(json, field) -%}
    {{ json }}:{{ field }}::varchar
{%- endmacro %}

{#- The text of a row's columns (null as empty), '|'-separated: what a version hash is taken over. -#}
{% macro row_text(columns) -%}
    {%- for column in columns -%}
    coalesce(cast({{ column }} as {{ dbt.type_string() }}), ''){{ " || '|' || " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- A hash over rows (their `columns`, in `order_by` order) of a group: a version of what they hold. -#}
{% macro rows_version(columns, order_by) -%}
    {{ dbt.hash(dbt.listagg(row_text(columns), "','", 'order by ' ~ order_by)) }}
{%- endmacro %}
