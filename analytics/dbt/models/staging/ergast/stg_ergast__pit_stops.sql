with

source as (

    {{ current_run_rows('ergast_pit_stops_staging') }}

),

renamed as (

    select
        -- ids
        cast(race_id as integer) as race_id,
        cast(driver_id as integer) as driver_id,
        cast(stop as integer) as stop_number,

        -- strings
        time as local_time_text,
        duration as duration_text,

        -- numerics
        cast(lap as integer) as lap_number,
        milliseconds as duration_ms,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
