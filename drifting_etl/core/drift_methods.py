"""The closed set of drift method names, spelled once.

Only the names live here, so that the configuration (core) can validate them without importing metrics. What a
method is (the column types it accepts, its default threshold, its comparison, its computation, its Evidently
name) is owned by the registry in `drifting_etl.metrics.drift`, which checks at import that it implements exactly
these names. This module must not grow behaviour: anything a method does belongs to its class in the registry.
"""

from __future__ import annotations

from typing import Final, Literal

DriftMethodName = Literal["ks", "chisquare", "ztest", "psi", "wasserstein", "jensenshannon"]
"""A registered drift method; the order is the order of the README's table of methods."""

AUTO: Final = "auto"
DriftMethodChoice = Literal["auto", DriftMethodName]
"""What a configuration may ask for: a registered method, or `auto` (Evidently's DataDriftPreset choice)."""

ThresholdSource = Literal["method", "config", "reference"]
"""Where a verdict's threshold came from: the method's default, the project configuration (`drift.threshold`,
`drift.per_feature`), or calibration on the reference (`drift.calibration`)."""
