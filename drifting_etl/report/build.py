"""Building a window's report: sample it, render it, and publish the page at `store.report_path(...)` atomically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drifting_etl.core.window import Window
from drifting_etl.metrics.drift import SMALL_REFERENCE_ROWS
from drifting_etl.report.banner import empty_report_html
from drifting_etl.report.evidently_report import RenderedReport, evaluate_report
from drifting_etl.report.sample import DEFAULT_SAMPLE_SIZE, read_reference, sample_window
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_project

if TYPE_CHECKING:
    pass


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


def build_report(
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int = DEFAULT_SAMPLE_SIZE
) -> ReportResult:
    """Sample the window, render its report and publish it at `store.report_path(...)` (whole file at once)."""
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
    path = store.report_path(project_name, window.start, window.end)
    data = rendered.html.encode("utf-8")
    store.write_bytes(path, data)
    return ReportResult(
        location=path,
        display=store.display(path),
        sampled_rows=len(sample),
        total_rows=total,
        drifted_columns=rendered.drifted_columns,
        size_bytes=len(data),
    )
