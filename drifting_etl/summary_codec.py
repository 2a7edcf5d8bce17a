"""Encoding of a `WindowSummary` (profiles + performance summary) as bytes, for caching and for passing partition
summaries between Airflow workers through the artifact store.

The format is a numpy `.npz` archive: arrays as arrays, everything else as one JSON document. It is read with
`allow_pickle=False`, so a file from shared storage can never execute code. Pure computation.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np

from drifting_etl.compute import WindowSummary
from drifting_etl.performance import ClassificationSummary, RegressionSummary
from drifting_etl.profiles import (
    CategoricalProfile,
    CategoricalReference,
    NumericalProfile,
    ReferenceProfile,
    WindowProfile,
)

FORMAT = 1


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no infinity; min/max of an empty column are ±inf


def encode_summary(summary: WindowSummary) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    columns: dict[str, Any] = {}
    for index, (name, column) in enumerate(summary.profile.columns.items()):
        if isinstance(column, NumericalProfile):
            prefix = f"c{index}_"
            arrays[prefix + "cell_counts"] = column.cell_counts
            arrays[prefix + "cell_sums"] = column.cell_sums
            arrays[prefix + "tail_counts"] = column.tail_counts
            if column.values is not None:
                arrays[prefix + "values"] = column.values
            columns[name] = {
                "type": "numerical", "prefix": prefix, "rows": column.rows, "missing": column.missing,
                "non_finite": column.non_finite, "count": column.count, "min": _number(column.minimum),
                "max": _number(column.maximum), "mean": column.mean, "m2": column.m2, "has_values": column.values is not None,
                "small_counts": None if column.small_counts is None else list(column.small_counts.items()),
            }  # fmt: skip
        else:
            columns[name] = {
                "type": "categorical",
                "rows": column.rows,
                "missing": column.missing,
                "counts": column.counts,
            }
    performance = summary.performance
    if isinstance(performance, ClassificationSummary):
        arrays["positive_histogram"] = performance.positive_histogram
        arrays["negative_histogram"] = performance.negative_histogram
        if performance.probabilities is not None and performance.positives is not None:
            arrays["probabilities"] = performance.probabilities
            arrays["positives"] = performance.positives
        performance_json: dict[str, Any] = {
            "task": "classification", "labelled": performance.labelled, "proba_rows": performance.proba_rows,
            "log_loss_sum": performance.log_loss_sum, "confusion": [[t, p, n] for (t, p), n in performance.confusion.items()],
            "has_pairs": performance.probabilities is not None,
        }  # fmt: skip
    else:
        performance_json = {
            "task": "regression",
            **{k: getattr(performance, k) for k in RegressionSummary.__dataclass_fields__},
        }
    header = {
        "format": FORMAT, "reference_version": summary.profile.reference_version, "profile_rows": summary.profile.rows,
        "rows": summary.rows, "labelled": summary.labelled, "columns": columns, "performance": performance_json,
    }  # fmt: skip
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as bool
    return buffer.getvalue()


def decode_summary(data: bytes, reference: ReferenceProfile) -> WindowSummary:
    """Decode a summary made against `reference`. Raises ValueError on a foreign, corrupt or stale file."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    if header.get("format") != FORMAT:
        raise ValueError(f"unknown summary format {header.get('format')!r}")
    if header["reference_version"] != reference.version:
        raise ValueError("summary was computed against another reference version")
    columns: dict[str, NumericalProfile | CategoricalProfile] = {}
    for name, column in header["columns"].items():
        if column["type"] == "numerical":
            prefix = column["prefix"]
            small = column["small_counts"]
            columns[name] = NumericalProfile(
                rows=column["rows"], missing=column["missing"], non_finite=column["non_finite"], count=column["count"],
                minimum=float(column["min"]), maximum=float(column["max"]), mean=column["mean"], m2=column["m2"],
                cell_counts=arrays[prefix + "cell_counts"], cell_sums=arrays[prefix + "cell_sums"],
                tail_counts=arrays[prefix + "tail_counts"],
                small_counts=None if small is None else {float(v): int(n) for v, n in small},
                values=arrays[prefix + "values"] if column["has_values"] else None,
            )  # fmt: skip
        else:
            known = reference.columns[name]
            assert isinstance(known, CategoricalReference)
            columns[name] = CategoricalProfile(
                column["rows"], column["missing"], dict(column["counts"]), frozenset(known.counts)
            )
    if set(columns) != set(reference.columns):
        raise ValueError("summary columns differ from the reference's")
    profile = WindowProfile(header["reference_version"], header["profile_rows"], columns)
    fields = header["performance"]
    if fields["task"] == "classification":
        performance: ClassificationSummary | RegressionSummary = ClassificationSummary(
            labelled=fields["labelled"],
            confusion={(t, p): n for t, p, n in fields["confusion"]},
            proba_rows=fields["proba_rows"],
            log_loss_sum=fields["log_loss_sum"],
            probabilities=arrays["probabilities"] if fields["has_pairs"] else None,
            positives=arrays["positives"] if fields["has_pairs"] else None,
            positive_histogram=arrays["positive_histogram"],
            negative_histogram=arrays["negative_histogram"],
        )
    else:
        performance = RegressionSummary(**{k: v for k, v in fields.items() if k != "task"})
    return WindowSummary(profile, performance, header["rows"], header["labelled"])
