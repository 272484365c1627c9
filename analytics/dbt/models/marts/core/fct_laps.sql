{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='lap_id',
        on_schema_change='append_new_columns'
    )
}}

-- One row per driver per lap. Incremental: a run recomputes only the sessions that have laps
-- loaded after the latest load this table has seen (the gap to the leader needs the whole session).
with

laps as (

    select * from {{ ref('stg_fastf1__laps') }}

),

session_drivers as (

    select * from {{ ref('int_fastf1__session_drivers') }}

),

changed_sessions as (

    select distinct session_key
    from laps
    {% if is_incremental_run() %}
    where _loaded_at > (select max(_loaded_at) from {{ this }})
    {% endif %}

),

session_laps as (

    select laps.*
    from laps
    inner join changed_sessions on laps.session_key = changed_sessions.session_key

),

with_leader as (

    select
        session_laps.*,
        -- the leader completes lap N first: the smallest session time at the end of lap N
        case
            when session_laps.session in ('R', 'S')
                then min(session_laps.lap_end_session_time_ms) over (
                    partition by session_laps.session_key, session_laps.lap_number
                )
        end as leader_lap_end_session_time_ms
    from session_laps

),

final as (

    select
        -- ids
        with_leader.session_key || '-' || with_leader.driver_number || '-'
            || cast(with_leader.lap_number as {{ dbt.type_string() }}) as lap_id,
        with_leader.session_key,
        with_leader.season,
        with_leader.round,
        with_leader.session,
        with_leader.driver_number,
        with_leader.lap_number,
        session_drivers.driver_ref as driver_id,
        session_drivers.constructor_ref as constructor_id,

        -- strings
        with_leader.driver_code,
        with_leader.team_name,
        with_leader.compound,
        with_leader.track_status,
        with_leader.deleted_reason,

        -- numerics
        with_leader.lap_time_ms,
        with_leader.sector1_ms,
        with_leader.sector2_ms,
        with_leader.sector3_ms,
        with_leader.lap_end_session_time_ms,
        with_leader.lap_end_session_time_ms - with_leader.leader_lap_end_session_time_ms as gap_to_leader_ms,
        with_leader.pit_in_time_ms,
        with_leader.pit_out_time_ms,
        with_leader.speed_i1_kph,
        with_leader.speed_i2_kph,
        with_leader.speed_fl_kph,
        with_leader.speed_st_kph,
        with_leader.stint,
        with_leader.tyre_life,
        with_leader.position,

        -- booleans
        with_leader.is_fresh_tyre,
        with_leader.is_pit_in,
        with_leader.is_pit_out,
        with_leader.is_personal_best,
        with_leader.is_deleted,
        with_leader.is_accurate,
        with_leader.is_fastf1_generated,

        -- timestamps
        with_leader.lap_start_utc,
        {{ dbt.dateadd('millisecond', 'with_leader.lap_time_ms', 'with_leader.lap_start_utc') }} as lap_end_utc,
        with_leader._loaded_at,
        '{{ invocation_id }}' as _dbt_invocation_id

    from with_leader
    left join session_drivers
        on with_leader.session_key = session_drivers.session_key
        and with_leader.driver_number = session_drivers.driver_number

)

select * from final
