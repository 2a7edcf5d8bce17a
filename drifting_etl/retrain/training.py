"""Retraining: fit a new model on a project's labelled logs, compare it with the deployed one, store and promote it.

This module owns the reference retraining that the `retrain__<project>` DAG runs after a breach. Stored models
live where `ArtifactStore` says (`model_path`, `model_metrics_path`, `current_model_path`; the layout is in
`store.artifacts`): model.skops (the fitted scikit-learn Pipeline, skops, never pickle), metrics.json (what was
trained on, how both models did, what was decided) and current.json (the promoted version).

A version is `<training window end, core.window.compact_utc>-<8 hex digits>`; the digits hash the training rows,
the estimator and its parameters, so re-running the same retraining (an Airflow retry) rewrites the same version
instead of adding one. `metrics.json` is written last: a version directory without it is incomplete.

Pure parts (`split_by_time`, `build_pipeline`, `fit_model`, `logged_metrics`, `model_metrics`, `train_and_evaluate`)
take Arrow tables and return values; `read_labelled` and `retrain_project` do the I/O. The current model is judged
by what production logged (`prediction`, `prediction_proba`) on the holdout rows, so no serving code is needed.

It must not pickle or unpickle anything: `load_model` refuses a file holding types outside `TRUSTED_TYPE_PREFIXES`.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import math
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sklearn
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError  # private path; raised for bad params since 1.2

from drifting_etl.core.columns import LABEL
from drifting_etl.core.config import ProjectConfig
from drifting_etl.core.errors import ConfigError, DataError, NotFoundError
from drifting_etl.core.model_task import DEFAULT_ESTIMATOR, ESTIMATOR_ALLOW_LIST, ESTIMATORS, HIGHER_IS_BETTER
from drifting_etl.core.window import Window, as_utc, compact_utc
from drifting_etl.extract.labels import LabelIndex
from drifting_etl.extract.logs import read_partition, window_partitions
from drifting_etl.profiles.columns import category_key, numeric_array
from drifting_etl.profiles.performance import ClassificationSummary, RegressionSummary
from drifting_etl.profiles.summary import probabilities
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_project, replace_reference

# Importing skops.io looks its functions up in every loaded module; inside an Airflow task that includes Airflow's
# deprecated-module shims, which answer each lookup with a DeprecatedImportWarning (about 1,160 log lines per task
# attempt). Silence exactly that category, only for this import. The class is read from sys.modules because this
# package must not import Airflow; without Airflow loaded there is nothing to silence.
with warnings.catch_warnings():
    _airflow_deprecated_import = getattr(
        sys.modules.get("airflow.utils.deprecation_tools"), "DeprecatedImportWarning", None
    )
    if isinstance(_airflow_deprecated_import, type) and issubclass(_airflow_deprecated_import, Warning):
        warnings.simplefilter("ignore", _airflow_deprecated_import)
    import skops.io as sio


def _allowed_class(class_path: str) -> type[BaseEstimator]:
    """The scikit-learn estimator class at an allow-listed `module.Class` path (nothing outside scikit-learn)."""
    module, _, name = class_path.rpartition(".")
    if module.split(".", 1)[0] != "sklearn":
        raise ValueError(f"estimator allow-list entry {class_path!r} is not a scikit-learn class")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise TypeError(f"estimator allow-list entry {class_path!r} is not a scikit-learn estimator class")
    return cls


ESTIMATOR_CLASSES: dict[str, type[BaseEstimator]] = {
    name: _allowed_class(allowed.class_path) for name, allowed in ESTIMATOR_ALLOW_LIST.items()
}
"""The only estimators retraining will build, imported from `model_task.ESTIMATOR_ALLOW_LIST`'s paths."""

MIN_LABELLED_ROWS = 50

TRUSTED_TYPE_PREFIXES = (
    "numpy.dtype",
    "sklearn.tree._tree.",
    "sklearn.ensemble._hist_gradient_boosting.",
)
"""Types a stored model may hold beyond skops' own trusted defaults (which already cover sklearn estimators).

Deliberately narrower than "sklearn.": a FunctionTransformer may reference any function by name, and a function
under sklearn (or numpy) is still code we did not mean to run at predict time.
"""

TIMESTAMP = "timestamp"
"""Name of the (UTC) timestamp column in the labelled table `read_labelled` returns."""


# ====================================================================== results


@dataclass(frozen=True)
class RowCounts:
    read: int
    """Rows of the training window in the logs."""
    labelled: int
    """Of those, rows with ground truth and a logged prediction: the training data."""
    train: int
    holdout: int


@dataclass(frozen=True)
class Evaluation:
    """What `train_and_evaluate` found: the fitted model and both models' holdout metrics."""

    model: Pipeline
    estimator: str
    params: dict[str, Any]
    """The estimator's parameters as configured, plus `random_state=0` where it takes one and none was given."""
    train_rows: int
    holdout_rows: int
    holdout_start: datetime
    holdout_end: datetime
    """Timestamps of the first and last holdout rows."""
    primary_metric: str
    """The metric the two models are compared on (a `model_task.PERFORMANCE_METRICS` name)."""
    new_metrics: dict[str, float | None]
    current_metrics: dict[str, float | None]
    improvement: float
    """How much better the new model is on the primary metric (positive = better, whichever its direction)."""
    improved: bool


@dataclass(frozen=True)
class RetrainResult:
    project: str
    version: str
    improved: bool
    promoted: bool
    primary_metric: str
    new_metrics: dict[str, float | None]
    current_metrics: dict[str, float | None]
    rows: RowCounts
    model_path: str
    reference_version: str
    """The project's reference version after this retraining (changed only when promoted)."""


# ====================================================================== pure parts


def estimator_for(config: ProjectConfig) -> tuple[str, BaseEstimator, dict[str, Any]]:
    """The configured estimator (name, unfitted instance, effective params), checked against both allow-lists."""
    name = config.retrain.estimator or DEFAULT_ESTIMATOR[config.task]
    cls = ESTIMATOR_CLASSES.get(name)
    if cls is None or name not in ESTIMATORS[config.task]:
        raise ConfigError(
            f"retrain.estimator {name!r} is not allowed for {config.task}",
            project=config.name,
            hint=f"use one of {', '.join(ESTIMATORS[config.task])}",
        )
    params: dict[str, Any] = dict(config.retrain.params)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ConfigError(f"retrain.params do not fit {name}: {exc}", project=config.name) from exc
    if "random_state" in estimator.get_params() and "random_state" not in params:
        params["random_state"] = 0  # retraining the same rows gives the same model (and the same version)
        estimator.set_params(random_state=0)
    return name, estimator, params


def build_pipeline(config: ProjectConfig, estimator: BaseEstimator) -> Pipeline:
    """Impute, scale numbers and one-hot encode categories, then the estimator; columns are picked by name.

    Numbers are standardised as well as imputed: linear models (lbfgs) do not converge on raw magnitudes such as
    incomes within their default iterations, and trees are indifferent to scaling.
    """
    transformers: list[tuple[str, Any, list[str]]] = []
    if config.features.numerical:
        transformers.append(
            (
                "numerical",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(config.features.numerical),
            )
        )
    if config.features.categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                list(config.features.categorical),
            )
        )
    dense = isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor)
    preprocess = ColumnTransformer(transformers, sparse_threshold=0.0 if dense else 0.3)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def model_input(data: pa.Table | pd.DataFrame, config: ProjectConfig) -> pd.DataFrame:
    """The feature frame a stored model expects: numbers as float64 (NaN missing), categories as their text keys.

    Categories are compared as `profiles.category_key` text everywhere, so 1, 1.0 and "1" are one category.
    """
    frame = data.select(list(config.features.all)).to_pandas() if isinstance(data, pa.Table) else data
    columns: dict[str, Any] = {}
    for name in config.features.numerical:
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in config.features.categorical:
        values = frame[name].astype(object)
        columns[name] = values.map(lambda value: np.nan if pd.isna(value) else category_key(value)).astype(object)
    return pd.DataFrame(columns, index=frame.index)


def split_by_time(table: pa.Table, share: float) -> tuple[pa.Table, pa.Table]:
    """(train, holdout): the holdout is the latest `share` of the rows by `TIMESTAMP` (stable sort, no shuffling)."""
    ordered = table.sort_by([(TIMESTAMP, "ascending")])
    holdout_rows = min(ordered.num_rows, math.ceil(ordered.num_rows * share))
    cut = ordered.num_rows - holdout_rows
    return ordered.slice(0, cut), ordered.slice(cut)


def labels_of(table: pa.Table, config: ProjectConfig) -> np.ndarray:
    """The ground truth as scikit-learn targets: floats for regression, the label values for classification."""
    if config.task == "regression":
        return numeric_array(table.column(LABEL))
    return np.asarray(table.column(LABEL).to_numpy(zero_copy_only=False))


def fit_model(config: ProjectConfig, train: pa.Table, window: Window) -> tuple[str, Pipeline, dict[str, Any]]:
    name, estimator, params = estimator_for(config)
    pipeline = build_pipeline(config, estimator)
    try:
        pipeline.fit(model_input(train, config), labels_of(train, config))
    except InvalidParameterError as exc:
        raise ConfigError(f"retrain.params are invalid for {name}: {exc}", project=config.name) from exc
    except ValueError as exc:
        raise DataError(
            f"cannot fit {name} on the training rows: {exc}", project=config.name, window=str(window)
        ) from exc
    return name, pipeline, params


def logged_metrics(config: ProjectConfig, holdout: pa.Table, positive: str) -> dict[str, float | None]:
    """The current model's metrics: what production logged (prediction, prediction_proba) on the holdout rows."""
    prediction = holdout.column(config.columns.prediction)
    if config.task == "regression":
        return RegressionSummary.of(labels_of(holdout, config), numeric_array(prediction)).metrics()
    proba_column = config.columns.prediction_proba
    proba: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    if proba_column and proba_column in holdout.column_names:
        proba, classes = probabilities(holdout.column(proba_column), positive)
    return ClassificationSummary.of(holdout.column(LABEL), prediction, proba, positive, classes).metrics(positive)


def model_metrics(config: ProjectConfig, model: Pipeline, holdout: pa.Table, positive: str) -> dict[str, float | None]:
    """The new model's metrics on the same holdout rows, with the same definitions."""
    features = model_input(holdout, config)
    predicted = model.predict(features)
    if config.task == "regression":
        return RegressionSummary.of(labels_of(holdout, config), np.asarray(predicted, dtype=np.float64)).metrics()
    return ClassificationSummary.of(
        holdout.column(LABEL), pa.array(predicted), positive_proba(model, features, positive), positive
    ).metrics(positive)


def positive_proba(model: Pipeline, features: pd.DataFrame, positive: str) -> np.ndarray | None:
    """P(positive) per row for a binary classifier; None for more classes."""
    classes = [category_key(value) for value in model.classes_]
    if len(classes) != 2 or positive not in classes:
        return None
    return np.asarray(model.predict_proba(features)[:, classes.index(positive)], dtype=np.float64)


def primary_metric_of(config: ProjectConfig, classes: list[str], holdout: pa.Table) -> str:
    """ROC AUC for a binary classifier whose logs carry prediction_proba, else accuracy; MAE for regression."""
    if config.task == "regression":
        return "mae"
    proba_column = config.columns.prediction_proba
    logged_proba = (
        proba_column is not None
        and proba_column in holdout.column_names
        and bool(np.isfinite(numeric_array(holdout.column(proba_column))).any())
    )
    return "roc_auc" if len(classes) == 2 and logged_proba else "accuracy"


def train_and_evaluate(config: ProjectConfig, labelled: pa.Table, positive: str, window: Window) -> Evaluation:
    """Split by time, fit the configured estimator on the earlier rows, and compare both models on the holdout."""
    where = {"project": config.name, "window": str(window)}
    if labelled.num_rows < MIN_LABELLED_ROWS:
        raise DataError(
            f"only {labelled.num_rows} labelled rows in the training window; retraining needs at least "
            f"{MIN_LABELLED_ROWS}",
            hint="widen retrain.training_window, or wait until more ground truth has arrived",
            **where,
        )
    if config.task == "classification":
        classes = sorted({category_key(value) for value in labelled.column(LABEL).unique().to_pylist()})
        if len(classes) < 2:
            raise DataError(
                f"every labelled row of the training window has the same class ({', '.join(classes)}); "
                "a classifier needs at least two",
                hint="widen retrain.training_window so that it holds both outcomes",
                **where,
            )
        if len(classes) == 2 and positive not in classes:
            raise DataError(
                f"the positive label {positive!r} is not one of the labelled classes {', '.join(classes)}",
                hint="set performance.positive_label to the class prediction_proba is the probability of",
                **where,
            )
    train, holdout = split_by_time(labelled, config.retrain.holdout)
    if config.task == "classification" and len(set(labels_of(train, config).tolist())) < 2:
        raise DataError(
            "the training part (before the holdout) has a single class",
            hint="widen retrain.training_window or lower retrain.holdout",
            **where,
        )
    name, model, params = fit_model(config, train, window)
    classes_seen = [category_key(value) for value in getattr(model, "classes_", [])]
    primary = primary_metric_of(config, classes_seen, holdout)
    keep = {*config.metrics, primary}
    new = {key: value for key, value in model_metrics(config, model, holdout, positive).items() if key in keep}
    current = {key: value for key, value in logged_metrics(config, holdout, positive).items() if key in keep}
    new_value, current_value = new.get(primary), current.get(primary)
    if new_value is None or current_value is None:
        raise DataError(
            f"{primary} cannot be computed on the {holdout.num_rows} holdout rows (a single class?)",
            hint="widen retrain.training_window or raise retrain.holdout",
            **where,
        )
    improvement = new_value - current_value if HIGHER_IS_BETTER[primary] else current_value - new_value
    timestamps = holdout.column(TIMESTAMP)
    return Evaluation(
        model=model,
        estimator=name,
        params=params,
        train_rows=train.num_rows,
        holdout_rows=holdout.num_rows,
        holdout_start=timestamps[0].as_py(),
        holdout_end=timestamps[-1].as_py(),
        primary_metric=primary,
        new_metrics=new,
        current_metrics=current,
        improvement=improvement,
        # "better by at least min_improvement": a tie is not an improvement, whatever the threshold
        improved=improvement > 0 and improvement >= config.retrain.min_improvement,
    )


def reference_table(config: ProjectConfig, model: Pipeline, labelled: pa.Table, positive: str) -> pa.Table:
    """The new reference: the training window's labelled rows, with the NEW model's predictions and the truth."""
    features = model_input(labelled, config)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: labelled.column(name) for name in config.features.all}
    columns[config.columns.prediction] = pa.array(model.predict(features))
    if config.task == "classification" and config.columns.prediction_proba:
        proba = positive_proba(model, features, positive)
        if proba is not None:
            columns[config.columns.prediction_proba] = pa.array(proba)
    columns[config.columns.label] = labelled.column(LABEL)
    return pa.table(columns)


def model_version(window: Window, labelled: pa.Table, estimator: str, params: Mapping[str, Any], share: float) -> str:
    """`<window end>-<hash of training rows, estimator, params, holdout share, sklearn version>`."""
    digest = hashlib.sha256()
    with pa.ipc.new_stream(_DigestSink(digest), labelled.schema) as writer:  # streamed: no second copy in memory
        writer.write_table(labelled)
    digest.update(json.dumps([estimator, dict(params), share, sklearn.__version__], sort_keys=True).encode())
    return f"{compact_utc(window.end)}-{digest.hexdigest()[:8]}"


class _DigestSink(io.RawIOBase):
    """A write-only file that only hashes what is written to it."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._digest.update(data)
        return len(memoryview(data))


# ====================================================================== I/O


def read_labelled(store: ArtifactStore, config: ProjectConfig, window: Window) -> tuple[pa.Table, int]:
    """The window's labelled rows (ground truth and a logged prediction) and the number of rows read.

    Only the columns training and evaluation need are kept, batch by batch: memory is the labelled rows. Labels follow
    the one label rule (extract.labels), hour partition by hour partition, as the stored metrics do.
    """
    labels = LabelIndex.listed(store, config)
    tables: list[pa.Table] = []
    read = 0
    for partition in window_partitions(store, config.name, window):
        cut = partition.cut(window)
        for batch in read_partition(store, config, cut, partition, labels.table_for(cut)):
            read += batch.num_rows
            labelled = batch.filter(
                pc.and_(pc.is_valid(batch.column(LABEL)), pc.is_valid(batch.column(config.columns.prediction)))
            )
            if labelled.num_rows:
                tables.append(_training_columns(labelled, config))
    if not tables:
        return pa.table({TIMESTAMP: pa.array([], pa.timestamp("us", tz="UTC"))}), read
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"log files disagree on a column's type: {exc}", project=config.name, window=str(window)
        ) from exc
    if config.task == "regression":  # a non-finite truth or prediction is not a usable row
        try:
            usable = np.isfinite(numeric_array(table.column(LABEL))) & np.isfinite(
                numeric_array(table.column(config.columns.prediction))
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"a regression's label and prediction must be numbers: {exc}", project=config.name, window=str(window)
            ) from exc
        table = table.filter(pa.array(usable))
    return table, read


def _training_columns(batch: pa.RecordBatch, config: ProjectConfig) -> pa.Table:
    timestamps = batch.column(config.columns.timestamp)
    if timestamps.type.tz is None:
        timestamps = pc.assume_timezone(timestamps, "UTC")
    columns: dict[str, Any] = {TIMESTAMP: pc.cast(timestamps, pa.timestamp("us", tz="UTC"))}
    for name in (*config.features.all, config.columns.prediction):
        columns[name] = batch.column(name)
    proba = config.columns.prediction_proba
    if config.task == "classification" and proba:
        columns[proba] = (
            pc.cast(batch.column(proba), pa.float64(), safe=False)
            if proba in batch.schema.names
            else pa.nulls(batch.num_rows, pa.float64())
        )
    columns[LABEL] = batch.column(LABEL)
    return pa.table(columns)


def retrain_project(
    store: ArtifactStore,
    project: str,
    window_end: datetime,
    *,
    reason: str = "manual",
    trigger: dict[str, Any] | None = None,
) -> RetrainResult:
    """Retrain `project` on [window_end - retrain.training_window, window_end), store the version, promote if better.

    Raises DataError (nothing written) when the window has too few labelled rows or a single class.
    """
    loaded = load_project(store, project, reference_values=False)  # training reads logs, not the reference
    config, reference, positive = loaded.config, loaded.reference, loaded.positive_label
    window_end = as_utc(window_end)
    window = Window(window_end - config.retrain.training_window, window_end)

    labelled, read = read_labelled(store, config, window)
    evaluation = train_and_evaluate(config, labelled, positive, window)
    version = model_version(window, labelled, evaluation.estimator, evaluation.params, config.retrain.holdout)
    trained_at = datetime.now(UTC)

    data = sio.dumps(evaluation.model)
    path = store.model_path(project, version)
    store.write_bytes(path, data)

    reference_after = reference.version
    promoted = evaluation.improved
    if promoted:
        table = reference_table(config, evaluation.model, labelled, positive)
        reference_after = replace_reference(
            store, project, table, source=f"retrained model {version} ({store.display(path)})"
        ).version
        store.write_text(
            store.current_model_path(project),
            json.dumps({"version": version, "promoted_at": datetime.now(UTC).isoformat()}, indent=2) + "\n",
        )

    rows = RowCounts(read, labelled.num_rows, evaluation.train_rows, evaluation.holdout_rows)
    body = {
        "project": project,
        "version": version,
        "trained_at": trained_at.isoformat(),
        "trigger": {
            **(trigger or {}),
            "reason": reason,
            "window_start": (trigger or {}).get("window_start"),
            "window_end": (trigger or {}).get("window_end", window_end.isoformat()),
        },
        "estimator": evaluation.estimator,
        "params": evaluation.params,
        "training_window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "holdout": {
            "share": config.retrain.holdout,
            "first_timestamp": evaluation.holdout_start.isoformat(),
            "last_timestamp": evaluation.holdout_end.isoformat(),
        },
        "rows": {"read": rows.read, "labelled": rows.labelled, "train": rows.train, "holdout": rows.holdout},
        "positive_label": positive if config.task == "classification" else None,
        "metrics": {"new": evaluation.new_metrics, "current": evaluation.current_metrics},
        "primary_metric": {
            "name": evaluation.primary_metric,
            "higher_is_better": HIGHER_IS_BETTER[evaluation.primary_metric],
            "new": evaluation.new_metrics[evaluation.primary_metric],
            "current": evaluation.current_metrics[evaluation.primary_metric],
            "improvement": evaluation.improvement,
            "min_improvement": config.retrain.min_improvement,
        },
        "improved": evaluation.improved,
        "promoted": promoted,
        "reference_version": {"before": reference.version, "after": reference_after},
        "model": {
            "file": "model.skops",
            "sha256": hashlib.sha256(data).hexdigest(),
            "scikit_learn": sklearn.__version__,
            "skops": _skops_version(),
        },
    }
    store.write_text(store.model_metrics_path(project, version), json.dumps(body, indent=2, default=str) + "\n")
    return RetrainResult(
        project=project,
        version=version,
        improved=evaluation.improved,
        promoted=promoted,
        primary_metric=evaluation.primary_metric,
        new_metrics=evaluation.new_metrics,
        current_metrics=evaluation.current_metrics,
        rows=rows,
        model_path=store.display(path),
        reference_version=reference_after,
    )


def _skops_version() -> str:
    from importlib.metadata import version

    return version("skops")


def load_model(store: ArtifactStore, name: str, version: str) -> Pipeline:
    """Load a stored model, refusing (DataError) a file that holds any type outside the trusted allow-list."""
    path = store.model_path(name, version)
    data = store.read_bytes(path)
    where = {"project": name, "path": store.display(path)}
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # not a skops file at all (e.g. a pickle): never fall back to unpickling
        raise DataError(f"not a readable skops model file: {exc}", hint="retrain to replace it", **where) from exc
    refused = sorted(type_name for type_name in untrusted if not type_name.startswith(TRUSTED_TYPE_PREFIXES))
    if refused:
        raise DataError(
            f"model file holds untrusted type(s) {', '.join(refused)}; refusing to load it",
            hint="the file was not written by drifting-etl's retraining (or was tampered with); retrain to replace it",
            **where,
        )
    try:
        model = sio.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise DataError(f"cannot load the model file: {exc}", **where) from exc
    if not isinstance(model, Pipeline):
        raise DataError(f"model file holds a {type(model).__name__}, expected a scikit-learn Pipeline", **where)
    return model


def current_version(store: ArtifactStore, name: str) -> str | None:
    """The promoted model's version, or None if no retrained model was ever promoted."""
    path = store.current_model_path(name)
    try:
        text = store.read_text(path)
    except NotFoundError:
        return None
    try:
        version = json.loads(text)["version"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError("current.json is not valid", project=name, path=store.display(path)) from exc
    store.model_dir(name, version)  # validates the version before anyone builds a path from it
    return str(version)
