-- Ergast race and sprint classifications, one row per session and driver, with season/round
-- and references resolved. Shared drives of the 1950s (one driver in two cars in the same race)
-- are folded into the driver's best-placed car, with the points of both.
with

race_results as (

    select * from {{ ref('stg_ergast__results') }}

),

sprint_results as (

    select * from {{ ref('stg_ergast__sprint_results') }}

),

races as (

    select * from {{ ref('stg_ergast__races') }}

),

drivers as (

    select * from {{ ref('stg_ergast__drivers') }}

),

constructors as (

    select * from {{ ref('stg_ergast__constructors') }}

),

statuses as (

    select * from {{ ref('stg_ergast__status') }}

),

unioned as (

    select
        race_id, driver_id, constructor_id, status_id, session, driver_number, position_text,
        grid, position, position_order, points, laps, time_ms, _loaded_at
    from race_results

    union all

    select
        race_id, driver_id, constructor_id, status_id, session, driver_number, position_text,
        grid, position, position_order, points, laps, time_ms, _loaded_at
    from sprint_results

),

folded as (

    select
        *,
        sum(points) over (partition by race_id, session, driver_id) as driver_points,
        max(_loaded_at) over (partition by race_id, session, driver_id) as driver_loaded_at
    from unioned
    qualify row_number() over (partition by race_id, session, driver_id order by position_order, constructor_id) = 1

),

joined as (

    select
        {{ session_key('races.season', 'races.round', 'folded.session') }} as session_key,
        races.season,
        races.round,
        folded.session,
        folded.race_id,
        drivers.driver_ref,
        drivers.driver_code,
        drivers.driver_name,
        folded.driver_number,
        constructors.constructor_ref,
        constructors.constructor_name,
        folded.grid,
        folded.position,
        folded.position_text,
        folded.position_order,
        folded.driver_points as points,
        folded.laps,
        folded.time_ms,
        statuses.status,
        folded.driver_loaded_at as _loaded_at
    from folded
    inner join races on folded.race_id = races.race_id
    inner join drivers on folded.driver_id = drivers.driver_id
    left join constructors on folded.constructor_id = constructors.constructor_id
    left join statuses on folded.status_id = statuses.status_id

)

select * from joined
