{{ config(**session_incremental('identified_version', 'is_race_like and laps_rows > 0')) }}

-- What each pit stop with FastF1 timing cost, one row per stop of fct_pit_stops that FastF1 timed (an in-lap
-- followed by an out-lap). The loss is the time the in-lap and the out-lap took beyond what the driver would have
-- taken staying out: on each of the two laps, the median lap time of the cars that neither entered nor left the
-- pit lane on it, shifted by the driver's own pace against that median on the clean laps (macros/lap_pace.sql)
-- in the five laps before the stop and the five after it (the whole session's clean laps when there are none).
-- Both sides run the same laps, so fuel and neutralisations cancel: a stop under a safety car costs less
-- because staying out was slow too. Positions are those at the end of the lap before the in-lap and at the end
-- of the out-lap.
-- Incremental by session (macros/incremental.sql), on the same version as fct_laps and fct_pit_stops.
with

laps as (

    select * from {{ ref('fct_laps') }}
    where {{ is_race_like('session') }}

),

stops as (

    select * from {{ ref('fct_pit_stops') }}
    where has_fastf1_timing

),

changed_sessions as (

    {{ sessions_to_build('identified_version', 'is_race_like and laps_rows > 0') }}

),

session_laps as (

    select laps.*
    from laps
    inner join changed_sessions on laps.session_key = changed_sessions.session_key

),

session_stops as (

    select stops.*, changed_sessions.input_version
    from stops
    inner join changed_sessions on stops.session_key = changed_sessions.session_key

),

field_laps as (

    -- the field's lap time on each lap, from the cars that stayed out
    select session_key, lap_number, median(lap_time_ms) as field_lap_time_ms
    from session_laps
    where lap_time_ms is not null and not is_pit_in and not is_pit_out
    group by session_key, lap_number

),

clean_offsets as (

    -- how much slower than the field a driver's clean laps were
    select session_laps.session_key, session_laps.driver_number, session_laps.lap_number,
           session_laps.lap_time_ms - field_laps.field_lap_time_ms as offset_ms
    from session_laps
    inner join field_laps
        on session_laps.session_key = field_laps.session_key
        and session_laps.lap_number = field_laps.lap_number
    where session_laps.is_clean_lap

),

session_offsets as (

    select session_key, driver_number, median(offset_ms) as offset_ms
    from clean_offsets
    group by session_key, driver_number

),

local_offsets as (

    select session_stops.pit_stop_id, median(around.offset_ms) as offset_ms
    from session_stops
    inner join clean_offsets as around
        on session_stops.session_key = around.session_key
        and session_stops.driver_number = around.driver_number
        and around.lap_number between session_stops.lap_number - 5 and session_stops.lap_number + 6
    group by session_stops.pit_stop_id

),

joined as (

    select
        session_stops.*,
        in_lap.lap_time_ms as in_lap_time_ms,
        out_lap.lap_time_ms as out_lap_time_ms,
        field_in.field_lap_time_ms + field_out.field_lap_time_ms
            + 2 * coalesce(local_offsets.offset_ms, session_offsets.offset_ms) as stay_out_time_ms,
        local_offsets.offset_ms is not null as has_local_pace,
        before_lap.position as position_before,
        out_lap.position as position_after,
        coalesce(in_lap.track_status, '') || coalesce(out_lap.track_status, '') as stop_track_status,
        in_lap.driver_code,
        in_lap.team_name
    from session_stops
    inner join session_laps as in_lap
        on session_stops.session_key = in_lap.session_key
        and session_stops.driver_number = in_lap.driver_number
        and session_stops.lap_number = in_lap.lap_number
    inner join session_laps as out_lap
        on session_stops.session_key = out_lap.session_key
        and session_stops.driver_number = out_lap.driver_number
        and session_stops.lap_number + 1 = out_lap.lap_number
    left join session_laps as before_lap
        on session_stops.session_key = before_lap.session_key
        and session_stops.driver_number = before_lap.driver_number
        and session_stops.lap_number - 1 = before_lap.lap_number
    left join field_laps as field_in
        on session_stops.session_key = field_in.session_key
        and session_stops.lap_number = field_in.lap_number
    left join field_laps as field_out
        on session_stops.session_key = field_out.session_key
        and session_stops.lap_number + 1 = field_out.lap_number
    left join local_offsets on session_stops.pit_stop_id = local_offsets.pit_stop_id
    left join session_offsets
        on session_stops.session_key = session_offsets.session_key
        and session_stops.driver_number = session_offsets.driver_number

),

final as (

    select
        -- ids
        pit_stop_id,
        session_key,
        season,
        round,
        session,
        driver_id,
        driver_number,
        constructor_id,
        lap_number,
        stop_number,

        -- strings
        driver_code,
        team_name,
        compound_before,
        compound_after,
        {{ track_status_label("nullif(stop_track_status, '')") }} as track_status,

        -- numerics
        pit_lane_time_ms,
        ergast_duration_ms,
        in_lap_time_ms,
        out_lap_time_ms,
        stay_out_time_ms,
        in_lap_time_ms + out_lap_time_ms - stay_out_time_ms as pit_loss_ms,
        position_before,
        position_after,
        position_before - position_after as positions_gained,

        -- booleans
        stop_track_status like '%4%' as is_under_safety_car,
        stop_track_status like '%6%' or stop_track_status like '%7%' as is_under_vsc,
        stop_track_status like '%5%' as is_under_red_flag,
        stop_track_status <> ''
            and replace(replace(stop_track_status, '1', ''), '2', '') = '' as is_green_flag,
        has_local_pace,

        -- timestamps
        input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from joined

)

select * from final
