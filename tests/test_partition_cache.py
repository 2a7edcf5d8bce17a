"""Cached partition profiles: a window over hours profiled before merges their cached summaries, gives exactly the
rows a full rescan gives, and reads again only the hours whose log or label files changed."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats
from test_pipeline import DAY, Shop, _stable, make_shop

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.core.errors import DataError
from drifting_etl.core.window import Window
from drifting_etl.extract.logs import window_partitions
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.pipeline.partitions import merge_profiles, merge_window, ordered_map, plan_window, profile_partitions
from drifting_etl.profiles.codec import MAGIC, PREFIX_BYTES, attach_values, decode_summary, encode_summary, profile_end
from drifting_etl.profiles.columns import NumericalProfile
from drifting_etl.store.artifacts import ArtifactStore, StoredFile
from drifting_etl.store.projects import load_project

WINDOW = Window(DAY, DAY + timedelta(days=1))


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return make_shop(tmp_path, str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}")


def run(shop: Shop, start: str, end: str, *extra: str) -> None:
    result = shop.cli("run", "shop-churn", "--start", start, "--end", end, "--no-report", *extra)
    assert result.exit_code == 0, result.output


def run_day(shop: Shop, *extra: str) -> None:
    run(shop, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", *extra)


def profile_files(shop: Shop) -> dict[str, float]:
    root = Path(shop.store.path("profiles"))
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in root.rglob("*.profile")}


def day_rows(shop: Shop) -> dict[str, list[dict]]:
    """The metric rows and run of the daily window (not of the hourly windows inside it)."""

    def daily(row: dict) -> bool:
        return bool(row["window_end"] - row["window_start"] == timedelta(days=1))

    database = shop.database()
    rows = {
        table: _stable([r for r in database.rows(table, project="shop-churn") if daily(r)]) for table in METRIC_TABLES
    }
    [run] = [row for row in database.runs("shop-churn") if daily(row)]
    database.dispose()
    counts = {k: run[k] for k in ("status", "row_count", "labelled_count")}
    return {**rows, "monitoring_run": [counts]}


def test_run_given_hours_profiled_by_hourly_runs_should_merge_their_profiles_for_the_day(shop: Shop) -> None:
    for hour in range(24):
        start = DAY + timedelta(hours=hour)
        run(shop, start.isoformat(), (start + timedelta(hours=1)).isoformat())
    hourly = profile_files(shop)
    assert len({name.split("/")[2] for name in hourly}) == 24  # one cached summary per hour partition

    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report")
    assert "24 hour partitions (24 from the profile cache)" in result.output
    assert profile_files(shop) == hourly  # nothing was read or written again
    cached = day_rows(shop)

    run_day(shop, "--rescan")
    assert day_rows(shop) == cached
    assert cached["monitoring_run"][-1]["row_count"] == 3600


def test_run_given_hour_profiled_for_a_window_too_large_to_be_exact_should_read_it_again_for_an_hourly_window(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drifting_etl.profiles.columns as profiles

    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)  # the day (3600 rows) is too large to be exact
    run_day(shop)
    assert all(b"c0_values" not in Path(shop.store.path("profiles"), name).read_bytes() for name in profile_files(shop))

    hour = DAY + timedelta(hours=3)
    run(shop, hour.isoformat(), (hour + timedelta(hours=1)).isoformat())  # 150 rows: exact, needs the values
    database = shop.database()
    cached = _stable(database.rows("feature_drift", "shop-churn", hour, hour + timedelta(hours=1)))
    run(shop, hour.isoformat(), (hour + timedelta(hours=1)).isoformat(), "--rescan")
    assert _stable(database.rows("feature_drift", "shop-churn", hour, hour + timedelta(hours=1))) == cached
    database.dispose()
    assert not any(row["approximate"] for row in cached)
    window = shop.logs[(shop.logs["timestamp"] >= hour) & (shop.logs["timestamp"] < hour + timedelta(hours=1))]
    basket = next(row for row in cached if row["feature"] == "basket")  # configured ks: equal to scipy's exactly
    expected = stats.ks_2samp(shop.reference["basket"], window["basket"])
    assert basket["statistic"] == pytest.approx(expected.statistic, abs=1e-12)


def test_run_given_late_log_file_in_one_hour_should_profile_only_that_hour_again(shop: Shop) -> None:
    run_day(shop)
    before = profile_files(shop)
    late = pd.DataFrame(
        {
            "timestamp": [DAY + timedelta(hours=5, minutes=m) for m in range(30)],
            "age": np.full(30, 41.0),
            "basket": np.full(30, 30.0),
            "channel": ["web"] * 30,
            "prediction_proba": np.full(30, 0.4),
            "prediction": np.zeros(30, dtype=int),
        }
    )
    with LogWriter("shop-churn", shop.store, model_version="v3") as writer:
        writer.log_frame(late)

    run_day(shop)
    after = profile_files(shop)
    added = set(after) - set(before)
    assert len(added) == 1 and next(iter(added)).split("/")[2] == "hour=05"
    assert {name: after[name] for name in before} == before  # other hours merged from the cache
    assert day_rows(shop)["monitoring_run"][-1]["row_count"] == 3630


def test_run_given_labels_arriving_later_should_recompute_performance_of_their_hours(shop: Shop) -> None:
    run_day(shop)
    labelled_before = day_rows(shop)["monitoring_run"][-1]["labelled_count"]
    unlabelled = shop.logs.loc[~shop.logs["request_id"].isin(shop.labels.index)].iloc[:100]
    with LabelWriter("shop-churn", shop.store) as writer:
        writer.label_many(
            list(zip(unlabelled["request_id"], unlabelled["truth"], strict=True)), labelled_at=DAY + timedelta(days=3)
        )

    run_day(shop)
    cached = day_rows(shop)
    assert cached["monitoring_run"][-1]["labelled_count"] == labelled_before + 100
    run_day(shop, "--rescan")
    assert day_rows(shop) == cached


def test_run_given_corrupt_cached_profile_should_rebuild_it_and_say_so(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    run_day(shop)
    expected = day_rows(shop)
    victim = sorted(Path(shop.store.path("profiles")).rglob("*.profile"))[0]
    victim.write_bytes(b"\x80\x04not a summary")

    with caplog.at_level(logging.WARNING, logger="drifting_etl.pipeline.partitions"):
        run_day(shop)
    assert victim.name in caplog.text
    assert victim.read_bytes().startswith(MAGIC)  # written again from the hour's logs
    rows = day_rows(shop)
    assert {k: v for k, v in rows.items() if k != "monitoring_run"} == {
        k: v for k, v in expected.items() if k != "monitoring_run"
    }


def test_merge_window_given_summary_unreadable_even_after_rebuilding_should_fail_naming_it(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drifting_etl.pipeline.partitions as partitions

    run_day(shop)
    project = load_project(shop.store, "shop-churn")
    planned = plan_window(shop.store, project, WINDOW, window_partitions(shop.store, "shop-churn", WINDOW))

    def unreadable(data: bytes, reference: object, *, key: str) -> None:
        raise ValueError("no space left on device")

    monkeypatch.setattr(partitions, "decode_summary", unreadable)
    with pytest.raises(DataError, match="no space left on device") as failure:
        partitions.merge_window(shop.store, project, WINDOW, [item.path for item in planned], planned)
    assert planned[0].path.rsplit("/", 1)[-1] in str(failure.value)


def test_profile_partitions_given_one_or_two_threads_should_give_identical_summaries(shop: Shop) -> None:
    project = load_project(shop.store, "shop-churn")
    planned = plan_window(shop.store, project, WINDOW, window_partitions(shop.store, "shop-churn", WINDOW))
    serial = merge_profiles(
        shop.store, project, WINDOW, profile_partitions(shop.store, project, planned, rescan=True, workers=1).paths
    )
    threaded = merge_profiles(
        shop.store, project, WINDOW, profile_partitions(shop.store, project, planned, rescan=True, workers=2).paths
    )
    for name, column in serial.profile.columns.items():
        other = threaded.profile.columns[name]
        if isinstance(column, NumericalProfile):
            assert isinstance(other, NumericalProfile) and column.values is not None and other.values is not None
            assert np.array_equal(column.values, other.values) and np.array_equal(column.cell_counts, other.cell_counts)
            assert (column.count, column.missing, column.mean) == (other.count, other.missing, other.mean)
        else:
            assert column == other
    assert serial.performance.metrics("1") == threaded.performance.metrics("1")


def test_summary_codec_given_values_should_keep_them_after_the_profile_and_attach_them_on_request(shop: Shop) -> None:
    project = load_project(shop.store, "shop-churn")
    planned = plan_window(shop.store, project, WINDOW, window_partitions(shop.store, "shop-churn", WINDOW))
    [path] = profile_partitions(shop.store, project, planned[:1]).paths
    merged = merge_profiles(shop.store, project, WINDOW, [path])
    key = shop.store.partition_profile_key(path)
    data = encode_summary(merged, key=key)

    end = profile_end(data[:PREFIX_BYTES])
    assert end < len(data)  # the raw values follow the profile
    summary, stored = decode_summary(data[:end], project.reference, key=key)
    assert stored.columns == {"age", "basket"} and stored.pairs
    for name in ("age", "basket"):  # the tail sub-bins' counts and sums come back as stored
        decoded, original = summary.profile.columns[name], merged.profile.columns[name]
        assert isinstance(decoded, NumericalProfile) and isinstance(original, NumericalProfile)
        assert np.array_equal(decoded.tail_counts, original.tail_counts)
        assert np.array_equal(decoded.tail_sums, original.tail_sums)
    assert summary.profile.columns["age"].values is None  # type: ignore[union-attr]
    full = attach_values(summary, data, {"age"}, pairs=False)
    age = full.profile.columns["age"]
    assert isinstance(age, NumericalProfile) and age.values is not None and age.values.size == age.count
    assert np.array_equal(np.sort(age.values), np.sort(shop.logs["age"][: age.count].to_numpy()))
    assert full.profile.columns["basket"].values is None  # type: ignore[union-attr]

    with pytest.raises(ValueError, match="not a drifting-etl summary"):
        decode_summary(b"\x80\x04\x95 a pickle" + bytes(32), project.reference, key=key)
    with pytest.raises(ValueError, match="truncated"):
        decode_summary(data[: end - 1], project.reference, key=key)
    with pytest.raises(ValueError, match="another partition"):
        decode_summary(data[:end], project.reference, key="0" * 32)


def test_run_given_another_hours_valid_summary_copied_into_an_hours_cache_should_rebuild_it(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15, defect 7: a valid summary of another hour, copied over an hour's cached summary, was accepted, and
    every metric of the window was wrong until --rescan. A summary now records the key of what it summarises."""
    run_day(shop)
    expected = day_rows(shop)
    project = load_project(shop.store, "shop-churn")
    planned = plan_window(shop.store, project, WINDOW, window_partitions(shop.store, "shop-churn", WINDOW))
    first, second = planned[0].path, planned[1].path
    Path(second).write_bytes(Path(first).read_bytes())  # a valid file, of the wrong hour
    with caplog.at_level(logging.WARNING, logger="drifting_etl.pipeline.partitions"):
        run_day(shop)
    assert day_rows(shop) == expected
    assert any("another partition" in record.getMessage() for record in caplog.records)


def test_merge_window_given_summary_of_no_current_hour_should_raise_data_error_naming_it(shop: Shop) -> None:
    project = load_project(shop.store, "shop-churn")
    missing = shop.store.partition_profile_path("shop-churn", DAY, "0" * 32)  # e.g. from before a late log file
    with pytest.raises(DataError, match=r"0{32}\.profile"):
        merge_window(shop.store, project, WINDOW, [missing])


def test_ordered_map_given_slow_first_item_should_keep_input_order() -> None:
    import time

    def slow_first(n: int) -> int:
        if n == 0:
            time.sleep(0.05)
        return n * n

    assert list(ordered_map(slow_first, list(range(10)), workers=2)) == [n * n for n in range(10)]


def test_profile_task_given_some_hours_of_a_window_too_large_to_be_exact_should_keep_no_raw_values(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import drifting_etl.profiles.columns as profiles
    from drifting_etl.pipeline import steps as orchestration

    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)  # the day (3600 rows) is too large, two hours are not
    groups = orchestration.plan_partitions(shop.store, "shop-churn", WINDOW, group_bytes=1)  # one hour per group
    assert len(groups) == 24
    database = shop.database()
    paths = [
        path
        for group in groups[3:5]
        for path in orchestration.profile_partitions(
            shop.store, database, "shop-churn", WINDOW, group["plan"], group["group"]
        )
    ]
    database.dispose()
    assert len(paths) == 2 and all(b"c0_values" not in Path(path).read_bytes() for path in paths)


class UnlistableStore(ArtifactStore):
    """The real store, except that listing a directory fails: what a task that must not list is given."""

    def list_dirs(self, path: str) -> list[str]:
        raise AssertionError(f"listed {path}")

    def list_data_files(self, path: str, suffix: str = ".parquet") -> list[StoredFile]:
        raise AssertionError(f"listed {path}")


def test_profile_task_given_a_stored_plan_should_profile_without_listing_or_reading_the_reference_parquet(
    shop: Shop,
) -> None:
    from drifting_etl.pipeline import steps as orchestration

    groups = orchestration.plan_partitions(shop.store, "shop-churn", WINDOW, group_bytes=200_000)
    assert 1 < len(groups) < 24 and {group["plan"] for group in groups} == {groups[0]["plan"]}
    Path(shop.store.reference_path("shop-churn")).unlink()  # profiling needs only the reference profile's bins
    unlistable = UnlistableStore(shop.store.url)
    database = shop.database()
    paths = [
        path
        for group in groups
        for path in orchestration.profile_partitions(
            unlistable, database, "shop-churn", WINDOW, group["plan"], group["group"]
        )
    ]
    database.dispose()

    # the same cache entries as planning in process would use, each written
    planned = plan_window(
        shop.store,
        load_project(shop.store, "shop-churn", reference_values=False),
        WINDOW,
        window_partitions(shop.store, "shop-churn", WINDOW),
    )
    assert paths == [item.path for item in planned]
    assert all(Path(path).read_bytes().startswith(MAGIC) for path in paths)


def test_profile_task_given_reference_replaced_after_planning_should_fail_saying_to_run_the_window_again(
    shop: Shop, tmp_path: Path
) -> None:
    from drifting_etl.pipeline import steps as orchestration
    from drifting_etl.store.projects import replace_reference

    [group] = orchestration.plan_partitions(shop.store, "shop-churn", WINDOW)
    replace_reference(shop.store, "shop-churn", pa.Table.from_pandas(shop.reference.head(500)), source="test")
    database = shop.database()
    with pytest.raises(DataError, match="reference changed after the window was planned") as failure:
        orchestration.profile_partitions(shop.store, database, "shop-churn", WINDOW, group["plan"], group["group"])
    [run] = database.runs("shop-churn")
    database.dispose()
    assert "run the window again" in str(failure.value)
    assert run["status"] == "failed"
