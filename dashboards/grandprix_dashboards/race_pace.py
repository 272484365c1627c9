"""Race pace: the clean laps of one race or sprint, fuel-corrected (fct_laps, macros/lap_pace.sql) — each
driver's distribution, lap by lap, the median of each stint and each stint's degradation (fct_stints)."""

from __future__ import annotations

from grandprix_dashboards import compound_colours
from grandprix_dashboards.panels import (
    LAP_TIME,
    DashboardSpec,
    Pos,
    SeriesStyle,
    bars,
    lines,
    lines_by_lap,
    table,
)
from grandprix_dashboards.race_progress import driver_laps, with_flag_bands
from grandprix_dashboards.race_session import DRIVERS, SESSION_KEY, variables
from grandprix_dashboards.sql import DRIVER_FILTER, selected
from grandprix_dashboards.team_colours import SEPARATOR, teammate_pattern
from grandprix_dashboards.tyre_strategy import STINT_LABEL, STINT_LAP_TIMES

CLEAN_LAPS = f"""clean_laps as (
      select laps.lap_number, laps.fuel_corrected_lap_time_ms as lap_ms, placed.*
      from analytics.fct_laps as laps
      inner join placed on laps.driver_number = placed.driver_number
      where laps.session_key in {SESSION_KEY} and laps.is_clean_lap and laps.fuel_corrected_lap_time_ms is not null
    )"""

# A box plot as stacked bars (Grafana has no box plot): per driver, an invisible base up to the 10th
# percentile, then the segments P10-Q1 and Q3-P90 (whiskers, faint), Q1-median and median-Q3 (the box; the
# line between them is the median). Values are seconds behind the session's fastest clean fuel-corrected lap,
# so every bar starts at 0. Each segment is its own series (`Q1–median · VER · Red Bull Racing`) so it takes
# the driver's team colour; the bars come in team order, team-mates side by side.
SEGMENTS = (
    ("P10–Q1", "p10", "q1"),
    ("Q1–median", "q1", "median"),
    ("median–Q3", "median", "q3"),
    ("Q3–P90", "q3", "p90"),
)
BASE = "base"


def _quantile(q: float) -> str:
    return f"percentile_cont({q}) within group (order by lap_ms)"


DISTRIBUTION = f"""
    with {DRIVERS},
    {CLEAN_LAPS},
    fastest as (select min(lap_ms) as lap_ms from clean_laps),
    spread as (
      select label, team_place, place, {_quantile(0.1)} as p10, {_quantile(0.25)} as q1, {_quantile(0.5)} as median,
             {_quantile(0.75)} as q3, {_quantile(0.9)} as p90
      from clean_laps
      where {DRIVER_FILTER}
      group by label, team_place, place
    ),
    segments as (
      select team_place, place, 0 as seq, label, '{BASE}' as segment,
             (spread.p10 - fastest.lap_ms) / 1000.0 as seconds
      from spread cross join fastest
      {"".join(f'''
      union all
      select team_place, place, {i} as seq, label, '{name}{SEPARATOR}' || label as segment,
             (spread.{top} - spread.{bottom}) / 1000.0 as seconds
      from spread''' for i, (name, bottom, top) in enumerate(SEGMENTS, start=1))}
    )
    select label as "driver", segment as "segment", seconds as "gap_s"
    from segments
    order by team_place, place, seq
"""

WHISKERS = "/^(P10–Q1|Q3–P90) · /"
BOX = "/^(Q1–median|median–Q3) · /"
DISTRIBUTION_STYLES = (
    SeriesStyle(f"/^{BASE}$/", invisible=True),
    SeriesStyle(WHISKERS, fill_opacity=30),
    SeriesStyle(BOX, fill_opacity=90),
    # a team's second driver lighter (after the segment opacities, which would override it)
    *(
        SeriesStyle(f"/^(P10–Q1|Q3–P90) · .*{teammate_pattern(rank)[1:-1]}/", fill_opacity=opacity // 3)
        for rank, opacity in ((2, 45), (3, 30))
    ),
    *(
        SeriesStyle(f"/^(Q1–median|median–Q3) · .*{teammate_pattern(rank)[1:-1]}/", fill_opacity=opacity)
        for rank, opacity in ((2, 45), (3, 30))
    ),
)

PACE_BY_LAP = with_flag_bands(
    f"""
      select lap_number as "lap", label as "driver", lap_ms as "lap_time_ms"
      from clean_laps
      where {DRIVER_FILTER}
    """,
    "lap_time_ms",
    ctes=f"{DRIVERS}, {CLEAN_LAPS}",
)

STINT_MEDIANS = f"""
    with {DRIVERS}
    select (stints.first_lap + stints.last_lap) / 2.0 as "stint_mid_lap", placed.label as "driver",
           stints.median_fuel_corrected_lap_time_ms as "median_ms"
    from analytics.fct_stints as stints
    inner join placed on stints.driver_number = placed.driver_number
    where stints.session_key in {SESSION_KEY} and {selected("placed.driver")}
      and stints.median_fuel_corrected_lap_time_ms is not null
    order by 1, 2
"""

# One bar per driver and stint (`PIA S2`) in team order, team-mates side by side, valued in the stint's compound
# series (stacked: the one non-empty series of each bar fills it).
DEGRADATION = f"""
    with {DRIVERS}
    select placed.driver || ' S' || cast(stints.stint as varchar) as "driver",
           {STINT_LABEL} as "stint",
           stints.degradation_s_per_lap as "degradation"
    from analytics.fct_stints as stints
    inner join placed on stints.driver_number = placed.driver_number
    where stints.session_key in {SESSION_KEY} and {selected("placed.driver")}
      and stints.degradation_s_per_lap is not null
    order by placed.team_place, placed.place, stints.stint
"""

STINT_TABLE = f"""
    with {DRIVERS}
    select placed.place as "Pos", placed.driver as "Driver", placed.team_name as "Team", stints.stint as "Stint",
           stints.compound as "Compound", stints.laps as "Laps", stints.clean_laps as "Clean laps",
           stints.median_clean_lap_time_ms as "Median clean lap",
           stints.median_fuel_corrected_lap_time_ms as "Fuel-corrected median",
           round(stints.degradation_s_per_lap, 3) as "Degradation s/lap", stints.degradation_laps as "Fitted laps",
           round(stints.degradation_r2, 2) as "R²", round(stints.degradation_residual_mad_ms / 1000.0, 3)
             as "Residual MAD s"
    from analytics.fct_stints as stints
    inner join placed on stints.driver_number = placed.driver_number
    where stints.session_key in {SESSION_KEY} and {selected("placed.driver")}
    order by placed.team_place, placed.place, stints.stint
"""

# The fuel model's correction on each lap of the session (the same for every car): it falls lap by lap.
FUEL_EFFECT = f"""
    select lap_number as "lap", max(lap_time_ms - fuel_corrected_lap_time_ms) / 1000.0 as "fuel_effect_s"
    from analytics.fct_laps
    where session_key in {SESSION_KEY} and fuel_corrected_lap_time_ms is not null
    group by lap_number
    order by lap_number
"""


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-race-pace",
        title="Race pace",
        description="Fuel-corrected clean-lap pace of one race or sprint: each driver's distribution, lap by lap, "
        "per stint, and each stint's tyre degradation; team-mates side by side.",
        variables=variables(),
        panels=(
            bars(
                "Clean-lap pace: gap to the fastest lap",
                DISTRIBUTION,
                Pos(0, 0, 16, 12),
                x="driver",
                y="gap_s",
                series="segment",
                stack=True,
                unit="s",
                team_colours=True,
                styles=DISTRIBUTION_STYLES,
                legend=False,
                y_label="Seconds behind the fastest clean lap",
                description="Box plot of each driver's clean laps, fuel-corrected, in seconds behind the "
                "session's fastest: box from the first to the third quartile split at the median, whiskers to "
                "the 10th and 90th percentiles. Team colours, team-mates side by side (the second lighter).",
            ),
            lines_by_lap(
                "Fuel model: time the fuel load costs",
                FUEL_EFFECT,
                Pos(16, 0, 8, 12),
                y="fuel_effect_s",
                unit="s",
                y_label="Fuel effect (s)",
                description="Seconds the fuel on board costs on each lap: the season's maximum race fuel burnt "
                "evenly to the flag at var('fuel_lap_time_s_per_kg') per kg (dbt vars, analytics/dbt/README.md). "
                "Fuel-corrected times subtract it.",
            ),
            driver_laps(
                "Fuel-corrected clean laps",
                PACE_BY_LAP,
                Pos(0, 12, 24, 11),
                y="lap_time_ms",
                unit=LAP_TIME,
                y_label="Fuel-corrected lap time",
                description="Every clean lap (not lap 1, no pit in/out, green flag, accurate timing) as if the "
                "tank were empty. Team colours, a team's second driver dashed; shaded: SC, VSC, red flag.",
            ),
            lines(
                "Fuel-corrected median per stint",
                STINT_MEDIANS,
                Pos(0, 23, 12, 11),
                x="stint_mid_lap",
                y="median_ms",
                series="driver",
                unit=LAP_TIME,
                team_colours=True,
                x_label="Stint (middle lap)",
                y_label="Median fuel-corrected lap",
                styles=(SeriesStyle("/./", draw="points"),),
                description="The median fuel-corrected clean lap of each stint, at the stint's middle lap.",
            ),
            bars(
                "Degradation per stint",
                DEGRADATION,
                Pos(12, 23, 12, 11),
                x="driver",
                y="degradation",
                series="stint",
                stack=True,
                unit="suffix: s/lap",
                styles=compound_colours.styles(),
                y_label="Degradation (s/lap)",
                description="Seconds per lap the stint's clean fuel-corrected laps slowed (Theil-Sen slope, "
                "robust to outliers; at least var('degradation_min_clean_laps') clean laps), per stint in the "
                "compound's colour; team-mates side by side.",
            ),
            table(
                "Stint pace",
                STINT_TABLE,
                Pos(0, 34, 24, 10),
                styles=STINT_LAP_TIMES,
                description="Per stint: clean laps, the median and fuel-corrected median lap, the degradation "
                "slope with the laps it was fitted on and its fit (R², median absolute residual).",
            ),
        ),
    )
