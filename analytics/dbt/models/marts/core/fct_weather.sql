{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='weather_sample_id',
        on_schema_change='append_new_columns'
    )
}}

-- Weather samples (about one a minute) per session. Incremental: only rows loaded after this
-- table's latest load.
with

weather as (

    select * from {{ ref('stg_fastf1__weather') }}
    {% if is_incremental_run() %}
    where _loaded_at > (select max(_loaded_at) from {{ this }})
    {% endif %}

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
        '{{ invocation_id }}' as _dbt_invocation_id

    from weather

)

select * from final
