{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='race_control_message_id',
        on_schema_change='append_new_columns'
    )
}}

-- Race control messages (flags, safety car, DRS, penalties) per session. Incremental: only rows
-- loaded after this table's latest load.
with

messages as (

    select * from {{ ref('stg_fastf1__race_control') }}
    {% if is_incremental_run() %}
    where _loaded_at > (select max(_loaded_at) from {{ this }})
    {% endif %}

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
        '{{ invocation_id }}' as _dbt_invocation_id

    from messages

)

select * from final
