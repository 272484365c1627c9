{{ config(**session_staging_incremental('results_staging')) }}

with

source as (

    {{ current_run_rows('results_staging', by_session=true) }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,
        cast(driver_number as {{ dbt.type_string() }}) as driver_number,
        nullif(driver_id, '') as driver_ref,
        nullif(team_id, '') as constructor_ref,

        -- strings
        abbreviation as driver_code,
        full_name as driver_name,
        team_name,
        classified_position,
        nullif(status, '') as status,

        -- numerics
        cast(position as integer) as position,
        cast(grid_position as integer) as grid,
        q1_ms,
        q2_ms,
        q3_ms,
        time_ms,
        cast(points as {{ dbt.type_float() }}) as points,
        cast(laps as integer) as laps,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from source

)

select * from renamed
