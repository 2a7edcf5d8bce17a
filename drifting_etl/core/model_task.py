"""What a model's task decides: the performance metrics measured for it, which way each metric is better, and the
scikit-learn estimators retraining may fit for it.

Each metric and each estimator is named here once; the configuration's validation, the default metrics, the
profiles' empty results, retraining's primary metric and its estimator classes all derive from these registries.
This module is data only: it imports no scikit-learn (retraining imports the allow-listed classes itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEFAULT_ESTIMATOR",
    "DEFAULT_METRICS",
    "ESTIMATORS",
    "ESTIMATOR_ALLOW_LIST",
    "HIGHER_IS_BETTER",
    "PERFORMANCE_METRICS",
    "REGRESSION_METRICS",
    "TASKS",
    "AllowedEstimator",
    "PerformanceMetric",
    "Task",
]

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = get_args(Task)


@dataclass(frozen=True)
class PerformanceMetric:
    task: Task
    higher_is_better: bool


PERFORMANCE_METRICS: dict[str, PerformanceMetric] = {
    "accuracy": PerformanceMetric("classification", higher_is_better=True),
    "precision": PerformanceMetric("classification", higher_is_better=True),
    "recall": PerformanceMetric("classification", higher_is_better=True),
    "f1": PerformanceMetric("classification", higher_is_better=True),
    "roc_auc": PerformanceMetric("classification", higher_is_better=True),
    "log_loss": PerformanceMetric("classification", higher_is_better=False),
    "mae": PerformanceMetric("regression", higher_is_better=False),
    "rmse": PerformanceMetric("regression", higher_is_better=False),
    "mape": PerformanceMetric("regression", higher_is_better=False),
    "r2": PerformanceMetric("regression", higher_is_better=True),
}
"""Every performance metric by name, in the order results list them (`performance_metric.metric` holds the name)."""


def _metrics_of(task: Task) -> tuple[str, ...]:
    return tuple(name for name, metric in PERFORMANCE_METRICS.items() if metric.task == task)


CLASSIFICATION_METRICS = _metrics_of("classification")
REGRESSION_METRICS = _metrics_of("regression")
DEFAULT_METRICS: dict[Task, tuple[str, ...]] = {task: _metrics_of(task) for task in TASKS}
"""What `performance.metrics: null` measures: every metric of the task."""
HIGHER_IS_BETTER: dict[str, bool] = {name: metric.higher_is_better for name, metric in PERFORMANCE_METRICS.items()}


@dataclass(frozen=True)
class AllowedEstimator:
    task: Task
    class_path: str
    """The scikit-learn class, `module.Class`: retraining imports this path and no other."""
    default: bool = False
    """The estimator of `retrain.estimator: null` for its task (one per task)."""


ESTIMATOR_ALLOW_LIST: dict[str, AllowedEstimator] = {
    "logistic_regression": AllowedEstimator("classification", "sklearn.linear_model.LogisticRegression", default=True),
    "random_forest_classifier": AllowedEstimator("classification", "sklearn.ensemble.RandomForestClassifier"),
    "gradient_boosting_classifier": AllowedEstimator("classification", "sklearn.ensemble.GradientBoostingClassifier"),
    "hist_gradient_boosting_classifier": AllowedEstimator(
        "classification", "sklearn.ensemble.HistGradientBoostingClassifier"
    ),
    "linear_regression": AllowedEstimator("regression", "sklearn.linear_model.LinearRegression"),
    "ridge": AllowedEstimator("regression", "sklearn.linear_model.Ridge", default=True),
    "random_forest_regressor": AllowedEstimator("regression", "sklearn.ensemble.RandomForestRegressor"),
    "gradient_boosting_regressor": AllowedEstimator("regression", "sklearn.ensemble.GradientBoostingRegressor"),
    "hist_gradient_boosting_regressor": AllowedEstimator(
        "regression", "sklearn.ensemble.HistGradientBoostingRegressor"
    ),
}
"""The only estimators retraining will build (`retrain.estimator`), by name."""

ESTIMATORS: dict[Task, tuple[str, ...]] = {
    task: tuple(name for name, allowed in ESTIMATOR_ALLOW_LIST.items() if allowed.task == task) for task in TASKS
}
"""The allowed estimator names per task."""
DEFAULT_ESTIMATOR: dict[Task, str] = {
    allowed.task: name for name, allowed in ESTIMATOR_ALLOW_LIST.items() if allowed.default
}
