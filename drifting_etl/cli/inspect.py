"""Read-only commands answering "what happened": `runs` (a project's windows) and `show` (one window's stored
metrics). They read the metrics database only: nothing is recomputed, reported or e-mailed.

This module is also the one place that turns stored rows into the CLI's JSON records: `run_record` (a `runs` line,
also in `project show`), `window_record` (`show`), `outcome_record` (a window just run, for `run` and `backfill`)
and `project_record` (`project list` / `project show`).

With --json each prints one JSON document on stdout and nothing else (errors go to stderr); datetimes are ISO 8601
UTC. The shapes are documented in the README ("Command line").
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast, get_args

import click
import yaml
from rich.markup import escape
from rich.table import Column, Table

from drifting_etl.cli.output import console, errors, friendly_errors
from drifting_etl.core.config import ProjectConfig, dump_config
from drifting_etl.core.errors import DriftingError, NotFoundError
from drifting_etl.core.window import Window, parse_instant
from drifting_etl.load.tables import ALL_ROWS, RunStatus

if TYPE_CHECKING:
    from drifting_etl.cli.main import Context
    from drifting_etl.pipeline.backfill import Backfilled
    from drifting_etl.pipeline.publish import Published
    from drifting_etl.pipeline.run import RunOutcome
    from drifting_etl.store.artifacts import IndexEntry

__all__ = [
    "backfill_record",
    "failed_window_record",
    "outcome_record",
    "project_record",
    "project_show_record",
    "run_record",
    "runs",
    "show",
    "window_record",
]

# Columns every window table repeats; a window's JSON names them once, at the top.
_WINDOW_KEYS = ("id", "project", "window_start", "window_end")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _record(row: dict[str, Any], drop: tuple[str, ...] = _WINDOW_KEYS) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row.items() if key not in drop}


def run_record(row: dict[str, Any]) -> dict[str, Any]:
    """One line of `runs --json`. A failed window has no verdict and no row count of its own (None): metric rows
    still stored for it are an earlier run's."""
    failed = row["status"] == "failed"
    drift, drifted = row["dataset_drift"], row["drifted_features"]
    return {
        "window_start": _plain(row["window_start"]),
        "window_end": _plain(row["window_end"]),
        "status": row["status"],
        "dataset_drift": None if failed or drift is None else bool(drift),
        "drifted_features": None if failed or drifted is None else int(drifted),
        "rows": None if failed else int(row["row_count"]),
        "error": row["error"],
    }


def _check_registered(obj: Context, project: str) -> None:
    if project not in obj.store.read_index():
        raise NotFoundError(
            "project not registered",
            project=project,
            store=obj.store.url,
            hint="list the registered projects with `drifting-etl project list`",
        )


@click.command("runs")
@click.argument("project_name", metavar="PROJECT")
@click.option("--since", help="Only windows starting at or after this instant (ISO 8601, UTC unless an offset).")
@click.option("--status", type=click.Choice(get_args(RunStatus)), help="Only windows whose run has this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="The newest N windows.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout (see the README for its keys).")
@click.pass_obj
@friendly_errors
def runs(obj: Context, project_name: str, since: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """PROJECT's windows, newest first: run status, dataset drift verdict, row count and each failure's error."""
    since_at = parse_instant(since, field="--since") if since else None
    database = obj.database()
    found = database.run_history(project_name, since=since_at, status=cast(RunStatus | None, status), limit=limit)
    if not found:
        _check_registered(obj, project_name)
    records = [run_record(row) for row in found]
    if as_json:
        click.echo(json.dumps(records))
        return
    if not records:
        console.print(f"no windows of {escape(project_name)} recorded in {escape(database.display_url)}")
        return
    table = Table("status", "rows", "dataset drift", "drifted features")
    table.columns.insert(0, Column("window (UTC)", no_wrap=True))
    for row, record in zip(found, records, strict=True):
        drift = record["dataset_drift"]
        start, end = row["window_start"], row["window_end"]
        table.add_row(
            f"{start:%Y-%m-%d %H:%M} → {end:%m-%d %H:%M}",
            "[bold red]failed[/]" if record["status"] == "failed" else record["status"],
            "-" if record["rows"] is None else str(record["rows"]),
            "-" if drift is None else ("[bold red]DRIFT[/]" if drift else "no"),
            "-" if record["drifted_features"] is None else str(record["drifted_features"]),
        )
    console.print(table)
    # errors below the table, whole (soft_wrap: a path in one is never broken)
    for record in records:
        if record["error"]:
            console.print(
                f"[bold red]failed[/] {record['window_start']}/{record['window_end']}: {escape(record['error'])}",
                soft_wrap=True,
            )


def window_record(obj: Context, project: str, window: Window) -> dict[str, Any]:
    """The `show --json` object of one window, from the rows stored for it (NotFoundError when it never ran)."""
    database = obj.database()
    run = database.window_run(project, window.start, window.end)
    if run is None:
        raise NotFoundError(
            "this window was never run",
            project=project,
            window=str(window),
            hint=f"list the project's windows with `drifting-etl runs {project}`",
        )

    def stored(table: str) -> list[dict[str, Any]]:
        rows = database.rows(table, project, window.start, window.end)
        # rows() reads a range: keep exactly this window's rows
        return [_record(r) for r in rows if (r["window_start"], r["window_end"]) == (window.start, window.end)]

    overall = [
        r
        for r in stored("dataset_drift")
        if (r["slice_key"], r["slice_value"], r["compared_with"]) == (ALL_ROWS, ALL_ROWS, "reference")
    ]
    return {
        "project": project,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "run": _record(run),
        "dataset_drift": overall[0] if overall else None,
        "feature_drift": stored("feature_drift"),
        "performance": stored("performance_metric"),
        "data_quality": stored("data_quality"),
    }


def outcome_record(obj: Context, outcome: RunOutcome, published: Published | None) -> dict[str, Any]:
    """A window just run, as `run --json` prints it (and `backfill --json` each loaded window), read back from the
    rows stored for it: a `runs --json` line (`run_record`) with the project, the labelled rows, the drift share, the
    drifted features by name, the prediction's drift, the whole-window performance rows, the run's warnings, the
    stored report, what became of the e-mail (None without an SMTP server) and of each alert to the project's channels
    (`alerts`: channel, event, status, attempts, http_status, error, reason)."""
    shown = window_record(obj, outcome.project, outcome.window)
    run, dataset = shown["run"], shown["dataset_drift"]
    summary = {
        **run,
        "window_start": shown["window_start"],
        "window_end": shown["window_end"],
        "dataset_drift": None if dataset is None else dataset["drifted"],
        "drifted_features": None if dataset is None else dataset["drifted_count"],
    }
    against_reference = [
        row
        for row in shown["feature_drift"]
        if (row["slice_key"], row["slice_value"], row["compared_with"]) == (ALL_ROWS, ALL_ROWS, "reference")
    ]
    prediction = [row["drifted"] for row in against_reference if row["feature_kind"] == "prediction"]
    implied = ("slice_key", "slice_value", "computed_at")
    notification = None if published is None else published.notification
    report_error = None if published is None else published.report_error
    return {
        "project": outcome.project,
        **run_record(summary),
        "labelled": run["labelled_count"],
        "drift_share": None if dataset is None else dataset["drift_share"],
        "drifted_feature_names": [
            row["feature"] for row in against_reference if row["feature_kind"] == "feature" and row["drifted"]
        ],
        "prediction_drift": prediction[0] if prediction else None,
        "performance": [
            _record(row, drop=implied)
            for row in shown["performance"]
            if (row["slice_key"], row["slice_value"]) == (ALL_ROWS, ALL_ROWS)
        ],
        "warnings": list(outcome.warnings),
        "report_location": run["report_location"],
        "report_error": None if report_error is None else str(report_error),
        "notification": None
        if notification is None
        else {
            "status": notification.status,
            "recipients": list(notification.recipients),
            "reason": notification.reason,
            "error": notification.error,
        },
        "alerts": [dataclasses.asdict(alert) for alert in (published.alerts if published is not None else ())],
    }


def failed_window_record(window: Window, error: Exception) -> dict[str, Any]:
    """A window a backfill could not load: `{window_start, window_end, status: "failed", error}`."""
    return {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "status": "failed",
        "error": str(error),
    }


def backfill_record(obj: Context, project: str, windows: list[Window], result: Backfilled) -> dict[str, Any]:
    """`backfill --json`: the number of windows in the range, how many failed, and one record per window attempted,
    in order (`outcome_record`, or `failed_window_record` for a window that could not be loaded)."""
    published = {item.window: item for item in result.published}
    loaded = {outcome.window: outcome for outcome in result.outcomes}
    failed = {window: error for window, error in reversed(result.failures)}  # a window's first error
    results = []
    for window in windows:
        if window in loaded:
            results.append(outcome_record(obj, loaded[window], published.get(window)))
        elif window in failed:
            results.append(failed_window_record(window, failed[window]))
    return {"project": project, "windows": len(windows), "failed": len(failed), "results": results}


def project_record(entry: IndexEntry) -> dict[str, Any]:
    """A project's line in `project list --json`: its index entry (name, status, schedule, updated_at, start_date,
    catchup, retrain_dag_id)."""
    return {"name": entry.name, **entry.as_json()}


def project_show_record(obj: Context, config: ProjectConfig, entry: IndexEntry) -> dict[str, Any]:
    """`project show --json`: the project's index entry, its stored configuration as a mapping (as `project show`
    prints it), where its configuration and reference are stored, and its newest 10 `run_record`s (empty, with a
    warning on stderr, when the metrics database cannot be read)."""
    store = obj.store
    try:
        latest = [run_record(row) for row in obj.database().run_history(config.name, limit=10)]
    except DriftingError as exc:
        errors.print("[yellow]warning:[/] no latest runs: " + escape(str(exc)), soft_wrap=True)
        latest = []
    return {
        **project_record(entry),
        "configuration": yaml.safe_load(dump_config(config)),
        "configuration_location": store.display(store.configuration_path(config.name)),
        "reference_location": store.display(store.reference_path(config.name)),
        "latest_runs": latest,
    }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@click.command("show")
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Window start (ISO 8601, UTC unless an offset is given).")
@click.option("--end", required=True, help="Window end, exclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout (see the README for its keys).")
@click.pass_obj
@friendly_errors
def show(obj: Context, project_name: str, start: str, end: str, as_json: bool) -> None:
    """One window's stored metrics, read-only: its run, drift, performance and data quality (nothing is recomputed,
    reported or e-mailed)."""
    window = Window(parse_instant(start, field="--start"), parse_instant(end, field="--end"))
    record = window_record(obj, project_name, window)
    if as_json:
        click.echo(json.dumps(record))
        return
    run = record["run"]
    console.print(f"[bold]{escape(project_name)}[/] window {escape(str(window))}: {run['status']}", soft_wrap=True)
    console.print(f"  rows {run['row_count']}, labelled {run['labelled_count']}, finished {run['finished_at']}")
    if run["error"]:
        console.print(f"  [bold red]error:[/] {escape(run['error'])}", soft_wrap=True)
        if record["feature_drift"]:
            console.print("  the metrics below are from an earlier run of this window")
    console.print(f"  report: {escape(run['report_location'] or '-')}", soft_wrap=True)
    dataset = record["dataset_drift"]
    if dataset is not None:
        verdict = "[bold red]DRIFT[/]" if dataset["drifted"] else "no dataset drift"
        console.print(
            f"  {dataset['drifted_count']}/{dataset['feature_count']} features drifted (share "
            f"{dataset['drift_share']:.2f}, threshold {dataset['drift_share_threshold']:.2f}) → {verdict}"
        )
    if record["feature_drift"]:
        table = Table("column", "slice", "method", "score", "threshold", "drift", title="feature drift")
        for row in record["feature_drift"]:
            table.add_row(
                escape(row["feature"]) + (" (model output)" if row["feature_kind"] == "prediction" else ""),
                escape(_slice(row)),
                row["method"],
                _number(row["score"]),
                _number(row["threshold"]),
                "[bold red]DRIFT[/]" if row["drifted"] else "ok",
            )
        console.print(table)
    if record["performance"]:
        table = Table("metric", "slice", "value", "threshold", "breached", title="performance")
        for row in record["performance"]:
            limit = "-" if row["threshold"] is None else f"{row['threshold_direction']} {row['threshold']}"
            table.add_row(
                row["metric"] + (" (estimated)" if row["estimated"] else ""),
                escape(_slice(row)),
                _number(row["value"]),
                limit,
                "[bold red]yes[/]" if row["breached"] else "no",
            )
        console.print(table)


def _slice(row: dict[str, Any]) -> str:
    return "all" if row["slice_key"] == ALL_ROWS else f"{row['slice_key']}={row['slice_value']}"
