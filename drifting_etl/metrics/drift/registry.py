"""The registry of drift methods: every method by its name, and what derives from it for people and other stages.

The names are spelled once, as `DriftMethodName` in core (so the configuration can validate them without
importing metrics); this module checks at import that it registers exactly those names, one class each. The
configuration's compatibility check (configuration.py), the `auto` choice (auto.py), the report's Evidently
mapping and the README's table of methods (`methods_table`) are all read from here.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import get_args

from drifting_etl.core.drift_methods import DriftMethodName
from drifting_etl.metrics.drift.base import COMPARISON_SYMBOLS, DriftMethod
from drifting_etl.metrics.drift.methods import (
    ChiSquared,
    JensenShannon,
    KolmogorovSmirnov,
    PopulationStabilityIndex,
    Wasserstein,
    ZTest,
)


def _registry(*methods: DriftMethod) -> Mapping[DriftMethodName, DriftMethod]:
    by_name = {method.name: method for method in methods}
    names = get_args(DriftMethodName)
    if len(by_name) != len(methods) or set(by_name) != set(names):
        raise RuntimeError(
            f"the drift method registry ({', '.join(method.name for method in methods)}) must register each of"
            f" core.drift_methods.DriftMethodName ({', '.join(names)}) exactly once: add or remove the class or the name"
        )
    return MappingProxyType({name: by_name[name] for name in names})  # in the names' order: the README's order


REGISTRY: Mapping[DriftMethodName, DriftMethod] = _registry(
    KolmogorovSmirnov(), ChiSquared(), ZTest(), PopulationStabilityIndex(), Wasserstein(), JensenShannon()
)
"""Every drift method by name, in the order of `DriftMethodName`."""


def method_named(name: DriftMethodName) -> DriftMethod:
    return REGISTRY[name]


def evidently_stattests() -> dict[DriftMethodName, str]:
    """Our method names -> the names Evidently's stat-test registry knows them by (`StatTest.name`)."""
    return {name: method.evidently_stattest for name, method in REGISTRY.items()}


def methods_table() -> str:
    """The README's table of drift methods (Markdown), rendered from the registry; a test checks the README has it."""
    lines = [
        "| method | column types | score | default threshold | drift when |",
        "|---|---|---|---|---|",
    ]
    for method in REGISTRY.values():
        types = ", ".join(sorted(method.column_types, key=("numerical", "categorical").index))
        when = f"score {COMPARISON_SYMBOLS[method.comparison]} threshold"
        lines.append(f"| `{method.name}` | {types} | {method.title} | {method.default_threshold:g} | {when} |")
    return "\n".join(lines) + "\n"
