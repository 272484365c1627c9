{{ config(**session_staging_incremental('race_control_staging')) }}

with

source as (

    {{ current_run_rows('race_control_staging', by_session=true) }}

),

renamed as (

    select
        -- ids
        {{ session_key('season', 'round', 'session') }} as session_key,
        cast(season as integer) as season,
        cast(round as integer) as round,
        cast(session as {{ dbt.type_string() }}) as session,
        cast(message_seq as integer) as message_seq,
        racing_number as driver_number,

        -- strings
        category,
        message,
        status,
        flag,
        scope,

        -- numerics
        cast(sector as integer) as sector,
        cast(lap as integer) as lap_number,

        -- timestamps
        {{ to_utc_timestamp('time_utc') }} as message_utc,
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from source

)

select * from renamed
