{{ config(materialized='table') }}

-- What each session's facts are a function of, as version strings: the incremental facts and marts
-- rebuild exactly the sessions whose version differs from the one their rows were built from
-- (macros/incremental.sql). One row per session with a current FastF1 run or Ergast results.
--   session_version:    the session's current FastF1 run (its latest complete run)
--   identified_version: + the Ergast history (drivers and teams are identified with Ergast). The
--                       fallback that learns a team's constructor from other sessions of the season
--                       (int_fastf1__session_drivers) is not part of it: a session is recomputed when
--                       its own run changes, not when another session of its season lands.
--   dashboard_version:  + the season's current schedule run (event names)
with

runs as (

    select * from {{ ref('stg_landing__runs') }}
    where is_current

),

ergast_results as (

    select distinct session_key, season, round, session from {{ ref('int_ergast__race_results') }}

),

ergast_pit_stop_sessions as (

    select distinct {{ session_key('races.season', 'races.round', "'R'") }} as session_key
    from {{ ref('stg_ergast__pit_stops') }} as stops
    inner join {{ ref('stg_ergast__races') }} as races on stops.race_id = races.race_id

),

fastf1 as (

    select
        session_key,
        season,
        round,
        session,
        run_id as fastf1_run_id,
        {% for dataset in session_datasets() -%}
        {{ dataset }}_rows{{ "," if not loop.last }}
        {% endfor %}
    from runs
    where run_scope = 'session'

),

schedules as (

    select season, run_id as schedule_run_id from runs where run_scope = 'season'

),

ergast_history as (

    select {{ dbt.hash(dbt.listagg('run_id', "','", 'order by run_id')) }} as ergast_version
    from runs
    where run_scope = 'history'
    having count(*) > 0

),

sessions as (

    select session_key, season, round, session from fastf1
    union
    select session_key, season, round, session from ergast_results

),

final as (

    select
        sessions.session_key,
        sessions.season,
        sessions.round,
        sessions.session,
        {{ is_race_like('sessions.session') }} as is_race_like,
        fastf1.fastf1_run_id,
        {% for dataset in session_datasets() -%}
        coalesce(fastf1.{{ dataset }}_rows, 0) as {{ dataset }}_rows,
        {% endfor -%}
        ergast_results.session_key is not null as has_ergast_results,
        ergast_pit_stop_sessions.session_key is not null as has_ergast_pit_stops,
        fastf1.fastf1_run_id as session_version,
        coalesce(fastf1.fastf1_run_id, '-') || '|' || coalesce(ergast_history.ergast_version, '-')
            as identified_version,
        coalesce(fastf1.fastf1_run_id, '-') || '|' || coalesce(ergast_history.ergast_version, '-')
            || '|' || coalesce(schedules.schedule_run_id, '-') as dashboard_version
    from sessions
    left join fastf1 on sessions.session_key = fastf1.session_key
    left join ergast_results on sessions.session_key = ergast_results.session_key
    left join ergast_pit_stop_sessions on sessions.session_key = ergast_pit_stop_sessions.session_key
    left join schedules on sessions.season = schedules.season
    left join ergast_history on true

)

select * from final
