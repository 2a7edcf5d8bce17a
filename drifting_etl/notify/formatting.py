"""How numbers, shares, sizes and durations read in an e-mail. Pure."""

from __future__ import annotations

import math
from datetime import timedelta


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 1024:.0f} KiB"
    return f"{size / 2**20:.1f} MiB"


def number_text(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1e-3 and abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3g}"


def signed_text(value: float | None) -> str:
    if value is None:
        return "—"
    text = number_text(abs(value))
    return "±0" if value == 0 else ("+" if value > 0 else "−") + text


def percent_text(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0%"
    if abs(value) < 0.001:
        return "<0.1%"
    return f"{value * 100:.1f}%"


def duration_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
