with

source as (

    {{ current_run_rows('ergast_drivers_staging') }}

),

renamed as (

    select
        -- ids
        cast(driver_id as integer) as driver_id,
        driver_ref,

        -- strings
        code as driver_code,
        forename,
        surname,
        forename || ' ' || surname as driver_name,
        nationality,
        url as wikipedia_url,

        -- numerics
        cast(number as integer) as permanent_number,

        -- dates and timestamps
        dob as date_of_birth,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
