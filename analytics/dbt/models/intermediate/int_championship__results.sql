-- Points-scoring results (Grand Prix and sprint) with what the standings need.
with

results as (

    select * from {{ ref('fct_race_results') }}

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

final as (

    select
        results.season,
        results.round,
        sessions.event_name,
        results.session,
        results.driver_id,
        results.driver_code,
        results.driver_name,
        results.constructor_id,
        results.team_name,
        results.position,
        coalesce(results.points, 0) as points
    from results
    inner join sessions on results.session_key = sessions.session_key

)

select * from final
