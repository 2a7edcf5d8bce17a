"""Rendering a window's report page with Evidently 0.7 from a sample (pure: no I/O).

`evaluate_report` runs Evidently's `DataDriftPreset` (and `ClassificationPreset` / `RegressionPreset` on the
labelled rows) with the project's drift settings, and wraps the result in a self-contained HTML page with the
banner (report.banner) that says what was sampled. The report is a view on a sample; the full-data figures are in
the metrics database. Evidently is imported inside functions only (it takes seconds to import, and the CLI and the
Airflow DAG files must stay light).
"""

from __future__ import annotations

import html
import json
import logging
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from drifting_etl.core.errors import ComputeError, DriftingError
from drifting_etl.core.window import Window
from drifting_etl.metrics.drift import evidently_stattests
from drifting_etl.metrics.drift.policies import describe_policies
from drifting_etl.profiles.columns import category_key
from drifting_etl.report.banner import banner_html, empty_report_html
from drifting_etl.report.sample import target_column
from drifting_etl.store.projects import Project

if TYPE_CHECKING:
    from evidently.core.report import Snapshot


EVIDENTLY_METHODS: dict[str, str] = {name: stattest for name, stattest in evidently_stattests().items()}
"""Our drift method names -> the names Evidently's stat-test registry knows them by (`StatTest.name`), from the
drift-method registry."""

logger = logging.getLogger(__name__)
_DATA_PLACEHOLDER = "<!-- no embedded data -->"
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_JSON_IN_SCRIPT = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@dataclass(frozen=True)
class RenderedReport:
    html: str
    drifted_columns: frozenset[str]
    """Columns (features and the prediction) Evidently flags as drifted on the sample."""


@contextmanager
def _quiet_evidently() -> Iterator[None]:
    """Evidently (and libraries it imports) warn about their own deprecated internals; those warnings say nothing
    about our data, so they are silenced here, and only these categories from these modules."""
    with warnings.catch_warnings():
        # importing Evidently trips numpy's, its own and litestar's deprecation machinery
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        # pandas/numpy/scikit-learn notices raised from Evidently's computations (e.g. an undefined metric)
        libraries = r"(evidently|sklearn|scipy|numpy|pandas|plotly)(\.|$)"
        for category in (FutureWarning, UserWarning, RuntimeWarning):
            warnings.filterwarnings("ignore", category=category, module=libraries)
        yield


def _categorical(series: pd.Series) -> pd.Series:
    """Categories as the text our profiles compare them as (int 1, float 1.0 and '1' alike); missing stays None."""
    return series.map(lambda value: None if value is None or pd.isna(value) else category_key(value)).astype(object)


def _numerical(series: pd.Series) -> pd.Series:
    values = pd.to_numeric(series.astype("float64") if series.dtype == bool else series, errors="coerce")
    values = values.astype("float64")
    return values.where(np.isfinite(values))  # infinities are left out of drift, as missing values are


def _drift_frame(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: (_numerical(frame[name]) if kind == "numerical" else _categorical(frame[name]))
            for name, kind in kinds.items()
        },
        index=frame.index,
    ).reset_index(drop=True)


@dataclass(frozen=True)
class _Performance:
    current: pd.DataFrame
    reference: pd.DataFrame | None
    definition: Any
    preset: Any
    note: str


def _performance(project: Project, reference: pd.DataFrame, sample: pd.DataFrame) -> _Performance | str:
    """Evidently's datasets for the labelled rows, or a note saying why there is no performance section."""
    from evidently import BinaryClassification, DataDefinition, MulticlassClassification, Regression
    from evidently.presets import ClassificationPreset, RegressionPreset

    config = project.config
    target, prediction, proba = target_column(project), config.columns.prediction, config.columns.prediction_proba

    def labelled(frame: pd.DataFrame) -> pd.DataFrame | None:
        if target not in frame:
            return None
        if config.task == "classification":
            columns = {target: _categorical(frame[target]), prediction: _categorical(frame[prediction])}
            if proba and proba in frame:
                columns[proba] = _numerical(frame[proba])
            rows = pd.DataFrame(columns).reset_index(drop=True)
            return rows[rows[target].notna() & rows[prediction].notna()].reset_index(drop=True)
        rows = pd.DataFrame({target: _numerical(frame[target]), prediction: _numerical(frame[prediction])})
        return rows.dropna().reset_index(drop=True)

    current, past = labelled(sample), labelled(reference)
    if current is None or current.empty:
        return "no labelled rows in the sample: no model performance section"
    if past is not None and past.empty:
        past = None
    if config.task == "regression":
        definition = DataDefinition(
            numerical_columns=[target, prediction], regression=[Regression(target=target, prediction=prediction)]
        )
        note = f"model performance (RegressionPreset) on the {len(current):,} labelled rows of the sample"
        return _Performance(current, past, definition, RegressionPreset(), note)
    classes = set(current[target]) | set(current[prediction])
    if past is not None:
        classes |= set(past[target]) | set(past[prediction])
    positive = project.positive_label
    with_proba = bool(proba and proba in current and current[proba].notna().all())
    if with_proba and past is not None and not (proba in past and past[proba].notna().all()):
        past = past.drop(columns=[proba], errors="ignore")
        with_proba = False
    if len(classes | {positive}) <= 2:
        task: Any = BinaryClassification(
            target=target,
            prediction_labels=prediction,
            prediction_probas=proba if with_proba else None,
            pos_label=positive,
        )
        kind = "binary"
    else:
        task, kind, with_proba = (
            MulticlassClassification(target=target, prediction_labels=prediction),
            "multiclass",
            False,
        )
    keep = [target, prediction, *([proba] if with_proba and proba else [])]
    current = current[keep]
    past = past[keep] if past is not None else None
    definition = DataDefinition(
        categorical_columns=[target, prediction],
        numerical_columns=[proba] if with_proba and proba else [],
        classification=[task],
    )
    note = f"model performance (ClassificationPreset, {kind}) on the {len(current):,} labelled rows of the sample"
    return _Performance(current, past, definition, ClassificationPreset(), note)


def _drift_snapshot(
    project: Project, reference: pd.DataFrame, sample: pd.DataFrame
) -> tuple[Snapshot | None, list[str]]:
    """Evidently's drift report over the usable monitored columns, and the columns left out (no usable value)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    config = project.config
    kinds = config.monitored_columns()
    current, past = _drift_frame(sample, kinds), _drift_frame(reference, kinds)
    usable = [name for name in kinds if current[name].notna().any() and past[name].notna().any()]
    skipped = [name for name in kinds if name not in usable]
    features = [name for name in config.features.all if name in usable]
    prediction = config.columns.prediction
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    for feature in features:
        settings = config.drift.for_feature(feature)
        if settings.method != "auto":
            methods[feature] = EVIDENTLY_METHODS[settings.method]
        if settings.threshold is not None:
            thresholds[feature] = settings.threshold
    metrics: list[Any] = []
    if features:
        metrics.append(
            DataDriftPreset(
                columns=features,
                drift_share=config.drift.dataset_drift_share,
                per_column_method=methods or None,
                per_column_threshold=thresholds or None,
            )
        )
    if prediction in usable:  # reported on its own: like ours, Evidently's dataset drift share counts features only
        method = None if config.drift.method == "auto" else EVIDENTLY_METHODS[config.drift.method]
        metrics.append(ValueDrift(column=prediction, method=method, threshold=config.drift.threshold))
    if not metrics:
        return None, skipped
    definition = DataDefinition(
        numerical_columns=[name for name in usable if kinds[name] == "numerical"],
        categorical_columns=[name for name in usable if kinds[name] == "categorical"],
    )
    snapshot = Report(metrics, include_tests=True).run(
        Dataset.from_pandas(current[usable], data_definition=definition),
        Dataset.from_pandas(past[usable], data_definition=definition),
    )
    return snapshot, skipped


def _drifted(snapshot: Snapshot | None) -> frozenset[str]:
    """The columns whose ValueDrift test failed: Evidently's own verdict (p-value or distance vs threshold)."""
    if snapshot is None:
        return frozenset()
    flagged = set()
    for test in snapshot.dict()["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if str(params.get("type", "")).endswith(":ValueDrift") and str(test.get("status")).upper().endswith("FAIL"):
            flagged.add(str(params["column"]))
    return frozenset(flagged)


def _page(sections: Sequence[tuple[str, Snapshot]], title: str, banner: str) -> str:
    """Evidently's standalone page (JS bundle and icon font inlined, so it needs no network) for several
    snapshots, with the data embedded safely and our banner injected right after <body>.

    Evidently embeds its data as raw JSON in a <script> element; a category value containing "</script>" would
    end the element and let the rest run as markup. We embed it ourselves with '<', '>' and '&' escaped as
    JSON unicode escapes (identical values for the JavaScript that reads them).
    """
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.legacy.utils import NumpyEncoder
    from evidently.legacy.utils.dashboard import TemplateParams, dashboard_info_to_json, file_html_template

    widgets: list[BaseWidgetInfo] = []
    for heading, snapshot in sections:
        model = snapshot.to_snapshot_model()
        widgets.append(group_widget(title=heading, widgets=list(model.widgets)))
        widgets.extend(model.tests_widgets)
    additional: dict[str, Any] = {}
    for widget in widgets:  # as evidently.core.metric_types.render_widgets collects them
        for graph in widget.get_additional_graphs():
            info = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            additional[f"{graph.id}"] = info.dict() if isinstance(info, BaseWidgetInfo) else info
    dashboard_id = "metric_" + uuid.uuid4().hex
    dashboard = DashboardInfo(name="Report", widgets=widgets)
    page = file_html_template(
        TemplateParams(dashboard_id=dashboard_id, dashboard_info=dashboard, additional_graphs={}, embed_data=False)
    )
    data = (
        "<script>\n"
        f"var {dashboard_id} = {dashboard_info_to_json(dashboard).translate(_JSON_IN_SCRIPT)};\n"
        f"var additional_graphs_{dashboard_id} = "
        f"{json.dumps(additional, cls=NumpyEncoder).translate(_JSON_IN_SCRIPT)};\n"
        "</script>"
    )
    body = _BODY_TAG.search(page)
    if page.count(_DATA_PLACEHOLDER) != 1 or body is None or "<head>" not in page:
        raise ValueError("Evidently's HTML template changed: cannot embed the data or the banner")
    page = page.replace(_DATA_PLACEHOLDER, data)
    body = _BODY_TAG.search(page)
    assert body is not None
    page = page[: body.end()] + "\n" + banner + page[body.end() :]
    return page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)


def evaluate_report(
    project: Project,
    reference: pd.DataFrame,
    sample: pd.DataFrame,
    window: Window,
    *,
    total_rows: int,
    reference_total: int | None = None,
) -> RenderedReport:
    """The report page of a window's sample and Evidently's drift verdicts (pure: no I/O)."""
    name = project.config.name
    if sample.empty:
        return RenderedReport(empty_report_html(name, window), frozenset())
    try:
        with _quiet_evidently():
            from evidently import Dataset, Report

            drift, skipped = _drift_snapshot(project, reference, sample)
            sections: list[tuple[str, Snapshot]] = []
            notes = []
            if drift is not None:
                sections.append(("Data drift (features and prediction) against the reference", drift))
            if skipped:
                notes.append(f"no drift shown for {', '.join(skipped)}: no usable value in the sample or reference")
            performance = _performance(project, reference, sample)
            if isinstance(performance, str):
                notes.append(performance)
            else:
                try:
                    snapshot = Report([performance.preset]).run(
                        Dataset.from_pandas(performance.current, data_definition=performance.definition),
                        None
                        if performance.reference is None
                        else Dataset.from_pandas(performance.reference, data_definition=performance.definition),
                    )
                except Exception as exc:  # degenerate labelled rows (one class, classes Evidently mislabels, ...)
                    # the drift report is still worth having: say on the page why performance is missing
                    logger.warning("no performance section for %s %s: %s: %s", name, window, type(exc).__name__, exc)
                    notes.append(
                        f"no model performance section: Evidently could not compute it on the sample's labelled "
                        f"rows ({type(exc).__name__}: {exc}); performance_metric in the database has the figures"
                    )
                else:
                    sections.append((performance.note[0].upper() + performance.note[1:], snapshot))
                    unlabelled = "" if performance.reference is not None else " (the reference has no labels)"
                    notes.append(performance.note + unlabelled)
            policy = describe_policies(project.config.drift)
            if policy:
                notes.append(
                    f"alert policy: {policy}. The verdicts on this page are Evidently's, one test at a time at the "
                    "configured thresholds; feature_drift.drifted and .persistent in the database apply the policy"
                )
            banner = banner_html(
                name,
                window,
                sampled_rows=len(sample),
                total_rows=total_rows,
                reference_rows=len(reference),
                reference_total=reference_total if reference_total is not None else len(reference),
                notes=notes,
            )
            title = f"Drift report: {name} {window}"
            return RenderedReport(_page(sections, title, banner), _drifted(drift))
    except DriftingError:
        raise
    except Exception as exc:
        raise ComputeError(
            f"Evidently could not render the report: {type(exc).__name__}: {exc}",
            project=name,
            window=str(window),
            hint="the metrics in the database are unaffected; report this with the window's data if it persists",
        ) from exc


def render_report(
    project: Project, reference: pd.DataFrame, sample: pd.DataFrame, window: Window, *, total_rows: int
) -> str:
    """The HTML report of a window's sample against the reference (see `evaluate_report`)."""
    return evaluate_report(project, reference, sample, window, total_rows=total_rows).html
