with

source as (

    {{ current_run_rows('ergast_sprint_results_staging') }}

),

renamed as (

    select
        -- ids
        cast(result_id as integer) as result_id,
        cast(race_id as integer) as race_id,
        cast(driver_id as integer) as driver_id,
        cast(constructor_id as integer) as constructor_id,
        cast(status_id as integer) as status_id,
        cast('S' as {{ dbt.type_string() }}) as session,

        -- strings
        cast(number as {{ dbt.type_string() }}) as driver_number,
        position_text,
        time as time_text,
        fastest_lap_time as fastest_lap_time_text,

        -- numerics
        cast(grid as integer) as grid,
        cast(position as integer) as position,
        cast(position_order as integer) as position_order,
        cast(points as {{ dbt.type_float() }}) as points,
        cast(laps as integer) as laps,
        milliseconds as time_ms,
        cast(fastest_lap as integer) as fastest_lap_number,
        cast(rank as integer) as fastest_lap_rank,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
