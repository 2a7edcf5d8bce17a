"""Encoding of a `WindowSummary` (profiles + performance summary) as bytes, for caching and for passing partition
summaries between Airflow workers through the artifact store.

One file holds two blocks, each a JSON header followed by raw little-endian arrays: the profile (counts, cells,
moments: small whatever the row count; zstd-compressed) and, when the summary kept raw values for exact computations,
those values (uncompressed: raw floats barely compress). A window reads the values only when its total is small
enough for them to matter (partitions.merge_profiles decides), so a large window reads small prefixes of its files.
Nothing is ever unpickled (object arrays are refused): a file from shared storage cannot execute code. Pure
computation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from drifting_etl.profiles.columns import (
    CategoricalProfile,
    CategoricalReference,
    NumericalProfile,
    ReferenceProfile,
    WindowProfile,
)
from drifting_etl.profiles.performance import ClassificationSummary, RegressionSummary
from drifting_etl.profiles.summary import WindowSummary

FORMAT = 13
MAGIC = f"DRIFTZ{FORMAT}\n".encode()
PREFIX_BYTES = len(MAGIC) + 16
"""The magic, then the compressed and the uncompressed size of the profile part (zstd by pyarrow: about 30x faster
than numpy's zlib)."""


@dataclass(frozen=True)
class StoredValues:
    """What the values block of a decoded summary's file holds."""

    columns: frozenset[str]
    """Numerical columns whose raw values were kept."""
    pairs: bool
    """Whether the (probability, is positive) pairs of a classifier were kept."""


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no infinity; min/max of an empty column are ±inf


def encode_summary(summary: WindowSummary, *, key: str) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    kept: dict[str, np.ndarray] = {}
    columns: dict[str, Any] = {}
    for index, (name, column) in enumerate(summary.profile.columns.items()):
        if isinstance(column, NumericalProfile):
            prefix = f"c{index}_"
            arrays[prefix + "cell_counts"] = column.cell_counts
            arrays[prefix + "cell_sums"] = column.cell_sums
            arrays[prefix + "tail_counts"] = column.tail_counts
            arrays[prefix + "tail_sums"] = column.tail_sums
            arrays[prefix + "lowest"] = column.lowest
            arrays[prefix + "highest"] = column.highest
            if column.values is not None:
                kept[prefix + "values"] = column.values
            if column.extremes is not None:
                arrays[prefix + "extremes"] = column.extremes
            columns[name] = {
                "type": "numerical", "prefix": prefix, "rows": column.rows, "missing": column.missing,
                "non_finite": column.non_finite, "count": column.count, "min": _number(column.minimum),
                "max": _number(column.maximum), "mean": column.mean, "m2": column.m2, "has_values": column.values is not None,
                "has_extremes": column.extremes is not None, "type_mismatch": column.type_mismatch,
                "unreadable": column.unreadable, "mismatch_example": column.mismatch_example,
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
        if performance.class_histograms is not None:
            arrays["class_histograms"] = performance.class_histograms
        if performance.class_scores is not None and performance.class_truth is not None:
            kept["class_scores"] = performance.class_scores
            kept["class_truth"] = performance.class_truth
        performance_json: dict[str, Any] = {
            "task": "classification", "labelled": performance.labelled, "proba_rows": performance.proba_rows,
            "log_loss_sum": performance.log_loss_sum, "confusion": [[t, p, n] for (t, p), n in performance.confusion.items()],
            "has_pairs": performance.probabilities is not None, "classes": list(performance.classes),
            "has_class_scores": performance.class_scores is not None, "unlisted": performance.unlisted,
            "classes_conflict": performance.classes_conflict,
        }  # fmt: skip
    else:
        performance_json = {
            "task": "regression",
            **{k: getattr(performance, k) for k in RegressionSummary.__dataclass_fields__},
        }
    header = {
        "format": FORMAT, "key": key, "reference_version": summary.profile.reference_version,
        "profile_rows": summary.profile.rows,
        "rows": summary.rows, "labelled": summary.labelled, "proba_values": summary.proba_values,
        "unscored": summary.unscored, "outside_partition": summary.outside_partition,
        "outside_example": summary.outside_example, "log_files": summary.log_files,
        "quarantined": list(summary.quarantined), "duplicates": summary.duplicates, "columns": columns,
        "performance": performance_json,
    }  # fmt: skip
    raw = b"".join(_block(arrays, header))
    profile = pa.Codec("zstd", compression_level=1).compress(raw, asbytes=True)
    sizes = len(profile).to_bytes(8, "little") + len(raw).to_bytes(8, "little")
    return b"".join([MAGIC, sizes, profile, *_block(kept, {})])  # one copy of the (possibly large) raw values


def _block(arrays: dict[str, np.ndarray], header: dict[str, Any]) -> list[bytes | memoryview]:
    """A JSON header (with each array's dtype, offset and shape), then the arrays' raw little-endian bytes: no
    archive format to parse, nothing to unpickle."""
    index, offset = {}, 0
    for name, array in arrays.items():
        index[name] = [array.dtype.str, offset, list(array.shape)]
        offset += array.nbytes
    text = json.dumps({**header, "arrays": index}).encode()
    body = [np.ascontiguousarray(array).data.cast("B") for array in arrays.values()]
    return [len(text).to_bytes(8, "little"), text, *body]


def _read_block(data: bytes | memoryview, start: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    size = int.from_bytes(data[start : start + 8], "little")
    header = json.loads(bytes(data[start + 8 : start + 8 + size]))
    base = start + 8 + size
    arrays = {}
    for name, (dtype, offset, shape) in header.pop("arrays").items():
        kind = np.dtype(dtype)
        if kind.hasobject:
            raise ValueError("object arrays are not allowed in a summary file")
        arrays[name] = np.frombuffer(data, dtype=kind, count=math.prod(shape), offset=base + offset).reshape(shape)
    return header, arrays


def profile_end(prefix: bytes) -> int:
    """How many leading bytes of a summary file hold its profile, from its first `PREFIX_BYTES`."""
    if len(prefix) < PREFIX_BYTES or not prefix.startswith(MAGIC):
        raise ValueError("not a drifting-etl summary file (or one written by another version)")
    return PREFIX_BYTES + int.from_bytes(prefix[len(MAGIC) : len(MAGIC) + 8], "little")


def decode_summary(data: bytes, reference: ReferenceProfile, *, key: str) -> tuple[WindowSummary, StoredValues]:
    """Decode a summary made against `reference` from (at least) its profile part, without raw values (see
    `attach_values`). `key` is what it must summarise (the partition key: project, reference, hour, files, labels).
    Raises ValueError on a foreign, corrupt or stale file, or one of another partition (copied or moved there)."""
    end = profile_end(data)
    if len(data) < end:
        raise ValueError("truncated summary file")
    try:
        raw = pa.Codec("zstd").decompress(
            data[PREFIX_BYTES:end], int.from_bytes(data[len(MAGIC) + 8 : PREFIX_BYTES], "little")
        )
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"corrupt summary file: {exc}") from exc
    header, arrays = _read_block(memoryview(raw))
    if header.get("format") != FORMAT:
        raise ValueError(f"unknown summary format {header.get('format')!r}")
    if header["reference_version"] != reference.version:
        raise ValueError("summary was computed against another reference version")
    if header.get("key") != key:
        raise ValueError(f"summary is of another partition (key {header.get('key')}), not of this one (key {key})")
    columns: dict[str, NumericalProfile | CategoricalProfile] = {}
    for name, column in header["columns"].items():
        if column["type"] == "numerical":
            prefix = column["prefix"]
            small = column["small_counts"]
            columns[name] = NumericalProfile(
                rows=column["rows"], missing=column["missing"], non_finite=column["non_finite"], count=column["count"],
                minimum=float(column["min"]), maximum=float(column["max"]), mean=column["mean"], m2=column["m2"],
                cell_counts=arrays[prefix + "cell_counts"], cell_sums=arrays[prefix + "cell_sums"],
                tail_counts=arrays[prefix + "tail_counts"], tail_sums=arrays[prefix + "tail_sums"],
                small_counts=None if small is None else {float(v): int(n) for v, n in small},
                values=None,
                extremes=arrays[prefix + "extremes"] if column["has_extremes"] else None,
                lowest=arrays[prefix + "lowest"], highest=arrays[prefix + "highest"],
                type_mismatch=column["type_mismatch"], unreadable=column["unreadable"],
                mismatch_example=column["mismatch_example"],
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
            classes=tuple(fields["classes"]),
            class_histograms=arrays.get("class_histograms"),
            unlisted=fields["unlisted"],
            classes_conflict=fields["classes_conflict"],
        )
    else:
        performance = RegressionSummary(**{k: v for k, v in fields.items() if k != "task"})
    stored = StoredValues(
        columns=frozenset(name for name, column in header["columns"].items() if column.get("has_values")),
        pairs=bool(fields.get("has_pairs") or fields.get("has_class_scores")),
    )
    summary = WindowSummary(
        profile, performance, header["rows"], header["labelled"], header["proba_values"], header["unscored"],
        header["outside_partition"], header["outside_example"], header["log_files"], tuple(header["quarantined"]),
        header["duplicates"],
    )  # fmt: skip
    return summary, stored


def attach_values(
    summary: WindowSummary, data: bytes, columns: frozenset[str] | set[str], *, pairs: bool
) -> WindowSummary:
    """The summary with the raw values of `columns` (and the classifier's pairs) from its whole file's `data`."""
    _, stored = _read_block(data, profile_end(data))
    profiles = dict(summary.profile.columns)
    for index, (name, column) in enumerate(profiles.items()):
        if name in columns and isinstance(column, NumericalProfile):
            values = stored[f"c{index}_values"]
            if values.size != column.count:
                raise ValueError(f"column {name!r}: {values.size} values stored for a count of {column.count}")
            profiles[name] = replace(column, values=values)
    performance = summary.performance
    if pairs and isinstance(performance, ClassificationSummary):
        if "probabilities" in stored:
            performance = replace(performance, probabilities=stored["probabilities"], positives=stored["positives"])
        if "class_scores" in stored:
            performance = replace(performance, class_scores=stored["class_scores"], class_truth=stored["class_truth"])
    return replace(summary, profile=replace(summary.profile, columns=profiles), performance=performance)
