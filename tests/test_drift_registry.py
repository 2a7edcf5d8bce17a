"""The drift-method registry: one class per core method name, and what derives from it (the configuration's
choices, the README's table, the example's comment, the verdicts, the split between exact and profile paths)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

import drifting_etl.profiles.columns as profiles
from drifting_etl.core.config import FeatureDrift
from drifting_etl.core.drift_methods import DriftMethodChoice, DriftMethodName
from drifting_etl.core.errors import ConfigError
from drifting_etl.metrics.drift import REGISTRY, column_drift, method_named, methods_table
from drifting_etl.metrics.drift.methods import JensenShannon, KolmogorovSmirnov
from drifting_etl.metrics.drift.registry import _registry
from drifting_etl.profiles.columns import WindowProfile, fit_reference

ROOT = Path(__file__).resolve().parents[1]


def test_registry_given_core_method_names_should_hold_one_method_per_name_in_their_order() -> None:
    assert tuple(REGISTRY) == get_args(DriftMethodName)
    for name, method in REGISTRY.items():
        assert method.name == name
        assert method_named(name) is method
    assert len({type(method) for method in REGISTRY.values()}) == len(REGISTRY)


@pytest.mark.parametrize(
    "methods",
    [(KolmogorovSmirnov(),), (*REGISTRY.values(), JensenShannon())],
    ids=["names missing", "a name twice"],
)
def test_registry_given_methods_not_matching_core_names_should_refuse_to_build(methods: tuple) -> None:
    with pytest.raises(RuntimeError, match="exactly once"):
        _registry(*methods)


def test_drift_method_choice_given_registry_should_be_auto_and_exactly_the_registered_names() -> None:
    assert get_args(DriftMethodChoice) == ("auto", *REGISTRY)
    for name in get_args(DriftMethodChoice):
        assert FeatureDrift(method=name).method == name
    with pytest.raises(ValidationError) as caught:
        FeatureDrift(method="kl")  # type: ignore[arg-type]
    named = re.findall(r"'(\w+)'", str(caught.value).split("Input should be", 1)[1].split("[", 1)[0])
    assert named == ["auto", *REGISTRY]  # the error lists every choice, and nothing else


def test_methods_table_given_registry_should_be_the_readme_table_of_methods() -> None:
    table = methods_table()
    rows = [line for line in table.splitlines() if line.startswith("| `")]

    assert [re.match(r"\| `(\w+)`", row).group(1) for row in rows] == list(REGISTRY)  # type: ignore[union-attr]
    assert "| `ks` | numerical | Kolmogorov–Smirnov test's p-value | 0.05 | score ≤ threshold |" in rows
    assert table in (ROOT / "README.md").read_text(encoding="utf-8"), "README: paste methods_table() output"


def test_example_project_given_registry_should_list_auto_and_every_method() -> None:
    text = (ROOT / "examples" / "project.yaml").read_text(encoding="utf-8")

    [listed] = re.findall(r"^  method: auto +# (.*)$", text, flags=re.MULTILINE)

    assert listed == " | ".join(["auto", *REGISTRY])


def test_methods_given_evidentlys_rules_should_keep_their_column_types_thresholds_and_comparisons() -> None:
    # Written out, not derived: Evidently 0.7's stat tests (and today's configuration contract) as they are.
    expected = {
        "ks": ({"numerical"}, 0.05, "<="),
        "chisquare": ({"numerical", "categorical"}, 0.05, "<"),
        "ztest": ({"numerical", "categorical"}, 0.05, "<"),
        "psi": ({"numerical", "categorical"}, 0.1, ">="),
        "wasserstein": ({"numerical"}, 0.1, ">="),
        "jensenshannon": ({"numerical", "categorical"}, 0.1, ">="),
    }

    found = {name: (set(m.column_types), m.default_threshold, m.comparison) for name, m in REGISTRY.items()}

    assert found == expected


@pytest.mark.parametrize(
    ("name", "at_threshold"),
    [
        ("ks", True),
        ("chisquare", False),
        ("ztest", False),
        ("psi", True),
        ("wasserstein", True),
        ("jensenshannon", True),
    ],
)
def test_is_drift_given_score_at_threshold_should_follow_evidentlys_verdict(
    name: DriftMethodName, at_threshold: bool
) -> None:
    method = method_named(name)
    p_value = method.comparison != ">="

    assert method.is_drift(0.05, 0.05) is at_threshold
    assert method.is_drift(0.049, 0.05) is p_value  # tests drift on small p-values
    assert method.is_drift(0.051, 0.05) is not p_value  # distances on large distances


def _fitted(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str]):  # type: ignore[no-untyped-def]
    table = pa.Table.from_pandas(reference, preserve_index=False)
    fitted = fit_reference(table, kinds, source_digest="test").with_values(table)
    return fitted, WindowProfile.of(pa.Table.from_pandas(current, preserve_index=False), fitted)


def test_column_drift_given_method_that_refuses_the_column_type_should_raise_config_error_naming_the_column() -> None:
    rng = np.random.default_rng(5)
    fitted, window = _fitted(
        pd.DataFrame({"region": rng.choice(list("abc"), 500)}), pd.DataFrame({"region": rng.choice(list("abc"), 400)}),
        {"region": "categorical"},
    )  # fmt: skip

    with pytest.raises(ConfigError) as caught:
        column_drift("region", fitted.columns["region"], window.columns["region"], "wasserstein")

    message = str(caught.value)
    assert "'wasserstein' does not accept the categorical column 'region'" in message
    assert "chisquare" in message and "ks" not in message.split("→", 1)[1]  # what to use instead


def test_column_drift_given_unknown_method_should_raise_config_error_listing_the_registered_ones() -> None:
    rng = np.random.default_rng(5)
    fitted, window = _fitted(pd.DataFrame({"x": rng.normal(0, 1, 500)}), pd.DataFrame({"x": rng.normal(0, 1, 400)}),
                             {"x": "numerical"})  # fmt: skip

    with pytest.raises(ConfigError, match="unknown drift method 'kl' for column 'x'") as caught:
        column_drift("x", fitted.columns["x"], window.columns["x"], "kl")

    assert ", ".join(REGISTRY) in str(caught.value)


def test_methods_given_window_that_kept_its_values_should_compute_exactly_and_from_profile_as_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 3000).round(2), "c": rng.choice(list("abcd"), 3000)})
    current = pd.DataFrame({"x": rng.normal(0.2, 1.1, 5000).round(2), "c": rng.choice(list("abcde"), 5000)})
    kinds = {"x": "numerical", "c": "categorical"}
    fitted, kept = _fitted(reference, current, kinds)
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 100)
    _, summarised = _fitted(reference, current, kinds)
    assert kept.columns["x"].values is not None and summarised.columns["x"].values is None  # type: ignore[union-attr]

    for column in kinds:
        for name, method in REGISTRY.items():
            if not method.accepts(fitted.columns[column].column_type) or (column, name) == ("x", "ztest"):
                continue  # ztest compares two values' shares: not for a continuous column
            exact = method.exact(fitted.columns[column], kept.columns[column])
            assert exact is not None and not exact.approximate, (column, name)
            assert method.compute(fitted.columns[column], kept.columns[column]) == exact
            profiled = method.from_profile(fitted.columns[column], summarised.columns[column])
            # the profile path ignores kept values: it gives the same on any window (what a certified interval needs)
            assert method.from_profile(fitted.columns[column], kept.columns[column]) == profiled, (column, name)
            if column == "x":
                assert method.exact(fitted.columns[column], summarised.columns[column]) is None, name
                computed = method.compute(fitted.columns[column], summarised.columns[column])
                assert (computed.score, computed.statistic) == (profiled.score, profiled.statistic), name
                # compute widens the profile's interval for rounding, never narrows it
                assert computed.interval[0] <= profiled.interval[0] <= profiled.interval[1] <= computed.interval[1]
