"""Thresholds calibrated on a project's reference (`drift.calibration`), computed once per reference and settings
and kept in the store beside the reference (`calibration.json`)."""

from __future__ import annotations

from drifting_etl.core.errors import ConfigError
from drifting_etl.metrics.calibration import (
    CalibratedThreshold,
    calibrate,
    calibration_key,
    thresholds_from_json,
    thresholds_json,
)
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import Project, reference_table


def calibrated_thresholds(store: ArtifactStore, project: Project) -> dict[str, CalibratedThreshold] | None:
    """The project's calibrated thresholds (None without `drift.calibration`): read from the store when they were
    computed from this reference and these settings, else computed and stored."""
    config = project.config
    if config.drift.calibration is None:
        return None
    key = calibration_key(config, project.reference)
    path = store.calibration_path(config.name)
    if store.exists(path):
        stored = thresholds_from_json(store.read_text(path), key)
        if stored is not None:
            return stored
    try:
        thresholds = calibrate(reference_table(store, project), project.reference, config)
    except ValueError as exc:
        raise ConfigError(
            str(exc),
            project=config.name,
            field="drift.calibration",
            hint="lower drift.calibration.window_rows, or register a larger reference",
        ) from exc
    store.write_text(path, thresholds_json(key, thresholds))
    return thresholds
