"""Encoding of a `WindowSummary` (profiles + performance summary) as bytes, for caching and for passing partition
summaries between Airflow workers through the artifact store.

A summary is two numpy `.npz` archives: the profile (counts, cells, moments: small, whatever the row count) and,
when the summary kept raw values for exact computations, the values. A window reads the values only when its
total is small enough for them to matter, so large windows merge small files. Arrays are stored as arrays and
everything else as one JSON document; both are read with `allow_pickle=False`, so a file from shared storage can
never execute code. Pure computation.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from drifting_etl.compute import WindowSummary
from drifting_etl.performance import ClassificationSummary, RegressionSummary
from drifting_etl.profiles import (
    CategoricalProfile,
    CategoricalReference,
    NumericalProfile,
    ReferenceProfile,
    WindowProfile,
)

FORMAT = 2
MAGIC = b"DRIFTZ1\n"
"""Archives are zstd-compressed (by pyarrow, about 30x faster than numpy's zlib), behind this magic and their size."""


@dataclass(frozen=True)
class StoredValues:
    """What a decoded profile left in its values archive."""

    columns: frozenset[str]
    """Numerical columns whose raw values were kept."""
    pairs: bool
    """Whether the (probability, is positive) pairs of a classifier were kept."""


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no infinity; min/max of an empty column are ±inf


def encode_summary(summary: WindowSummary) -> tuple[bytes, bytes | None]:
    """(profile archive, values archive or None when no raw values were kept)."""
    arrays: dict[str, np.ndarray] = {}
    kept: dict[str, np.ndarray] = {}
    columns: dict[str, Any] = {}
    for index, (name, column) in enumerate(summary.profile.columns.items()):
        if isinstance(column, NumericalProfile):
            prefix = f"c{index}_"
            arrays[prefix + "cell_counts"] = column.cell_counts
            arrays[prefix + "cell_sums"] = column.cell_sums
            arrays[prefix + "tail_counts"] = column.tail_counts
            if column.values is not None:
                kept[prefix + "values"] = column.values
            columns[name] = {
                "type": "numerical", "prefix": prefix, "rows": column.rows, "missing": column.missing,
                "non_finite": column.non_finite, "count": column.count, "min": _number(column.minimum),
                "max": _number(column.maximum), "mean": column.mean, "m2": column.m2, "has_values": column.values is not None,
                "small_counts": None if column.small_counts is None else list(column.small_counts.items()),
            }  # fmt: skip
        else:
            arrays[f"c{index}_sketch"] = column.sketch
            columns[name] = {
                "type": "categorical",
                "sketch": f"c{index}_sketch",
                "rows": column.rows,
                "missing": column.missing,
                "counts": column.counts,
            }
    performance = summary.performance
    if isinstance(performance, ClassificationSummary):
        arrays["positive_histogram"] = performance.positive_histogram
        arrays["negative_histogram"] = performance.negative_histogram
        if performance.probabilities is not None and performance.positives is not None:
            kept["probabilities"] = performance.probabilities
            kept["positives"] = performance.positives
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
    return _pack(arrays), _pack(kept) if kept else None


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as bool
    archive = buffer.getvalue()
    compressed = pa.Codec("zstd", compression_level=1).compress(archive, asbytes=True)
    return MAGIC + len(archive).to_bytes(8, "little") + compressed


def _unpack(data: bytes) -> Any:
    """The npz archive in `data` (an `np.lib.npyio.NpzFile`; use it as a context manager)."""
    if not data.startswith(MAGIC):
        raise ValueError("not a drifting-etl summary archive")
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
    try:
        archive = pa.Codec("zstd").decompress(data[len(MAGIC) + 8 :], size, asbytes=True)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"corrupt summary archive: {exc}") from exc
    return np.load(io.BytesIO(archive), allow_pickle=False)


def decode_summary(data: bytes, reference: ReferenceProfile) -> tuple[WindowSummary, StoredValues]:
    """Decode a profile archive made against `reference`, without raw values (see `attach_values`).

    Raises ValueError on a foreign, corrupt or stale file."""
    with _unpack(data) as archive:
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
                values=None,
            )  # fmt: skip
        else:
            known = reference.columns[name]
            assert isinstance(known, CategoricalReference)
            columns[name] = CategoricalProfile(
                column["rows"],
                column["missing"],
                dict(column["counts"]),
                frozenset(known.counts),
                arrays[column["sketch"]],
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
            probabilities=None,
            positives=None,
            positive_histogram=arrays["positive_histogram"],
            negative_histogram=arrays["negative_histogram"],
        )
    else:
        performance = RegressionSummary(**{k: v for k, v in fields.items() if k != "task"})
    stored = StoredValues(
        columns=frozenset(name for name, column in header["columns"].items() if column.get("has_values")),
        pairs=bool(fields.get("has_pairs")),
    )
    return WindowSummary(profile, performance, header["rows"], header["labelled"]), stored


def attach_values(
    summary: WindowSummary, data: bytes, columns: frozenset[str] | set[str], *, pairs: bool
) -> WindowSummary:
    """The summary with the raw values of `columns` (and the classifier's pairs) read from its values archive."""
    with _unpack(data) as archive:
        profiles = dict(summary.profile.columns)
        for index, (name, column) in enumerate(profiles.items()):
            if name in columns and isinstance(column, NumericalProfile):
                values = archive[f"c{index}_values"]
                if values.size != column.count:
                    raise ValueError(f"column {name!r}: {values.size} values stored for a count of {column.count}")
                profiles[name] = replace(column, values=values)
        performance = summary.performance
        if pairs and isinstance(performance, ClassificationSummary):
            performance = replace(performance, probabilities=archive["probabilities"], positives=archive["positives"])
    return replace(summary, profile=replace(summary.profile, columns=profiles), performance=performance)
