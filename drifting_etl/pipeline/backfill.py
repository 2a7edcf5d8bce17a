"""A backfill: every window of a schedule in order, each run (and published) like a single `run`.

Bad data in one window (or a bug its data triggers) does not stop it: the window is recorded as failed and the next
one runs. A configuration, storage or database problem does, since every later window would fail the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from drifting_etl.core.errors import ComputeError, DataError, DriftingError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.publish import Published, Publisher
from drifting_etl.pipeline.run import RunOutcome, run_window
from drifting_etl.store.artifacts import ArtifactStore

WINDOW_SCOPED = (DataError, ComputeError)
"""Errors of one window's data: the next window may well succeed. Any other error (configuration, storage, the
database) would fail every later window the same way, so the backfill stops."""


@dataclass
class Backfilled:
    outcomes: list[RunOutcome] = field(default_factory=list)
    """The windows loaded, in order."""
    failures: list[tuple[Window, DriftingError]] = field(default_factory=list)
    """The windows that failed (or whose report could not be rendered), with why."""
    published: list[Published] = field(default_factory=list)
    """What publishing each loaded window did (empty without a publisher)."""
    failure_alerts: list[Published] = field(default_factory=list)
    """The alerts to the channels listing `failed` about each failed window (`Published.alerts`; only those with any)."""


def backfill_windows(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    windows: list[Window],
    *,
    stop_on_error: bool = False,
    publisher: Publisher | None = None,
    rescan: bool = False,
    workers: int | None = None,
    on_window: Callable[[Window], None] | None = None,
    on_done: Callable[[Window, RunOutcome | DriftingError], None] | None = None,
    on_published: Callable[[Published], None] | None = None,
) -> Backfilled:
    """Run (and publish) `windows` in order; `on_window` is called before each, `on_done` after each with its
    outcome or the error it failed with (progress), `on_published` with what publishing each loaded window did, or,
    for a failed window, alerting the channels that listen for `failed` did."""
    result = Backfilled()
    for window in windows:
        if on_window is not None:
            on_window(window)
        done: RunOutcome | DriftingError
        started_at = datetime.now(UTC)
        try:
            done = outcome = run_window(
                store,
                database,
                project_name,
                window,
                rescan=rescan,
                workers=workers,
                publish=publisher is not None and publisher.publishes,
            )
            result.outcomes.append(outcome)
            if publisher is not None:
                published = publisher.publish(outcome)
                result.published.append(published)
                if on_published is not None:
                    on_published(published)
                if published.report_error is not None:
                    result.failures.append((window, published.report_error))
        except DriftingError as exc:
            done = exc
            result.failures.append((window, exc))
            alerted = publisher.alert_failure(project_name, window, since=started_at) if publisher is not None else ()
            if alerted:
                result.failure_alerts.append(Published(window, alerts=alerted))
                if on_published is not None:
                    on_published(result.failure_alerts[-1])
        if on_done is not None:
            on_done(window, done)
        if isinstance(done, DriftingError) and (stop_on_error or not isinstance(done, WINDOW_SCOPED)):
            break
    return result
