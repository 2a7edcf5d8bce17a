"""The monitoring pipeline for one window: extract -> compute -> load, and a backfill over a schedule's windows.

This is the one place that strings the stages together; the CLI and the Airflow tasks call it. A failed window
is recorded in `monitoring_run` (status failed, with the error) and the error is raised again, so callers can
exit non-zero or let Airflow retry. A window without rows is recorded as `no_data`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from drifting_etl.core.errors import (
    ComputeError,
    DatabaseError,
    DataError,
    DriftingError,
    StorageError,
    is_transient,
)
from drifting_etl.core.window import Window
from drifting_etl.extract.logs import Partition, window_partitions
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.rows import DataQualityRow, DatasetDriftRow, FeatureDriftRow, PerformanceRow, RunRow
from drifting_etl.load.tables import FeatureKind
from drifting_etl.metrics.calibration import CalibratedThreshold
from drifting_etl.metrics.drift import ColumnDrift
from drifting_etl.metrics.drift.policies import describe_policies
from drifting_etl.metrics.evaluation import (
    PROBABILITY_METRICS,
    DriftHistory,
    WindowEvaluation,
    evaluate,
    refined_evaluation,
    with_persistence,
)
from drifting_etl.pipeline.calibration import calibrated_thresholds
from drifting_etl.pipeline.partitions import Profiled, merge_window, plan_window, profile_partitions
from drifting_etl.pipeline.refine import exact_profiles
from drifting_etl.profiles.columns import ColumnProfile
from drifting_etl.profiles.summary import WindowSummary
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import Project, load_project

Progress = Callable[[Partition], None]
Refine = Callable[[list[str], tuple[str, ...]], Mapping[str, ColumnProfile]]
"""Exact profiles of some columns (`pipeline.refine.exact_profiles`), leaving out the quarantined log files."""
"""Exact profiles of some columns of the window (see pipeline/refine.py)."""


@dataclass(frozen=True)
class RunOutcome:
    project: str
    window: Window
    status: Literal["success", "no_data"]
    evaluation: WindowEvaluation | None
    partitions: int
    reference_version: str
    reused: int = 0
    """Partitions whose cached summary was merged instead of reading their logs."""
    seconds: float = 0.0
    """Time from loading the project to loading the metrics."""
    warnings: tuple[str, ...] = ()
    """Why a window may not be what the user meant (before the project's start_date, no log partitions at all, a
    declared `prediction_proba` never logged, numbers logged as strings); also in `monitoring_run.warnings`."""


def empty_window_warnings(store: ArtifactStore, project: Project, window: Window, partitions: int) -> tuple[str, ...]:
    """Say why a window has no rows when that is probably not what the user meant."""
    start = datetime.combine(project.config.start_date, datetime.min.time(), tzinfo=UTC)
    if window.end <= start:
        return (
            f"window {window} ends before {project.config.name}'s start_date {project.config.start_date}: "
            "nothing is monitored before it",
        )
    if partitions == 0:
        return (
            f"no log partitions of {project.config.name} for window {window} in "
            f"{store.display(store.logs_dir(project.config.name))}: check the window's dates, and the store "
            "(--storage / DRIFTING_STORAGE_URL)",
        )
    return ()


def record_project(store: ArtifactStore, database: MetricsDatabase, project: Project) -> None:
    """Record the project in `monitored_project` as the store's index has it (its schedule and status): every run of a
    window does, so a project registered before migration 0005 appears after its next run."""
    entry = store.read_index().get(project.config.name)
    status = entry.status if entry is not None else "active"
    database.record_project(project.config.name, schedule=project.config.schedule, status=status)


def evaluation_warnings(project: Project, window: Window, evaluation: WindowEvaluation) -> tuple[str, ...]:
    """What a successful window's reader must know, each naming project, window, column and what to do next: a
    declared `prediction_proba` that no row logs, and numerical columns whose values were logged as strings."""
    config = project.config
    where = f"{config.name} window {window}"
    warnings = []
    proba = config.columns.prediction_proba
    if config.task == "classification" and proba and evaluation.rows and not evaluation.proba_values:
        needing = [metric for metric in config.metrics if metric in PROBABILITY_METRICS]
        cost = f"{' and '.join(needing)} cannot be computed" if needing else "the report shows no probabilities"
        warnings.append(
            f"{where}: column {proba!r} (columns.prediction_proba) holds no value in any log row, so {cost}: "
            "log it from the model service, or remove it from the project's columns (set "
            "columns.prediction_proba: null) if the model gives no probabilities"
        )
    if evaluation.unscored:
        warnings.append(
            f"{where}: {evaluation.unscored} labelled rows have no usable prediction (null or NaN in column "
            f"{config.columns.prediction!r}); they are left out of performance (monitoring_run.unscored_count): "
            "check how the model service logs failed predictions"
        )
    for quality in evaluation.quality:
        if not quality.type_mismatch_count:
            continue
        unreadable = (
            f"{quality.unreadable_count} of them are not numbers and count as missing"
            if quality.unreadable_count
            else "every one reads as a number"
        )
        warnings.append(
            f"{where}: numerical column {quality.feature!r} has {quality.type_mismatch_count} values logged as "
            f"strings (e.g. {quality.type_mismatch_example!r}); those that read as numbers are used as numbers, "
            f"{unreadable} (data_quality.type_mismatch_count): log the column as numbers"
        )
    return tuple(warnings)


def summarize_window(
    store: ArtifactStore,
    project: Project,
    window: Window,
    *,
    on_partition: Progress | None = None,
    rescan: bool = False,
    workers: int | None = None,
) -> tuple[WindowSummary, Profiled]:
    """The window's summary, merged from its hour partitions' summaries (cached ones reused unless `rescan`)."""
    planned = plan_window(store, project, window, window_partitions(store, project.config.name, window))
    profiled = profile_partitions(store, project, planned, rescan=rescan, on_partition=on_partition, workers=workers)
    return merge_window(store, project, window, profiled.paths, planned), profiled


def load_summary(
    database: MetricsDatabase,
    project: Project,
    window: Window,
    summary: WindowSummary,
    *,
    partitions: int,
    started_at: datetime,
    airflow_run_id: str | None = None,
    warnings: tuple[str, ...] = (),
    refine: Refine | None = None,
    thresholds: Mapping[str, CalibratedThreshold] | None = None,
    publish: bool = False,
) -> RunOutcome:
    """Evaluate a window's summary and replace the window's rows in the metrics database. The outcome's warnings,
    `warnings` and the evaluation's own (`evaluation_warnings`), are stored in `monitoring_run.warnings` too.
    `refine` gives exact profiles of the columns whose verdict the summary leaves open (pipeline/refine.py);
    `thresholds` are those calibrated on the reference (pipeline/calibration.py). With `drift.persistence`, the
    verdicts of the windows loaded before this one are read from the database. `publish`: the caller will publish
    the window (report, e-mail): it is recorded as owed until then (`monitoring_run.publish_status`)."""
    config = project.config
    warnings = (*warnings, *file_warnings(project, window, summary))
    counted = counted_rows(summary)
    if summary.rows == 0:
        evaluation = None
        rows = empty_window_rows(project, window, started_at, airflow_run_id, warnings, publish=publish, **counted)
    else:
        evaluation = evaluate(config, project.reference, summary, project.positive_label, thresholds=thresholds)
        if evaluation.undecided and refine is not None:
            exact = refine(evaluation.undecided, summary.quarantined)
            evaluation = refined_evaluation(config, project.reference, evaluation, exact, thresholds=thresholds)
        evaluation = with_persistence(config, evaluation, drift_history(database, project, window))
        warnings = (*warnings, *evaluation_warnings(project, window, evaluation))
        rows = metric_rows(
            project, window, evaluation, started_at, airflow_run_id, warnings, publish=publish, **counted
        )
    database.replace_window(*rows)
    status: Literal["success", "no_data"] = "no_data" if evaluation is None else "success"
    return RunOutcome(
        project.config.name, window, status, evaluation, partitions, project.reference.version, warnings=warnings
    )


def file_warnings(project: Project, window: Window, summary: WindowSummary) -> tuple[str, ...]:
    """What the run must say about its log files and the rows read into no figure, with or without rows left: the
    quarantined files (raising a DataError when more of the window's files are bad than `extract.max_bad_file_share`
    allows), rows outside their hour folder, duplicate request ids."""
    config, found = project.config, []
    where = f"{config.name} window {window}"
    if summary.quarantined:
        bad, share = len(summary.quarantined), config.extract.max_bad_file_share or 0.0
        listed = "; ".join(summary.quarantined)
        if bad > share * max(summary.log_files, 1):
            raise DataError(
                f"{bad} of the window's {summary.log_files} log files cannot be read, more than "
                f"extract.max_bad_file_share ({share:g}) allows: {listed}",
                hint="move or delete the bad files (or raise extract.max_bad_file_share), then re-run",
                project=config.name,
                window=str(window),
            )
        found.append(
            f"{where}: {bad} of {summary.log_files} log files cannot be read and were left out (quarantined, "
            f"extract.max_bad_file_share {share:g}; monitoring_run.quarantined_files): {listed}"
        )
    if summary.outside_partition:
        found.append(
            f"{where}: {summary.outside_partition} rows lie outside the hour of their partition folder (e.g. "
            f"{summary.outside_example}), or have no timestamp; they are read into no window "
            "(monitoring_run.outside_partition_count): write each row into the folder of its timestamp's UTC hour, "
            "as the capture SDK does"
        )
    if summary.duplicates:
        found.append(
            f"{where}: {summary.duplicates} rows repeat the request id of an earlier row of their hour partition; "
            f"only the first row of each id is used (monitoring_run.duplicate_count): check for retried or replayed "
            "writes in the model service"
        )
    return tuple(found)


def counted_rows(summary: WindowSummary) -> dict[str, Any]:
    """The run row's counts of what was left out (files, rows outside their folder's hour, duplicate rows), from the
    window's summary."""
    return {
        "outside_partition_count": summary.outside_partition,
        "quarantined_files": "\n".join(summary.quarantined) or None,
        "quarantined_file_count": len(summary.quarantined),
        "duplicate_count": summary.duplicates,
    }


def drift_history(database: MetricsDatabase, project: Project, window: Window) -> DriftHistory:
    """What `drift.persistence` looks back on: the verdicts of the windows loaded before `window` (none without it)."""
    policy = project.config.drift.persistence
    if policy is None or policy.windows == 1:
        return DriftHistory()
    earlier = database.previous_drift(project.config.name, window.start, policy.windows - 1)
    return DriftHistory(dataset=tuple(row[0] for row in earlier), columns=tuple(row[1] for row in earlier))


@contextmanager
def failures_recorded(
    database: MetricsDatabase, project: str, window: Window, started_at: datetime, airflow_run_id: str | None = None
) -> Iterator[None]:
    """Record any error raised inside as the window's failed run (with its own message), then let it propagate.

    An exception that is not ours is a bug (or a dropped connection): it is recorded with its type, and, unless a
    retry may fix it, raised again as a ComputeError naming the window, chained to the original."""
    try:
        yield
    except Exception as exc:
        error = str(exc) if isinstance(exc, DriftingError) else f"{type(exc).__name__}: {exc}"
        try:
            database.record_failure(
                project=project,
                window_start=window.start,
                window_end=window.end,
                started_at=started_at,
                finished_at=datetime.now(UTC),
                error=error,
                airflow_run_id=airflow_run_id,
            )
        except DatabaseError as recording:  # say both: the window's own error is the one to fix
            raise type(recording)(
                f"the window failed, and recording its failure failed too ({recording.message})\n"
                f"  the window's error: {error}",
                project=project,
                window=str(window),
                database=recording.context.get("database"),
                hint=None if recording.hint and recording.hint in error else recording.hint,  # said once
            ) from exc
        if isinstance(exc, DriftingError) or is_transient(exc):
            raise
        raise ComputeError(
            f"unexpected {error}",
            project=project,
            window=str(window),
            hint="this is a bug in drifting-etl: please report it, with this message and the window's data",
        ) from exc


def run_window(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    on_partition: Progress | None = None,
    airflow_run_id: str | None = None,
    rescan: bool = False,
    workers: int | None = None,
    publish: bool = False,
) -> RunOutcome:
    """Compute and load one window. Raises DriftingError (after recording the failure) when the window fails.
    `workers`: partitions profiled at once (default: one per CPU core); `publish`: see `load_summary`."""
    clock = time.perf_counter()
    started_at = datetime.now(UTC)
    try:
        project = load_project(store, project_name)
    except StorageError:  # the store is out: a failed window like any other (an unknown project records nothing)
        with failures_recorded(database, project_name, window, started_at, airflow_run_id):
            raise
    with failures_recorded(database, project_name, window, started_at, airflow_run_id):
        summary, profiled = summarize_window(
            store, project, window, on_partition=on_partition, rescan=rescan, workers=workers
        )
        record_project(store, database, project)  # the database is first written once the window is computed
        partitions = len(profiled.paths)
        outcome = load_summary(
            database,
            project,
            window,
            summary,
            partitions=partitions,
            started_at=started_at,
            airflow_run_id=airflow_run_id,
            warnings=empty_window_warnings(store, project, window, partitions) if summary.rows == 0 else (),
            refine=refiner(store, project, window, workers=workers),
            thresholds=calibrated_thresholds(store, project),
            publish=publish,
        )
    return replace(outcome, reused=profiled.reused, seconds=time.perf_counter() - clock)


def refiner(store: ArtifactStore, project: Project, window: Window, *, workers: int | None = None) -> Refine:
    """Refinement of this window: its columns' exact profiles, read again from its log partitions."""

    def refine(columns: list[str], quarantined: tuple[str, ...]) -> Mapping[str, ColumnProfile]:
        return exact_profiles(store, project, window, columns, quarantined=quarantined, workers=workers)

    return refine


def empty_window_rows(
    project: Project,
    window: Window,
    started_at: datetime,
    airflow_run_id: str | None,
    warnings: tuple[str, ...] = (),
    *,
    publish: bool = False,
    **counted: Any,
) -> tuple:
    run = RunRow(
        project=project.config.name,
        window_start=window.start,
        window_end=window.end,
        status="no_data",
        row_count=0,
        labelled_count=0,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        reference_version=project.reference.version,
        airflow_run_id=airflow_run_id,
        warnings="\n".join(warnings) or None,
        publish_status="owed" if publish else None,
        **counted,
    )
    return run, [], None, [], []


def metric_rows(
    project: Project,
    window: Window,
    evaluation: WindowEvaluation,
    started_at: datetime,
    airflow_run_id: str | None,
    warnings: tuple[str, ...] = (),
    *,
    publish: bool = False,
    **counted: Any,
) -> tuple[RunRow, list[FeatureDriftRow], DatasetDriftRow, list[DataQualityRow], list[PerformanceRow]]:
    name = project.config.name
    key: dict[str, Any] = {"project": name, "window_start": window.start, "window_end": window.end}
    persistence = evaluation.persistence
    drifts: list[tuple[FeatureKind, ColumnDrift]] = [("feature", drift) for drift in evaluation.feature_drift]
    if evaluation.prediction_drift is not None:
        drifts.append(("prediction", evaluation.prediction_drift))
    feature_rows = [
        FeatureDriftRow(
            **key,
            feature=drift.column,
            feature_kind=kind,
            column_type=drift.column_type,
            method=drift.method,
            score=drift.score,
            statistic=drift.statistic,
            threshold=drift.threshold,
            drifted=drift.drifted,
            reference_rows=drift.reference_rows,
            current_rows=drift.current_rows,
            approximate=drift.approximate,
            score_low=drift.score_low,
            score_high=drift.score_high,
            refined=drift.refined,
            constant_reference=drift.constant_reference,
            threshold_source=drift.threshold_source,
            adjusted_score=drift.adjusted_score,
            multiple_testing=drift.multiple_testing,
            drifted_windows=None if persistence is None else persistence.column_windows[drift.column],
            persistent=evaluation.persistent(drift),
        )
        for kind, drift in drifts
    ]
    dataset = evaluation.dataset
    dataset_row = DatasetDriftRow(
        drifted_windows=None if persistence is None else persistence.dataset_windows,
        persistent=evaluation.dataset_persistent,
        **key,
        drifted_count=dataset.drifted_count,
        feature_count=dataset.feature_count,
        drift_share=dataset.drift_share,
        drift_share_threshold=dataset.drift_share_threshold,
        drifted=dataset.drifted,
    )
    quality_rows = [
        DataQualityRow(
            **key,
            feature=q.feature,
            column_type=q.column_type,
            row_count=q.row_count,
            missing_count=q.missing_count,
            missing_share=q.missing_share,
            out_of_range_share=q.out_of_range_share,
            new_category_share=q.new_category_share,
            distinct_count=q.distinct_count,
            type_mismatch_count=q.type_mismatch_count,
            non_finite_count=q.non_finite_count if q.column_type == "numerical" else None,
            alert=q.alert,
        )
        for q in evaluation.quality
    ]
    performance_rows = [
        PerformanceRow(
            **key,
            metric=p.metric,
            value=p.value,
            labelled_count=evaluation.labelled,
            label_coverage=evaluation.label_coverage,
            threshold=p.threshold,
            threshold_direction=p.threshold_direction,
            breached=p.breached,
        )
        for p in evaluation.performance
    ]
    run = RunRow(
        **key,
        status="success",
        row_count=evaluation.rows,
        labelled_count=evaluation.labelled,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        drifted=dataset.drifted,
        drift_share=dataset.drift_share,
        reference_version=project.reference.version,
        airflow_run_id=airflow_run_id,
        warnings="\n".join(warnings) or None,
        alert_policy=describe_policies(project.config.drift),
        unscored_count=evaluation.unscored,
        publish_status="owed" if publish else None,
        **counted,
    )
    return run, feature_rows, dataset_row, quality_rows, performance_rows
