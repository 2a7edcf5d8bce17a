"""Evidently 0.7 computed independently, as the reference our drift results are checked against."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

EVIDENTLY_METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "ztest",
    "z": "ztest",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], method: str | None = None,
                    drift_share: float = 0.5) -> dict[str, Any]:  # fmt: skip
    """Evidently's DataDriftPreset on the columns: per column (method, score), and the drifted count and share."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(
            numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
            categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
        )
        preset = DataDriftPreset(columns=list(kinds), method=method, drift_share=drift_share)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
    result: dict[str, Any] = {"columns": {}}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            result["count"], result["share"] = metric["value"]["count"], metric["value"]["share"]
        elif config["type"].endswith("ValueDrift"):
            resolved = EVIDENTLY_METHODS.get(config["method"], config["method"])  # explicit methods keep their name
            result["columns"][config["column"]] = (resolved, metric["value"])
    return result
