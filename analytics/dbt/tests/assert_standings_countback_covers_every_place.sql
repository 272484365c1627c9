-- The countback counts places 1..standings_countback_positions: no classified place may lie beyond.
select season, round, session, driver_id, position
from {{ ref('int_championship__results') }}
where position > {{ var('standings_countback_positions', 33) }}
