{{ config(**session_incremental('pit_losses_version', grain='season')) }}

-- The typical pit-stop loss at each circuit in each season: the median over the green-flag stops (no safety
-- car, virtual safety car or red flag on the in-lap or out-lap) of races and sprints with FastF1 timing.
-- Incremental by season (macros/incremental.sql): a build recomputes the seasons whose timed races changed.
with

seasons_to_build as (

    {{ seasons_to_build('pit_losses_version') }}

),

losses as (

    select losses.*, seasons_to_build.input_version
    from {{ ref('fct_pit_losses') }} as losses
    inner join seasons_to_build on losses.season = seasons_to_build.season

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

circuits as (

    select * from {{ ref('dim_circuits') }}

),

final as (

    select
        losses.season,
        sessions.circuit_id,
        min(circuits.circuit_name) as circuit_name,
        min(sessions.event_name) as event_name,
        count(*) as stops,
        sum(case when losses.is_green_flag then 1 else 0 end) as green_flag_stops,
        median(case when losses.is_green_flag then losses.pit_loss_ms end) as median_green_pit_loss_ms,
        median(case when losses.is_green_flag then losses.pit_lane_time_ms end) as median_green_pit_lane_time_ms,
        median(case when not losses.is_green_flag then losses.pit_loss_ms end) as median_neutralised_pit_loss_ms,
        min(losses.input_version) as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id
    from losses
    inner join sessions on losses.session_key = sessions.session_key
    left join circuits on sessions.circuit_id = circuits.circuit_id
    group by losses.season, sessions.circuit_id

)

select * from final
