"""Alert policies on a window's drift verdicts (`drift.multiple_testing`, `drift.persistence`,
`drift.calibration`): the adjustment of p-values across a window's tests, the count of drifted windows behind a
persistent verdict, and a threshold from scores on no-drift data. Pure computation.

Multiple testing keeps verdicts certified (see base.py): adjusted p-values are non-decreasing in every raw p-value,
so adjusting the interval ends of every test bounds each adjusted p-value; when one of those bounds straddles its
threshold, every test with an interval is sent to refinement, after which all of them are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from drifting_etl.core.config import CalibrationRule, Drift, MultipleTesting
from drifting_etl.metrics.drift.base import DriftMethod
from drifting_etl.metrics.drift.column import ColumnDrift
from drifting_etl.metrics.drift.registry import method_named

P_VALUE_FLOOR = 1e-300
"""p-values are calibrated on -log10 p; a p-value of 0 (underflow) counts as this one."""


def adjusted_p_values(p_values: Sequence[float], procedure: MultipleTesting) -> list[float]:
    """Benjamini-Hochberg or Holm adjusted p-values, in the order given (as scipy's `false_discovery_control` and
    statsmodels' `multipletests` compute them); `none` returns them unchanged."""
    values = np.asarray(p_values, dtype=float)
    count = len(values)
    if procedure == "none" or count == 0:
        return [float(value) for value in values]
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    ranks = np.arange(1, count + 1)
    if procedure == "bh":
        adjusted = np.minimum.accumulate((ranked * count / ranks)[::-1])[::-1]
    elif procedure == "holm":
        adjusted = np.maximum.accumulate(ranked * (count - ranks + 1))
    else:
        raise ValueError(f"unknown multiple-testing procedure {procedure!r}; use none, bh or holm")
    result = np.empty(count)
    result[order] = np.minimum(adjusted, 1.0)
    return [float(value) for value in result]


def with_multiple_testing(drifts: Sequence[ColumnDrift], procedure: MultipleTesting) -> list[ColumnDrift]:
    """The window's feature verdicts with the p-value tests among them judged on their adjusted p-values (distances
    are left as they are). Each verdict and its certainty come from the raw scores and intervals alone, so applying
    this again after refinement gives the refined verdicts."""
    family = [index for index, drift in enumerate(drifts) if method_named(drift.method).gives_p_value]
    if procedure == "none" or not family:
        return list(drifts)
    tests = [drifts[index] for index in family]
    scores = adjusted_p_values([drift.score for drift in tests], procedure)
    lows = adjusted_p_values([drift.score_low for drift in tests], procedure)
    highs = adjusted_p_values([drift.score_high for drift in tests], procedure)
    methods: list[DriftMethod] = [method_named(drift.method) for drift in tests]
    undecided = any(
        not method.decides(low, high, drift.threshold)
        for method, drift, low, high in zip(methods, tests, lows, highs, strict=True)
    )
    result = list(drifts)
    for index, drift, method, score in zip(family, tests, methods, scores, strict=True):
        result[index] = replace(
            drift,
            adjusted_score=score,
            multiple_testing=procedure,
            drifted=bool(method.is_drift(score, drift.threshold)),
            decided=not undecided or drift.score_low == drift.score_high,
        )
    return result


def drifted_windows(current: bool, previous: Sequence[bool]) -> int:
    """How many of this window and the previous ones drifted."""
    return int(current) + sum(bool(value) for value in previous)


def calibrated_threshold(scores: Sequence[float], method: DriftMethod, rule: CalibrationRule, quantile: float) -> float:
    """The threshold at which `1 - quantile` of the no-drift `scores` would alert (rule quantile), or mean + 3 standard
    deviations of them (rule mean_3sd); p-values are placed on -log10 p, where their no-drift spread is wide."""
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        raise ValueError(f"calibration needs at least 2 finite chunk scores, got {len(values)}")
    if method.gives_p_value:
        if rule == "quantile":
            return float(np.quantile(values, 1 - quantile))
        logs = -np.log10(np.maximum(values, P_VALUE_FLOOR))
        return float(10 ** -(logs.mean() + 3 * logs.std(ddof=1)))
    if rule == "quantile":
        return float(np.quantile(values, quantile))
    return float(values.mean() + 3 * values.std(ddof=1))


PROCEDURE_NAMES: dict[MultipleTesting, str] = {"none": "none", "bh": "Benjamini-Hochberg", "holm": "Holm"}


def persistence_note(drifted: bool, drifted_windows: int | None, persistent: bool | None) -> str | None:
    """'drifted in 2 recent windows: persistent' (`drift.persistence`); None without the policy or drift."""
    if persistent is None or not drifted:
        return None
    windows = f"drifted in {drifted_windows} recent window{'' if drifted_windows == 1 else 's'}"
    return f"{windows}: persistent" if persistent else f"{windows}: not persistent yet, so no alert"


def verdict_notes(
    *,
    adjusted_score: float | None,
    multiple_testing: MultipleTesting | None,
    threshold_source: str,
    drifted: bool,
    drifted_windows: int | None,
    persistent: bool | None,
    number: Callable[[float], str],
) -> list[str]:
    """What the alert policies say about one stored verdict (a `feature_drift` row), in words; `number` formats."""
    notes = []
    if adjusted_score is not None:
        notes.append(f"adjusted p-value {number(adjusted_score)} ({PROCEDURE_NAMES[multiple_testing or 'none']})")
    if threshold_source == "reference":
        notes.append("threshold calibrated on the reference")
    persistence = persistence_note(drifted, drifted_windows, persistent)
    if persistence:
        notes.append(persistence)
    return notes


def describe_policies(drift: Drift) -> str | None:
    """The project's alert policies in words, as the e-mail and the report show them (None: Evidently's defaults)."""
    parts = []
    if drift.multiple_testing != "none":
        parts.append(
            f"multiple testing: {PROCEDURE_NAMES[drift.multiple_testing]} across the window's p-value tests "
            "(a feature drifts when its adjusted p-value is below its threshold)"
        )
    if drift.calibration is not None:
        calibration = drift.calibration
        rule = (
            f"the {calibration.quantile:g} quantile"
            if calibration.rule == "quantile"
            else "mean + 3 standard deviations"
        )
        parts.append(
            f"thresholds: calibrated on the reference at {rule} of the scores of {calibration.chunks} chunks of "
            f"{calibration.window_rows:,} rows"
        )
    if drift.persistence is not None:
        persistence = drift.persistence
        parts.append(
            f"persistence: alert and retrain on drift in this window and in at least {persistence.min_drifted} of the "
            f"last {persistence.windows} windows"
        )
    return "; ".join(parts) or None
