"""The default report: `reports/report.html.j2` rendered from a `ReportView` (report.profile_view), charts drawn as
inline SVG. Self-contained and offline: no script, no stylesheet or font fetched, readable printed or without any
style; every text (a project, feature or category name) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.report.profile_view import Bar, Curve, ReportView, TrendPoint
from drifting_etl.report.templates import render_template

if TYPE_CHECKING:
    from markupsafe import Markup

REPORT_TEMPLATE = "report.html.j2"
CHART_WIDTH, CHART_HEIGHT = 260, 72
COLORS = {"reference": "#8c959f", "window": "#0969da", "flag": "#9a6700"}


def render_profile_report(view: ReportView) -> str:
    """The report page of `view`."""
    return render_template(
        REPORT_TEMPLATE,
        v=view,
        window_text=str(view.window),
        tables=METRIC_TABLES,
        bars=bars_svg,
        sparkline=sparkline_svg,
        curve_svg=curve_svg,
        number=number_text,
        percent=percent_text,
    )


def number_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4g}"


def percent_text(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _markup(svg: str) -> Markup:
    from markupsafe import Markup

    return Markup(svg)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def bars_svg(bars: Sequence[Bar], categories: bool = False) -> Markup | str:
    """Reference and window shares side by side, one pair of bars per bin or category (named below the bars when
    `categories`); each pair's label and shares in its tooltip (<title>), the chart described in its <desc>."""
    if not bars:
        return "–"
    top = max(max(bar.reference, bar.window) for bar in bars) or 1.0
    step = CHART_WIDTH / len(bars)
    width = max(step * 0.42, 0.8)
    parts = []
    for index, bar in enumerate(bars):
        x = index * step
        tooltip = _escape(
            f"{bar.label}: reference {100 * bar.reference:.1f}%, window {100 * bar.window:.1f}%"
            + (f" ({bar.note})" if bar.note else "")
        )
        window_color = COLORS["flag"] if bar.note in ("unseen", "outside") else COLORS["window"]
        parts.append(
            f"<g><title>{tooltip}</title>"
            f'<rect x="{x:.1f}" y="{_y(bar.reference, top):.1f}" width="{width:.1f}" '
            f'height="{CHART_HEIGHT - _y(bar.reference, top):.1f}" fill="{COLORS["reference"]}"/>'
            f'<rect x="{x + width:.1f}" y="{_y(bar.window, top):.1f}" width="{width:.1f}" '
            f'height="{CHART_HEIGHT - _y(bar.window, top):.1f}" fill="{window_color}"/></g>'
        )
    labels = _escape(", ".join(bar.label for bar in bars[:3]) + (", …" if len(bars) > 3 else ""))
    height = CHART_HEIGHT
    if categories:  # each pair of bars named below it (a category name is short enough, or cut)
        height += 14
        for index, bar in enumerate(bars):
            text = bar.label if len(bar.label) <= 8 else bar.label[:7] + "…"
            parts.append(
                f'<text x="{index * step + width:.1f}" y="{CHART_HEIGHT + 11}" font-size="9" text-anchor="middle" '
                f'fill="{COLORS["flag"] if bar.note == "unseen" else "#59636e"}">{_escape(text)}</text>'
            )
    return _markup(
        f'<svg role="img" viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" height="{height}">'
        f"<desc>reference and window shares over {len(bars)} bins or categories ({labels})</desc>"
        + "".join(parts)
        + "</svg>"
    )


def _y(share: float, top: float) -> float:
    return CHART_HEIGHT - (CHART_HEIGHT - 2) * share / top


def sparkline_svg(
    points: Sequence[TrendPoint],
    width: int,
    height: int,
    *,
    threshold: float | None = None,
    flag_color: str = "#cf222e",
) -> Markup | str:
    """A figure over the last windows: a line through the values, a dot per window (in `flag_color` where the window
    was flagged), a dashed line at the threshold when it lies in the plotted range."""
    values = [point.value for point in points if point.value is not None]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    if threshold is not None and math.isfinite(threshold):
        low, high = min(low, threshold), max(high, threshold)
    span = (high - low) or 1.0

    def xy(index: int, value: float) -> tuple[float, float]:
        x = 4 + (width - 8) * index / max(len(points) - 1, 1)
        return x, height - 4 - (height - 8) * (value - low) / span

    line = " ".join(
        f"{x:.1f},{y:.1f}" for x, y in (xy(i, p.value) for i, p in enumerate(points) if p.value is not None)
    )
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{flag_color if point.flagged else COLORS["window"]}">'
        f"<title>{_escape(f'{point.window_start:%Y-%m-%d %H:%M}: {number_text(point.value)}')}</title></circle>"
        for point, (x, y) in ((p, xy(i, p.value)) for i, p in enumerate(points) if p.value is not None)
    )
    rule = ""
    if threshold is not None and math.isfinite(threshold):
        _, y = xy(0, threshold)
        rule = f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#8c959f" stroke-dasharray="3 3"/>'
    return _markup(
        f'<svg role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<desc>{len(values)} windows, from {number_text(values[0])} to {number_text(values[-1])}</desc>"
        f'{rule}<polyline points="{line}" fill="none" stroke="{COLORS["window"]}" stroke-width="1.5"/>{dots}</svg>'
    )


def curve_svg(curve: Curve, size: int = 220) -> Markup:
    """A curve in the unit square, with the diagonal (chance for ROC, perfect calibration) dashed."""
    inner = size - 30

    def xy(x: float, y: float) -> str:
        return f"{25 + inner * x:.1f},{5 + inner * (1 - y):.1f}"

    line = " ".join(xy(x, y) for x, y in curve.points)
    return _markup(
        f'<svg role="img" viewBox="0 0 {size} {size}" width="{size}" height="{size}">'
        f"<desc>{_escape(curve.name)} curve, {len(curve.points)} points</desc>"
        f'<rect x="25" y="5" width="{inner}" height="{inner}" fill="none" stroke="#d1d9e0"/>'
        f'<line x1="{xy(0, 0).split(",")[0]}" y1="{xy(0, 0).split(",")[1]}" x2="{xy(1, 1).split(",")[0]}" '
        f'y2="{xy(1, 1).split(",")[1]}" stroke="#8c959f" stroke-dasharray="3 3"/>'
        f'<polyline points="{line}" fill="none" stroke="{COLORS["window"]}" stroke-width="2"/>'
        f'<text x="25" y="{size - 4}" font-size="10" fill="#59636e">0</text>'
        f'<text x="{size - 12}" y="{size - 4}" font-size="10" fill="#59636e">1</text></svg>'
    )
