"""Notifying a project's team about one loaded window: read its digest, apply the send policy, compose, send, and
record the outcome on the window's `monitoring_run` row.

A failure to *send* is logged and recorded (`notification_status = 'failed'`, `notification_error`) and never
raised: a mail server being down must not fail or roll back the metrics load. Failing to *compose* (no run row for
the window, a missing template) raises: that is a bug or a wrong call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from drifting_etl.core.errors import DriftingError
from drifting_etl.core.window import Window
from drifting_etl.load.tables import NotificationStatus
from drifting_etl.notify.compose import compose_message
from drifting_etl.notify.digest import read_digest
from drifting_etl.notify.links import DEFAULT_LINK_EXPIRY
from drifting_etl.notify.policy import already_sent, should_send, verdict_of
from drifting_etl.notify.smtp import describe_error
from drifting_etl.store.projects import load_config_of

if TYPE_CHECKING:
    from drifting_etl.core.config import ProjectConfig
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.store.artifacts import ArtifactStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationResult:
    """What happened to a window's notification; the same status is recorded on its monitoring_run row."""

    status: NotificationStatus
    recipients: tuple[str, ...]
    subject: str | None = None
    error: str | None = None
    """Why sending failed (no secrets in it); None unless status is 'failed'."""
    reason: str | None = None
    """Why nothing was sent, when status is 'skipped'."""


def notify_window(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    config: ProjectConfig | None = None,
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    send: Callable[[EmailMessage], None],
    attach_limit_bytes: int | None = None,
    link_expiry: timedelta = DEFAULT_LINK_EXPIRY,
    force: bool = False,
    airflow_run_id: str | None = None,
) -> NotificationResult:
    """Apply the project's send policy, compose, send with `send`, and record the outcome on the window's run.

    A window is e-mailed once per verdict (`policy.verdict_of`): when its last e-mail announced the same verdict,
    nothing is sent unless `force`. Each e-mail sent is recorded (`MetricsDatabase.record_notification`).
    A failure inside `send` is logged and recorded as 'failed' and returned, never raised. Composing errors
    (no run recorded for the window, a missing template) raise.
    """
    config = config if config is not None else load_config_of(store, project_name)
    recipients = tuple(config.alerts.email)
    digest = read_digest(database, project_name, window)
    verdict = verdict_of(digest)
    sent_before = database.notifications(project_name, window.start, window.end)
    repeat = None if force else already_sent(verdict, sent_before[0] if sent_before else None)
    if not recipients:
        result = NotificationResult("skipped", recipients, reason="the project has no alerts.email recipients")
    elif not should_send(config.alerts.send, digest.run, digest.alerts):
        reason = f"alerts.send is {config.alerts.send}" + (
            " and the window neither drifted nor breached a threshold" if config.alerts.send == "on_drift" else ""
        )
        result = NotificationResult("skipped", recipients, reason=reason)
    elif repeat is not None:
        result = NotificationResult("skipped", recipients, reason=repeat)
    else:
        message = compose_message(
            store,
            digest,
            recipients=recipients,
            policy=config.alerts.send,
            report_location=report_location,
            airflow_run_url=airflow_run_url,
            attach_limit_bytes=attach_limit_bytes,
            link_expiry=link_expiry,
            sender=None,
        )
        subject = str(message["Subject"])
        try:
            send(message)
        except Exception as exc:  # any sender failure: record it, never fail the metrics load
            error = describe_error(exc)
            logger.warning("could not send the notification for %s %s: %s", project_name, window, error)
            result = NotificationResult("failed", recipients, subject=subject, error=error)
        else:
            logger.info("sent the notification for %s %s to %s", project_name, window, ", ".join(recipients))
            result = NotificationResult("sent", recipients, subject=subject)
            _record_sent(database, project_name, window, result, verdict, force, airflow_run_id)
    if result.status == "skipped":
        logger.info("no notification for %s %s: %s", project_name, window, result.reason)
    try:
        database.annotate_run(
            project_name,
            window.start,
            window.end,
            notification_status=result.status,
            notification_error=result.error,
        )
    except DriftingError as exc:
        # Raising here would make Airflow retry the task and send the e-mail again.
        logger.error("could not record the notification outcome for %s %s: %s", project_name, window, exc)
    return result


def _record_sent(
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    result: NotificationResult,
    verdict: str,
    forced: bool,
    airflow_run_id: str | None,
) -> None:
    try:
        database.record_notification(
            project_name,
            window.start,
            window.end,
            sent_at=datetime.now(UTC),
            recipients=result.recipients,
            subject=result.subject or "",
            verdict=verdict,
            forced=forced,
            airflow_run_id=airflow_run_id,
        )
    except DriftingError as exc:
        # The e-mail is out: raising would make Airflow retry the task and send it again.
        logger.error("could not record the e-mail sent for %s %s: %s", project_name, window, exc)
