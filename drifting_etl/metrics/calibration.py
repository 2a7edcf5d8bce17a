"""Thresholds calibrated on the reference (`drift.calibration`): each feature's drift score on reference chunks
the size of a typical window, each compared with the rest of the reference (so a chunk is never part of what it is
compared with), and the threshold where the chosen share of those no-drift scores would not alert.

Chunks are disjoint when the reference holds `chunks × window_rows` rows; otherwise each chunk is its own random
sample of the reference (rows may then appear in several chunks, never twice in one). Deterministic: the rows are
drawn with a fixed seed. Pure computation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from drifting_etl.core.config import Calibration, ProjectConfig
from drifting_etl.core.drift_methods import AUTO, DriftMethodName
from drifting_etl.metrics.drift import auto_method, column_drift, method_named
from drifting_etl.metrics.drift.policies import calibrated_threshold
from drifting_etl.profiles.columns import ReferenceProfile, WindowProfile, fit_reference

SEED = 20261204
VERSION = 1
"""Bumped when the procedure changes, so that cached calibrations are computed again."""


@dataclass(frozen=True)
class CalibratedThreshold:
    feature: str
    method: DriftMethodName
    """The method the scores were computed with (auto resolved against the whole reference)."""
    threshold: float
    chunks: int
    mean: float
    """Mean and standard deviation of the chunks' scores."""
    sd: float


def calibrated_features(config: ProjectConfig) -> list[str]:
    """The features whose threshold calibration sets: those without their own in `drift.per_feature`."""
    return [name for name in config.features.all if config.drift.for_feature(name).threshold is None]


def calibration_key(config: ProjectConfig, reference: ReferenceProfile) -> str:
    """What a calibration depends on: the reference, the calibration settings and the features' methods."""
    calibration = config.drift.calibration
    assert calibration is not None
    methods = {name: config.drift.for_feature(name).method for name in calibrated_features(config)}
    return json.dumps(
        [VERSION, reference.version, calibration.model_dump(mode="json"), methods],
        sort_keys=True,
        separators=(",", ":"),
    )


def calibration_problem(calibration: Calibration, reference_rows: int) -> str | None:
    """Why a reference of `reference_rows` rows cannot be calibrated with these settings, or None."""
    window = calibration.window_rows
    if 2 * window <= reference_rows:
        return None
    return (
        f"drift.calibration.window_rows is {window:,} but the reference has {reference_rows:,} rows: a chunk must be "
        "at most half of the reference, so that the rest can serve as its reference"
    )


def calibrate(
    table: pa.Table,
    reference: ReferenceProfile,
    config: ProjectConfig,
    *,
    on_chunk: Callable[[int, int], None] | None = None,
) -> dict[str, CalibratedThreshold]:
    """Calibrated thresholds of `config`'s features on the reference `table` (whose profile is `reference`).
    Raises ValueError when the reference is too small for the calibration's window size."""
    calibration = config.drift.calibration
    assert calibration is not None, "calibrate() needs drift.calibration"
    rows = table.num_rows
    problem = calibration_problem(calibration, rows)
    if problem:
        raise ValueError(problem)
    features = calibrated_features(config)
    types = {name: config.column_type(name) for name in features}
    scores: dict[str, list[float]] = {name: [] for name in features}
    methods: dict[str, DriftMethodName] = {}
    for index, chunk_rows in enumerate(_chunks(rows, calibration)):
        mask = np.zeros(rows, dtype=bool)
        mask[chunk_rows] = True
        chunk, rest = table.filter(pa.array(mask)), table.filter(pa.array(~mask))
        rest_reference = fit_reference(rest, types, source_digest=f"calibration chunk {index}").with_values(rest)
        profile = WindowProfile.of(chunk, rest_reference)
        for name in features:
            current = profile.columns[name]
            if name not in methods:
                configured = config.drift.for_feature(name).method
                if current.count == 0 or reference.columns[name].count == 0:
                    continue
                methods[name] = auto_method(reference.columns[name], current).name if configured == AUTO else configured
            drift = column_drift(name, rest_reference.columns[name], current, methods[name])
            if drift is not None:
                scores[name].append(drift.score)
        if on_chunk is not None:
            on_chunk(index + 1, calibration.chunks)
    result = {}
    for name in features:
        values = np.asarray(scores[name], dtype=float)
        if name not in methods or len(values) < 2:
            continue  # no usable values in the reference's chunks: the method's default threshold applies
        method = method_named(methods[name])
        result[name] = CalibratedThreshold(
            feature=name,
            method=methods[name],
            threshold=calibrated_threshold(scores[name], method, calibration.rule, calibration.quantile),
            chunks=len(values),
            mean=float(values.mean()),
            sd=float(values.std(ddof=1)),
        )
    return result


def _chunks(rows: int, calibration: Calibration) -> list[np.ndarray]:
    generator = np.random.default_rng(SEED)
    size, count = calibration.window_rows, calibration.chunks
    if count * size <= rows:
        order = generator.permutation(rows)
        return [order[index * size : (index + 1) * size] for index in range(count)]
    return [generator.choice(rows, size=size, replace=False) for _ in range(count)]


def thresholds_json(key: str, thresholds: Mapping[str, CalibratedThreshold]) -> str:
    return json.dumps({"key": key, "thresholds": [asdict(value) for value in thresholds.values()]}, indent=1)


def thresholds_from_json(text: str, key: str) -> dict[str, CalibratedThreshold] | None:
    """The stored thresholds, or None when they were computed from something else (or are unreadable)."""
    try:
        data: Any = json.loads(text)
        if data.get("key") != key:
            return None
        return {item["feature"]: CalibratedThreshold(**item) for item in data["thresholds"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
