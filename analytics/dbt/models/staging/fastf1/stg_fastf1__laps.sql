{{ config(**session_staging_incremental('laps_staging')) }}

with

source as (

    {{ current_run_rows('laps_staging', by_session=true) }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,
        cast(driver_number as {{ dbt.type_string() }}) as driver_number,
        cast(lap_number as integer) as lap_number,

        -- strings
        driver as driver_code,
        team as team_name,
        upper(compound) as compound,
        track_status,
        deleted_reason,

        -- numerics (durations in ms, speeds in km/h)
        lap_time_ms,
        sector1_ms,
        sector2_ms,
        sector3_ms,
        session_time_ms as lap_end_session_time_ms,
        pit_in_time_ms,
        pit_out_time_ms,
        speed_i1_kph,
        speed_i2_kph,
        speed_fl_kph,
        speed_st_kph,
        cast(tyre_life as integer) as tyre_life,
        cast(stint as integer) as stint,
        cast(position as integer) as position,

        -- booleans
        fresh_tyre as is_fresh_tyre,
        pit_in_time_ms is not null as is_pit_in,
        pit_out_time_ms is not null as is_pit_out,
        is_personal_best,
        coalesce(deleted, false) as is_deleted,
        is_accurate,
        coalesce(fastf1_generated, false) as is_fastf1_generated,

        -- timestamps
        {{ to_utc_timestamp('lap_start_time_utc') }} as lap_start_utc,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from source

)

select * from renamed
