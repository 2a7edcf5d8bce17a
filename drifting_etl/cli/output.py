"""What the CLI prints: a window's summary, what publishing it did, a backfill's table, and progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drifting_etl.core.errors import DriftingError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.backfill import Backfilled, backfill_windows
from drifting_etl.pipeline.publish import Published, Publisher
from drifting_etl.pipeline.run import RunOutcome
from drifting_etl.store.artifacts import ArtifactStore

# Piped into a file, grep or a CI log, output is not wrapped at rich's default of 80 columns (tables keep their
# natural width, up to PIPED_WIDTH); on a terminal it fits the terminal. COLUMNS still wins when set.
PIPED_WIDTH = 160
console = Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH)
errors = Console(
    stderr=True, highlight=False, width=None if sys.stderr.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command that prints a DriftingError as one line on stderr and exits 1, instead of a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DriftingError as exc:
            errors.print("[bold red]error:[/] " + escape(str(exc)), soft_wrap=True)
            sys.exit(1)

    return wrapper


def print_published(published: Published, *, quiet: bool = False, out: Console = console) -> None:
    """The report's location, the e-mail's and each channel alert's fate; `quiet` (backfills) prints only failures and
    what was sent, each naming its window. Failures go to stderr, the rest to `out` (stderr too when stdout holds
    JSON)."""
    if published.report_location is not None and not quiet:
        took = f" ({published.report_seconds:.2f} s)" if published.report_seconds is not None else ""
        out.print(f"  report: {escape(published.report_location)}{took}", soft_wrap=True)
    if published.report_error is not None:
        errors.print("[bold red]report failed:[/] " + escape(str(published.report_error)), soft_wrap=True)
    print_alerts(published, quiet=quiet, out=out)
    result = published.notification
    if result is None:
        return
    if result.status == "failed":
        errors.print(
            f"[bold red]e-mail for {escape(str(published.window))} failed:[/] " + escape(result.error or ""),
            soft_wrap=True,
        )
    elif not quiet or result.status == "sent":
        detail = ", ".join(result.recipients) if result.status == "sent" else (result.reason or "")
        out.print(f"  e-mail for {escape(str(published.window))}: {result.status} {escape(detail)}", soft_wrap=True)


def print_alerts(published: Published, *, quiet: bool = False, out: Console = console) -> None:
    """A line per alert to a channel: failures on stderr (with why, and when it is tried again), the rest on `out`."""
    window = escape(str(published.window))
    for alert in published.alerts:
        name = f"{escape(alert.event)} alert to {escape(alert.channel)} for {window}"
        if alert.status == "failed":
            again = "the next run, backfill or publish of the project" if alert.event != "failed" else "a re-run"
            errors.print(
                f"[bold red]{name} failed[/] (tried again by {again}): " + escape(alert.error or ""), soft_wrap=True
            )
        elif alert.status == "sent":
            tries = f" ({alert.attempts} attempts)" if alert.attempts > 1 else ""
            out.print(f"  {name}: sent{tries}", soft_wrap=True)
        elif not quiet:
            out.print(f"  {name}: skipped {escape(alert.reason or '')}", soft_wrap=True)


def backfill_with_progress(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    windows: list[Window],
    *,
    stop_on_error: bool = False,
    publisher: Publisher | None = None,
    rescan: bool = False,
    workers: int | None = None,
    out: Console = console,
) -> Backfilled:
    """`pipeline.backfill.backfill_windows` with a progress bar on stderr, or, without a terminal (cron, CI), a line
    per window on `out` (stdout unless it holds JSON) as it finishes."""
    run = partial(
        backfill_windows,
        store,
        database,
        project_name,
        windows,
        stop_on_error=stop_on_error,
        publisher=publisher,
        rescan=rescan,
        workers=workers,
        on_published=lambda published: print_published(published, quiet=True, out=out),
    )
    if not errors.is_terminal:
        return run(on_done=lambda window, done: out.print(window_line(window, done), soft_wrap=True))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(project_name, total=len(windows))

        def starting(window: Window) -> None:
            progress.update(task, description=f"{project_name} {window.start:%Y-%m-%d %H:%M}")

        return run(on_window=starting, on_done=lambda window, done: progress.advance(task))


def window_line(window: Window, done: RunOutcome | DriftingError) -> str:
    """One backfilled window on one line: its status, rows and drift verdict, or why it failed."""
    if isinstance(done, DriftingError):
        return f"{escape(str(window))}  failed  " + escape(str(done).splitlines()[0])
    evaluation = done.evaluation
    if evaluation is None:
        return f"{escape(str(window))}  {done.status}  rows=0"
    drifted = [d.column for d in evaluation.feature_drift if d.drifted]
    verdict = "DRIFT" if evaluation.dataset.drifted else "no drift"
    features = f"  drifted: {escape(', '.join(drifted))}" if drifted else ""
    return f"{escape(str(window))}  {done.status}  rows={evaluation.rows}  {verdict}{features}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"


def print_summary(outcome: RunOutcome) -> None:
    console.print(f"[bold]{outcome.project}[/] window {escape(str(outcome.window))}")
    console.print(
        f"  {outcome.partitions} hour partitions ({outcome.reused} from the profile cache), "
        f"computed in {outcome.seconds:.2f} s"
    )
    for warning in outcome.warnings:
        errors.print("[yellow]warning:[/] " + escape(warning), soft_wrap=True)
    evaluation = outcome.evaluation
    if evaluation is None:
        console.print(f"  no data: no log rows in the window ({outcome.partitions} partitions) — recorded as no_data")
        return
    dataset = evaluation.dataset
    verdict = "[bold red]DRIFT[/]" if dataset.drifted else "[green]no dataset drift[/]"
    console.print(
        f"  {evaluation.rows} rows, {evaluation.labelled} labelled ({evaluation.label_coverage:.0%}); "
        f"{dataset.drifted_count}/{dataset.feature_count} features drifted "
        f"(share {dataset.drift_share:.2f}, threshold {dataset.drift_share_threshold:.2f}) → {verdict}"
    )
    table = Table("column", "type", "method", "score", "threshold", "drift", box=None, pad_edge=False)
    rows = list(evaluation.feature_drift)
    if evaluation.prediction_drift is not None:
        rows.append(evaluation.prediction_drift)
    for drift in rows:
        name = escape(drift.column) + (" (model output)" if drift is evaluation.prediction_drift else "")
        flag = "[bold red]DRIFT[/]" if drift.drifted else "ok"
        table.add_row(
            name,
            drift.column_type,
            drift.method + ("~" if drift.approximate else ""),
            _number(drift.score),
            _number(drift.threshold),
            flag,
        )
    console.print(table)
    for feature in evaluation.undetermined:
        console.print(f"  [yellow]{escape(feature)}: no usable values in the window, no drift verdict[/]")
    problems = [
        q
        for q in evaluation.quality
        if q.missing_share > 0 or (q.out_of_range_share or 0) > 0 or (q.new_category_share or 0) > 0
    ]
    for q in problems:
        parts = [f"missing {q.missing_share:.1%}"]
        if q.out_of_range_share:
            parts.append(f"out of reference range {q.out_of_range_share:.1%}")
        if q.new_category_share:
            parts.append(f"unseen categories {q.new_category_share:.1%}")
        console.print(f"  quality {escape(q.feature)}: " + ", ".join(parts))
    if evaluation.labelled:
        cells = []
        for p in evaluation.performance:
            text = f"{p.metric}={_number(p.value)}"
            if p.breached:
                text = f"[bold red]{text} (limit {p.threshold_direction} {p.threshold})[/]"
            cells.append(text)
        console.print("  performance: " + "  ".join(cells))
    else:
        console.print("  performance: no labelled rows yet")


def print_backfill(
    project: str, outcomes: list[RunOutcome], failures: list[tuple[Window, DriftingError]], *, windows: int
) -> None:
    """The windows loaded (run status and drift verdict in separate columns), then each failure, then the count."""
    table = Table(
        "window",
        "status",
        "rows",
        "dataset drift",
        "drifted features",
        title=f"{project}: {len(outcomes)} windows loaded",
    )
    for outcome in outcomes:
        evaluation = outcome.evaluation
        drifted = [escape(d.column) for d in evaluation.feature_drift if d.drifted] if evaluation else []
        verdict = "-" if evaluation is None else ("[bold red]DRIFT[/]" if evaluation.dataset.drifted else "no")
        table.add_row(
            f"{outcome.window.start:%Y-%m-%d %H:%M} → {outcome.window.end:%m-%d %H:%M}",
            outcome.status,
            str(evaluation.rows if evaluation else 0),
            verdict,
            f"{len(drifted)}: {', '.join(drifted)}" if drifted else "0",
        )
    console.print(table)
    print_backfill_problems(outcomes, failures, windows=windows)


def print_backfill_problems(
    outcomes: list[RunOutcome], failures: list[tuple[Window, DriftingError]], *, windows: int
) -> None:
    """On stderr: the windows' warnings (the first three), each failure, and how many windows failed."""
    warned = [warning for outcome in outcomes for warning in outcome.warnings]
    for warning in warned[:3]:
        errors.print("[yellow]warning:[/] " + escape(warning), soft_wrap=True)
    if len(warned) > 3:
        errors.print(f"[yellow]warning:[/] ... and {len(warned) - 3} more windows like these", soft_wrap=True)
    for window, error in failures:
        errors.print(f"[bold red]failed[/] {escape(str(window))}: " + escape(str(error)), soft_wrap=True)
    failed = len({window for window, _ in failures})
    if failed:
        errors.print(f"[bold red]{failed} of {windows} windows failed[/]", soft_wrap=True)
