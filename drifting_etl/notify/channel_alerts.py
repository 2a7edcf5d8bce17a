"""Alerting a project's channels (Slack, signed webhooks; `alerts.channels`) about one window: read its digest, find
the events it fires, route each to the channels that list it, send it once per window and event, and record every
outcome in `alert_delivery`.

    digest ─▶ window_events ─▶ (channel, event) for each channel listing the event
           ─▶ sent before and not forced?  skipped
           ─▶ resolve URL/secret (environment or Airflow connection) ─▶ build the body ─▶ POST with retries
           ─▶ sent | failed ─▶ alert_delivery row

A failed delivery is logged and recorded, never raised: a receiver being down must not fail or roll back the
metrics load (as for the e-mail, notify/window.py). Reading the window (no run recorded for it) raises: that is a
wrong call. URLs and secrets never reach a log line, an error or the database.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from drifting_etl.core.config import AlertChannel, AlertEvent
from drifting_etl.core.errors import ConfigError, DriftingError
from drifting_etl.core.settings import Settings
from drifting_etl.core.window import Window, as_utc
from drifting_etl.load.rows import AlertDeliveryRow
from drifting_etl.load.tables import DeliveryStatus
from drifting_etl.notify.alert_events import Alert, window_events
from drifting_etl.notify.alert_payloads import encode_json, slack_message, webhook_payload
from drifting_etl.notify.channel_targets import ChannelTarget, ConnectionLookup, resolve_target
from drifting_etl.notify.digest import WindowDigest, read_digest
from drifting_etl.notify.http_post import PostOutcome, post_json
from drifting_etl.notify.links import DEFAULT_LINK_EXPIRY, report_url
from drifting_etl.notify.policy import FORCE_HINT
from drifting_etl.notify.signing import signature_headers
from drifting_etl.store.projects import load_config_of

if TYPE_CHECKING:
    from drifting_etl.core.config import ProjectConfig
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.store.artifacts import ArtifactStore

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Drifting-Event"
ALERT_ID_HEADER = "X-Drifting-Alert-Id"


@dataclass(frozen=True)
class ChannelDelivery:
    """What became of one alert to one channel; the same is recorded as an `alert_delivery` row."""

    channel: str
    event: AlertEvent
    status: DeliveryStatus
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    """Why it failed (no URL or secret in it); None unless failed."""
    reason: str | None = None
    """Why it was skipped; None unless skipped."""


def _body(channel: AlertChannel, alert: Alert) -> bytes:
    return encode_json(slack_message(alert) if channel.type == "slack" else webhook_payload(alert))


def _headers(channel: AlertChannel, alert: Alert, target: ChannelTarget, body: bytes) -> Callable[[], dict[str, str]]:
    """Each attempt's headers: a webhook's signature is made when the attempt is sent (its timestamp is now)."""

    def headers() -> dict[str, str]:
        found = {EVENT_HEADER: alert.event, ALERT_ID_HEADER: alert.alert_id}
        if channel.type == "webhook" and target.secret is not None:
            found.update(signature_headers(target.secret.get_secret_value(), int(time.time()), body))
        return found

    return headers


def deliver(
    channel: AlertChannel,
    alert: Alert,
    *,
    environ: Mapping[str, str],
    lookup_connection: ConnectionLookup | None,
    timeout: float,
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> ChannelDelivery:
    """Send `alert` to `channel` (URL and secret resolved now, the body built for its type); never raises for a
    channel that cannot be resolved or a receiver that fails."""
    try:
        target = resolve_target(channel, environ=environ, lookup_connection=lookup_connection)
    except ConfigError as exc:
        return ChannelDelivery(channel.name, alert.event, "failed", error=str(exc))
    body = _body(channel, alert)
    window = alert.digest.window
    outcome: PostOutcome = post_json(
        target.url.get_secret_value(),
        body,
        headers=_headers(channel, alert, target, body),
        timeout=timeout,
        attempts=attempts,
        what=f"sending the {alert.event} alert of {alert.digest.project} {window} to channel {channel.name!r}",
        secrets=target.secrets,
        sleep=sleep,
    )
    if outcome.delivered:
        return ChannelDelivery(channel.name, alert.event, "sent", outcome.attempts, outcome.http_status)
    return ChannelDelivery(channel.name, alert.event, "failed", outcome.attempts, outcome.http_status, outcome.error)


def _sent_before(database: MetricsDatabase, project: str, window: Window) -> dict[tuple[str, str], datetime]:
    """(channel, event) -> when it was last sent about this window."""
    sent: dict[tuple[str, str], datetime] = {}
    for row in database.alert_deliveries(project, window.start, window.end):  # newest first
        if row["status"] == "sent":
            sent.setdefault((row["channel"], row["event"]), row["recorded_at"])
    return sent


def _report_url(store: ArtifactStore, digest: WindowDigest, location: str | None, expiry: timedelta) -> str | None:
    location = location or digest.report_location
    try:
        if location is None:
            default = store.report_path(digest.project, digest.window.start, digest.window.end)
            location = default if store.exists(default) else None
        return report_url(store, location, expiry=expiry)
    except DriftingError as exc:  # the alert goes out without its link
        logger.warning("no report link for the alerts of %s %s: %s", digest.project, digest.window, exc)
        return None


def alert_channels(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    config: ProjectConfig | None = None,
    events: Collection[AlertEvent] | None = None,
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    airflow_run_id: str | None = None,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    lookup_connection: ConnectionLookup | None = None,
    timeout: float | None = None,
    attempts: int | None = None,
    link_expiry: timedelta = DEFAULT_LINK_EXPIRY,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[ChannelDelivery, ...]:
    """Send the events `window` fires (only those in `events`, when given) to the project's channels that list them,
    each (channel, event) once per window unless `force`, and record each outcome (`alert_delivery`).

    `environ` holds the variables channels name (default: the process environment); `lookup_connection` reads
    Airflow connections (under Airflow); `timeout` and `attempts` default to `Settings.alert_timeout` and
    `Settings.alert_attempts`. Raises ComposeError when the window has no recorded run; never raises for a
    delivery that fails (it is recorded as 'failed' and logged)."""
    config = config if config is not None else load_config_of(store, project_name)
    channels = config.alerts.channels
    if not channels:
        return ()
    digest = read_digest(database, project_name, window)
    fired = [event for event in window_events(digest) if events is None or event in events]
    routed = [(channel, event) for event in fired for channel in channels if event in channel.on]
    if not routed:
        return ()
    sent_before = {} if force else _sent_before(database, project_name, window)
    link = None
    if any(event != "failed" for _, event in routed):
        link = _report_url(store, digest, report_location, link_expiry)
    if timeout is None or attempts is None:
        settings = Settings.from_env()
        timeout = settings.alert_timeout if timeout is None else timeout
        attempts = settings.alert_attempts if attempts is None else attempts
    deliveries = []
    for channel, event in routed:
        alert = Alert(event, digest, report_url=link, airflow_run_url=airflow_run_url)
        sent_at = sent_before.get((channel.name, event))
        if sent_at is not None:
            reason = (
                f"the {event} alert of this window was sent to {channel.name!r} at "
                f"{as_utc(sent_at).isoformat(timespec='seconds')}; {FORCE_HINT}"
            )
            delivery = ChannelDelivery(channel.name, event, "skipped", reason=reason)
            logger.info("no %s alert to %s for %s %s: %s", event, channel.name, project_name, window, reason)
        else:
            delivery = deliver(
                channel,
                alert,
                environ=os.environ if environ is None else environ,
                lookup_connection=lookup_connection,
                timeout=timeout,
                attempts=attempts,
                sleep=sleep,
            )
            _log(project_name, window, delivery)
        _record(database, project_name, window, delivery, forced=force, airflow_run_id=airflow_run_id)
        deliveries.append(delivery)
    return tuple(deliveries)


def _log(project: str, window: Window, delivery: ChannelDelivery) -> None:
    if delivery.status == "sent":
        logger.info(
            "sent the %s alert of %s %s to channel %s (%d attempt%s)",
            delivery.event,
            project,
            window,
            delivery.channel,
            delivery.attempts,
            "" if delivery.attempts == 1 else "s",
        )
    else:
        logger.warning(
            "could not send the %s alert of %s %s to channel %s: %s",
            delivery.event,
            project,
            window,
            delivery.channel,
            delivery.error,
        )


def _record(
    database: MetricsDatabase,
    project: str,
    window: Window,
    delivery: ChannelDelivery,
    *,
    forced: bool,
    airflow_run_id: str | None,
) -> None:
    row = AlertDeliveryRow(
        project=project,
        window_start=window.start,
        window_end=window.end,
        channel=delivery.channel,
        event=delivery.event,
        status=delivery.status,
        attempts=delivery.attempts,
        recorded_at=datetime.now(UTC),
        http_status=delivery.http_status,
        error=delivery.error,
        reason=delivery.reason,
        forced=forced and delivery.status == "sent",
        airflow_run_id=airflow_run_id,
    )
    try:
        database.record_alert_delivery(row)
    except DriftingError as exc:
        # The alert is out (or not): raising would make Airflow retry the task and send it again.
        logger.error(
            "could not record the %s alert of %s %s to channel %s: %s",
            delivery.event,
            project,
            window,
            delivery.channel,
            exc,
        )
