"""The send policy (`alerts.send`): whether a window's e-mail goes out. Pure: no database, no network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drifting_etl.core.config import SendPolicy


def should_send(policy: SendPolicy, run_row: Mapping[str, Any], has_drift_or_breach: bool) -> bool:
    """`always`: every window; `never`: none; `on_drift`: a loaded window whose dataset or any feature drifted,
    or that breached a performance threshold."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy == "on_drift":
        return run_row.get("status") == "success" and (has_drift_or_breach or bool(run_row.get("drifted")))
    raise ValueError(f"unknown alerts.send policy {policy!r}; use always, on_drift or never")
