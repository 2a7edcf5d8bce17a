"""The banner at the top of every report (what the page is built from, and where the exact figures are) and the
page of a window without rows, rendered from `reports/report_banner.html.j2` and `reports/report_empty.html.j2`.

Values go into the templates only as data, autoescaped: a hostile project or category name cannot become markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from drifting_etl.core.window import Window
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.report.templates import render_template

BANNER_TEMPLATE = "report_banner.html.j2"
EMPTY_TEMPLATE = "report_empty.html.j2"


def rows_text(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def banner_html(
    project: str,
    window: Window,
    *,
    sampled_rows: int,
    total_rows: int,
    reference_rows: int | None = None,
    reference_total: int | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The banner at the top of every report: what the page is built from, and where the exact figures are."""
    return render_template(
        BANNER_TEMPLATE,
        project=project,
        window=str(window),
        sampled_rows=sampled_rows,
        total_rows=total_rows,
        reference_rows=reference_rows,
        reference_total=reference_total,
        notes=list(notes),
        tables=METRIC_TABLES,
        rows_text=rows_text,
    ).strip()


def empty_report_html(project: str, window: Window) -> str:
    """The page for a window without rows (no Evidently involved)."""
    return render_template(
        EMPTY_TEMPLATE,
        project=project,
        window=str(window),
        banner=banner_html(project, window, sampled_rows=0, total_rows=0),
    )
