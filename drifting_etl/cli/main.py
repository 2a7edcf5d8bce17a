"""The `drifting-etl` command line: storage and database set-up, the project registry, runs, backfills, the demo.

Every command takes the artifact store from --storage / $DRIFTING_STORAGE_URL (default ./.drifting) and the
metrics database from --database-url / $DRIFTING_DATABASE_URL (default <storage>/metrics.db when local).
Errors print one clear message and exit 1; nothing here computes anything itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from drifting_etl.core.process import tune_batch_process

tune_batch_process()  # before numpy is imported

import json
import sys
from functools import cached_property
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drifting_etl.cli import config_command
from drifting_etl.cli.inspect import backfill_record, outcome_record, project_record, project_show_record
from drifting_etl.cli.inspect import runs as runs_command
from drifting_etl.cli.inspect import show as show_command
from drifting_etl.cli.output import (
    backfill_with_progress,
    console,
    errors,
    friendly_errors,
    print_backfill,
    print_backfill_problems,
    print_published,
    print_summary,
)
from drifting_etl.cli.status import record_registration
from drifting_etl.cli.status import status as status_command
from drifting_etl.core.config import ReportEngine
from drifting_etl.core.errors import ConfigError, DriftingError, UsageError
from drifting_etl.core.settings import Settings, SmtpSettings
from drifting_etl.core.window import Window, parse_instant, schedule_windows
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.url import database_url
from drifting_etl.pipeline.publish import Published, Publisher
from drifting_etl.pipeline.run import run_window
from drifting_etl.store.artifacts import ArtifactStore


class Context:
    """What every command needs: the settings (read once, when a command starts), the store and the database."""

    def __init__(self, storage: str | None, database: str | None) -> None:
        self._storage, self._database = storage, database

    def override(self, *, storage: str | None = None, database: str | None = None) -> None:
        """A subcommand's own --storage / --database-url, which win over the ones given before it."""
        if storage is not None:
            self._storage = storage
        if database is not None:
            self._database = database

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env()

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(self._storage or self.settings.storage_url)

    def database(self) -> MetricsDatabase:
        return MetricsDatabase(database_url(self.store, self._database))


STORAGE_HELP = "Artifact store URL (local path, s3://, gs://). [default: $DRIFTING_STORAGE_URL, else .drifting]"
DATABASE_HELP = "SQLAlchemy URL of the metrics database. [default: $DRIFTING_DATABASE_URL, else <storage>/metrics.db]"


def _override_location(ctx: click.Context, parameter: click.Parameter, value: str | None) -> None:
    if value is not None and isinstance(ctx.obj, Context):
        ctx.obj.override(**{"storage" if parameter.name == "storage" else "database": value})


def accept_locations(command: click.Command) -> click.Command:
    """Let `command` take --storage / --database-url after its name too (its value wins over the group's); nested
    groups' subcommands as well. Idempotent. `CommandGroup` applies it to every command added to the CLI."""
    present = {name for parameter in command.params for name in parameter.opts}
    for flag, help_text in (("--storage", STORAGE_HELP), ("--database-url", DATABASE_HELP)):
        if flag not in present:
            option = click.Option([flag], expose_value=False, callback=_override_location, help=help_text)
            command.params.append(option)
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            accept_locations(subcommand)
    return command


class CommandGroup(click.Group):
    """A group whose every subcommand (and sub-subcommand) accepts --storage / --database-url (`accept_locations`)."""

    group_class = type  # `@group.group()` makes a CommandGroup too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(accept_locations(cmd), name)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--storage", help=STORAGE_HELP)
@click.option("--database-url", help=DATABASE_HELP)
@click.version_option(package_name="drifting-etl")
@click.pass_context
def main(ctx: click.Context, storage: str | None, database_url: str | None) -> None:
    """Batch ML monitoring: data drift, data quality and model performance from Parquet logs."""
    # each window's e-mail outcome is printed from its result (output.print_published): its log line would say it twice
    logging.getLogger("drifting_etl.notify.window").setLevel(logging.ERROR)
    logging.getLogger("drifting_etl.notify.channel_alerts").setLevel(logging.ERROR)  # ... and each alert's
    ctx.obj = Context(storage, database_url)


main.add_command(config_command.config)


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
    from drifting_etl.store.projects import register

    store = obj.store
    project_config, profile = register(store, config, reference)
    record_registration(obj, store.read_index()[project_config.name])
    console.print(
        f"registered [bold]{project_config.name}[/] ({project_config.task}, {project_config.schedule}): "
        f"{len(project_config.features.all)} features, reference {profile.row_count} rows, version {profile.version}"
    )
    calibration = project_config.drift.calibration
    if calibration is not None:
        from drifting_etl.pipeline.calibration import calibrated_thresholds
        from drifting_etl.store.projects import load_project

        console.print(
            f"calibrating thresholds on {calibration.chunks} reference chunks of {calibration.window_rows:,} rows…"
        )
        thresholds = calibrated_thresholds(store, load_project(store, project_config.name)) or {}
        console.print(
            f"calibrated the thresholds of {len(thresholds)} features "
            f"({escape(store.display(store.calibration_path(project_config.name)))})",
            soft_wrap=True,
        )


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout (see the README for its keys)."
)


@project.command("list")
@JSON_OPTION
@click.pass_obj
@friendly_errors
def project_list(obj: Context, as_json: bool) -> None:
    """List registered projects."""
    from drifting_etl.store.projects import list_projects

    store = obj.store
    entries = list_projects(store)
    if as_json:
        click.echo(json.dumps([project_record(entry) for entry in entries]))
        return
    if not entries:
        console.print(
            f"no projects registered in {escape(store.url)}; see `drifting-etl project register --help`",
            soft_wrap=True,
        )
        return
    table = Table("project", "status", "schedule", "updated")
    for entry in entries:
        table.add_row(entry.name, entry.status, entry.schedule, entry.updated_at)
    console.print(table)


@project.command("show")
@click.argument("name")
@JSON_OPTION
@click.pass_obj
@friendly_errors
def project_show(obj: Context, name: str, as_json: bool) -> None:
    """Show a project's configuration, reference and latest runs."""
    from drifting_etl.core.config import dump_config
    from drifting_etl.store.projects import load_config_of

    store = obj.store
    config = load_config_of(store, name)
    entry = store.read_index()[name]
    if as_json:
        click.echo(json.dumps(project_show_record(obj, config, entry)))
        return
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


@project.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Delete without asking (needed without a terminal: cron, CI, scripts).")
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete its logs, labels, cached profiles and plans, reports, models, and its rows in every metrics table.",
)
@click.pass_obj
@friendly_errors
def project_delete(obj: Context, name: str, yes: bool, purge: bool) -> None:
    """Delete project NAME: its index entry, configuration and reference (its data and metric rows are kept unless
    --purge). Asks first unless --yes."""
    from drifting_etl.store.projects import delete_project, require_deletable

    store, database = obj.store, obj.database()
    require_deletable(store, name, purge=purge)
    if purge:
        database.check_schema()  # before anything is deleted
    if not yes:
        _confirm_deletion(name, store.url, database.display_url if purge else None)
    rows = database.purge_project(name) if purge else {}
    deleted = delete_project(store, name, purge=purge)
    console.print(f"deleted project [bold]{escape(name)}[/] from {escape(store.url)}", soft_wrap=True)
    for path in deleted.removed:
        console.print(f"  removed {escape(path)}", soft_wrap=True)
    if purge:
        counts = ", ".join(f"{table} {count}" for table, count in rows.items() if count)
        console.print(
            f"  removed {sum(rows.values())} rows from {escape(database.display_url)}"
            + (f" ({counts})" if counts else ""),
            soft_wrap=True,
        )
        return
    for path in deleted.kept:
        console.print(f"  kept {escape(path)}", soft_wrap=True)
    console.print(
        f"  kept its rows in the metrics database {escape(database.display_url)}; register {escape(name)} again to "
        f"use what was kept, or remove it with `drifting-etl project delete {escape(name)} --purge`",
        soft_wrap=True,
    )


def _confirm_deletion(name: str, store_url: str, purged_database: str | None) -> None:
    """Ask on the terminal; without an answer (no terminal) say to pass --yes; exit 1 when the answer is no."""
    what = "its configuration and reference"
    if purged_database is not None:
        what += f", logs, labels, cached profiles, reports, models and its rows in {purged_database}"
    try:
        confirmed = click.confirm(f"Delete project {name} from {store_url} ({what})?", default=False, err=True)
    except click.Abort:
        click.echo(err=True)  # end the prompt's line
        if sys.stdin.isatty():
            confirmed = False
        else:
            raise UsageError(
                "cannot ask to confirm the deletion: no terminal to answer on",
                project=name,
                hint=f"pass --yes to delete without asking: `drifting-etl project delete {name} --yes`",
            ) from None
    if not confirmed:
        errors.print(f"project {escape(name)} not deleted", soft_wrap=True)
        sys.exit(1)


def _set_status(obj: Context, name: str, status: Any) -> None:
    from drifting_etl.store.projects import set_status

    entry = set_status(obj.store, name, status)
    record_registration(obj, entry)
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
    help="E-mail the project's team under its alerts policy and alert its channels (alerts.channels); --notify also "
    "sends a window whose verdict was already e-mailed, and alerts already sent. [default: e-mail when "
    "DRIFTING_SMTP_HOST is set, once per window and verdict; channels once per window and event]",
)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Window start (ISO 8601, UTC unless an offset is given).")
@click.option("--end", required=True, help="Window end, exclusive.")
@REPORT_OPTION
@NOTIFY_OPTION
@RESCAN_OPTION
@JSON_OPTION
@click.pass_obj
@friendly_errors
def run(
    obj: Context,
    project_name: str,
    start: str,
    end: str,
    report: bool,
    notify: bool | None,
    rescan: bool,
    as_json: bool,
) -> None:
    """Monitor one window [START, END) of PROJECT: extract, compute, load, report, e-mail, and print a summary
    (with --json, the window's outcome as one JSON object; warnings and notices go to stderr).

    Hour partitions profiled by an earlier run (of this or any window covering the same hours) are merged from
    the cache instead of being read again, unless their files changed."""
    window = Window(parse_instant(start, field="--start"), parse_instant(end, field="--end"))
    database = obj.database()
    database.check_schema()
    store = obj.store
    publisher = Publisher(
        store,
        database,
        report=report,
        smtp=smtp_settings(obj.settings, notify, channels=lambda: has_channels(store, project_name)),
        force_notify=bool(notify),
        alerts=notify is not False,
    )
    started_at = datetime.now(UTC)
    try:
        outcome = run_window(
            store,
            database,
            project_name,
            window,
            rescan=rescan,
            workers=obj.settings.workers,
            publish=publisher.publishes,
        )
    except DriftingError:  # recorded as failed: the channels listening for `failed` hear of it, then the error shows
        alerted = publisher.alert_failure(project_name, window, since=started_at)
        print_published(Published(window, alerts=alerted), out=errors)
        raise
    if as_json:
        for warning in outcome.warnings:
            errors.print("[yellow]warning:[/] " + escape(warning), soft_wrap=True)
    else:
        print_summary(outcome)
    published = publisher.publish(outcome)
    print_published(published, quiet=as_json, out=errors if as_json else console)
    publish_owed(publisher, project_name, attempted=[window], out=errors if as_json else console)
    if as_json:
        click.echo(json.dumps(outcome_record(obj, outcome, published)))
    if published.report_error is not None:
        sys.exit(1)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@REPORT_OPTION
@click.pass_obj
@friendly_errors
def publish(obj: Context, project_name: str, report: bool) -> None:
    """Publish (report, e-mail) the windows of PROJECT whose publishing is still owed: their run was stopped after
    loading the metrics (monitoring_run.publish_status = 'owed'). A window already e-mailed is not e-mailed again."""
    from drifting_etl.store.projects import load_config_of

    config = load_config_of(obj.store, project_name)  # a clear error for an unknown project
    database = obj.database()
    database.check_schema()
    publisher = Publisher(
        obj.store, database, report=report, smtp=smtp_settings(obj.settings, None), alerts=bool(config.alerts.channels)
    )
    if not publisher.publishes:
        raise UsageError(
            "nothing would be published",
            project=project_name,
            hint="drop --no-report, set DRIFTING_SMTP_HOST, or add alert channels (alerts.channels)",
        )
    if not database.owed_windows(project_name):
        console.print(f"nothing to publish: every loaded window of {escape(project_name)} is published")
        return
    publish_owed(publisher, project_name, out=console)


def publish_owed(publisher: Publisher, project_name: str, *, attempted: Sequence[Window] = (), out: Console) -> None:
    """Publish the windows a stopped run left unpublished (but those `attempted` by this command), saying so."""
    for published in publisher.publish_owed(project_name, attempted=attempted):
        out.print(
            f"published window {published.window} of {escape(project_name)}, whose publishing was still owed (its "
            "run stopped before it, or its e-mail failed)",
            soft_wrap=True,
        )
        print_published(published, quiet=False, out=out)


def smtp_settings(
    environment: Settings, notify: bool | None, *, channels: Callable[[], bool] = lambda: False
) -> SmtpSettings | None:
    """Where e-mail goes: the DRIFTING_SMTP_* server when set (and not --no-notify). --notify without one is an error,
    unless the project has alert channels (`channels()`), whose alerts it then forces."""
    settings = environment.smtp if notify is not False else None
    if notify and (settings is None or not settings.host) and not channels():
        raise ConfigError(
            "--notify needs an SMTP server, or alert channels in the project (alerts.channels)",
            hint="set DRIFTING_SMTP_HOST (and _PORT, _USER, _PASSWORD, _FROM)",
        )
    return settings if settings is not None and settings.host else None


def has_channels(store: ArtifactStore, project_name: str) -> bool:
    """Whether the project alerts channels besides the e-mail (`alerts.channels`)."""
    from drifting_etl.store.projects import load_config_of

    return bool(load_config_of(store, project_name).alerts.channels)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Start of the range (ISO 8601).")
@click.option("--end", required=True, help="End of the range, exclusive.")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first failed window instead of going on.")
@REPORT_OPTION
@NOTIFY_OPTION
@RESCAN_OPTION
@JSON_OPTION
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
    as_json: bool,
) -> None:
    """Monitor every window of PROJECT's schedule that lies inside [START, END); exits 1 when any window failed
    (with --json, one JSON object of every window's outcome; progress and notices go to stderr)."""
    from drifting_etl.store.projects import load_config_of

    store = obj.store
    config = load_config_of(store, project_name)
    windows = schedule_windows(
        config.schedule, parse_instant(start, field="--start"), parse_instant(end, field="--end")
    )
    if not windows:
        raise UsageError(f"no whole {config.schedule} window lies inside [{start}, {end})", project=project_name)
    database = obj.database()
    database.check_schema()
    publisher = Publisher(
        store,
        database,
        report=report,
        smtp=smtp_settings(obj.settings, notify, channels=lambda: bool(config.alerts.channels)),
        force_notify=bool(notify),
        alerts=notify is not False,
    )
    result = backfill_with_progress(
        store,
        database,
        project_name,
        windows,
        stop_on_error=stop_on_error,
        publisher=publisher,
        rescan=rescan,
        workers=obj.settings.workers,
        out=errors if as_json else console,
    )
    publish_owed(publisher, project_name, attempted=[item.window for item in result.published], out=errors)
    if as_json:
        print_backfill_problems(result.outcomes, result.failures, windows=len(windows))
        click.echo(json.dumps(backfill_record(obj, project_name, windows, result)))
    else:
        print_backfill(project_name, result.outcomes, result.failures, windows=len(windows))
    if result.failures:
        sys.exit(1)


@main.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--start", required=True, help="Window start (ISO 8601).")
@click.option("--end", required=True, help="Window end, exclusive.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the HTML to this file only (the stored report, which e-mails link to, is left alone).",
)
@click.option(
    "--engine",
    type=click.Choice(["profile", "evidently"]),
    default=None,
    help="profile: drawn from the window's profile and the metrics database (all rows); evidently: Evidently's "
    "interactive report on a sample of the rows. [default: the project's report.engine, else profile]",
)
@click.option(
    "--sample-size",
    default=None,
    type=click.IntRange(min=100),
    help="Rows sampled from the window (--engine evidently). [default: 50000]",
)
@click.pass_obj
@friendly_errors
def report(
    obj: Context,
    project_name: str,
    start: str,
    end: str,
    output: str | None,
    engine: ReportEngine | None,
    sample_size: int | None,
) -> None:
    """Render the HTML drift report of one window of PROJECT: stored in the artifact store (and recorded on the
    window's run), or, with -o, written to a file only."""
    from drifting_etl.pipeline.steps import publish_report, window_report

    store = obj.store
    window = Window(parse_instant(start, field="--start"), parse_instant(end, field="--end"))
    if output:
        page = window_report(store, obj.database(), project_name, window, engine=engine, sample_size=sample_size)
        with open(output, "wb") as handle:
            handle.write(page.html.encode("utf-8"))
        sampled, total, where = page.sampled_rows, page.total_rows, f"written to {output}"
    else:
        # a window that was never loaded has no run row: nothing is annotated then
        result = publish_report(store, obj.database(), project_name, window, engine=engine, sample_size=sample_size)
        sampled, total, where = result.sampled_rows, result.total_rows, f"stored at {result.display}"
    of = "all" if sampled == total else f"a sample of {sampled} of"
    # soft_wrap: a path is never broken across lines (it must stay copyable)
    console.print(f"report of {project_name} {escape(str(window))} from {of} {total} rows", soft_wrap=True)
    console.print(f"  {escape(where)}", soft_wrap=True)


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

    from drifting_etl.core.extras import require_extra

    require_extra("demo", feature="drifting-etl demo")  # before the demo imports pandas and scikit-learn
    from drifting_etl.cli.demo import run_demo

    period_end = parse_instant(end, field="--end") if end else datetime.now(UTC)
    period_end = period_end.replace(hour=0, minute=0, second=0, microsecond=0)
    run_demo(obj.store, obj.database(), end=period_end, days=days, seed=seed, console=console, report=report)


main.add_command(runs_command)
main.add_command(show_command)
main.add_command(status_command)

if __name__ == "__main__":
    main()
