{{ config(**session_incremental('session_version', 'weather_rows > 0')) }}

-- Weather samples (about one a minute) per session. Incremental by session (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('session_version', 'weather_rows > 0') }}

),

weather as (

    select stg.*, changed_sessions.input_version
    from {{ ref('stg_fastf1__weather') }} as stg
    inner join changed_sessions on stg.session_key = changed_sessions.session_key

),

final as (

    select
        -- ids
        session_key || '-' || cast(sample_time_ms as {{ dbt.type_string() }}) as weather_sample_id,
        session_key,
        season,
        round,
        session,
        sample_time_ms,

        -- numerics
        air_temp_c,
        track_temp_c,
        humidity_pct,
        pressure_mbar,
        wind_speed_ms,
        wind_direction_deg,

        -- booleans
        is_raining,

        -- timestamps
        sample_utc,
        _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from weather

)

select * from final
