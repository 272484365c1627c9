-- Every driver of every FastF1 session, identified with Ergast references.
-- Driver: FastF1's DriverId (= Ergast driver ref) when present, else the three-letter code among
-- the season's Ergast entrants, else the car number in the same Ergast race, else the code and full
-- name among all Ergast drivers (a reserve driver in practice before his first race of the season).
-- Team: FastF1's TeamId (= Ergast constructor ref) when present, else the driver's constructor in
-- the same Ergast race, else the constructor FastF1 names the same team in other sessions of the season.
with

fastf1_drivers as (

    select * from {{ ref('stg_fastf1__drivers') }}

),

fastf1_results as (

    select * from {{ ref('stg_fastf1__results') }}

),

races as (

    select * from {{ ref('stg_ergast__races') }}

),

ergast_drivers as (

    select * from {{ ref('stg_ergast__drivers') }}

),

ergast_constructors as (

    select * from {{ ref('stg_ergast__constructors') }}

),

ergast_entries as (

    select race_id, driver_id, constructor_id, driver_number, 1 as source_priority from {{ ref('stg_ergast__results') }}
    union all
    select race_id, driver_id, constructor_id, driver_number, 2 as source_priority from {{ ref('stg_ergast__sprint_results') }}
    union all
    select race_id, driver_id, constructor_id, driver_number, 3 as source_priority from {{ ref('stg_ergast__qualifying') }}

),

race_entries as (

    select
        races.season,
        races.round,
        ergast_entries.race_id,
        ergast_entries.driver_id,
        ergast_entries.constructor_id,
        ergast_entries.driver_number
    from ergast_entries
    inner join races on ergast_entries.race_id = races.race_id
    qualify row_number() over (
        partition by ergast_entries.race_id, ergast_entries.driver_id order by ergast_entries.source_priority
    ) = 1

),

session_entries as (

    -- the drivers dataset first, the results dataset for sessions that lack it
    select
        session_key, season, round, session, driver_number, driver_ref, constructor_ref,
        driver_code, driver_name, team_name, team_colour, _loaded_at, 1 as source_priority
    from fastf1_drivers

    union all

    select
        session_key, season, round, session, driver_number, driver_ref, constructor_ref,
        driver_code, driver_name, team_name, cast(null as {{ dbt.type_string() }}) as team_colour, _loaded_at,
        2 as source_priority
    from fastf1_results

),

sessions_drivers as (

    select
        session_key,
        season,
        round,
        session,
        driver_number,
        driver_code,
        driver_name,
        team_name,
        team_colour,
        _loaded_at,
        max(driver_ref) over (partition by session_key, driver_number) as driver_ref,
        max(constructor_ref) over (partition by session_key, driver_number) as constructor_ref
    from session_entries
    qualify row_number() over (partition by session_key, driver_number order by source_priority) = 1

),

ergast_race_of_session as (

    select
        sessions_drivers.*,
        races.race_id
    from sessions_drivers
    left join races
        on sessions_drivers.season = races.season
        and sessions_drivers.round = races.round

),

driver_candidates as (

    select ergast_race_of_session.session_key, ergast_race_of_session.driver_number, ergast_drivers.driver_id, 1 as priority
    from ergast_race_of_session
    inner join ergast_drivers on ergast_race_of_session.driver_ref = ergast_drivers.driver_ref

    union all

    select ergast_race_of_session.session_key, ergast_race_of_session.driver_number, ergast_drivers.driver_id, 2 as priority
    from ergast_race_of_session
    inner join (select distinct season, driver_id from race_entries) as season_entrants
        on ergast_race_of_session.season = season_entrants.season
    inner join ergast_drivers
        on season_entrants.driver_id = ergast_drivers.driver_id
        and ergast_race_of_session.driver_code = ergast_drivers.driver_code

    union all

    select ergast_race_of_session.session_key, ergast_race_of_session.driver_number, race_entries.driver_id, 3 as priority
    from ergast_race_of_session
    inner join race_entries
        on ergast_race_of_session.race_id = race_entries.race_id
        and ergast_race_of_session.driver_number = race_entries.driver_number

    union all

    -- a reserve driver in practice before his first race that season: same code and full name
    select ergast_race_of_session.session_key, ergast_race_of_session.driver_number, ergast_drivers.driver_id, 4 as priority
    from ergast_race_of_session
    inner join ergast_drivers
        on ergast_race_of_session.driver_code = ergast_drivers.driver_code
        and lower(ergast_race_of_session.driver_name) = lower(ergast_drivers.driver_name)

),

best_driver as (

    select session_key, driver_number, driver_id
    from driver_candidates
    qualify row_number() over (partition by session_key, driver_number order by priority, driver_id) = 1

),

team_refs_by_name as (

    -- FastF1 names a team the same way all season: learn its constructor ref where FastF1 gives one
    select season, team_name, max(constructor_ref) as constructor_ref
    from sessions_drivers
    where constructor_ref is not null
    group by season, team_name

),

identified as (

    select
        s.session_key,
        s.season,
        s.round,
        s.session,
        s.driver_number,
        s.race_id,
        coalesce(d.driver_ref, s.driver_ref) as driver_ref,
        best_driver.driver_id as ergast_driver_id,
        coalesce(s.driver_code, d.driver_code) as driver_code,
        coalesce(s.driver_name, d.driver_name) as driver_name,
        coalesce(s.constructor_ref, c.constructor_ref, t.constructor_ref) as constructor_ref,
        coalesce(s.team_name, c.constructor_name) as team_name,
        s.team_colour,
        s._loaded_at
    from ergast_race_of_session as s
    left join best_driver
        on s.session_key = best_driver.session_key
        and s.driver_number = best_driver.driver_number
    left join ergast_drivers as d on best_driver.driver_id = d.driver_id
    left join race_entries as e
        on s.race_id = e.race_id
        and best_driver.driver_id = e.driver_id
    left join ergast_constructors as c on e.constructor_id = c.constructor_id
    left join team_refs_by_name as t
        on s.season = t.season
        and s.team_name = t.team_name

)

select * from identified
