-- Every session the warehouse knows: the FastF1 schedule of the landed seasons, every Ergast
-- championship race (and its sprint and qualifying), every session with Ergast results, and any
-- session that has FastF1 data.
-- FastF1's schedule wins for names and start times; Ergast supplies the race id and the circuit.
with

schedule as (

    select * from {{ ref('stg_fastf1__schedule') }}

),

races as (

    select * from {{ ref('stg_ergast__races') }}

),

circuits as (

    select * from {{ ref('stg_ergast__circuits') }}

),

ergast_result_sessions as (

    -- sessions with Ergast results, including sprints whose date the Ergast races table lacks
    select distinct session_key, season, round, session from {{ ref('int_ergast__race_results') }}

),

fastf1_sessions as (

    -- sessions whose current FastF1 run has results or laps
    select session_key, season, round, session from {{ ref('int_sessions__input_versions') }}
    where results_rows > 0 or laps_rows > 0

),

ergast_sessions as (

    select race_id, season, round, 'R' as session, race_start_utc as session_start_utc from races
    union all
    select race_id, season, round, 'S' as session, sprint_start_utc as session_start_utc from races where has_sprint
    union all
    select race_id, season, round, 'Q' as session, quali_start_utc as session_start_utc from races
    where quali_date is not null

),

all_sessions as (

    select session_key, season, round, session from schedule
    union
    select {{ session_key('season', 'round', 'session') }} as session_key, season, round, session from ergast_sessions
    union
    select session_key, season, round, session from ergast_result_sessions
    union
    select session_key, season, round, session from fastf1_sessions

),

final as (

    select
        -- ids
        all_sessions.session_key,
        all_sessions.season,
        all_sessions.round,
        all_sessions.session,
        races.race_id as ergast_race_id,
        circuits.circuit_ref as circuit_id,

        -- strings
        coalesce(
            schedule.session_name,
            {{ session_name('all_sessions.session') }}
        ) as session_name,
        coalesce(schedule.event_name, races.event_name) as event_name,
        schedule.official_event_name,
        coalesce(schedule.country, circuits.country) as country,
        coalesce(schedule.location, circuits.location) as location,
        circuits.circuit_name,
        schedule.event_format,

        -- booleans
        {{ is_race_like('all_sessions.session') }} as is_points_session,
        fastf1_sessions.session_key is not null as has_fastf1_data,

        -- dates and timestamps
        coalesce(schedule.session_start_utc, ergast_sessions.session_start_utc) as session_start_utc,
        coalesce(schedule.event_date, races.race_date) as event_date

    from all_sessions
    left join schedule on all_sessions.session_key = schedule.session_key
    left join races
        on all_sessions.season = races.season
        and all_sessions.round = races.round
    left join ergast_sessions
        on all_sessions.season = ergast_sessions.season
        and all_sessions.round = ergast_sessions.round
        and all_sessions.session = ergast_sessions.session
    left join circuits on races.circuit_id = circuits.circuit_id
    left join fastf1_sessions on all_sessions.session_key = fastf1_sessions.session_key

)

select * from final
