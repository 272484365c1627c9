with

source as (

    {{ current_run_rows('schedule_staging') }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,

        -- strings
        event_name,
        official_event_name,
        country,
        location,
        event_format,
        session_name,

        -- booleans
        f1_api_support,

        -- dates and timestamps
        {{ to_utc_timestamp('session_start_utc') }} as session_start_utc,
        event_date,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
