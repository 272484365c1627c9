{{ config(**session_incremental('identified_version', '(is_race_like and results_rows > 0) or has_ergast_results')) }}

-- Race and sprint classifications, FastF1 reconciled with Ergast, one row per session and driver.
-- Priority: Ergast (the official classification after the stewards' decisions) for position, points,
-- grid, status and laps; FastF1 fills every field Ergast lacks (sessions newer than the Ergast data,
-- or missing values). Each reconciled field records where it came from.
-- Incremental by session (macros/incremental.sql).
with

fastf1 as (

    select * from {{ ref('int_fastf1__race_results') }}

),

ergast as (

    select * from {{ ref('int_ergast__race_results') }}

),

changed_sessions as (

    {{ sessions_to_build('identified_version', '(is_race_like and results_rows > 0) or has_ergast_results') }}

),

fastf1_changed as (

    select fastf1.*, changed_sessions.input_version
    from fastf1
    inner join changed_sessions on fastf1.session_key = changed_sessions.session_key

),

ergast_changed as (

    select ergast.*, changed_sessions.input_version
    from ergast
    inner join changed_sessions on ergast.session_key = changed_sessions.session_key

),

joined as (

    select
        coalesce(e.session_key, f.session_key) as session_key,
        coalesce(e.season, f.season) as season,
        coalesce(e.round, f.round) as round,
        coalesce(e.session, f.session) as session,
        coalesce(e.driver_ref, f.driver_ref) as driver_id,
        coalesce(f.driver_number, e.driver_number) as driver_number,
        coalesce(f.driver_code, e.driver_code) as driver_code,
        coalesce(e.driver_name, f.driver_name) as driver_name,
        coalesce(e.constructor_ref, f.constructor_ref) as constructor_id,
        coalesce(e.constructor_name, f.team_name) as team_name,
        coalesce(e.position_order, f.position) as finish_order,
        coalesce(e.position_text, f.classified_position) as classified_position,
        coalesce(e.grid, f.grid) as grid,
        case when e.grid is not null then 'ergast' when f.grid is not null then 'fastf1' end as grid_source,
        coalesce(e.points, f.points) as points,
        case when e.points is not null then 'ergast' when f.points is not null then 'fastf1' end as points_source,
        coalesce(e.status, f.status) as status,
        case when e.status is not null then 'ergast' when f.status is not null then 'fastf1' end as status_source,
        coalesce(e.laps, f.laps) as laps,
        coalesce(e.time_ms, f.time_ms) as time_ms,
        e.race_id is not null as has_ergast_result,
        f.session_key is not null as has_fastf1_result,
        case
            when e._loaded_at is null then f._loaded_at
            when f._loaded_at is null then e._loaded_at
            when f._loaded_at > e._loaded_at then f._loaded_at
            else e._loaded_at
        end as _loaded_at,
        f._run_id,
        coalesce(e.input_version, f.input_version) as input_version
    from ergast_changed as e
    full outer join fastf1_changed as f
        on e.session_key = f.session_key
        and e.driver_ref = f.driver_ref

),

final as (

    select
        -- ids
        session_key || '-' || coalesce(driver_id, 'car-' || driver_number) as result_id,
        session_key,
        season,
        round,
        session,
        coalesce(driver_id, 'car-' || driver_number) as driver_id,
        driver_number,
        constructor_id,

        -- strings
        driver_code,
        driver_name,
        team_name,
        classified_position,
        status,
        grid_source,
        points_source,
        status_source,

        -- numerics
        finish_order,
        {{ try_cast_integer('classified_position') }} as position,
        grid,
        points,
        laps,
        time_ms,

        -- booleans
        {{ try_cast_integer('classified_position') }} is not null as is_classified,
        has_ergast_result,
        has_fastf1_result,

        -- timestamps
        _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from joined

)

select * from final
