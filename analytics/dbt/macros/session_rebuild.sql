{#- Sessions an incremental model built per session (delete+insert on session_key) has to rebuild.

    `versions` is a relation (a CTE) with one row per session: session_key and the version columns of the
    inputs (e.g. the latest `_loaded_at` of the session's laps). `built_columns` maps each version column to
    the column of {{ this }} that records the version a session was built from. A session is rebuilt when
    the table has no row built from exactly these versions (new session, newer load, or a first run). -#}
{% macro sessions_to_rebuild(versions, built_columns) -%}
    select {{ versions }}.*
    from {{ versions }}
    {% if is_incremental_run() %}
    left join (
        select distinct session_key, {{ built_columns.values() | join(', ') }} from {{ this }}
    ) as built
        on {{ versions }}.session_key = built.session_key
        {%- for version, built_column in built_columns.items() %}
        and {{ versions }}.{{ version }} = built.{{ built_column }}
        {%- endfor %}
    where built.session_key is null
    {% endif %}
{%- endmacro %}
