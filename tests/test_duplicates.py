"""Duplicate request ids (issue 15, defect 4): a row repeating the request id of an earlier row of its hour partition
was counted twice. Now only the first row of each id is used (files in path order, rows in file order), the rest
are counted in `monitoring_run.duplicate_count` and said in a warning (extract/request_ids.py has the rule)."""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from test_faults import DAY, WINDOW, _cli, _drift, _project

from drifting_etl.extract import request_ids as request_ids_module
from drifting_etl.extract.request_ids import RequestIds
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.store.artifacts import ArtifactStore


def _expected_first(chunks: list[list[str | None]]) -> list[list[bool]]:
    seen: set[str] = set()
    result = []
    for chunk in chunks:
        flags = []
        for value in chunk:
            flags.append(value is None or value not in seen)
            if value is not None:
                seen.add(value)
        result.append(flags)
    return result


@pytest.mark.parametrize("collide", [False, True])
def test_request_ids_given_random_chunks_should_keep_the_first_row_of_each_id(
    collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a set, over chunks mixing the capture SDK's 32-hex-digit ids, other ids and nulls; with `collide`
    every id hashes alike, so only the comparison of the ids themselves can tell them apart."""
    if collide:
        monkeypatch.setattr(request_ids_module, "_hash", lambda words: np.zeros(len(words), np.uint64))
    rng = random.Random(3)
    for _ in range(400):
        pool = [uuid.uuid4().hex for _ in range(5)] + ["req-1", "req-2", "x" * 32]
        only_sdk = rng.random() < 0.5
        chunks = [
            [rng.choice(pool[:5]) if only_sdk else rng.choice([*pool, None]) for _ in range(rng.randint(1, 9))]
            for _ in range(rng.randint(1, 4))
        ]
        seen = RequestIds()
        got = []
        for chunk in chunks:
            first = seen.first(pa.array(chunk, pa.string()))
            got.append([True] * len(chunk) if first is None else first.tolist())
        assert got == _expected_first(chunks), chunks


def _rows(url: str) -> dict:
    database = MetricsDatabase(url)
    try:
        run = database.window_run("faults", DAY, DAY + timedelta(days=1))
        quality = database.rows("data_quality", "faults", DAY, DAY + timedelta(days=1))
    finally:
        database.dispose()
    return {"run": run, "quality": {row["feature"]: row["missing_share"] for row in quality}}


def test_run_given_a_replayed_log_file_should_use_each_request_once_and_count_the_copies(tmp_path: Path) -> None:
    store_url, url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    _cli(store_url, url, "run", "faults", *WINDOW)
    clean = _drift(url)

    hour = Path(ArtifactStore(store_url).log_partition_dir("faults", DAY.date(), 9))
    [original] = hour.glob("*.parquet")
    shutil.copy(original, hour / f"{uuid.uuid4().hex}.parquet")  # a retried write: the same rows again
    ran = _cli(store_url, url, "run", "faults", *WINDOW)
    assert "400 rows repeat the request id of an earlier row of their hour partition" in " ".join(ran.output.split())
    replayed = _drift(url)
    assert replayed["scores"] == clean["scores"]
    run = _rows(url)["run"]
    assert (run["row_count"], run["duplicate_count"]) == (800, 400)


def test_run_given_repeated_and_missing_ids_should_equal_the_logs_without_the_repeats(tmp_path: Path) -> None:
    """Ids of any form (not the SDK's), repeated within a file and across the files of an hour, some null: the
    figures equal those of the same logs with every repeat removed by pandas (first row of each id kept)."""
    rng = np.random.default_rng(11)
    n = 600
    ids = rng.choice([f"req-{i}" for i in range(400)], n).astype(object)
    ids[rng.choice(n, 30, replace=False)] = None
    logs = pd.DataFrame(
        {
            "timestamp": [DAY + timedelta(hours=9, seconds=float(s)) for s in np.sort(rng.uniform(0, 3599, n))],
            "request_id": ids,
            "a": rng.normal(0.3, 1, n),
            "b": rng.normal(size=n),
            "prediction": rng.normal(size=n),
        }
    )
    unique = logs[logs["request_id"].isna() | ~logs["request_id"].duplicated(keep="first")]

    results = {}
    for name, frame in (("repeated", logs), ("unique", unique)):
        store_url, url = str(tmp_path / name), f"sqlite:///{tmp_path / f'{name}.db'}"
        _project(tmp_path, store_url, url)
        hour = Path(ArtifactStore(store_url).log_partition_dir("faults", DAY.date(), 9))
        for old in hour.glob("*.parquet"):
            old.unlink()
        half = len(frame) // 2  # two files of one hour, in path order
        frame.iloc[:half].to_parquet(hour / "part-0.parquet", index=False)
        frame.iloc[half:].to_parquet(hour / "part-1.parquet", index=False)
        _cli(store_url, url, "run", "faults", *WINDOW)
        results[name] = (_drift(url), _rows(url))
    (repeated, repeated_rows), (deduplicated, deduplicated_rows) = results["repeated"], results["unique"]
    assert repeated["scores"] == deduplicated["scores"]
    assert repeated_rows["quality"] == deduplicated_rows["quality"]
    run = repeated_rows["run"]
    assert run["row_count"] == len(unique) + 400  # hour 15 of _project, untouched
    assert run["duplicate_count"] == len(logs) - len(unique) > 0
    assert deduplicated_rows["run"]["duplicate_count"] == 0
