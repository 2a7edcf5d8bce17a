"""Model performance over the labelled rows of a window, from mergeable summaries.

Classification keeps a confusion matrix, the positive-class probabilities (verbatim up to a limit, and as a
fine histogram beyond it) and the log-loss sum; regression keeps error sums and the label's moments. Metrics
follow scikit-learn's definitions (binary precision / recall / F1 on the positive label, macro averages when
there are more than two classes, ROC AUC with ties counted half, log loss with probabilities clipped to
machine epsilon, MAPE as a fraction with |y| floored at epsilon, R² with scikit-learn's `force_finite`).
Pure computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drifting_etl.core.model_task import CLASSIFICATION_METRICS, REGRESSION_METRICS
from drifting_etl.profiles.columns import category_key, fixed_width_values

EXACT_PAIRS_LIMIT = 200_000
PROBA_BINS = 10_000
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class ClassificationSummary:
    labelled: int = 0
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    proba_rows: int = 0
    log_loss_sum: float = 0.0
    probabilities: np.ndarray | None = field(default_factory=lambda: np.zeros(0))
    positives: np.ndarray | None = field(default_factory=lambda: np.zeros(0, dtype=bool))
    positive_histogram: np.ndarray = field(default_factory=lambda: np.zeros(PROBA_BINS, np.int64))
    negative_histogram: np.ndarray = field(default_factory=lambda: np.zeros(PROBA_BINS, np.int64))
    classes: tuple[str, ...] = ()
    """Multiclass: the classes `prediction_proba` gives a probability for (its struct's fields), sorted; then
    `proba_rows` and `log_loss_sum` count the rows with every class's probability, and the fields below hold them."""
    class_scores: np.ndarray | None = None
    """Multiclass, up to `EXACT_PAIRS_LIMIT` rows: each row's probabilities, one column per class of `classes`."""
    class_truth: np.ndarray | None = None
    """Multiclass, with `class_scores`: each row's true class, as its index in `classes` (-1: not one of them)."""
    class_histograms: np.ndarray | None = None
    """Multiclass: per class, histograms of its probability over the rows of that class and over the others:
    shape (classes, 2, PROBA_BINS)."""
    unlisted: int = 0
    """Multiclass: rows whose true class is not among `classes` (then roc_auc and log_loss are not computed)."""
    classes_conflict: bool = False
    """Parts of the window logged probabilities for different sets of classes."""

    @classmethod
    def of(
        cls,
        labels: Sequence[Any] | pa.Array,
        predictions: Sequence[Any] | pa.Array,
        proba: np.ndarray | None,
        positive: str,
        classes: Sequence[str] = (),
    ) -> ClassificationSummary:
        """Summary of labelled rows (labels without None); `proba` is P(positive) per row or None, or, with
        `classes`, per row the probability of each of them (shape (rows, len(classes)))."""
        truth_codes, truth_keys = _encode(labels)
        predicted_codes, predicted_keys = _encode(predictions)
        pair_counts = np.bincount(truth_codes * len(predicted_keys) + predicted_codes, minlength=0)
        confusion: dict[tuple[str, str], int] = {}
        for code in np.flatnonzero(pair_counts):
            pair = (truth_keys[code // len(predicted_keys)], predicted_keys[code % len(predicted_keys)])
            confusion[pair] = confusion.get(pair, 0) + int(pair_counts[code])
        summary = cls(labelled=int(truth_codes.size), confusion=confusion)
        if proba is None:
            return summary
        if classes:
            return summary._with_class_probabilities(truth_codes, truth_keys, proba, tuple(classes))
        usable = np.isfinite(proba)
        probabilities = proba[usable]
        is_positive = np.array([key == positive for key in truth_keys], dtype=bool)[truth_codes][usable]
        clipped = np.clip(probabilities, EPS, 1 - EPS)
        losses = -np.log(np.where(is_positive, clipped, 1 - clipped))
        bins = np.clip((probabilities * PROBA_BINS).astype(np.int64), 0, PROBA_BINS - 1)
        return cls(
            labelled=summary.labelled,
            confusion=confusion,
            proba_rows=int(probabilities.size),
            log_loss_sum=float(losses.sum()),
            probabilities=probabilities if probabilities.size <= EXACT_PAIRS_LIMIT else None,
            positives=is_positive if probabilities.size <= EXACT_PAIRS_LIMIT else None,
            positive_histogram=np.bincount(bins[is_positive], minlength=PROBA_BINS),
            negative_histogram=np.bincount(bins[~is_positive], minlength=PROBA_BINS),
        )

    def _with_class_probabilities(
        self, truth_codes: np.ndarray, truth_keys: list[str], proba: np.ndarray, classes: tuple[str, ...]
    ) -> ClassificationSummary:
        order = sorted(range(len(classes)), key=lambda index: classes[index])
        classes, proba = tuple(classes[index] for index in order), proba[:, order]
        usable = np.isfinite(proba).all(axis=1)
        scores = proba[usable]
        position = {key: index for index, key in enumerate(classes)}
        truth = np.array([position.get(key, -1) for key in truth_keys], dtype=np.int64)[truth_codes][usable]
        listed = truth >= 0
        clipped = np.clip(scores[listed, truth[listed]], EPS, 1 - EPS)
        histograms = np.zeros((len(classes), 2, PROBA_BINS), np.int64)
        bins = np.clip((scores * PROBA_BINS).astype(np.int64), 0, PROBA_BINS - 1)
        for index in range(len(classes)):
            is_class = truth == index
            histograms[index, 0] = np.bincount(bins[is_class, index], minlength=PROBA_BINS)
            histograms[index, 1] = np.bincount(bins[~is_class, index], minlength=PROBA_BINS)
        exact = scores.shape[0] <= EXACT_PAIRS_LIMIT
        return replace(
            self,
            proba_rows=int(scores.shape[0]),
            log_loss_sum=float(-np.log(clipped).sum()),
            classes=classes,
            class_scores=scores if exact else None,
            class_truth=truth if exact else None,
            class_histograms=histograms,
            unlisted=int((~listed).sum()),
        )

    def merge(self, other: ClassificationSummary) -> ClassificationSummary:
        confusion = dict(self.confusion)
        for pair, n in other.confusion.items():
            confusion[pair] = confusion.get(pair, 0) + n
        keep = (
            self.probabilities is not None
            and other.probabilities is not None
            and self.proba_rows + other.proba_rows <= EXACT_PAIRS_LIMIT
        )
        merged = ClassificationSummary(
            labelled=self.labelled + other.labelled,
            confusion=confusion,
            proba_rows=self.proba_rows + other.proba_rows,
            log_loss_sum=self.log_loss_sum + other.log_loss_sum,
            probabilities=np.concatenate([self.probabilities, other.probabilities]) if keep else None,
            positives=np.concatenate([self.positives, other.positives]) if keep else None,
            positive_histogram=self.positive_histogram + other.positive_histogram,
            negative_histogram=self.negative_histogram + other.negative_histogram,
            classes_conflict=self.classes_conflict or other.classes_conflict,
        )
        if not other.classes:
            return replace(merged, **self._class_fields())
        if not self.classes:
            return replace(merged, **other._class_fields())
        if self.classes != other.classes:  # no one set of columns to score: said by None values, not by no row
            kept = {**self._class_fields(), "class_scores": None, "class_truth": None}
            return replace(merged, **kept, classes_conflict=True)
        exact = (
            self.class_scores is not None
            and other.class_scores is not None
            and self.proba_rows + other.proba_rows <= EXACT_PAIRS_LIMIT
        )
        assert self.class_histograms is not None and other.class_histograms is not None
        return replace(
            merged,
            classes=self.classes,
            class_scores=np.concatenate([self.class_scores, other.class_scores]) if exact else None,
            class_truth=np.concatenate([self.class_truth, other.class_truth]) if exact else None,
            class_histograms=self.class_histograms + other.class_histograms,
            unlisted=self.unlisted + other.unlisted,
        )

    def _class_fields(self) -> dict[str, Any]:
        names = ("classes", "class_scores", "class_truth", "class_histograms", "unlisted")
        return {name: getattr(self, name) for name in names}

    def metrics(self, positive: str) -> dict[str, float | None]:
        if self.labelled == 0:
            return dict.fromkeys(CLASSIFICATION_METRICS)
        classes = sorted({key for pair in self.confusion for key in pair})
        correct = sum(n for (truth, predicted), n in self.confusion.items() if truth == predicted)
        values: dict[str, float | None] = {"accuracy": correct / self.labelled}
        per_class = [_precision_recall_f1(self.confusion, label) for label in classes]
        if len(classes) <= 2:
            precision, recall, f1 = _precision_recall_f1(self.confusion, positive)
        else:
            precision, recall, f1 = (float(np.mean(column)) for column in zip(*per_class, strict=True))
        values.update(precision=precision, recall=recall, f1=f1)
        if len(classes) > 2 or self.classes:
            if self.classes:  # per-class probabilities were logged
                values.update(self._multiclass_probability_metrics())
            # else P(positive) says nothing of three classes: roc_auc and log_loss are not defined (no value at all)
            return values
        values["roc_auc"] = self._roc_auc()
        values["log_loss"] = self.log_loss_sum / self.proba_rows if self.proba_rows else None
        return values

    def _multiclass_probability_metrics(self) -> dict[str, float | None]:
        """scikit-learn's `roc_auc_score(multi_class="ovr", average="macro")` (one class against the rest, each
        class's AUC with ties counted half, averaged) and `log_loss(labels=classes)`; None when some true class was
        not given a probability, a class has no rows or every row is of it, or parts logged different classes."""
        if self.classes_conflict or self.unlisted or not self.proba_rows:
            return {"roc_auc": None, "log_loss": None}
        log_loss = self.log_loss_sum / self.proba_rows
        aucs = []
        for index in range(len(self.classes)):
            if self.class_scores is not None and self.class_truth is not None:
                auc = _exact_auc(self.class_scores[:, index], self.class_truth == index)
            else:
                assert self.class_histograms is not None
                auc = _histogram_auc(self.class_histograms[index, 0], self.class_histograms[index, 1])
            if auc is None:
                return {"roc_auc": None, "log_loss": log_loss}
            aucs.append(auc)
        return {"roc_auc": float(np.mean(aucs)), "log_loss": log_loss}

    def _roc_auc(self) -> float | None:
        if self.probabilities is not None and self.positives is not None:
            return _exact_auc(self.probabilities, self.positives)
        return _histogram_auc(self.positive_histogram, self.negative_histogram)

    @property
    def approximate(self) -> bool:
        return self.probabilities is None


def _exact_auc(scores: np.ndarray, positives: np.ndarray) -> float | None:
    """ROC AUC (Mann-Whitney U, ties counted half) of scores against a boolean truth; None without both classes."""
    count = int(positives.sum())
    negatives = positives.size - count
    if count == 0 or negatives == 0:
        return None
    from scipy import stats

    ranks = stats.rankdata(scores)
    return float((ranks[positives].sum() - count * (count + 1) / 2) / (count * negatives))


def _histogram_auc(positive: np.ndarray, negative: np.ndarray) -> float | None:
    """ROC AUC from the scores' fine histograms over positive and negative rows (ties within a bin counted half)."""
    positives, negatives = int(positive.sum()), int(negative.sum())
    if positives == 0 or negatives == 0:
        return None
    below = np.cumsum(negative) - negative
    wins = (positive * below).sum() + 0.5 * (positive * negative).sum()
    return float(wins / (positives * negatives))


def _encode(values: Sequence[Any] | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Integer codes per row and the category key of each code (keys may repeat: 1 and 1.0 are both "1")."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(list(values))
    if len(array) == 0:  # no labelled rows yet: the truth column may be all null, of Arrow type null
        return np.empty(0, np.int64), []
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    if encoded.null_count:
        raise ValueError("labels and predictions of labelled rows must not be null")
    codes = fixed_width_values(encoded.indices.cast(pa.int64()), np.int64)  # to_numpy would import pandas
    return codes, [category_key(value) for value in encoded.dictionary.to_pylist()]


def _precision_recall_f1(confusion: dict[tuple[str, str], int], label: str) -> tuple[float, float, float]:
    tp = confusion.get((label, label), 0)
    fp = sum(n for (truth, predicted), n in confusion.items() if predicted == label and truth != label)
    fn = sum(n for (truth, predicted), n in confusion.items() if truth == label and predicted != label)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


@dataclass(frozen=True)
class RegressionSummary:
    labelled: int = 0
    abs_error_sum: float = 0.0
    squared_error_sum: float = 0.0
    percentage_error_sum: float = 0.0
    label_mean: float = 0.0
    label_m2: float = 0.0

    @classmethod
    def of(cls, labels: np.ndarray, predictions: np.ndarray) -> RegressionSummary:
        errors = labels - predictions
        if labels.size == 0:
            return cls()
        return cls(
            labelled=int(labels.size),
            abs_error_sum=float(np.abs(errors).sum()),
            squared_error_sum=float((errors**2).sum()),
            percentage_error_sum=float((np.abs(errors) / np.maximum(np.abs(labels), EPS)).sum()),
            label_mean=float(labels.mean()),
            label_m2=float(((labels - labels.mean()) ** 2).sum()),
        )

    def merge(self, other: RegressionSummary) -> RegressionSummary:
        n = self.labelled + other.labelled
        if n == 0:
            return self
        delta = other.label_mean - self.label_mean
        return RegressionSummary(
            labelled=n,
            abs_error_sum=self.abs_error_sum + other.abs_error_sum,
            squared_error_sum=self.squared_error_sum + other.squared_error_sum,
            percentage_error_sum=self.percentage_error_sum + other.percentage_error_sum,
            label_mean=self.label_mean + delta * other.labelled / n,
            label_m2=self.label_m2 + other.label_m2 + delta * delta * self.labelled * other.labelled / n,
        )

    def metrics(self, positive: str = "") -> dict[str, float | None]:
        n = self.labelled
        if n == 0:
            return dict.fromkeys(REGRESSION_METRICS)
        if n < 2:
            r2 = None
        elif self.label_m2 == 0:
            r2 = 1.0 if self.squared_error_sum == 0 else 0.0
        else:
            r2 = 1 - self.squared_error_sum / self.label_m2
        return {
            "mae": self.abs_error_sum / n,
            "rmse": math.sqrt(self.squared_error_sum / n),
            "mape": self.percentage_error_sum / n,
            "r2": r2,
        }

    @property
    def approximate(self) -> bool:
        return False


PerformanceSummary = ClassificationSummary | RegressionSummary
