"""Publishing a loaded window: its HTML report into the store, then the e-mail to the project's team and the alerts
to its channels (and alerting the channels about a window whose run failed).

Used by `drifting-etl run` / `backfill` and the demo; the Airflow DAG runs the same two steps (pipeline.steps) as
separate tasks. Neither step rolls back the metrics load: a report that cannot be rendered is returned as an error,
a send that fails is recorded on the window's run row.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from drifting_etl.core.errors import DriftingError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import RunOutcome
from drifting_etl.store.artifacts import ArtifactStore

if TYPE_CHECKING:
    from drifting_etl.core.settings import SmtpSettings
    from drifting_etl.notify.channel_alerts import ChannelDelivery
    from drifting_etl.notify.window import NotificationResult


@dataclass(frozen=True)
class Published:
    """What publishing one window did."""

    window: Window
    report_location: str | None = None
    report_error: DriftingError | None = None
    """Why the report could not be rendered (the window's metrics are loaded all the same)."""
    report_seconds: float | None = None
    """How long rendering and storing the report took."""
    notification: NotificationResult | None = None
    """None when no SMTP server is configured."""
    alerts: tuple[ChannelDelivery, ...] = ()
    """What became of each alert to the project's channels (`alerts.channels`)."""


class Publisher:
    """Report and e-mail for each loaded window: `report` renders the HTML report, `smtp` (when given) sends, once
    per window and verdict unless `force_notify`."""

    def __init__(
        self,
        store: ArtifactStore,
        database: MetricsDatabase,
        *,
        report: bool,
        smtp: SmtpSettings | None,
        force_notify: bool = False,
        alerts: bool = True,
    ) -> None:
        self.store, self.database, self.report, self.smtp = store, database, report, smtp
        self.force_notify = force_notify
        self.alerts = alerts
        """Whether the project's channels (`alerts.channels`) are alerted, once per window and event."""

    @property
    def publishes(self) -> bool:
        """Whether publishing does anything (a report, e-mail, alerts): loads made for it record it as owed until then."""
        return self.report or self.smtp is not None or self.alerts

    def publish(self, outcome: RunOutcome) -> Published:
        return self.publish_window(outcome.project, outcome.window)

    def publish_window(self, project: str, window: Window, *, force: bool | None = None) -> Published:
        from drifting_etl.notify.smtp import send_smtp
        from drifting_etl.pipeline.steps import mark_published, publish_report, send_alerts, send_notification

        location, failure, seconds = None, None, None
        if self.report:
            started = time.perf_counter()
            try:
                location = publish_report(self.store, self.database, project, window).display
            except DriftingError as exc:
                failure = exc
            seconds = time.perf_counter() - started
        notification = None
        if self.smtp is not None:
            smtp = self.smtp
            notification = send_notification(
                self.store,
                self.database,
                project,
                window,
                report_location=location,
                send=lambda message: send_smtp(message, smtp),
                force=self.force_notify if force is None else force,
            )
        forced = self.force_notify if force is None else force
        alerts = (
            send_alerts(self.store, self.database, project, window, report_location=location, force=forced)
            if self.alerts
            else ()
        )
        sent = (notification is None or notification.status != "failed") and all(a.status != "failed" for a in alerts)
        if sent:  # a failed send stays owed, to be sent again
            mark_published(self.database, project, window)
        return Published(window, location, failure, seconds, notification, alerts)

    def alert_failure(self, project: str, window: Window, *, since: datetime) -> tuple[ChannelDelivery, ...]:
        """Alert the channels listing `failed` about `window`, whose run failed (recorded at or after `since`)."""
        from drifting_etl.pipeline.steps import send_failure_alerts

        if not self.alerts:
            return ()
        return send_failure_alerts(
            self.store, self.database, project, window, failed_since=since, force=self.force_notify
        )

    def publish_owed(self, project: str, *, attempted: Collection[Window] = ()) -> list[Published]:
        """Publish the loaded windows whose publishing is still owed (a run stopped between its load and its
        report or e-mail, or its e-mail failed), except those `attempted` just now. The e-mail goes once per
        verdict, so a window e-mailed before is not e-mailed again."""
        if not self.publishes:
            return []
        owed = [Window(start, end) for start, end in self.database.owed_windows(project)]
        return [self.publish_window(project, window, force=False) for window in owed if window not in attempted]
