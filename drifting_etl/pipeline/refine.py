"""Refinement: the exact profile of the columns whose verdict a window's merged profile leaves open.

A profile-based score carries an interval certain to contain the exact score (metrics.drift). When the interval
contains the threshold, the verdict could go either way, so these columns are read again, and only these: one column
of each row group of the window's log files, every value kept (a column of N rows holds N floats in memory while it
is scored). Drift computed from such a profile is exact, as scipy and Evidently compute it from the values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from drifting_etl.core.window import Window
from drifting_etl.extract.logs import Partition, read_partition_row_groups, window_partitions
from drifting_etl.pipeline.partitions import ordered_map
from drifting_etl.profiles.columns import (
    CategoricalProfile,
    ColumnProfile,
    NumericalProfile,
    NumericalReference,
    ParsedNumbers,
    category_counts,
    parse_numbers,
)
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import Project


def exact_profiles(
    store: ArtifactStore,
    project: Project,
    window: Window,
    columns: Sequence[str],
    *,
    quarantined: Sequence[str] = (),
    workers: int | None = None,
) -> dict[str, ColumnProfile]:
    """Profiles of `columns` over the window's rows that keep every value (numerical) or every category. The log
    files the window's summary left out (`quarantined`, as `path: reason`) are left out here too."""
    config, reference = project.config, project.reference
    numerical = [name for name in columns if isinstance(reference.columns[name], NumericalReference)]
    categorical = [name for name in columns if name not in numerical]

    def read(partition: Partition) -> _Read:
        found = _Read({name: [] for name in numerical}, {name: [] for name in categorical})
        for rows in read_partition_row_groups(store, config, partition.cut(window), partition, None):
            if rows.num_rows:
                for name in numerical:
                    found.numbers[name].append(parse_numbers(rows.column(name)))
                for name in categorical:
                    found.categories[name].append(category_counts(rows.column(name)))
        return found

    skipped = {entry.partition(": ")[0] for entry in quarantined}
    partitions = [
        Partition(part.hour, tuple(f for f in part.files if store.display(f.path) not in skipped))
        for part in window_partitions(store, config.name, window)
    ]
    gathered = _Read({name: [] for name in numerical}, {name: [] for name in categorical})
    for found in ordered_map(read, partitions, workers or os.cpu_count() or 1):
        for name in numerical:
            gathered.numbers[name].extend(found.numbers[name])
        for name in categorical:
            gathered.categories[name].extend(found.categories[name])
    profiles: dict[str, ColumnProfile] = {}
    for name in numerical:
        column_reference = reference.columns[name]
        assert isinstance(column_reference, NumericalReference)
        profiles[name] = _numerical(gathered.numbers[name], column_reference.edges)
    for name in categorical:
        profiles[name] = _categorical(gathered.categories[name], frozenset(reference.columns[name].counts))  # type: ignore[union-attr]
    return profiles


@dataclass(frozen=True)
class _Read:
    numbers: dict[str, list[ParsedNumbers]]
    categories: dict[str, list[tuple[dict[str, int], int]]]


def _numerical(parts: list[ParsedNumbers], edges: np.ndarray) -> NumericalProfile:
    raw = np.concatenate([part.values for part in parts]) if parts else np.zeros(0)
    profile = NumericalProfile.of(raw, edges, values_limit=raw.size)  # every finite value kept, sorted
    return replace(
        profile,
        type_mismatch=sum(part.mismatched for part in parts),
        unreadable=sum(part.unreadable for part in parts),
    )


def _categorical(parts: list[tuple[dict[str, int], int]], known: frozenset[str]) -> CategoricalProfile:
    """Every category counted, none pooled (a merged profile pools the rarest beyond `CATEGORY_LIMIT`)."""
    counts: dict[str, int] = {}
    missing = 0
    for part_counts, part_missing in parts:
        missing += part_missing
        for key, n in part_counts.items():
            counts[key] = counts.get(key, 0) + n
    return CategoricalProfile(missing + sum(counts.values()), missing, counts, known)
