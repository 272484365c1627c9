with

source as (

    {{ current_run_rows('ergast_races_staging') }}

),

renamed as (

    select
        -- ids
        cast(race_id as integer) as race_id,
        cast(circuit_id as integer) as circuit_id,
        cast(year as integer) as season,
        cast(round as integer) as round,

        -- strings
        name as event_name,
        url as wikipedia_url,

        -- booleans
        sprint_date is not null as has_sprint,

        -- dates and timestamps
        date as race_date,
        {{ date_and_time_to_timestamp('date', 'time') }} as race_start_utc,
        quali_date,
        {{ date_and_time_to_timestamp('quali_date', 'quali_time') }} as quali_start_utc,
        sprint_date,
        {{ date_and_time_to_timestamp('sprint_date', 'sprint_time') }} as sprint_start_utc,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
