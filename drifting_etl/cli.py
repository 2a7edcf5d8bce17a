"""The `drifting-etl` command line: storage and database set-up, the project registry, runs, backfills, the demo.

Every command takes the artifact store from --storage / $DRIFTING_STORAGE_URL (default ./.drifting) and the
metrics database from --database-url / $DRIFTING_DATABASE_URL (default <storage>/metrics.db when local).
Errors print one clear message and exit 1; nothing here computes anything itself.
"""

from __future__ import annotations

from drifting_etl.batch_process import tune_batch_process

tune_batch_process()  # before numpy is imported

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drifting_etl.errors import ConfigError, DriftingError

if TYPE_CHECKING:
    from drifting_etl.notify import SmtpSettings
from drifting_etl.metrics_db import MetricsDatabase, database_url
from drifting_etl.pipeline import RunOutcome, run_window
from drifting_etl.storage import ArtifactStore
from drifting_etl.window import Window, parse_instant, schedule_windows

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


class Context:
    def __init__(self, storage: str | None, database: str | None) -> None:
        self._storage, self._database = storage, database

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore.from_env(self._storage)

    def database(self) -> MetricsDatabase:
        return MetricsDatabase(database_url(self.store, self._database))


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DriftingError as exc:
            errors.print("[bold red]error:[/] " + escape(str(exc)), soft_wrap=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--storage",
    envvar="DRIFTING_STORAGE_URL",
    help="Artifact store URL (local path, s3://, gs://). [default: .drifting]",
)
@click.option(
    "--database-url",
    envvar="DRIFTING_DATABASE_URL",
    help="SQLAlchemy URL of the metrics database. [default: <storage>/metrics.db]",
)
@click.version_option(package_name="drifting-etl")
@click.pass_context
def main(ctx: click.Context, storage: str | None, database_url: str | None) -> None:
    """Batch ML monitoring: data drift, data quality and model performance from Parquet logs."""
    ctx.obj = Context(storage, database_url)


@main.command()
@click.pass_obj
@friendly_errors
def init(obj: Context) -> None:
    """Create the storage layout and migrate the metrics database (safe to run again)."""
    store = obj.store
    store.ensure_layout()
    database = obj.database()
    database.migrate()
    console.print(f"storage  {store.url}")
    console.print(f"database {database.display_url}  (migrated)")


# ------------------------------------------------------------------------------------------------ projects


@main.group()
def project() -> None:
    """Register, list, inspect, pause and resume monitored projects."""


@project.command("register")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--reference", required=True, help="Reference data (Parquet; local path or fsspec URL).")
@click.pass_obj
@friendly_errors
def project_register(obj: Context, config: str, reference: str) -> None:
    """Register (or update) a project from CONFIG.yaml and its reference data."""
    from drifting_etl.projects import register

    store = obj.store
    project_config, profile = register(store, config, reference)
    console.print(
        f"registered [bold]{project_config.name}[/] ({project_config.task}, {project_config.schedule}): "
        f"{len(project_config.features.all)} features, reference {profile.row_count} rows, version {profile.version}"
    )


@project.command("list")
@click.pass_obj
@friendly_errors
def project_list(obj: Context) -> None:
    """List registered projects."""
    from drifting_etl.projects import list_projects

    entries = list_projects(obj.store)
    if not entries:
        console.print("no projects registered; see `drifting-etl project register --help`")
        return
    table = Table("project", "status", "schedule", "updated")
    for entry in entries:
        table.add_row(entry.name, entry.status, entry.schedule, entry.updated_at)
    console.print(table)


@project.command("show")
@click.argument("name")
@click.pass_obj
@friendly_errors
def project_show(obj: Context, name: str) -> None:
    """Show a project's configuration, reference and latest runs."""
    from drifting_etl.config import dump_config
    from drifting_etl.projects import load_config_of

    store = obj.store
    config = load_config_of(store, name)
    entry = store.read_index()[name]
    console.print(f"[bold]{name}[/]  status={entry.status}  schedule={entry.schedule}  updated={entry.updated_at}")
    console.print(f"configuration  {store.display(store.configuration_path(name))}")
    console.print(f"reference      {store.display(store.reference_path(name))}")
    console.print(dump_config(config))
    try:
        runs = obj.database().runs(name)
    except DriftingError:
        runs = []
    if runs:
        table = Table("window start", "window end", "status", "rows", "labelled", "drift share", title="latest runs")
        for run in runs[-10:]:
            share = "" if run["drift_share"] is None else f"{run['drift_share']:.2f}"
            table.add_row(
                str(run["window_start"]),
                str(run["window_end"]),
                run["status"],
                str(run["row_count"]),
                str(run["labelled_count"]),
                share,
            )
        console.print(table)


def _set_status(obj: Context, name: str, status: Any) -> None:
    from drifting_etl.projects import set_status

    entry = set_status(obj.store, name, status)
    console.print(f"{entry.name}: {entry.status}")


@project.command("pause")
@click.argument("name")
@click.pass_obj
@friendly_errors
def project_pause(obj: Context, name: str) -> None:
    """Stop scheduling a project (its data and metrics are kept)."""
    _set_status(obj, name, "paused")


@project.command("resume")
@click.argument("name")
@click.pass_obj
@friendly_errors
def project_resume(obj: Context, name: str) -> None:
    """Schedule a paused project again."""
    _set_status(obj, name, "active")


# ------------------------------------------------------------------------------------------------ runs


REPORT_OPTION = click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Render each window's HTML drift report into the store.",
)
RESCAN_OPTION = click.option(
    "--rescan",
    is_flag=True,
    help="Read every partition's logs again instead of reusing cached partition profiles (profiles/ in the store).",
)
NOTIFY_OPTION = click.option(
    "--notify/--no-notify",
    default=None,
    help="E-mail the project's team under its alerts policy. [default: when DRIFTING_SMTP_HOST is set]",
)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Window start (ISO 8601, UTC unless an offset is given).")
@click.option("--end", required=True, help="Window end, exclusive.")
@REPORT_OPTION
@NOTIFY_OPTION
@RESCAN_OPTION
@click.pass_obj
@friendly_errors
def run(obj: Context, project_name: str, start: str, end: str, report: bool, notify: bool | None, rescan: bool) -> None:
    """Monitor one window [START, END) of PROJECT: extract, compute, load, report, e-mail, and print a summary.

    Hour partitions profiled by an earlier run (of this or any window covering the same hours) are merged from
    the cache instead of being read again, unless their files changed."""
    window = Window(parse_instant(start, field="--start"), parse_instant(end, field="--end"))
    database = obj.database()
    database.check_schema()
    store = obj.store
    publisher = Publisher(store, database, report=report, notify=notify)
    outcome = run_window(store, database, project_name, window, rescan=rescan)
    print_summary(outcome)
    if not publisher.publish(outcome):
        sys.exit(1)


class Publisher:
    """After a window is loaded: its HTML report, then the e-mail to the project's team (CLI side)."""

    def __init__(
        self,
        store: ArtifactStore,
        database: MetricsDatabase,
        *,
        report: bool,
        notify: bool | None,
        smtp: SmtpSettings | None = None,
    ) -> None:
        from drifting_etl.notify import SmtpSettings

        self.store, self.database, self.report = store, database, report
        settings = smtp or (SmtpSettings.from_env() if notify is not False else None)
        if notify and (settings is None or not settings.host):
            raise ConfigError(
                "--notify needs an SMTP server", hint="set DRIFTING_SMTP_HOST (and _PORT, _USER, _PASSWORD, _FROM)"
            )
        self.settings = settings if settings is not None and settings.host else None

    def publish(self, outcome: RunOutcome, *, quiet: bool = False) -> bool:
        """Report and notify; prints what happened and returns False when the report could not be made."""
        from drifting_etl.notify import send_smtp
        from drifting_etl.orchestration import publish_report, send_notification

        location, succeeded = None, True
        if self.report:
            try:
                location = publish_report(self.store, self.database, outcome.project, outcome.window)
                if not quiet:
                    console.print(f"  report: {escape(location)}")
            except DriftingError as exc:
                errors.print("[bold red]report failed:[/] " + escape(str(exc)), soft_wrap=True)
                succeeded = False
        if self.settings is not None:
            settings = self.settings
            result = send_notification(
                self.store,
                self.database,
                outcome.project,
                outcome.window,
                report_location=location,
                send=lambda message: send_smtp(message, settings),
            )
            if result.status == "failed":
                errors.print("[bold red]e-mail failed:[/] " + escape(result.error or ""), soft_wrap=True)
            elif not quiet or result.status == "sent":
                detail = ", ".join(result.recipients) if result.status == "sent" else (result.reason or "")
                console.print(f"  e-mail: {result.status} {escape(detail)}")
        return succeeded


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Start of the range (ISO 8601).")
@click.option("--end", required=True, help="End of the range, exclusive.")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first failed window instead of going on.")
@REPORT_OPTION
@NOTIFY_OPTION
@RESCAN_OPTION
@click.pass_obj
@friendly_errors
def backfill(
    obj: Context,
    project_name: str,
    start: str,
    end: str,
    stop_on_error: bool,
    report: bool,
    notify: bool | None,
    rescan: bool,
) -> None:
    """Monitor every window of PROJECT's schedule that lies inside [START, END)."""
    from drifting_etl.projects import load_config_of

    store = obj.store
    config = load_config_of(store, project_name)
    windows = schedule_windows(
        config.schedule, parse_instant(start, field="--start"), parse_instant(end, field="--end")
    )
    if not windows:
        raise DriftingError(f"no whole {config.schedule} window lies inside [{start}, {end})", project=project_name)
    database = obj.database()
    database.check_schema()
    publisher = Publisher(store, database, report=report, notify=notify)
    outcomes, failures = backfill_windows(
        store, database, project_name, windows, stop_on_error=stop_on_error, publisher=publisher, rescan=rescan
    )
    print_backfill(project_name, outcomes, failures)
    if failures:
        sys.exit(1)


def backfill_windows(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    windows: list[Window],
    *,
    stop_on_error: bool = False,
    publisher: Publisher | None = None,
    rescan: bool = False,
) -> tuple[list[RunOutcome], list[tuple[Window, DriftingError]]]:
    outcomes: list[RunOutcome] = []
    failures: list[tuple[Window, DriftingError]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(f"{project_name}", total=len(windows))
        for window in windows:
            progress.update(task, description=f"{project_name} {window.start:%Y-%m-%d %H:%M}")
            try:
                outcomes.append(run_window(store, database, project_name, window, rescan=rescan))
                if publisher is not None and not publisher.publish(outcomes[-1], quiet=True):
                    failures.append((window, DriftingError("the window's report could not be rendered")))
            except DriftingError as exc:
                failures.append((window, exc))
                if stop_on_error or not _window_scoped(exc):
                    break
            finally:
                progress.advance(task)
    return outcomes, failures


def _window_scoped(error: DriftingError) -> bool:
    """Bad data in one window does not stop a backfill; a configuration or database problem does."""
    from drifting_etl.errors import DataError

    return isinstance(error, DataError)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Window start (ISO 8601).")
@click.option("--end", required=True, help="Window end, exclusive.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Also write the HTML to this file."
)
@click.option(
    "--sample-size", default=None, type=click.IntRange(min=100), help="Rows sampled from the window. [default: 50000]"
)
@click.pass_obj
@friendly_errors
def report(obj: Context, project_name: str, start: str, end: str, output: str | None, sample_size: int | None) -> None:
    """Render the HTML drift report of one window of PROJECT (stored in the artifact store)."""
    from drifting_etl.report import DEFAULT_SAMPLE_SIZE, build_report

    store = obj.store
    window = Window(parse_instant(start, field="--start"), parse_instant(end, field="--end"))
    result = build_report(store, project_name, window, sample_size=sample_size or DEFAULT_SAMPLE_SIZE)
    # a window that was never loaded has no run row: nothing is annotated then
    obj.database().annotate_run(project_name, window.start, window.end, report_location=result.display)
    sampled = "all" if result.sampled_rows == result.total_rows else f"a sample of {result.sampled_rows} of"
    console.print(f"report of {project_name} {escape(str(window))} from {sampled} {result.total_rows} rows")
    console.print(f"  stored at {escape(result.display)}")
    if output:
        with open(output, "wb") as handle:
            handle.write(store.read_bytes(result.location))
        console.print(f"  written to {escape(output)}")


# ------------------------------------------------------------------------------------------------ output


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


def print_backfill(project: str, outcomes: list[RunOutcome], failures: list[tuple[Window, DriftingError]]) -> None:
    table = Table("window", "status", "rows", "drifted features", title=f"{project}: {len(outcomes)} windows loaded")
    for outcome in outcomes:
        evaluation = outcome.evaluation
        drifted = ", ".join(escape(d.column) for d in evaluation.feature_drift if d.drifted) if evaluation else ""
        status = "DRIFT" if evaluation and evaluation.dataset.drifted else outcome.status
        table.add_row(
            f"{outcome.window.start:%Y-%m-%d %H:%M} → {outcome.window.end:%m-%d %H:%M}",
            status,
            str(evaluation.rows if evaluation else 0),
            drifted or "-",
        )
    console.print(table)
    for window, error in failures:
        errors.print(f"[bold red]failed[/] {window}: " + escape(str(error)), soft_wrap=True)


@main.command()
@click.option("--days", default=7, show_default=True, help="Days of hourly logs to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed (the demo is reproducible).")
@click.option("--end", help="End of the generated period (ISO date). [default: today 00:00 UTC]")
@REPORT_OPTION
@click.pass_obj
@friendly_errors
def demo(obj: Context, days: int, seed: int, end: str | None, report: bool) -> None:
    """Generate demo projects with injected drift, register them, and backfill every window."""
    from datetime import UTC, datetime

    from drifting_etl.demo import run_demo

    period_end = parse_instant(end, field="--end") if end else datetime.now(UTC)
    period_end = period_end.replace(hour=0, minute=0, second=0, microsecond=0)
    run_demo(obj.store, obj.database(), end=period_end, days=days, seed=seed, console=console, report=report)


if __name__ == "__main__":
    main()
