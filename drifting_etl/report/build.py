"""Building a window's report, then publishing the page at `store.report_path(...)` atomically (`store_report`).

Two engines (`report.engine` in the project configuration): `profile_window_report`, the default, draws the page from
the window's merged profile and the metrics database (all rows, no log file read); `render_window_report` samples
the window's rows and runs Evidently's interactive report on the sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drifting_etl.core.extras import require_extra
from drifting_etl.core.window import Window
from drifting_etl.metrics.drift import SMALL_REFERENCE_ROWS
from drifting_etl.report.banner import empty_report_html
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import Project, load_project

if TYPE_CHECKING:
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.profiles.summary import WindowSummary


@dataclass(frozen=True)
class ReportResult:
    location: str
    """Path of the report in the artifact store."""
    display: str
    """The location as a user opens it (a path, or a URL with the store's scheme)."""
    sampled_rows: int
    total_rows: int
    drifted_columns: frozenset[str]
    """Columns Evidently flags as drifted on the sample (features and the prediction)."""
    size_bytes: int


@dataclass(frozen=True)
class WindowReport:
    """A window's rendered report, not stored anywhere yet."""

    html: str
    sampled_rows: int
    total_rows: int
    drifted_columns: frozenset[str]


def render_window_report(
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int | None = None
) -> WindowReport:
    """Sample `sample_size` rows of the window (default: `sample.DEFAULT_SAMPLE_SIZE`) and render Evidently's
    report page on the sample; writes nothing."""
    require_extra(
        "report",
        feature="Evidently's report (report.engine: evidently)",
        alternative="or use the default report (report.engine: profile), or pass --no-report",
    )
    from drifting_etl.report.evidently_report import RenderedReport, evaluate_report
    from drifting_etl.report.sample import DEFAULT_SAMPLE_SIZE, read_reference, sample_window

    sample_size = sample_size or DEFAULT_SAMPLE_SIZE

    project = load_project(store, project_name)
    sample, total = sample_window(store, project, window, sample_size)
    if total == 0:
        rendered = RenderedReport(empty_report_html(project_name, window), frozenset())
    else:
        # Evidently's `auto` picks p-value tests for references of at most 1000 rows and distances above: sample
        # a larger reference to no fewer rows than that, so the report tests what the pipeline tests
        reference, reference_total = read_reference(store, project, max(sample_size, SMALL_REFERENCE_ROWS + 1))
        rendered = evaluate_report(
            project, reference, sample, window, total_rows=total, reference_total=reference_total
        )
    return WindowReport(rendered.html, len(sample), total, rendered.drifted_columns)


def profile_window_report(
    store: ArtifactStore, database: MetricsDatabase, project: Project, window: Window, summary: WindowSummary
) -> WindowReport:
    """The default page: the window's merged profile `summary` and its stored rows (and the trend windows'), drawn
    without reading a log file; links to the previous and next windows' pages, which sit in the same folder."""
    from drifting_etl.report.profile_report import render_profile_report
    from drifting_etl.report.profile_view import read_stored, report_view

    name = project.config.name
    if summary.rows == 0:
        return WindowReport(empty_report_html(name, window), 0, 0, frozenset())
    stored = read_stored(database, name, window, trend_windows=project.config.report.trend_windows)
    length = window.end - window.start
    previous, following = Window(window.start - length, window.start), Window(window.end, window.end + length)
    view = report_view(
        project.config,
        project.reference,
        summary,
        stored,
        window,
        # the previous window's page when it exists; the next one's is written when that window is published
        previous_link=f"{previous.slug}.html"
        if store.exists(store.report_path(name, previous.start, previous.end))
        else None,
        next_link=f"{following.slug}.html",
    )
    drifted = frozenset(feature.name for feature in view.features if feature.drifted)
    return WindowReport(render_profile_report(view), summary.rows, summary.rows, drifted)


def store_report(store: ArtifactStore, project_name: str, window: Window, report: WindowReport) -> ReportResult:
    """Publish `report` at `store.report_path(...)` (whole file at once)."""
    path = store.report_path(project_name, window.start, window.end)
    data = report.html.encode("utf-8")
    store.write_bytes(path, data)
    return ReportResult(
        location=path,
        display=store.display(path),
        sampled_rows=report.sampled_rows,
        total_rows=report.total_rows,
        drifted_columns=report.drifted_columns,
        size_bytes=len(data),
    )


def build_report(
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int | None = None
) -> ReportResult:
    """Sample the window, render Evidently's report and publish it at `store.report_path(...)`."""
    return store_report(
        store, project_name, window, render_window_report(store, project_name, window, sample_size=sample_size)
    )
