"""The bodies POSTed to alert channels, built from an `Alert`. Pure: builds JSON values and bytes, sends nothing.

- `webhook_payload`: the versioned payload of `type: webhook` channels, `drifting-etl.alert/v1` (README: Alert
  channels documents every key; a key is only ever added within v1, never renamed, retyped or removed).
- `slack_message`: a Slack incoming-webhook message, `{"text": ..., "blocks": [...]}`, with user data (feature
  and project names, errors) escaped so that it can neither mention `@channel` nor forge a link.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

from drifting_etl.notify.alert_events import Alert
from drifting_etl.notify.digest import window_label
from drifting_etl.notify.formatting import number_text

PAYLOAD_SCHEMA = "drifting-etl.alert/v1"
"""The webhook payload's `schema`: its version. A change a v1 receiver could trip over makes a v2."""

SLACK_LIST_LIMIT = 10
"""Drifted features and breached metrics listed in a Slack message; the rest are counted."""
_SLACK_TEXT_LIMIT = 2900  # Slack rejects section texts over 3,000 characters
_SLACK_HEADER_LIMIT = 150  # ... and header texts over 150


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a number is sent as null."""
    return value if value is None or math.isfinite(value) else None


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The `drifting-etl.alert/v1` payload: what happened to which window, why the alert fired, and where to look."""
    digest = alert.digest
    dataset = digest.dataset
    return {
        "schema": PAYLOAD_SCHEMA,
        "alert_id": alert.alert_id,
        "event": alert.event,
        "project": digest.project,
        "window": {"start": digest.window.start.isoformat(), "end": digest.window.end.isoformat()},
        "run_status": digest.status,
        "headline": digest.headline,
        "verdict": alert.verdict,
        "policy": alert.policy,
        "alert_policy": digest.alert_policy,
        "dataset_drift": None
        if dataset is None
        else {
            "drifted": dataset.drifted,
            "drifted_count": dataset.drifted_count,
            "feature_count": dataset.feature_count,
            "drift_share": _finite(dataset.drift_share),
            "threshold": _finite(dataset.threshold),
            "persistent": dataset.persistent,
        },
        "drifted_features": [
            {
                "feature": line.feature,
                "column_type": line.column_type,
                "method": line.method,
                "score": _finite(line.score),
                "threshold": _finite(line.threshold),
                "alerting": line.alerting,
                "persistent": line.persistent,
            }
            for line in digest.drifted_features
        ],
        "breached_metrics": [
            {
                "metric": line.metric,
                "value": _finite(line.value),
                "threshold": _finite(line.threshold),
                "direction": line.direction,
            }
            for line in digest.performance
            if line.breached
        ],
        "rows": digest.row_count,
        "labelled_rows": digest.labelled_count,
        "report_url": alert.report_url,
        "airflow_run_url": alert.airflow_run_url,
        "error": digest.error,
    }


def slack_escape(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally: `&`, `<` and `>` escaped (no mentions, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listed(items: list[str]) -> str:
    shown = items[:SLACK_LIST_LIMIT]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _link(url: str | None, label: str) -> str | None:
    """A Slack link to an http(s) URL; another location (a local path, file://) as literal text."""
    if not url:
        return None
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return f"<{slack_escape(url)}|{label}>"
    return f"{label}: `{slack_escape(url)}`"


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the notification's one line) and `blocks` (header, what fired and
    why, the drifted features, breached metrics or error, and links)."""
    digest = alert.digest
    lines = [
        f"*Window:* {slack_escape(window_label(digest.window, long=True))} · *status:* {slack_escape(digest.status)}",
        f"*Why:* {slack_escape(alert.policy)}",
    ]
    drifted = [
        f"`{slack_escape(line.feature)}` {slack_escape(line.method)} {number_text(line.score)} "
        f"(threshold {number_text(line.threshold)}){'' if line.alerting else ', not persistent yet'}"
        for line in digest.drifted_features
    ]
    if alert.event == "drift" and drifted:
        lines.append(f"*Drifted features ({len(drifted)} of {digest.features_checked}):* {_listed(drifted)}")
    breached = [
        f"`{slack_escape(line.metric)}` {number_text(line.value)} ({line.direction} {number_text(line.threshold)})"
        for line in digest.performance
        if line.breached
    ]
    if alert.event == "breach" and breached:
        lines.append(f"*Breached:* {_listed(breached)}")
    if alert.event == "failed" and digest.error:
        lines.append(f"*Error:* ```{slack_escape(_cut(digest.error, 1500))}```")
    links = [
        link
        for link in (_link(alert.report_url, "Full report"), _link(alert.airflow_run_url, "Airflow run"))
        if link is not None
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(alert.title, _SLACK_HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), _SLACK_TEXT_LIMIT)}},
    ]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    text = f"[drifting-etl] {alert.title}: {digest.headline}"
    return {"text": slack_escape(_cut(text, _SLACK_TEXT_LIMIT)), "blocks": blocks}


def encode_json(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON, no NaN or infinity."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
