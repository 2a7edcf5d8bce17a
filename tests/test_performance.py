"""Tests of the mergeable performance summaries against scikit-learn, computed independently on the same rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from drifting_etl.core.columns import LABEL
from drifting_etl.core.config import ProjectConfig, parse_config
from drifting_etl.metrics.evaluation import evaluate
from drifting_etl.profiles import performance
from drifting_etl.profiles.columns import fit_reference
from drifting_etl.profiles.performance import EPS, ClassificationSummary, RegressionSummary
from drifting_etl.profiles.summary import WindowSummary, positive_label, summarize

CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_KEYS = ("mae", "rmse", "mape", "r2")


# ---------------------------------------------------------------------------------------------------- helpers


def random_splits(rng: np.random.Generator, n: int, parts: int) -> list[np.ndarray]:
    """`parts` disjoint random index sets covering range(n); rows are shuffled, so splits are not contiguous."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=parts - 1, replace=False))
    return np.split(rng.permutation(n), cuts)


def classification_summary(
    labels: np.ndarray,
    predictions: np.ndarray,
    proba: np.ndarray | None,
    positive: str,
    splits: Sequence[np.ndarray] | None = None,
) -> ClassificationSummary:
    """One summary of the rows, or the merge (in the given order) of one summary per split, starting from empty."""
    if splits is None:
        return ClassificationSummary.of(labels.tolist(), predictions.tolist(), proba, positive)
    summary = ClassificationSummary()
    for index in splits:
        part = ClassificationSummary.of(
            labels[index].tolist(), predictions[index].tolist(), None if proba is None else proba[index], positive
        )
        summary = summary.merge(part)
    return summary


def regression_summary(
    labels: np.ndarray, predictions: np.ndarray, splits: Sequence[np.ndarray] | None = None
) -> RegressionSummary:
    if splits is None:
        return RegressionSummary.of(labels, predictions)
    summary = RegressionSummary()
    for index in splits:
        summary = summary.merge(RegressionSummary.of(labels[index], predictions[index]))
    return summary


def binary_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0/1 labels, continuous P(1) informative about the label, and predictions that mostly follow the proba."""
    labels = rng.integers(0, 2, n)
    proba = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * labels - 0.7)))
    predictions = (proba > 0.5).astype(np.int64)
    flip = rng.random(n) < 0.1
    predictions[flip] = 1 - predictions[flip]
    return labels, predictions, proba


def regression_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.gamma(3.0, 10.0, n) - 5.0
    predictions = labels + rng.normal(0.0, 4.0, n)
    return labels, predictions


def assert_metrics_close(actual: dict[str, float | None], expected: dict[str, Any], tolerance: float = 1e-12) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert actual[key] is None, key
        else:
            got = actual[key]
            assert got is not None, key
            assert math.isclose(got, value, rel_tol=tolerance, abs_tol=tolerance), (key, got, value)


def sklearn_binary(labels: np.ndarray, predictions: np.ndarray, proba: np.ndarray, positive: Any) -> dict[str, float]:
    is_positive = (labels == positive).astype(np.int64)
    classes = sorted(set(labels.tolist()) | set(predictions.tolist()) | {positive})
    # scikit-learn's log loss takes one column per class, in sorted class order.
    columns = np.column_stack([proba if c == positive else 1.0 - proba for c in classes])
    return {
        "accuracy": skm.accuracy_score(labels, predictions),
        "precision": skm.precision_score(labels, predictions, pos_label=positive, zero_division=0),
        "recall": skm.recall_score(labels, predictions, pos_label=positive, zero_division=0),
        "f1": skm.f1_score(labels, predictions, pos_label=positive, zero_division=0),
        "roc_auc": skm.roc_auc_score(is_positive, proba),
        "log_loss": skm.log_loss(labels, y_proba=columns, labels=classes),
    }


def sklearn_regression(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    return {
        "mae": skm.mean_absolute_error(labels, predictions),
        "rmse": skm.root_mean_squared_error(labels, predictions),
        "mape": skm.mean_absolute_percentage_error(labels, predictions),
        "r2": skm.r2_score(labels, predictions),
    }


# ---------------------------------------------------------------------------------------------- classification


def test_classification_summary_given_binary_rows_should_match_sklearn() -> None:
    labels, predictions, proba = binary_rows(np.random.default_rng(11), 3_000)

    metrics = classification_summary(labels, predictions, proba, "1").metrics("1")

    assert_metrics_close(metrics, sklearn_binary(labels, predictions, proba, 1))


@pytest.mark.parametrize(("seed", "parts"), [(1, 2), (2, 5), (3, 17), (4, 60)])
def test_classification_summary_given_random_splits_merged_should_equal_one_summary_and_sklearn(
    seed: int, parts: int
) -> None:
    rng = np.random.default_rng(seed)
    labels, predictions, proba = binary_rows(rng, 2_500)
    splits = random_splits(rng, labels.size, parts)

    whole = classification_summary(labels, predictions, proba, "1")
    merged = classification_summary(labels, predictions, proba, "1", splits)

    assert merged.labelled == whole.labelled == labels.size
    assert merged.confusion == whole.confusion
    assert not merged.approximate
    assert_metrics_close(merged.metrics("1"), whole.metrics("1"))
    assert_metrics_close(merged.metrics("1"), sklearn_binary(labels, predictions, proba, 1))


def test_classification_summary_merge_given_empty_summaries_should_be_identity_on_both_sides() -> None:
    labels, predictions, proba = binary_rows(np.random.default_rng(5), 500)
    summary = classification_summary(labels, predictions, proba, "1")
    empty_of_rows = ClassificationSummary.of([], [], np.zeros(0), "1")

    for merged in (
        ClassificationSummary().merge(summary),
        summary.merge(ClassificationSummary()),
        summary.merge(empty_of_rows),
    ):
        assert merged.labelled == summary.labelled
        assert_metrics_close(merged.metrics("1"), summary.metrics("1"))


@pytest.mark.parametrize("parts", [1, 3, 11])
def test_classification_summary_given_tied_probabilities_should_count_ties_half_like_sklearn(parts: int) -> None:
    rng = np.random.default_rng(21)
    labels, predictions, _ = binary_rows(rng, 4_000)
    # Probabilities on a 0.1 grid (0 and 1 included): most positive/negative pairs are ties, many across splits.
    proba = np.round(np.clip(0.5 + 0.25 * (labels - 0.5) + rng.normal(0, 0.3, labels.size), 0, 1), 1)
    splits = random_splits(rng, labels.size, parts) if parts > 1 else None

    metrics = classification_summary(labels, predictions, proba, "1", splits).metrics("1")

    assert_metrics_close(metrics, sklearn_binary(labels, predictions, proba, 1))


def test_classification_summary_given_all_probabilities_equal_should_have_roc_auc_one_half() -> None:
    labels = np.array([0, 1, 1, 0, 1])
    proba = np.full(5, 0.3)

    metrics = classification_summary(labels, labels, proba, "1").metrics("1")

    assert metrics["roc_auc"] == 0.5


def test_classification_summary_given_string_labels_and_explicit_positive_should_match_sklearn_pos_label() -> None:
    rng = np.random.default_rng(31)
    is_bad = rng.random(3_000) < 0.3
    labels = np.where(is_bad, "bad", "good")
    # The positive class sorts first, so scikit-learn's default (last class) would be the wrong one.
    proba_bad = 1.0 / (1.0 + np.exp(-(rng.normal(size=is_bad.size) + 2.0 * is_bad - 1.0)))
    predictions = np.where(proba_bad > 0.4, "bad", "good")
    splits = random_splits(rng, labels.size, 6)

    whole = classification_summary(labels, predictions, proba_bad, "bad").metrics("bad")
    merged = classification_summary(labels, predictions, proba_bad, "bad", splits).metrics("bad")

    expected = sklearn_binary(labels, predictions, proba_bad, "bad")
    assert_metrics_close(whole, expected)
    assert_metrics_close(merged, expected)
    # Guard against an accidental pass: the metrics of the other class are different.
    assert not math.isclose(expected["precision"], skm.precision_score(labels, predictions, pos_label="good"))


def test_classification_summary_given_three_classes_should_macro_average_like_sklearn() -> None:
    rng = np.random.default_rng(41)
    labels = rng.choice(np.array(["cat", "dog", "emu"]), size=2_000, p=[0.5, 0.3, 0.2])
    predictions = labels.copy()
    noisy = rng.random(labels.size) < 0.35
    # Noise includes a class that is predicted but never true.
    predictions[noisy] = rng.choice(np.array(["cat", "dog", "emu", "fox"]), size=int(noisy.sum()))
    splits = random_splits(rng, labels.size, 7)

    expected = {
        "accuracy": skm.accuracy_score(labels, predictions),
        "precision": skm.precision_score(labels, predictions, average="macro", zero_division=0),
        "recall": skm.recall_score(labels, predictions, average="macro", zero_division=0),
        "f1": skm.f1_score(labels, predictions, average="macro", zero_division=0),
    }  # no roc_auc / log_loss: without per-class probabilities they are not defined (no row, not a NULL one)
    assert_metrics_close(classification_summary(labels, predictions, None, "dog").metrics("dog"), expected)
    assert_metrics_close(classification_summary(labels, predictions, None, "dog", splits).metrics("dog"), expected)


@pytest.mark.parametrize("only_label", [0, 1])
def test_classification_summary_given_single_class_in_labels_should_have_no_roc_auc(only_label: int) -> None:
    rng = np.random.default_rng(51 + only_label)
    labels = np.full(400, only_label)
    predictions = rng.integers(0, 2, labels.size)
    proba = rng.random(labels.size)

    metrics = classification_summary(labels, predictions, proba, "1", random_splits(rng, labels.size, 4)).metrics("1")

    expected = {
        "accuracy": skm.accuracy_score(labels, predictions),
        "precision": skm.precision_score(labels, predictions, pos_label=1, zero_division=0),
        "recall": skm.recall_score(labels, predictions, pos_label=1, zero_division=0),
        "f1": skm.f1_score(labels, predictions, pos_label=1, zero_division=0),
        "roc_auc": None,
        "log_loss": skm.log_loss(labels, y_proba=proba, labels=[0, 1]),
    }
    assert_metrics_close(metrics, expected)


def test_classification_summary_given_single_class_in_labels_and_predictions_should_have_no_roc_auc() -> None:
    labels = np.ones(10, dtype=np.int64)

    metrics = classification_summary(labels, labels, np.linspace(0.1, 0.9, 10), "1").metrics("1")

    assert metrics["accuracy"] == metrics["precision"] == metrics["recall"] == metrics["f1"] == 1.0
    assert metrics["roc_auc"] is None


@pytest.mark.parametrize(
    "summary",
    [
        ClassificationSummary(),
        ClassificationSummary.of([], [], np.zeros(0), "1"),
        ClassificationSummary.of([], [], None, "1"),
        ClassificationSummary().merge(ClassificationSummary.of([], [], np.zeros(0), "1")),
    ],
    ids=["default", "of-no-rows", "of-no-rows-no-proba", "merged-empties"],
)
def test_classification_summary_given_zero_labelled_rows_should_give_every_metric_none(
    summary: ClassificationSummary,
) -> None:
    assert summary.labelled == 0
    assert summary.metrics("1") == dict.fromkeys(CLASSIFICATION_KEYS)


def test_classification_summary_given_no_probabilities_should_have_no_roc_auc_or_log_loss() -> None:
    labels, predictions, _ = binary_rows(np.random.default_rng(61), 300)

    metrics = classification_summary(labels, predictions, None, "1").metrics("1")

    assert metrics["roc_auc"] is None
    assert metrics["log_loss"] is None
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, predictions), abs=1e-12)


def test_classification_summary_given_missing_probabilities_should_score_only_rows_with_one() -> None:
    rng = np.random.default_rng(71)
    labels, predictions, proba = binary_rows(rng, 1_000)
    proba = proba.copy()
    proba[rng.random(labels.size) < 0.2] = np.nan
    finite = np.isfinite(proba)

    metrics = classification_summary(labels, predictions, proba, "1", random_splits(rng, labels.size, 3)).metrics("1")

    # Label metrics use every labelled row; probability metrics only the rows that have a probability.
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, predictions), abs=1e-12)
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(labels[finite], proba[finite]), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(labels[finite], y_proba=proba[finite]), rel=1e-12)


def test_classification_summary_given_probabilities_zero_and_one_should_clip_log_loss_like_sklearn() -> None:
    labels = np.array([1, 0, 1, 0, 1, 0])
    proba = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1e-300])
    predictions = (proba > 0.5).astype(np.int64)

    metrics = classification_summary(labels, predictions, proba, "1").metrics("1")

    assert metrics["log_loss"] == pytest.approx(skm.log_loss(labels, y_proba=proba), rel=1e-12)
    assert metrics["log_loss"] == pytest.approx(
        (2 * -math.log(EPS) + 2 * -math.log(1 - EPS) + math.log(2) - math.log(1 - EPS)) / 6, rel=1e-9
    )


def test_classification_roc_auc_given_merge_beyond_exact_pairs_limit_should_use_histogram_within_1e_3_of_sklearn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(performance, "EXACT_PAIRS_LIMIT", 10_000)
    rng = np.random.default_rng(81)
    labels, predictions, proba = binary_rows(rng, 50_000)
    splits = np.array_split(rng.permutation(labels.size), 8)
    parts = [ClassificationSummary.of(labels[i].tolist(), predictions[i].tolist(), proba[i], "1") for i in splits]
    assert max(i.size for i in splits) <= 10_000, "each part should stay exact on its own"
    assert not any(part.approximate for part in parts)

    merged = ClassificationSummary()
    for part in parts:
        merged = merged.merge(part)

    assert merged.approximate
    assert merged.probabilities is None and merged.positives is None
    assert merged.proba_rows == labels.size
    metrics = merged.metrics("1")
    expected = sklearn_binary(labels, predictions, proba, 1)
    assert metrics["roc_auc"] is not None
    assert abs(metrics["roc_auc"] - expected["roc_auc"]) < 1e-3
    # Everything but the ROC AUC stays exact.
    assert_metrics_close(
        {k: v for k, v in metrics.items() if k != "roc_auc"}, {k: v for k, v in expected.items() if k != "roc_auc"}
    )


def test_classification_summary_given_more_rows_than_exact_pairs_limit_should_be_approximate_from_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(performance, "EXACT_PAIRS_LIMIT", 100)
    labels, predictions, proba = binary_rows(np.random.default_rng(91), 5_000)

    summary = classification_summary(labels, predictions, proba, "1")

    assert summary.approximate
    roc_auc = summary.metrics("1")["roc_auc"]
    assert roc_auc is not None
    assert abs(roc_auc - skm.roc_auc_score(labels, proba)) < 1e-3


def test_classification_roc_auc_given_histogram_path_and_tied_probabilities_should_count_ties_half_like_sklearn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(performance, "EXACT_PAIRS_LIMIT", 100)
    rng = np.random.default_rng(95)
    labels, predictions, _ = binary_rows(rng, 3_000)
    # On a 0.05 grid every distinct probability gets its own histogram bin, so only true ties share a bin.
    proba = np.round(np.clip(0.5 + 0.2 * (labels - 0.5) + rng.normal(0, 0.25, labels.size), 0, 1) * 20) / 20

    merged = classification_summary(labels, predictions, proba, "1", random_splits(rng, labels.size, 5))

    assert merged.approximate
    roc_auc = merged.metrics("1")["roc_auc"]
    assert roc_auc == pytest.approx(skm.roc_auc_score(labels, proba), abs=1e-12)


def test_classification_summary_given_merge_within_exact_pairs_limit_should_stay_exact() -> None:
    labels, predictions, proba = binary_rows(np.random.default_rng(93), 2_000)

    merged = classification_summary(labels, predictions, proba, "1", random_splits(np.random.default_rng(94), 2_000, 4))

    assert not merged.approximate
    assert merged.probabilities is not None and merged.probabilities.size == labels.size


@pytest.mark.parametrize(
    ("labels", "predictions"),
    [
        (pa.array([0, 1, 1, 0, 1, 1]), pa.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0])),
        (pa.chunked_array([[0, 1], [1, 0, 1, 1]]), pa.array(["0", "1", "0", "0", "1", "1"])),
        (pa.array(["0", "1", "1", "0", "1", "1"]).dictionary_encode(), pa.array([0, 1, 0, 0, 1, 1], pa.int8())),
    ],
    ids=["int-vs-float", "chunked-vs-string", "dictionary-vs-int8"],
)
def test_classification_summary_given_arrow_columns_of_any_type_should_count_like_python_lists(
    labels: pa.Array | pa.ChunkedArray, predictions: pa.Array
) -> None:
    proba = np.array([0.1, 0.8, 0.4, 0.3, 0.9, 0.6])

    summary = ClassificationSummary.of(labels, predictions, proba, "1")

    expected = ClassificationSummary.of([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1], proba, "1")
    assert summary.confusion == expected.confusion == {("0", "0"): 2, ("1", "1"): 3, ("1", "0"): 1}
    assert summary.metrics("1") == expected.metrics("1")


def test_classification_summary_given_boolean_columns_should_use_true_as_positive_key() -> None:
    labels = pa.array([True, False, True, True, False])
    proba = np.array([0.9, 0.2, 0.4, 0.7, 0.6])

    metrics = ClassificationSummary.of(labels, pa.array([True, False, False, True, True]), proba, "True").metrics(
        "True"
    )

    truth = np.array([1, 0, 1, 1, 0])
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, proba))
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(truth, y_proba=proba))


# ------------------------------------------------------------------------------------ through compute.summarize


def classification_config() -> ProjectConfig:
    text = """name: churn
task: classification
start_date: 2026-01-01
features: {numerical: [x]}
performance: {thresholds: {roc_auc: {min: 0.99}, log_loss: {max: 5.0}}}
"""
    return parse_config(text, source="test.yaml")


def regression_config() -> ProjectConfig:
    return parse_config(
        "name: price\ntask: regression\nstart_date: 2026-01-01\nfeatures: {numerical: [x]}\n", source="t.yaml"
    )


def summarize_in_batches(table: pa.Table, config: ProjectConfig, rng: np.random.Generator, parts: int) -> WindowSummary:
    reference = fit_reference(table.drop_columns([LABEL]), config.monitored_columns(), source_digest="ref")
    summary = WindowSummary.empty(config, reference)
    positive = positive_label(config, reference)
    for index in random_splits(rng, table.num_rows, parts):
        for batch in table.take(pa.array(index)).to_batches():
            summary = summary.merge(summarize(batch, config, reference, positive))
    return summary


def test_summarize_given_classification_batches_merged_should_evaluate_like_sklearn_on_labelled_rows() -> None:
    rng = np.random.default_rng(141)
    labels, predictions, proba = binary_rows(rng, 3_000)
    has_label = rng.random(labels.size) < 0.7
    table = pa.table(
        {
            "x": rng.normal(size=labels.size),
            "prediction": predictions,
            "prediction_proba": proba,
            LABEL: pa.array(labels, mask=~has_label),
        }
    )
    config = classification_config()

    summary = summarize_in_batches(table, config, rng, 9)
    reference = fit_reference(table.drop_columns([LABEL]), config.monitored_columns(), source_digest="ref")
    results = {result.metric: result for result in evaluate(config, reference, summary, "1").performance}

    assert (summary.rows, summary.labelled) == (labels.size, int(has_label.sum()))
    expected = sklearn_binary(labels[has_label], predictions[has_label], proba[has_label], 1)
    assert list(results) == list(CLASSIFICATION_KEYS)
    assert_metrics_close({name: result.value for name, result in results.items()}, expected)
    assert results["roc_auc"].breached and results["roc_auc"].threshold_direction == "min"
    assert not results["log_loss"].breached and results["log_loss"].threshold == 5.0
    assert not results["accuracy"].breached and results["accuracy"].threshold is None


def test_summarize_given_regression_batches_merged_should_skip_unlabelled_and_non_finite_rows_like_sklearn() -> None:
    rng = np.random.default_rng(151)
    labels, predictions = regression_rows(rng, 2_000)
    has_label = rng.random(labels.size) < 0.8
    predictions[rng.random(labels.size) < 0.05] = np.nan
    usable = has_label & np.isfinite(predictions)
    table = pa.table(
        {"x": rng.normal(size=labels.size), "prediction": predictions, LABEL: pa.array(labels, mask=~has_label)}
    )

    summary = summarize_in_batches(table, regression_config(), rng, 6)

    assert summary.labelled == int(usable.sum())
    assert_metrics_close(summary.performance.metrics(""), sklearn_regression(labels[usable], predictions[usable]))


def test_summarize_given_labelled_row_without_prediction_should_leave_it_out_of_classification_metrics() -> None:
    config = classification_config()
    table = pa.table(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "prediction": pa.array([1, None, 0, 1]),
            "prediction_proba": [0.9, 0.5, 0.2, 0.4],
            LABEL: pa.array([1, 0, 0, None]),
        }
    )
    reference = fit_reference(table.drop_columns([LABEL]), config.monitored_columns(), source_digest="ref")

    summary = summarize(table.to_batches()[0], config, reference, "1")

    metrics = summary.performance.metrics("1")
    assert metrics["accuracy"] == 1.0  # the two rows with both a label and a prediction are right
    assert metrics["roc_auc"] == 1.0


# -------------------------------------------------------------------------------------------------- regression


def test_regression_summary_given_rows_should_match_sklearn() -> None:
    labels, predictions = regression_rows(np.random.default_rng(101), 3_000)

    assert_metrics_close(regression_summary(labels, predictions).metrics(), sklearn_regression(labels, predictions))


@pytest.mark.parametrize(("seed", "parts"), [(1, 2), (2, 5), (3, 17), (4, 90)])
def test_regression_summary_given_random_splits_merged_should_equal_one_summary_and_sklearn(
    seed: int, parts: int
) -> None:
    rng = np.random.default_rng(seed)
    labels, predictions = regression_rows(rng, 2_500)

    whole = regression_summary(labels, predictions)
    merged = regression_summary(labels, predictions, random_splits(rng, labels.size, parts))

    assert merged.labelled == whole.labelled == labels.size
    assert_metrics_close(merged.metrics(), whole.metrics())
    assert_metrics_close(merged.metrics(), sklearn_regression(labels, predictions))


def test_regression_summary_merge_given_empty_summaries_should_be_identity_on_both_sides() -> None:
    labels, predictions = regression_rows(np.random.default_rng(111), 200)
    summary = regression_summary(labels, predictions)
    empty = RegressionSummary.of(np.zeros(0), np.zeros(0))

    for merged in (empty.merge(summary), summary.merge(empty), RegressionSummary().merge(summary)):
        assert merged.labelled == summary.labelled
        for name in ("abs_error_sum", "squared_error_sum", "percentage_error_sum", "label_mean", "label_m2"):
            assert getattr(merged, name) == pytest.approx(getattr(summary, name), rel=1e-14), name


def test_regression_summary_given_zero_labels_should_floor_mape_denominator_at_epsilon_like_sklearn() -> None:
    rng = np.random.default_rng(121)
    labels, predictions = regression_rows(rng, 500)
    labels[::25] = 0.0
    predictions[::50] = 0.0  # some rows are exactly right at zero: no error at all

    whole = regression_summary(labels, predictions).metrics()
    merged = regression_summary(labels, predictions, random_splits(rng, labels.size, 4)).metrics()

    expected = sklearn_regression(labels, predictions)
    assert expected["mape"] > 1e12, "zero labels should dominate MAPE through the epsilon floor"
    assert_metrics_close(whole, expected)
    assert_metrics_close(merged, expected)
    independent = np.mean(np.abs(labels - predictions) / np.maximum(np.abs(labels), np.finfo(np.float64).eps))
    assert whole["mape"] == pytest.approx(independent, rel=1e-12)


@pytest.mark.parametrize("constant", [0.0, 3.0, -12.5])
@pytest.mark.parametrize("parts", [1, 4])
def test_regression_summary_given_constant_labels_should_force_finite_r2_like_sklearn(
    constant: float, parts: int
) -> None:
    rng = np.random.default_rng(131)
    labels = np.full(400, constant)
    wrong = labels + rng.normal(0, 1, labels.size)
    splits = random_splits(rng, labels.size, parts) if parts > 1 else None

    perfect_r2 = regression_summary(labels, labels.copy(), splits).metrics()["r2"]
    wrong_r2 = regression_summary(labels, wrong, splits).metrics()["r2"]

    assert perfect_r2 == skm.r2_score(labels, labels.copy()) == 1.0
    assert wrong_r2 == skm.r2_score(labels, wrong) == 0.0


def test_regression_summary_given_one_row_should_have_no_r2() -> None:
    metrics = regression_summary(np.array([2.0]), np.array([3.5])).metrics()

    assert metrics == {"mae": 1.5, "rmse": 1.5, "mape": 0.75, "r2": None}


@pytest.mark.parametrize(
    "summary",
    [
        RegressionSummary(),
        RegressionSummary.of(np.zeros(0), np.zeros(0)),
        RegressionSummary().merge(RegressionSummary()),
    ],
    ids=["default", "of-no-rows", "merged-empties"],
)
def test_regression_summary_given_zero_labelled_rows_should_give_every_metric_none(summary: RegressionSummary) -> None:
    assert summary.labelled == 0
    assert summary.metrics() == dict.fromkeys(REGRESSION_KEYS)
    assert not summary.approximate


# ------------------------------------------------------------------------ multiclass, per-class probabilities


def wine_predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's wine data (three cultivars) scored by a weak model: labels, predictions, per-class probabilities."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    features, labels = load_wine(return_X_y=True)
    model = LogisticRegression(max_iter=50, C=0.001).fit(features[:, :3], labels)
    proba = model.predict_proba(features[:, :3])
    return labels, model.predict(features[:, :3]), proba


@pytest.mark.parametrize("parts", [1, 5])
def test_classification_summary_given_per_class_probabilities_should_match_sklearn_ovr_macro(parts: int) -> None:
    labels, predictions, proba = wine_predictions()
    rng = np.random.default_rng(81)
    splits = random_splits(rng, labels.size, parts) if parts > 1 else [np.arange(labels.size)]
    classes = ("0", "1", "2")

    summary = ClassificationSummary()
    for index in splits:
        part = ClassificationSummary.of(labels[index].tolist(), predictions[index].tolist(), proba[index], "1", classes)
        summary = summary.merge(part)
    metrics = summary.metrics("1")

    expected = {
        "accuracy": skm.accuracy_score(labels, predictions),
        "precision": skm.precision_score(labels, predictions, average="macro", zero_division=0),
        "recall": skm.recall_score(labels, predictions, average="macro", zero_division=0),
        "f1": skm.f1_score(labels, predictions, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(labels, proba, multi_class="ovr", average="macro"),
        "log_loss": skm.log_loss(labels, y_proba=proba, labels=[0, 1, 2]),
    }
    assert_metrics_close(metrics, expected, tolerance=1e-9)
    assert 0.5 < expected["roc_auc"] < 0.99  # a model neither useless nor perfect: the check means something


def test_classification_summary_given_many_multiclass_rows_should_approximate_roc_auc_from_histograms() -> None:
    rng = np.random.default_rng(83)
    n = performance.EXACT_PAIRS_LIMIT + 50_000
    proba = rng.dirichlet([2.0, 1.0, 1.0], n)
    labels = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1).clip(0, 2)  # drawn from proba
    predictions = proba.argmax(axis=1)
    half = n // 2
    summary = ClassificationSummary.of(labels[:half], predictions[:half], proba[:half], "1", ("0", "1", "2")).merge(
        ClassificationSummary.of(labels[half:], predictions[half:], proba[half:], "1", ("0", "1", "2"))
    )

    assert summary.class_scores is None  # too many rows to keep: the histograms answer
    metrics = summary.metrics("1")
    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, proba, multi_class="ovr"), abs=1e-4)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(labels, y_proba=proba, labels=[0, 1, 2]), rel=1e-9)


def test_classification_summary_given_a_true_class_without_probability_should_give_none() -> None:
    labels, predictions, proba = wine_predictions()

    metrics = ClassificationSummary.of(labels, predictions, proba[:, :2], "1", ("0", "1")).metrics("1")

    # rows of class 2 were given no probability: neither metric can be computed as scikit-learn would
    assert metrics["roc_auc"] is None and metrics["log_loss"] is None
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, predictions))


def test_classification_summary_given_parts_with_different_classes_should_give_none_not_omit() -> None:
    labels, predictions, proba = wine_predictions()
    first = ClassificationSummary.of(labels[:90], predictions[:90], proba[:90], "1", ("0", "1", "2"))
    renamed = ClassificationSummary.of(labels[90:], predictions[90:], proba[90:], "1", ("a", "b", "c"))

    metrics = first.merge(renamed).merge(ClassificationSummary()).metrics("1")

    assert metrics["roc_auc"] is None and metrics["log_loss"] is None
