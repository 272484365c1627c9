{{ config(**session_staging_incremental('drivers_info_staging')) }}

with

source as (

    {{ current_run_rows('drivers_info_staging', by_session=true) }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,
        cast(driver_number as {{ dbt.type_string() }}) as driver_number,
        nullif(driver_id, '') as driver_ref,
        nullif(team_id, '') as constructor_ref,

        -- strings
        abbreviation as driver_code,
        first_name,
        last_name,
        full_name as driver_name,
        broadcast_name,
        team_name,
        team_colour,
        country_code,
        headshot_url,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from source

)

select * from renamed
