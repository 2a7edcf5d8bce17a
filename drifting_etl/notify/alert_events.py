"""Which alert events a loaded window fires, and what each says in words. Pure: computed from a `WindowDigest` (what
the e-mail reads back), so every channel and the e-mail agree on what drifted, what breached and which policy fired.

    failed  the window's run failed (monitoring_run.status = failed)
    drift   the dataset or a feature drifted, persistently under drift.persistence (`WindowDigest.has_drift`, what
            alerts.send: on_drift e-mails)
    breach  a performance threshold was breached (`WindowDigest.has_breach`)
    quality a feature's data quality is beyond alerts.data_quality's thresholds (`WindowDigest.has_quality_alert`)

A `no_data` window fires nothing. Sends nothing and reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from drifting_etl.core.config import AlertEvent
from drifting_etl.notify.digest import WindowDigest, window_label
from drifting_etl.notify.formatting import number_text, percent_text
from drifting_etl.notify.policy import verdict_of

EVENTS: tuple[AlertEvent, ...] = get_args(AlertEvent)

NO_ALERT_POLICY = "none (each feature's own test decides, as Evidently's per-test verdicts)"
"""What `policy` says of the drift alert policy when the project sets none (monitoring_run.alert_policy is NULL)."""

_TITLES: dict[AlertEvent, str] = {
    "drift": "drift",
    "breach": "performance threshold breached",
    "quality": "data quality",
    "failed": "run failed",
}


def window_events(digest: WindowDigest) -> tuple[AlertEvent, ...]:
    """The events `digest`'s window fires, in `EVENTS` order: failed alone for a failed run, drift and/or breach for
    a successful one, none for a window without data."""
    if digest.status == "failed":
        return ("failed",)
    if digest.status != "success":
        return ()
    fired: list[AlertEvent] = []
    if digest.has_drift:
        fired.append("drift")
    if digest.has_breach:
        fired.append("breach")
    if digest.has_quality_alert:
        fired.append("quality")
    return tuple(fired)


def policy_text(digest: WindowDigest, event: AlertEvent) -> str:
    """Which rule fired `event`, in words, with the drift alert policy in force (monitoring_run.alert_policy, as the
    e-mail shows it): 'drift: dataset drift, 3 of 5 features drifted (60.0%; threshold 50.0%); alert policy: …'."""
    if event == "failed":
        return "failed: the window's run failed (monitoring_run.status = failed)"
    if event == "quality":
        alerts = [f"{line.feature}: {line.alert}" for line in digest.quality if line.alert]
        return f"quality: {'; '.join(alerts)}"
    if event == "breach":
        breached = [
            f"{line.metric} {number_text(line.value)} ({line.direction} {number_text(line.threshold)})"
            for line in digest.performance
            if line.breached
        ]
        return f"breach: performance threshold breached: {', '.join(breached)} (performance.thresholds)"
    dataset = digest.dataset
    if dataset is not None and dataset.alerting:
        fired = (
            f"dataset drift, {dataset.drifted_count} of {dataset.feature_count} features drifted "
            f"({percent_text(dataset.drift_share)}; threshold {percent_text(dataset.threshold)}, "
            "drift.dataset_drift_share)"
        )
        if dataset.note:
            fired += f", {dataset.note}"
    else:
        names = [line.feature for line in digest.drifted_features if line.alerting]
        share = (
            f" (the dataset's drift share {percent_text(dataset.drift_share)} is below its threshold)"
            if dataset
            else ""
        )
        fired = f"feature drift: {', '.join(names)}{share}"
    return f"drift: {fired}; alert policy: {digest.alert_policy or NO_ALERT_POLICY}"


@dataclass(frozen=True)
class Alert:
    """One event of one window, as every channel tells it."""

    event: AlertEvent
    digest: WindowDigest
    report_url: str | None = None
    """A link to the window's report (http(s), presigned on S3/GCS, or file://); None without a report."""
    airflow_run_url: str | None = None

    @property
    def alert_id(self) -> str:
        """Stable per project, window and event (the same for a forced resend): a receiver's deduplication key."""
        return f"{self.digest.project}:{self.digest.window.slug}:{self.event}"

    @property
    def verdict(self) -> str:
        """The window's verdict as the e-mail's once-per-verdict rule compares it (`policy.verdict_of`)."""
        return verdict_of(self.digest)

    @property
    def policy(self) -> str:
        return policy_text(self.digest, self.event)

    @property
    def title(self) -> str:
        """'credit-default: drift — 2026-01-04' (the project, the event and the window, short)."""
        return f"{self.digest.project}: {_TITLES[self.event]} — {window_label(self.digest.window)}"
