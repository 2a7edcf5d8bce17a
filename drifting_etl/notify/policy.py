"""Whether a window's e-mail goes out: the project's send policy (`alerts.send`) and alert-once per verdict.
Pure: no database, no network.

A window is e-mailed once per verdict. A re-run (the CLI again, an Airflow clear) sends again only when the verdict
changed — the run status, dataset drift, the drifted features or the breached metrics — or when forced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drifting_etl.core.window import as_utc

if TYPE_CHECKING:
    from drifting_etl.core.config import SendPolicy
    from drifting_etl.notify.digest import WindowDigest

FORCE_HINT = "`drifting-etl run --notify` or the DAG run parameter force_notify sends it again"


def should_send(policy: SendPolicy, run_row: Mapping[str, Any], has_drift_or_breach: bool) -> bool:
    """`always`: every window; `never`: none; `on_drift`: a loaded window whose dataset or any feature drifted
    (persistently, under `drift.persistence`: `WindowDigest.has_drift`), that breached a performance threshold, or
    whose data quality alerts (`alerts.data_quality`): `WindowDigest.alerts`."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy == "on_drift":
        return run_row.get("status") == "success" and has_drift_or_breach
    raise ValueError(f"unknown alerts.send policy {policy!r}; use always, on_drift or never")


def verdict_of(digest: WindowDigest) -> str:
    """The part of a window's result an e-mail announces, as comparable text:
    'success; dataset drift; drifted: age, income; breached: accuracy' (features and metrics sorted)."""
    if digest.status != "success":
        return digest.status
    drifted = sorted(line.feature for line in digest.drifted_features if line.alerting)
    if digest.prediction is not None and digest.prediction.alerting:
        drifted.append(f"prediction {digest.prediction.feature}")
    breached = sorted(line.metric for line in digest.performance if line.breached)
    quality = sorted(line.feature for line in digest.quality if line.alert)
    return "; ".join(
        (
            "success",
            "dataset drift" if digest.dataset is not None and digest.dataset.alerting else "no dataset drift",
            "drifted: " + ", ".join(drifted) if drifted else "no drifted features",
            "breached: " + ", ".join(breached) if breached else "no breached metrics",
            *(["quality: " + ", ".join(quality)] if quality else []),  # absent otherwise: earlier verdicts still match
        )
    )


def already_sent(verdict: str, last_sent: Mapping[str, Any] | None) -> str | None:
    """Why the window is not e-mailed again (its last e-mail announced the same verdict), or None to send."""
    if last_sent is None or last_sent["verdict"] != verdict:
        return None
    return (
        f"already e-mailed at {as_utc(last_sent['sent_at']).isoformat(timespec='seconds')} to {last_sent['recipients']} "
        f"with the same verdict ({verdict}); {FORCE_HINT}"
    )
