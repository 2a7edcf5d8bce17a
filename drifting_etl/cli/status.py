"""`drifting-etl status`: every registered project's health in one table — its status and schedule (from the store's
project index), its latest window and latest successful window, and its attention reasons (from the database's
`v_projects_needing_attention`: failing, never_ran, stale, breached, drifted). Read-only.

Also `record_registration`: what `project register`, `pause` and `resume` call to keep `monitored_project` in step with
the store's index.

With --json it prints one JSON document on stdout and nothing else (errors go to stderr); datetimes are ISO 8601
UTC. The shape is documented in the README ("Command line").
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.markup import escape
from rich.table import Column, Table

from drifting_etl.cli.output import console, errors, friendly_errors
from drifting_etl.core.errors import DriftingError
from drifting_etl.store.artifacts import IndexEntry

if TYPE_CHECKING:
    from drifting_etl.cli.main import Context

__all__ = ["project_record", "record_registration", "status"]

REASON_STYLE = {
    "failing": "bold red",
    "never_ran": "yellow",
    "stale": "yellow",
    "breached": "bold red",
    "drifted": "red",
}


def record_registration(obj: Context, entry: IndexEntry) -> None:
    """Record the project's index entry (schedule, status) in the database's `monitored_project`.

    The store stays the registry: when the database is not set up (or unreachable) a note says so and the command
    goes on; the project's next run records it."""
    database = obj.database()
    try:
        database.check_schema()
        database.record_project(entry.name, schedule=entry.schedule, status=entry.status)
    except DriftingError as exc:
        errors.print(
            f"[yellow]note:[/] {escape(entry.name)} is not recorded in the metrics database yet ({escape(str(exc))}); "
            "its next run records it",
            soft_wrap=True,
        )
    finally:
        database.dispose()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def project_record(entry: IndexEntry, health: dict[str, Any] | None) -> dict[str, Any]:
    """One line of `status --json`: the project's index entry and what the database says about it."""
    if health is None:  # registered but unknown to the database (before migration 0005, or before `init`)
        health = {"reasons": [] if entry.status == "paused" else ["never_ran"]}
    latest_start, latest_end = health.get("latest_window_start"), health.get("latest_window_end")
    success_start, success_end = health.get("last_success_window_start"), health.get("last_success_window_end")
    return {
        "project": entry.name,
        "status": entry.status,
        "schedule": entry.schedule,
        "last_window": None
        if latest_start is None
        else {"window_start": _iso(latest_start), "window_end": _iso(latest_end), "status": health["latest_status"]},
        "last_success": None
        if success_start is None
        else {"window_start": _iso(success_start), "window_end": _iso(success_end)},
        # the store's index is the registry: a project paused there is not stale even if the database missed the pause
        "reasons": [
            reason
            for reason in health.get("reasons", [])
            if entry.status == "active" or reason not in ("stale", "never_ran")
        ],
    }


def _window(window: dict[str, Any] | None) -> str:
    """A window by its start (the schedule gives its end), its time left out at midnight: short enough for an
    80-column table."""
    if window is None:
        return "never"
    start = datetime.fromisoformat(window["window_start"])
    return f"{start:%Y-%m-%d}" if start.time() == time() else f"{start:%Y-%m-%d %H:%M}"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout (see the README for its keys).")
@click.pass_obj
@friendly_errors
def status(obj: Context, as_json: bool) -> None:
    """Every registered project's health: status, schedule, last window, last success and what needs attention
    (failing, never_ran, stale, breached, drifted). Read-only."""
    store = obj.store
    entries = sorted(store.read_index().values(), key=lambda entry: entry.name)
    if not entries:
        if as_json:
            click.echo(json.dumps([]))
            return
        console.print(
            f"no projects registered in {escape(store.url)}; see `drifting-etl project register --help`",
            soft_wrap=True,
        )
        return
    database = obj.database()
    database.check_schema()
    try:
        health = database.project_health()
    finally:
        database.dispose()
    records = [project_record(entry, health.get(entry.name)) for entry in entries]
    if as_json:
        click.echo(json.dumps(records))
        return
    table = Table(
        Column("project", no_wrap=True),
        "status",
        Column("schedule", overflow="fold"),
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        caption="windows by their start, UTC",
    )
    table.add_column("last window", no_wrap=True)
    table.add_column("run")
    table.add_column("last success", no_wrap=True)
    table.add_column("attention", min_width=len("never_ran"))
    for record in records:
        last = record["last_window"]
        run_status = "-" if last is None else last["status"]
        reasons = ", ".join(f"[{REASON_STYLE[r]}]{r}[/]" if r in REASON_STYLE else r for r in record["reasons"])
        table.add_row(
            escape(record["project"]),
            record["status"],
            escape(record["schedule"]),
            _window(last),
            "[bold red]failed[/]" if run_status == "failed" else run_status,
            _window(record["last_success"]),
            reasons or "[green]ok[/]",
        )
    console.print(table)
