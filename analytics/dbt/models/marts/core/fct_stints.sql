{{ config(**session_incremental('identified_version', 'laps_rows > 0')) }}

-- One row per driver per stint (a run on one set of tyres: from the start or a pit stop to the next stop; a pass
-- through the pit lane without a tyre change does not end it) of every session with laps.
-- Pace uses the clean laps and fuel correction of fct_laps (macros/lap_pace.sql). The degradation slope is
-- the Theil-Sen estimate over the stint's clean fuel-corrected laps: the median of the slopes between every
-- pair of them, so a lap behind traffic or a mistake does not tilt it.
-- Incremental by session (macros/incremental.sql), on the same version as fct_laps: a build recomputes the
-- sessions whose inputs changed, whole (a stint that disappears from the data disappears here).
with

laps as (

    select * from {{ ref('fct_laps') }}

),

changed_sessions as (

    {{ sessions_to_build('identified_version', 'laps_rows > 0') }}

),

session_laps as (

    select
        laps.*,
        changed_sessions.input_version,
        max(laps.lap_number) over (partition by laps.session_key) as session_last_lap,
        min(laps.lap_number) over (partition by laps.session_key, laps.driver_number) as driver_first_lap,
        max(laps.lap_number) over (partition by laps.session_key, laps.driver_number) as driver_last_lap
    from laps
    inner join changed_sessions on laps.session_key = changed_sessions.session_key

),

flag as (

    -- the chequered flag falls when the leader completes the last lap
    select session_key, min(lap_end_session_time_ms) as flag_session_time_ms
    from session_laps
    where lap_number = session_last_lap
    group by session_key

),

passes as (

    -- every pass through the pit lane opens a segment: segment 0 from the driver's first lap, segment k from the
    -- k-th pit exit; a lap "continues" the set when FastF1 shows the previous lap's compound and one lap more life
    select
        session_laps.*,
        sum(case when session_laps.is_pit_out and session_laps.lap_number > session_laps.driver_first_lap
                 then 1 else 0 end) over (
            partition by session_laps.session_key, session_laps.driver_number
            order by session_laps.lap_number
            rows between unbounded preceding and current row
        ) as segment,
        coalesce(
            session_laps.compound = lag(session_laps.compound) over (
                partition by session_laps.session_key, session_laps.driver_number order by session_laps.lap_number
            )
            and session_laps.tyre_life = 1 + lag(session_laps.tyre_life) over (
                partition by session_laps.session_key, session_laps.driver_number order by session_laps.lap_number
            ),
            false
        ) as continues_set
    from session_laps

),

segments as (

    -- a segment after a pit exit is a new stint unless every lap of it continues the set: a pass without a tyre
    -- change (a drive-through, the safety car led through the pit lane). FastF1's tyre data can lag a real stop
    -- by a few laps (2025 Miami) but then break within the segment, so the stop still counts.
    select
        session_key,
        driver_number,
        segment,
        case when segment > 0 and min(case when continues_set then 1 else 0 end) = 0 then 1 else 0 end
            as is_new_set
    from passes
    group by session_key, driver_number, segment

),

segment_stints as (

    select
        session_key,
        driver_number,
        segment,
        1 + sum(is_new_set) over (
            partition by session_key, driver_number order by segment rows between unbounded preceding and current row
        ) as stint_number
    from segments

),

stint_laps as (

    -- a stint runs on one set of tyres: from the driver's first lap, or a pit exit onto another set, to the next
    -- such exit. Counted from the pit exits rather than taken from FastF1's stint number, which lags a stop
    -- where its tyre data do, is missing where they are (2025 Miami laps 1-24) and counts passes without a change.
    select
        passes.session_key || '-' || passes.driver_number || '-'
            || cast(segment_stints.stint_number as {{ dbt.type_string() }}) as stint_id,
        passes.*,
        segment_stints.stint_number
    from passes
    inner join segment_stints
        on passes.session_key = segment_stints.session_key
        and passes.driver_number = segment_stints.driver_number
        and passes.segment = segment_stints.segment

),

stint_compound_laps as (

    select stint_id, compound, count(*) as laps, max(lap_number) as last_lap
    from stint_laps
    where compound not in ('UNKNOWN', 'TEST_UNKNOWN', 'NONE')
    group by stint_id, compound

),

stint_compounds as (

    -- the set a stint ran on: the compound most of its laps show (a few lagging laps show the previous set);
    -- on a tie the compound of the later laps, so the choice never depends on the order rows are read in
    select stint_id, compound
    from stint_compound_laps
    qualify row_number() over (partition by stint_id order by laps desc, last_lap desc) = 1

),

stint_tyres as (

    select
        stint_laps.*,
        stint_compounds.compound as stint_compound,
        case when stint_laps.compound = stint_compounds.compound then stint_laps.lap_number end as set_lap
    from stint_laps
    left join stint_compounds on stint_laps.stint_id = stint_compounds.stint_id

),

stints as (

    select
        stint_id,
        session_key,
        min(season) as season,
        min(round) as round,
        min(session) as session,
        driver_number,
        min(driver_id) as driver_id,
        min(constructor_id) as constructor_id,
        min(driver_code) as driver_code,
        min(team_name) as team_name,
        stint_number as stint,
        min(stint_compound) as compound,
        min_by(is_fresh_tyre, set_lap) as is_fresh_tyre,
        min_by(tyre_life, lap_number) as first_lap_tyre_life,
        max_by(tyre_life, lap_number) as last_lap_tyre_life,
        -- FastF1's tyre data agree with the stint when every lap shows the stint's set, its life one lap more each lap
        coalesce(count(set_lap) = count(*) and count(tyre_life) = count(*)
            and min(tyre_life - lap_number) = max(tyre_life - lap_number), false) as has_consistent_tyre_data,
        min(lap_number) as first_lap,
        max(lap_number) as last_lap,
        count(*) as laps,
        min_by(is_pit_out, lap_number) as starts_from_pit,
        max_by(is_pit_in, lap_number) as ends_in_pit,
        max_by(track_status, lap_number) as last_lap_track_status,
        max_by(lap_end_session_time_ms, lap_number) as last_lap_end_session_time_ms,
        min(driver_last_lap) as driver_last_lap,
        sum(case when is_clean_lap then 1 else 0 end) as clean_laps,
        median(case when is_clean_lap then lap_time_ms end) as median_clean_lap_time_ms,
        median(case when is_clean_lap then fuel_corrected_lap_time_ms end) as median_fuel_corrected_lap_time_ms,
        min(input_version) as input_version
    from stint_tyres
    group by stint_id, session_key, driver_number, stint_number

),

fit_laps as (

    select stint_id, lap_number, fuel_corrected_lap_time_ms as lap_time_ms
    from stint_laps
    where is_clean_lap and fuel_corrected_lap_time_ms is not null

),

pair_slopes as (

    -- every pair of clean laps of a stint: (later - earlier) / laps between, in ms per lap
    select
        earlier.stint_id,
        (later.lap_time_ms - earlier.lap_time_ms) / (later.lap_number - earlier.lap_number) as slope_ms_per_lap
    from fit_laps as earlier
    inner join fit_laps as later
        on earlier.stint_id = later.stint_id
        and later.lap_number > earlier.lap_number

),

slopes as (

    select stint_id, median(slope_ms_per_lap) as slope_ms_per_lap
    from pair_slopes
    group by stint_id

),

intercepts as (

    -- the Theil-Sen line passes through the median of (time - slope * lap)
    select fit_laps.stint_id, slopes.slope_ms_per_lap,
           median(fit_laps.lap_time_ms - slopes.slope_ms_per_lap * fit_laps.lap_number) as intercept_ms,
           avg(fit_laps.lap_time_ms) as mean_lap_time_ms,
           count(*) as fit_laps
    from fit_laps
    inner join slopes on fit_laps.stint_id = slopes.stint_id
    group by fit_laps.stint_id, slopes.slope_ms_per_lap

),

fits as (

    select
        fit_laps.stint_id,
        intercepts.slope_ms_per_lap,
        intercepts.fit_laps,
        median(abs(fit_laps.lap_time_ms - intercepts.intercept_ms - intercepts.slope_ms_per_lap * fit_laps.lap_number))
            as residual_mad_ms,
        sum(power(fit_laps.lap_time_ms - intercepts.intercept_ms - intercepts.slope_ms_per_lap * fit_laps.lap_number, 2))
            as residual_ss,
        sum(power(fit_laps.lap_time_ms - intercepts.mean_lap_time_ms, 2)) as total_ss
    from fit_laps
    inner join intercepts on fit_laps.stint_id = intercepts.stint_id
    group by fit_laps.stint_id, intercepts.slope_ms_per_lap, intercepts.fit_laps

),

final as (

    select
        -- ids
        stints.stint_id,
        stints.session_key,
        stints.season,
        stints.round,
        stints.session,
        stints.driver_number,
        stints.driver_id,
        stints.constructor_id,
        stints.stint,

        -- strings
        stints.driver_code,
        stints.team_name,
        stints.compound,
        {{ track_status_label('stints.last_lap_track_status') }} as end_track_status,
        case
            when stints.last_lap < stints.driver_last_lap then
                case when stints.last_lap_track_status like '%5%' then 'red flag' else 'pit stop' end
            when not {{ is_race_like('stints.session') }} then 'session end'
            when stints.last_lap_end_session_time_ms >= flag.flag_session_time_ms then 'flag'
            else 'retired'
        end as end_reason,

        -- numerics
        stints.first_lap,
        stints.last_lap,
        stints.laps,
        case when stints.starts_from_pit then stints.first_lap end as pit_out_lap,
        case when stints.ends_in_pit then stints.last_lap end as pit_in_lap,
        -- FastF1's tyre life counts the lap itself: a new set shows 1 on its first lap. Unknown where FastF1's
        -- tyre data disagree with the stint (missing, or still showing the previous set).
        case when stints.has_consistent_tyre_data then stints.first_lap_tyre_life - 1 end as tyre_age_start,
        case when stints.has_consistent_tyre_data then stints.last_lap_tyre_life end as tyre_age_end,
        stints.clean_laps,
        stints.median_clean_lap_time_ms,
        stints.median_fuel_corrected_lap_time_ms,
        case when fits.fit_laps >= {{ var('degradation_min_clean_laps') }} then fits.slope_ms_per_lap / 1000.0 end
            as degradation_s_per_lap,
        case when fits.fit_laps >= {{ var('degradation_min_clean_laps') }} then fits.fit_laps else 0 end
            as degradation_laps,
        case when fits.fit_laps >= {{ var('degradation_min_clean_laps') }} then fits.residual_mad_ms end
            as degradation_residual_mad_ms,
        -- rounded: sums of floats depend on the order a parallel aggregate adds them in, and a rebuild must
        -- give the same row as an incremental build
        case when fits.fit_laps >= {{ var('degradation_min_clean_laps') }} and fits.total_ss > 0
            then round(1 - fits.residual_ss / fits.total_ss, 6) end as degradation_r2,

        -- booleans
        stints.is_fresh_tyre,
        stints.has_consistent_tyre_data,
        coalesce(stints.last_lap_track_status like '%4%', false) as ended_under_safety_car,
        coalesce(stints.last_lap_track_status like '%6%' or stints.last_lap_track_status like '%7%', false)
            as ended_under_vsc,
        coalesce(stints.last_lap_track_status like '%5%', false) as ended_under_red_flag,

        -- timestamps
        stints.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from stints
    left join flag on stints.session_key = flag.session_key
    left join fits on stints.stint_id = fits.stint_id

)

select * from final
