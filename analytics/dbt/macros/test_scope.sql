{#- The tests after a load check the session-grained models on the rows of the sessions the load changed.

    dbt_runner.selection.scope_of_tests names those sessions (the sessions of the runs that are new or grew since
    the last successful build) in the environment variable GPI_DBT_TEST_SESSIONS when the tests after a load run;
    unset (a full build, a change that is not confined to sessions) every test checks every row. A session's rows
    in these models are a function of its own runs (and of the history and schedule, whose changes check every
    row), so the other sessions' rows are those the last successful build's tests passed.

    Not scoped: the relationships tests (their parents are rebuilt from the whole history), the singular tests
    (and any test whose kind cannot be told), and every other model (dimensions, standings, views over several
    sessions). -#}

{#- Each session-grained model and the SQL of its rows' session key. -#}
{% macro session_scoped_models() -%}
    {%- set column = 'session_key' -%}
    {%- set composed = session_key('season', 'round', 'session') -%}
    {{ return({
        'stg_fastf1__laps': column,
        'stg_fastf1__results': column,
        'stg_fastf1__drivers': column,
        'stg_fastf1__weather': column,
        'stg_fastf1__race_control': column,
        'fct_laps': column,
        'fct_weather': column,
        'fct_race_control': column,
        'fct_race_results': column,
        'fct_pit_stops': column,
        'fct_pit_losses': column,
        'fct_stints': column,
        'mart_positions_by_lap': composed,
        'mart_lap_weather': composed,
        'mart_session_pace_weather': composed,
        'mart_pace_changes': column,
    }) }}
{%- endmacro %}

{#- The condition restricting a test of `relation` to the scoped sessions, or none (every row). -#}
{% macro session_test_scope(relation) -%}
    {%- set scoped = env_var('GPI_DBT_TEST_SESSIONS', '*') if execute else '*' -%}
    {%- set key = session_scoped_models().get(relation.identifier | lower) if relation.identifier else none -%}
    {%- set test_name = (model.get('test_metadata') or {}).get('name') if model is mapping else none -%}
    {%- if scoped == '*' or key is none or test_name is none or test_name == 'relationships' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set sessions = scoped.split(',') | reject('equalto', '') | list -%}
    {%- for session in sessions if not modules.re.fullmatch(session_key_pattern(), session) -%}
        {{ exceptions.raise_compiler_error('GPI_DBT_TEST_SESSIONS: not a session key: ' ~ session[:40]) }}
    {%- endfor -%}
    {%- if not sessions -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {{ return(key ~ " in ('" ~ sessions | join("', '") ~ "')") }}
{%- endmacro %}

{#- dbt's get_where_subquery (the relation a generic test reads, filtered by its `where` config), with the
    session scope added. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = session_test_scope(relation) -%}
    {%- if scope -%}
        {%- do conditions.append('(' ~ scope ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
