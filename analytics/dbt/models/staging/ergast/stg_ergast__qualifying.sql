with

source as (

    {{ current_run_rows('ergast_qualifying_staging') }}

),

renamed as (

    select
        -- ids
        cast(qualify_id as integer) as qualify_id,
        cast(race_id as integer) as race_id,
        cast(driver_id as integer) as driver_id,
        cast(constructor_id as integer) as constructor_id,

        -- strings
        cast(number as {{ dbt.type_string() }}) as driver_number,
        q1 as q1_text,
        q2 as q2_text,
        q3 as q3_text,

        -- numerics
        cast(position as integer) as position,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
