"""The HTML drift report of a window. Needs the [report] extra (Evidently, pandas), checked on import."""

from drifting_etl.core.extras import require_extra

require_extra(
    "report", feature="the HTML drift report", alternative="or pass --no-report to `run`, `backfill` and `demo`"
)
