{{ config(**session_incremental('session_version', 'race_control_rows > 0')) }}

-- Race control messages (flags, safety car, DRS, penalties) per session. Incremental by session
-- (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('session_version', 'race_control_rows > 0') }}

),

messages as (

    select stg.*, changed_sessions.input_version
    from {{ ref('stg_fastf1__race_control') }} as stg
    inner join changed_sessions on stg.session_key = changed_sessions.session_key

),

final as (

    select
        -- ids
        session_key || '-' || cast(message_seq as {{ dbt.type_string() }}) as race_control_message_id,
        session_key,
        season,
        round,
        session,
        message_seq,
        driver_number,

        -- strings
        category,
        message,
        status,
        flag,
        scope,

        -- numerics
        sector,
        lap_number,

        -- booleans
        category = 'SafetyCar' as is_safety_car,
        flag = 'RED' as is_red_flag,

        -- timestamps
        message_utc,
        _loaded_at,
        _run_id,
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from messages

)

select * from final
