{{ config(**session_staging_incremental('weather_staging')) }}

with

source as (

    {{ current_run_rows('weather_staging', by_session=true) }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,
        sample_time_ms,

        -- numerics
        air_temp_c,
        track_temp_c,
        humidity_pct,
        pressure_mbar,
        wind_speed_ms,
        cast(wind_direction_deg as integer) as wind_direction_deg,

        -- booleans
        rainfall as is_raining,

        -- timestamps
        {{ to_utc_timestamp('sample_time_utc') }} as sample_utc,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from source

)

select * from renamed
