{{ config(**session_incremental('identified_version', 'laps_rows > 0')) }}

-- One row per driver per lap. Incremental by session (macros/incremental.sql): a build recomputes
-- the sessions whose inputs changed, whole (the gap to the leader needs the whole session).
with

laps as (

    select * from {{ ref('stg_fastf1__laps') }}

),

session_drivers as (

    select * from {{ ref('int_fastf1__session_drivers') }}

),

changed_sessions as (

    {{ sessions_to_build('identified_version', 'laps_rows > 0') }}

),

session_laps as (

    select laps.*, changed_sessions.input_version
    from laps
    inner join changed_sessions on laps.session_key = changed_sessions.session_key

),

red_flags as (

    select
        session_laps.*,
        -- FastF1 track status 5: a red flag was shown during this lap
        coalesce(session_laps.track_status, '') like '%5%' as is_red_flag_lap,
        coalesce(lag(session_laps.track_status) over (
            partition by session_laps.session_key, session_laps.driver_number
            order by session_laps.lap_number
        ), '') like '%5%' as follows_red_flag_lap
    from session_laps

),

gap_laps as (

    select
        red_flags.*,
        -- the gap compares lap-end times, so it is left out where a lap-end time is not a racing time:
        -- laps run into or out of a red-flag suspension (their end includes the stoppage) and laps
        -- without a running position (the lap a car retired on ends when it was recovered)
        {{ is_race_like('red_flags.session') }}
            and red_flags.position is not null
            and not red_flags.is_red_flag_lap
            and not red_flags.follows_red_flag_lap as has_comparable_lap_end
    from red_flags

),

with_leader as (

    select
        gap_laps.*,
        -- the leader completes lap N first: the smallest comparable session time at the end of lap N
        min(case when gap_laps.has_comparable_lap_end then gap_laps.lap_end_session_time_ms end) over (
            partition by gap_laps.session_key, gap_laps.lap_number
        ) as leader_lap_end_session_time_ms
    from gap_laps

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
        {{ fuel_corrected_lap_time_ms('with_leader.lap_time_ms', 'with_leader.season', 'with_leader.session',
            'with_leader.lap_number', 'max(with_leader.lap_number) over (partition by with_leader.session_key)') }}
            as fuel_corrected_lap_time_ms,
        with_leader.sector1_ms,
        with_leader.sector2_ms,
        with_leader.sector3_ms,
        with_leader.lap_end_session_time_ms,
        case
            when with_leader.has_comparable_lap_end
                then with_leader.lap_end_session_time_ms - with_leader.leader_lap_end_session_time_ms
        end as gap_to_leader_ms,
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
        with_leader.is_red_flag_lap,
        {{ is_clean_lap('with_leader') }} as is_clean_lap,

        -- timestamps
        with_leader.lap_start_utc,
        {{ dbt.dateadd('millisecond', 'with_leader.lap_time_ms', 'with_leader.lap_start_utc') }} as lap_end_utc,
        with_leader._loaded_at,
        with_leader._run_id,
        with_leader.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from with_leader
    left join session_drivers
        on with_leader.session_key = session_drivers.session_key
        and with_leader.driver_number = session_drivers.driver_number

)

select * from final
