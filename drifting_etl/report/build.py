"""Building a window's report: sample it and render it (`render_window_report`), then publish the page at
`store.report_path(...)` atomically (`build_report`)."""

from __future__ import annotations

from dataclasses import dataclass

from drifting_etl.core.window import Window
from drifting_etl.metrics.drift import SMALL_REFERENCE_ROWS
from drifting_etl.report.banner import empty_report_html
from drifting_etl.report.evidently_report import RenderedReport, evaluate_report
from drifting_etl.report.sample import DEFAULT_SAMPLE_SIZE, read_reference, sample_window
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_project


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
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int = DEFAULT_SAMPLE_SIZE
) -> WindowReport:
    """Sample the window and render its report page; writes nothing."""
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


def build_report(
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int = DEFAULT_SAMPLE_SIZE
) -> ReportResult:
    """Sample the window, render its report and publish it at `store.report_path(...)` (whole file at once)."""
    report = render_window_report(store, project_name, window, sample_size=sample_size)
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
