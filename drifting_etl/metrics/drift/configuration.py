"""The drift part of a project configuration checked against the registry: each column's method must accept the
column's type.

`config_problems` returns (dotted field, message) pairs in the form `core.config.parse_config` reports; the
project registry (store/projects.py) passes it to `parse_config`, so these problems are reported with the file and
the field like every other configuration error. Core cannot make this check itself: it must not import metrics.
Pure: no I/O.
"""

from __future__ import annotations

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import ProjectConfig
from drifting_etl.core.drift_methods import AUTO
from drifting_etl.metrics.drift.registry import REGISTRY

_ORDER: tuple[ColumnType, ...] = ("numerical", "categorical")


def config_problems(config: ProjectConfig) -> list[tuple[str, str]]:
    """Columns whose drift method (their own, or `drift.method` they inherit) does not accept their type."""
    found: list[tuple[str, str]] = []
    columns = config.monitored_columns()
    for feature in config.features.all:
        method = config.drift.for_feature(feature).method
        own = config.drift.per_feature.get(feature)
        if method == AUTO or REGISTRY[method].accepts(columns[feature]):
            continue
        needs = f"{method!r} needs a {_types(method)} feature; {feature!r} is {columns[feature]}"
        if own is not None and own.method == method:
            found.append((f"drift.per_feature.{feature}.method", needs))
        else:
            found.append(("drift.method", f"{needs} (give it its own drift.per_feature.{feature}.method)"))
    prediction, method = config.columns.prediction, config.drift.method
    if method != AUTO and not REGISTRY[method].accepts(columns[prediction]):
        found.append(
            (
                "drift.method",
                f"{method!r} needs a {_types(method)} column; the prediction {prediction!r} of a {config.task} model is"
                f" {columns[prediction]} (drift.method applies to it too: use auto, or a method that accepts it)",
            )
        )
    return found


def _types(method: str) -> str:
    accepted = REGISTRY[method].column_types  # type: ignore[index]  # a validated DriftMethodName
    return " or ".join(kind for kind in _ORDER if kind in accepted)
