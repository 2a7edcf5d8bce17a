"""Alerting a project's channels (`alerts.channels`: Slack, signed webhooks) from Airflow, through Airflow's notifier
interface (`airflow.sdk.BaseNotifier`).

- The monitoring DAG's `notify_team` task calls `ChannelNotifier(project, ...)` with its context: the window's drift
  and breach alerts.
- `failure_notifier(project)` is the `on_failure_callback` of the tasks whose failure records the window as failed
  (`profile_partitions`, `load_metrics`): the `failed` alert, once those tasks are out of retries.

What is sent, to whom, once per window and event, and how it is recorded is `pipeline.steps.send_alerts`, the code
the CLI runs too. This adapter adds what only Airflow has: the window from the data interval, the Airflow run,
connections as the source of URLs and secrets (host = URL, password = secret), and masking both in task logs.
Imported by the DAG file at parse time: everything heavy is imported inside `notify`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from drifting_etl.core.config import AlertEvent

if TYPE_CHECKING:
    from drifting_etl.core.config import ProjectConfig
    from drifting_etl.notify.channel_alerts import ChannelDelivery
    from drifting_etl.notify.channel_targets import ConnectionSecrets

logger = logging.getLogger(__name__)

FAILED_ONLY: tuple[AlertEvent, ...] = ("failed",)


def connection_secrets(conn_id: str) -> ConnectionSecrets:
    """The URL (host) and signing secret (password) of the Airflow connection `conn_id`, masked in task logs."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret
    from pydantic import SecretStr

    from drifting_etl.core.errors import ConfigError
    from drifting_etl.notify.channel_targets import ConnectionSecrets

    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException as exc:
        raise ConfigError(
            f"the Airflow connection {conn_id!r} does not exist, so its alert channel cannot be sent to",
            conn_id=conn_id,
            hint=f"create it: airflow connections add {conn_id} --conn-type http --conn-host 'https://…' "
            f"[--conn-password '<signing secret>'], or set AIRFLOW_CONN_{conn_id.upper()} in the workers' environment",
        ) from exc
    host, password = (connection.host or "").strip(), connection.password or ""
    for value in (host, password):
        if value:
            mask_secret(value)
    return ConnectionSecrets(SecretStr(host) if host else None, SecretStr(password) if password else None)


def _mask_environment_secrets(config: ProjectConfig, environ: Mapping[str, str]) -> None:
    """Mask in task logs the values of the variables the channels name (their URLs and secrets)."""
    from airflow.sdk.log import mask_secret

    for channel in config.alerts.channels:
        for variable in (channel.url_env, channel.secret_env):
            value = environ.get(variable or "", "").strip()
            if value:
                mask_secret(value)


def run_url(context: Mapping[str, Any]) -> str | None:
    """The Airflow UI's page of the context's DAG run; None without `[api] base_url`."""
    from airflow.configuration import conf

    run = context.get("dag_run")
    base = conf.get("api", "base_url", fallback="") or ""
    if run is None or not base:
        return None
    return f"{base.rstrip('/')}/dags/{run.dag_id}/runs/{run.run_id}"


class ChannelNotifier(BaseNotifier):
    """Send the alerts of the context's window (its data interval) to `project`'s channels.

    `events`: only these (None: whatever the window fires); `force`: send again what was sent (None: the DAG run
    parameter force_notify). After a call, `deliveries` says what became of each alert."""

    def __init__(
        self,
        project: str,
        *,
        events: Collection[AlertEvent] | None = None,
        report_location: str | None = None,
        force: bool | None = None,
    ) -> None:
        super().__init__()
        self.project = project
        self.events = tuple(events) if events is not None else None
        self.report_location = report_location
        self.force = force
        self.deliveries: tuple[ChannelDelivery, ...] = ()

    def notify(self, context: Any) -> None:
        import os

        from drifting_etl.airflow.tasks import _environment
        from drifting_etl.core.window import Window
        from drifting_etl.pipeline import steps
        from drifting_etl.store.projects import load_config_of

        window = Window(context["data_interval_start"], context["data_interval_end"])
        run = context.get("dag_run")
        run_id = None if run is None else str(run.run_id)
        force = self.force if self.force is not None else bool((context.get("params") or {}).get("force_notify"))
        store, database, _ = _environment()
        try:
            config = load_config_of(store, self.project)
            if not config.alerts.channels:
                return
            _mask_environment_secrets(config, os.environ)
            if self.events == FAILED_ONLY:
                self.deliveries = steps.send_failure_alerts(
                    store,
                    database,
                    self.project,
                    window,
                    force=force,
                    airflow_run_id=run_id,
                    lookup_connection=connection_secrets,
                )
            else:
                self.deliveries = steps.send_alerts(
                    store,
                    database,
                    self.project,
                    window,
                    events=self.events,
                    report_location=self.report_location,
                    airflow_run_url=run_url(context),
                    airflow_run_id=run_id,
                    force=force,
                    lookup_connection=connection_secrets,
                )
        finally:
            database.dispose()
        for delivery in self.deliveries:
            if delivery.status == "failed":
                logger.error(
                    "the %s alert of %s %s to channel %s failed (recorded in alert_delivery): %s",
                    delivery.event,
                    self.project,
                    window,
                    delivery.channel,
                    delivery.error,
                )
            else:
                logger.info(
                    "%s alert of %s to channel %s: %s", delivery.event, self.project, delivery.channel, delivery.status
                )


def failure_notifier(project: str) -> ChannelNotifier:
    """The `on_failure_callback` that tells `project`'s channels listening for `failed` that the window failed."""
    return ChannelNotifier(project, events=FAILED_ONLY)
