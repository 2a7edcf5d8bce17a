"""Tests of the closed sets a model task decides (core/model_task.py): metric names, directions and the estimator
allow-list, and that the rest of the package (the profiles, retraining, the example configuration) agrees."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.base import is_classifier, is_regressor

from drifting_etl.core.model_task import (
    DEFAULT_ESTIMATOR,
    DEFAULT_METRICS,
    ESTIMATOR_ALLOW_LIST,
    ESTIMATORS,
    HIGHER_IS_BETTER,
    PERFORMANCE_METRICS,
    TASKS,
)
from drifting_etl.profiles.performance import ClassificationSummary, RegressionSummary
from drifting_etl.retrain.training import ESTIMATOR_CLASSES, _allowed_class

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "project.yaml"


@pytest.mark.parametrize("task", TASKS)
def test_default_metrics_given_each_task_should_be_known_metrics_of_that_task(task: str) -> None:
    assert DEFAULT_METRICS[task]
    assert all(PERFORMANCE_METRICS[metric].task == task for metric in DEFAULT_METRICS[task])


def test_higher_is_better_given_the_registry_should_cover_every_metric_once() -> None:
    assert list(HIGHER_IS_BETTER) == list(PERFORMANCE_METRICS)
    assert set(PERFORMANCE_METRICS) == {metric for task in TASKS for metric in DEFAULT_METRICS[task]}


def test_summaries_given_labelled_rows_should_compute_exactly_the_registered_metrics() -> None:
    # The profiles spell each metric's computation; the registry must name the same keys, in the same order.
    truth = pa.array(["0", "1", "1", "0"])
    classification = ClassificationSummary.of(truth, truth, np.array([0.2, 0.9, 0.8, 0.1]), "1").metrics("1")
    regression = RegressionSummary.of(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5])).metrics()
    assert tuple(classification) == DEFAULT_METRICS["classification"]
    assert tuple(regression) == DEFAULT_METRICS["regression"]


@pytest.mark.parametrize("name", list(ESTIMATOR_ALLOW_LIST))
def test_estimator_allow_list_given_each_entry_should_build_an_estimator_of_its_task(name: str) -> None:
    allowed = ESTIMATOR_ALLOW_LIST[name]
    estimator = ESTIMATOR_CLASSES[name]()
    assert type(estimator).__module__.startswith("sklearn.")
    assert type(estimator).__name__ == allowed.class_path.rsplit(".", 1)[1]
    assert (is_classifier if allowed.task == "classification" else is_regressor)(estimator)


def test_default_estimator_given_each_task_should_be_one_allowed_estimator_of_it() -> None:
    assert set(DEFAULT_ESTIMATOR) == set(TASKS)
    for task, name in DEFAULT_ESTIMATOR.items():
        assert name in ESTIMATORS[task]


@pytest.mark.parametrize("path", ["os.system", "builtins.eval", "sklearn.utils.Bunch"])
def test_allowed_class_given_a_path_that_is_no_scikit_learn_estimator_should_refuse_it(path: str) -> None:
    with pytest.raises((ValueError, TypeError), match="allow-list entry"):
        _allowed_class(path)


def test_example_configuration_given_its_comments_should_list_every_metric_and_estimator() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    metrics = re.search(r"# omit for all: (.*)", text)
    assert metrics is not None
    assert metrics.group(1).replace("|", " ").split() == list(PERFORMANCE_METRICS)
    estimators = re.search(r"estimator: \w+ +# ((?:.*\n\s+#)*.*)", text)
    assert estimators is not None
    assert estimators.group(1).replace("#", " ").replace("|", " ").split() == list(ESTIMATOR_ALLOW_LIST)
