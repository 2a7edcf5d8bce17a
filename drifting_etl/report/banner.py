"""The banner at the top of every report (what the page is built from, and where the exact figures are) and the
page of a window without rows, rendered from `reports/report_banner.html.j2` and `reports/report_empty.html.j2`.

Values go into the templates only as data, autoescaped: a hostile project or category name cannot become markup.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.resources import TEMPLATE_DIRS
from drifting_etl.core.window import Window
from drifting_etl.load.tables import METRIC_TABLES

if TYPE_CHECKING:
    import jinja2

BANNER_TEMPLATE = "report_banner.html.j2"
EMPTY_TEMPLATE = "report_empty.html.j2"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(directory) for directory in TEMPLATE_DIRS]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(name: str, **context: object) -> str:
    import jinja2

    try:
        template = _environment().get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"report template {name} is missing",
            hint=f"looked in {', '.join(str(directory) for directory in TEMPLATE_DIRS)}; reinstall drifting-etl",
        ) from exc
    return template.render(**context)


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
    return _render(
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
    return _render(
        EMPTY_TEMPLATE,
        project=project,
        window=str(window),
        banner=banner_html(project, window, sampled_rows=0, total_rows=0),
    )
