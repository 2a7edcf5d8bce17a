"""Schema drift in the logs (issue 15): files of one window whose schemas differ — an extra column, a number logged
as int in one file, float in another and text in a third, a category logged as int and as text, a column of nulls,
zoned and naive timestamps. Each is written as real Parquet files into the hour folders, next to files of the usual
schema, and met through the real CLI; its figures are compared with those of a clean twin: a second store holding
the same values with the usual types (float numbers, int categories, UTC timestamps), in files of the same names.

The README's fault table names the test of each case.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from test_faults import CONFIG, DAY, WINDOW, _cli, _project

from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.profiles.columns import CategoricalProfile, NumericalProfile, category_key
from drifting_etl.store.artifacts import ArtifactStore

END = DAY + timedelta(days=1)
VOLATILE = {"id", "computed_at", "started_at", "finished_at"}
"""Columns that differ between any two runs of a window."""
UTC_MICROS = pa.timestamp("us", tz="UTC")
CATEGORICAL_CONFIG = CONFIG.replace("  numerical: [a, b]\n", "  numerical: [a, b]\n  categorical: [c]\n")
PLUS_TWO = timezone(timedelta(hours=2))


@dataclass(frozen=True)
class Side:
    """One registered project: its store and metrics database."""

    store_url: str
    url: str

    def folder(self, hour: int) -> Path:
        return Path(ArtifactStore(self.store_url).log_partition_dir("faults", DAY.date(), hour))

    def write(self, hour: int, name: str, columns: dict[str, pa.Array]) -> Path:
        """A Parquet file of these columns in the hour folder of DAY, written as a service other than the capture
        SDK would (pyarrow, no schema checks)."""
        path = self.folder(hour) / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path)
        return path

    def run(self, *window: str, ok: bool = True) -> Result:
        return _cli(self.store_url, self.url, "run", "faults", *(window or WINDOW), ok=ok)

    def figures(self, start: datetime = DAY, end: datetime = END) -> dict[str, list[dict[str, Any]]]:
        """Every row of the window in the five window tables, without the columns that differ between runs."""
        database = MetricsDatabase(self.url)
        try:
            return {
                table: [{k: v for k, v in row.items() if k not in VOLATILE} for row in database.rows(table, "faults", start, end)]
                for table in METRIC_TABLES
            }  # fmt: skip
        finally:
            database.dispose()


def _twins(tmp_path: Path) -> tuple[Side, Side]:
    """Two registered projects with the same reference and the same logs in hours 9 and 15 (tests/test_faults.py's
    `_project`): the clean one and the one whose extra files drift."""
    sides = []
    for name in ("clean", "drifted"):
        (tmp_path / name).mkdir()
        side = Side(str(tmp_path / name / "store"), f"sqlite:///{tmp_path / name / 'metrics.db'}")
        _project(tmp_path / name, side.store_url, side.url)
        sides.append(side)
    return sides[0], sides[1]


def _categorical_twins(tmp_path: Path) -> tuple[Side, Side]:
    """Two registered projects declaring a categorical feature `c` too (reference categories 1, 2 and 3, as int),
    without logs."""
    rng = np.random.default_rng(7)
    reference = pd.DataFrame({name: rng.normal(size=600) for name in ("a", "b", "prediction")})
    reference["c"] = rng.choice([1, 2, 3], 600, p=[0.5, 0.3, 0.2])
    sides = []
    for name in ("clean", "drifted"):
        folder = tmp_path / name
        folder.mkdir()
        reference.to_parquet(folder / "reference.parquet")
        (folder / "faults.yaml").write_text(CATEGORICAL_CONFIG)
        side = Side(str(folder / "store"), f"sqlite:///{folder / 'metrics.db'}")
        _cli(side.store_url, side.url, "init")
        reference_path = str(folder / "reference.parquet")
        _cli(
            side.store_url, side.url, "project", "register", str(folder / "faults.yaml"), "--reference", reference_path
        )
        sides.append(side)
    return sides[0], sides[1]


def _moments(hour: int, rows: int, seed: int) -> list[datetime]:
    """`rows` UTC instants spread over the hour `hour` of DAY, sorted."""
    seconds = np.sort(np.random.default_rng(seed).uniform(0, 3600, rows))
    return [DAY + timedelta(hours=hour, seconds=float(s)) for s in seconds]


def _numbers(hour: int, rows: int, seed: int, *, whole: bool = False) -> dict[str, Any]:
    """The usual columns of a log file: timestamps in the hour, and `a`, `b`, `prediction` (whole numbers when
    `whole`, so that they can be logged as int too)."""
    rng = np.random.default_rng(seed)
    values = {name: rng.normal(0.3, 1.2, rows) for name in ("a", "b", "prediction")}
    if whole:
        values = {name: np.round(column * 2) for name, column in values.items()}
    return {"timestamp": _moments(hour, rows, seed), **values}


def _arrays(columns: dict[str, Any], types: dict[str, pa.DataType] | None = None) -> dict[str, pa.Array]:
    """Arrow arrays of the columns: timestamps as the capture SDK logs them, the rest float64 unless `types` says."""
    types = types or {}
    return {
        name: pa.array(values, types.get(name, UTC_MICROS if name == "timestamp" else pa.float64()))
        for name, values in columns.items()
    }


def _without(figures: dict[str, list[dict[str, Any]]], **columns: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """The figures without some columns of some tables (those the drift is expected to change)."""
    return {
        table: [{k: v for k, v in row.items() if k not in columns.get(table, ())} for row in rows]
        for table, rows in figures.items()
    }


# ------------------------------------------------------------------------------------------------- extra columns


def test_run_given_extra_columns_in_some_log_files_should_ignore_them_and_match_a_run_without_them(
    tmp_path: Path,
) -> None:
    clean, drifted = _twins(tmp_path)
    files = {(11, "part-0"): _numbers(11, 300, 1), (11, "part-1"): _numbers(11, 250, 2)}
    files[12, "part-0"] = _numbers(12, 350, 3)
    for (hour, name), columns in files.items():
        clean.write(hour, name, _arrays(columns))
        extra: dict[str, pa.Array] = {}
        if name == "part-1" or hour == 12:  # one file of hour 11 has extra columns, the other has not
            rows = len(columns["a"])
            extra = {
                "session": pa.array([f"s{i % 7}" for i in range(rows)]),  # a new column of the service
                "embedding": pa.array([[0.5, 1.5]] * rows, pa.list_(pa.float64())),  # nested
                "context": pa.array([{"country": "fr", "score": 1.0}] * rows),
                "__label__": pa.array(np.ones(rows)),  # the name extracted batches give the ground truth
                "a_v2": pa.array(np.full(rows, 1e300)),  # a renamed copy of a feature, with absurd values
            }
        drifted.write(hour, name, {**_arrays(columns), **extra})

    clean.run()
    result = drifted.run()

    assert "warning" not in result.output
    figures = drifted.figures()
    assert figures == clean.figures()  # every row of every table, value for value
    [run] = figures["monitoring_run"]
    assert (run["status"], run["row_count"], run["warnings"]) == ("success", 800 + 900, None)
    assert {row["feature"] for row in figures["feature_drift"]} == {"a", "b", "prediction"}


# ------------------------------------------------------------------------------------- numbers as int, float, text


def test_run_given_a_numerical_feature_logged_as_int_in_some_files_and_float_in_others_should_use_them_as_numbers(
    tmp_path: Path,
) -> None:
    """Numbers are read as float64 whatever their integer or float type: the figures of a window mixing int8, int32,
    int64, uint64 and float64 files are those of the same values logged as float64."""
    clean, drifted = _twins(tmp_path)
    files = {
        (11, "part-0"): {"a": pa.int64(), "b": pa.int32(), "prediction": pa.int64()},
        (11, "part-1"): {},  # float64, in the same hour
        (12, "part-0"): {"a": pa.int8(), "b": pa.uint64(), "prediction": pa.float32()},
    }
    for seed, ((hour, name), types) in enumerate(files.items()):
        columns = _numbers(hour, 300, seed, whole=True)
        logged: dict[str, Any] = dict(columns)
        if types.get("b") == pa.uint64():
            unsigned = np.abs(np.asarray(columns["b"])).astype(np.uint64)
            unsigned[0] = np.uint64(2**64 - 1)  # far beyond the reference; 2**64 as float64
            logged["b"], columns["b"] = unsigned, unsigned.astype(np.float64)
        clean.write(hour, name, _arrays(columns))
        drifted.write(hour, name, _arrays(logged, types))
    assert pq.read_schema(drifted.folder(12) / "part-0.parquet").field("b").type == pa.uint64()

    clean.run()
    drifted.run()

    figures = drifted.figures()
    assert figures == clean.figures()
    scores = {row["feature"]: row["score"] for row in figures["feature_drift"]}
    assert set(scores) == {"a", "b", "prediction"} and all(np.isfinite(list(scores.values())))
    assert [row["type_mismatch_count"] for row in figures["data_quality"]] == [0, 0]
    assert figures["monitoring_run"][0]["row_count"] == 800 + 900


def test_run_given_a_numerical_feature_logged_as_int_float_and_text_across_files_should_count_only_the_text(
    tmp_path: Path,
) -> None:
    """The README's row for numbers logged as text (tests/test_silent_cases.py) covers a window whose column is text
    throughout; here one window holds it as int64, float64 and text, with an inline label and the prediction logged
    as text too: numbers in text are used, other text counts as missing, only the text counts as type mismatches,
    and every other figure is that of the same values logged as float64 (unreadable ones as null)."""
    clean, drifted = _twins(tmp_path)
    text_file = _numbers(12, 400, 3, whole=False)
    unreadable = {7: "n/a", 8: "", 90: "NULL", 91: "1,5"}  # row -> text that is no number
    nulls = [5, 200]
    spelled = [repr(float(value)) for value in text_file["a"]]  # the shortest text that reads back as the float
    spelled[11], spelled[12] = f"  {spelled[11]} ", "1e0"  # padded, and in exponent notation
    float_a = np.array(text_file["a"], dtype=float)
    float_a[12] = 1.0
    text_a: list[str | None] = list(spelled)
    for row, text in unreadable.items():
        text_a[row] = text
    for row in nulls:
        text_a[row] = None
    clean_a = [None if row in unreadable or row in nulls else float(value) for row, value in enumerate(float_a)]
    labels = np.random.default_rng(9).normal(0.3, 1.2, 400)
    clean_prediction = [None if row == 30 else float(v) for row, v in enumerate(text_file["prediction"])]
    text_prediction = ["?" if v is None else repr(v) for v in clean_prediction]
    clean_labels = [None if row == 31 else float(v) for row, v in enumerate(labels)]
    text_labels = ["unknown" if v is None else repr(v) for v in clean_labels]

    int_file = _numbers(11, 300, 1, whole=True)
    for side, a_type in ((clean, pa.float64()), (drifted, pa.int64())):
        side.write(11, "part-0", _arrays(int_file, {"a": a_type}))
        side.write(11, "part-1", _arrays(_numbers(11, 250, 2)))
    clean_columns = _arrays({**text_file, "a": clean_a, "prediction": clean_prediction})
    clean.write(12, "part-0", {**clean_columns, "label": pa.array(clean_labels)})
    as_text = {"a": pa.string(), "prediction": pa.string()}
    text_columns = _arrays({**text_file, "a": text_a, "prediction": text_prediction}, as_text)
    drifted.write(12, "part-0", {**text_columns, "label": pa.array(text_labels)})

    clean.run()
    result = drifted.run()

    figures = drifted.figures()
    quality = {row["feature"]: row for row in figures["data_quality"]}
    assert quality["a"]["type_mismatch_count"] == 400 - len(nulls)  # every non-null value of the text file
    assert quality["b"]["type_mismatch_count"] == 0
    assert quality["a"]["missing_count"] == len(nulls) + len(unreadable)
    flat = " ".join(result.output.split())
    assert f"numerical column 'a' has {400 - len(nulls)} values logged as strings" in flat
    assert f"{len(unreadable)} of them are not numbers and count as missing" in flat
    # the rest is the clean window's, value for value: drift, quality, and performance on the labelled rows
    expected = _without(clean.figures(), data_quality=("type_mismatch_count",), monitoring_run=("warnings",))
    assert _without(figures, data_quality=("type_mismatch_count",), monitoring_run=("warnings",)) == expected
    [run] = figures["monitoring_run"]
    assert (run["labelled_count"], run["unscored_count"]) == (398, 1)  # the "?" prediction is no prediction
    assert {row["metric"] for row in figures["performance_metric"]} >= {"mae", "rmse"}


# --------------------------------------------------------------------------------------- categories as int and text


def test_categorical_rule_should_compare_categories_as_the_text_of_their_value() -> None:
    """The rule (profiles.category_key): a category is compared as the text of its value. 1, 1.0 and "1" are one
    category, and True and "True"; text is not read as a number: "1.0", "01" and " 1" are categories of their own."""
    assert category_key(1) == category_key(1.0) == category_key("1") == category_key(np.int64(1).item()) == "1"
    assert category_key(True) == category_key("True") == "True" and category_key(1.5) == "1.5"
    counts = CategoricalProfile.of(pa.array(["1", "1.0", "01", " 1", None])).counts
    assert counts == {"1": 1, "1.0": 1, "01": 1, " 1": 1}
    merged = CategoricalProfile.of(pa.array([1, 2, None])).merge(CategoricalProfile.of(pa.array(["1", "2", "2"])))
    assert (merged.counts, merged.missing, merged.rows) == ({"1": 2, "2": 3}, 1, 6)


def test_run_given_a_categorical_feature_logged_as_int_in_one_file_and_text_in_another_should_count_one_category(
    tmp_path: Path,
) -> None:
    """The reference logs `c` as int; the window logs it as int64, as text, as dictionary-encoded text and as float64
    (with NaN): its figures are those of the same categories logged as int64 (NaN as null)."""
    clean, drifted = _categorical_twins(tmp_path)
    rng = np.random.default_rng(11)
    files = {(9, "part-0"): "int", (9, "part-1"): "text", (10, "part-0"): "dictionary", (11, "part-0"): "float"}
    for seed, ((hour, name), logged) in enumerate(files.items()):
        columns = _numbers(hour, 300, seed)
        categories = rng.choice([1, 2, 3, 4], 300, p=[0.4, 0.3, 0.2, 0.1])  # 4: a category the reference lacks
        missing = rng.random(300) < 0.05
        ints = pa.array(categories, pa.int64(), mask=missing)
        clean.write(hour, name, {**_arrays(columns), "c": ints})
        text = pa.array([None if m else str(v) for v, m in zip(categories, missing, strict=True)])
        drifted_c = {
            "int": ints,
            "text": text,
            "dictionary": text.dictionary_encode(),
            "float": pa.array(np.where(missing, np.nan, categories.astype(float))),  # NaN: missing
        }[logged]
        drifted.write(hour, name, {**_arrays(columns), "c": drifted_c})

    clean.run()
    drifted.run()

    figures = drifted.figures()
    assert figures == clean.figures()
    [quality] = [row for row in figures["data_quality"] if row["feature"] == "c"]
    assert quality["distinct_count"] == 4 and quality["type_mismatch_count"] == 0  # not "1" and 1 twice
    assert 0.05 < quality["new_category_share"] < 0.15
    [drift] = [row for row in figures["feature_drift"] if row["feature"] == "c"]
    assert drift["current_rows"] == 1200 - quality["missing_count"]


# ------------------------------------------------------------------------------------------------------- nulls


def test_run_given_a_column_null_in_every_row_of_a_file_or_of_the_window_should_count_it_missing(
    tmp_path: Path,
) -> None:
    """A file whose column holds only nulls (Parquet type null, as pandas writes a column of None; or a float or
    text column of nulls) counts its rows as missing. A window where a feature has no value at all gets its data
    quality row (missing_share 1.0) and no drift row: the verdict cannot be computed, and the feature is left out of
    the dataset's drift share."""
    clean, drifted = _categorical_twins(tmp_path)
    rng = np.random.default_rng(3)
    for hour, seed in ((9, 0), (10, 1)):  # usual files: the window [9:00, 11:00) has values
        columns = {**_arrays(_numbers(hour, 300, seed)), "c": pa.array(rng.choice([1, 2, 3], 300))}
        clean.write(hour, "part-0", columns)
        drifted.write(hour, "part-0", columns)
    for hour, seed in ((11, 2), (12, 3)):  # a and c have no value in [11:00, 13:00)
        columns = _arrays(_numbers(hour, 250, seed))
        clean.write(hour, "part-0", {**columns, "a": pa.nulls(250, pa.float64()), "c": pa.nulls(250, pa.int64())})
        typed = pa.null() if hour == 11 else pa.string()  # untyped nulls, then text nulls
        drifted.write(hour, "part-0", {**columns, "a": pa.nulls(250, typed), "c": pa.nulls(250, typed)})
    assert pq.read_schema(drifted.folder(11) / "part-0.parquet").field("a").type == pa.null()

    nulls = ("--start", "2026-03-02T11:00", "--end", "2026-03-02T13:00", "--no-report")
    for window in (WINDOW, nulls):
        clean.run(*window)
        result = drifted.run(*window)

    day = drifted.figures()
    assert day == clean.figures()
    quality = {row["feature"]: row for row in day["data_quality"]}
    assert (quality["a"]["missing_count"], quality["c"]["missing_count"]) == (500, 500)
    assert quality["a"]["type_mismatch_count"] == 0  # a column of nulls is no text
    a_drift = [row for row in day["feature_drift"] if row["feature"] == "a"]
    assert a_drift[0]["current_rows"] == 600  # the hours 9 and 10

    start, end = DAY + timedelta(hours=11), DAY + timedelta(hours=13)
    empty = drifted.figures(start, end)
    assert empty == clean.figures(start, end)
    [run] = empty["monitoring_run"]
    assert (run["status"], run["row_count"], run["error"]) == ("success", 500, None)
    quality = {row["feature"]: row for row in empty["data_quality"]}
    assert {name: (row["missing_count"], row["missing_share"]) for name, row in quality.items()} == {
        "a": (500, 1.0),
        "b": (0, 0.0),
        "c": (500, 1.0),
    }
    assert {row["feature"] for row in empty["feature_drift"]} == {"b", "prediction"}  # no verdict for a and c
    assert empty["dataset_drift"][0]["feature_count"] == 1
    flat = " ".join(result.output.split())
    assert "a: no usable values in the window, no drift verdict" in flat
    assert "c: no usable values in the window, no drift verdict" in flat


# ------------------------------------------------------------------------------------------------------ timestamps


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone is not UTC (Asia/Kolkata, +05:30): a naive timestamp must not be read in it."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_run_given_zoned_and_naive_timestamps_in_one_hour_should_read_naive_as_utc_and_convert_zoned_ones(
    tmp_path: Path, local_zone: None
) -> None:
    """The rule (extract.logs._inside): a zoned timestamp is the instant it names, whatever its zone (Parquet stores
    it in UTC); a naive one is read as UTC, never as the machine's local time. One hour folder holds the same rows'
    times zoned UTC, zoned +02:00, zoned America/New_York and naive, in four units: every window, cut at the hour
    or inside it, and given with an offset or without, holds the same rows as the clean twin's (all UTC)."""
    clean, drifted = _twins(tmp_path)
    zones: dict[str, tuple[pa.DataType, Any]] = {
        "part-0": (pa.timestamp("us", tz="UTC"), lambda moment: moment),
        "part-1": (pa.timestamp("ms", tz="+02:00"), lambda moment: moment.astimezone(PLUS_TWO)),
        "part-2": (pa.timestamp("ns"), lambda moment: moment.replace(tzinfo=None)),  # naive: UTC by the rule
        "part-3": (pa.timestamp("s", tz="America/New_York"), lambda moment: moment),
    }
    for seed, (name, (logged, shown)) in enumerate(zones.items()):
        columns = _numbers(11, 200, seed)
        columns["timestamp"] = [moment.replace(microsecond=0) for moment in columns["timestamp"]]  # whole seconds
        clean.write(11, name, _arrays(columns))
        shifted = {**columns, "timestamp": [shown(moment) for moment in columns["timestamp"]]}
        drifted.write(11, name, _arrays(shifted, {"timestamp": logged}))
    schemas = {path.name: pq.read_schema(path).field("timestamp").type for path in drifted.folder(11).glob("*.parquet")}
    assert str(schemas["part-1.parquet"]) == "timestamp[ms, tz=+02:00]" and schemas["part-2.parquet"].tz is None

    windows = {
        (DAY, END): WINDOW,
        (DAY + timedelta(hours=11), DAY + timedelta(hours=11, minutes=30)): (
            "--start", "2026-03-02T13:00+02:00", "--end", "2026-03-02T13:30+02:00", "--no-report",
        ),
        (DAY + timedelta(hours=11, minutes=30), DAY + timedelta(hours=12)): (
            "--start", "2026-03-02T11:30", "--end", "2026-03-02T12:00", "--no-report",
        ),
    }  # fmt: skip
    for (start, end), window in windows.items():
        clean.run(*window)
        drifted.run(*window)
        figures = drifted.figures(start, end)
        assert figures == clean.figures(start, end), window
        [run] = figures["monitoring_run"]
        assert run["outside_partition_count"] == 0  # no +02:00 or naive row was taken for another hour
        if start.hour == 11:
            expected = sum(
                1 for seed in range(4) for m in _moments(11, 200, seed) if start <= m.replace(microsecond=0) < end
            )
            assert run["row_count"] == expected and 0 < expected < 800
    assert drifted.figures(DAY, END)["monitoring_run"][0]["row_count"] == 800 + 800


def _local_hour_file(side: Side) -> None:
    """Rows at 11:00-12:00 UTC logged zoned +02:00 into the folder of their local hour, 13 (not the capture SDK)."""
    columns = _numbers(11, 120, 5)
    columns["timestamp"] = [moment.astimezone(PLUS_TWO) for moment in columns["timestamp"]]
    side.write(13, "local-hour", _arrays(columns, {"timestamp": pa.timestamp("us", tz="+02:00")}))


def test_run_given_zoned_rows_in_the_folder_of_their_local_hour_should_count_them_outside_never_in_that_hour(
    tmp_path: Path,
) -> None:
    """A +02:00 timestamp is converted, not taken at its wall-clock hour: rows logged at 13:xx+02:00 (11:xx UTC)
    into the folder hour=13 lie outside their folder's hour, and are counted so (README: rows outside their hour
    folder), not read into 13:00-14:00 UTC nor into 11:00-12:00 UTC."""
    clean, drifted = _twins(tmp_path)
    _local_hour_file(drifted)

    clean.run()
    result = drifted.run()

    [run] = drifted.figures()["monitoring_run"]
    assert (run["row_count"], run["outside_partition_count"]) == (800, 120)
    assert "120 rows lie outside the hour of their partition folder (e.g. date=2026-03-02/hour=13)" in " ".join(
        result.output.split()
    )
    expected = _without(clean.figures(), monitoring_run=("warnings", "outside_partition_count"))
    assert _without(drifted.figures(), monitoring_run=("warnings", "outside_partition_count")) == expected


def test_run_given_only_rows_outside_their_hour_folder_in_the_window_should_still_count_them(tmp_path: Path) -> None:
    """Defect (issue 15): an hourly window whose only rows lie outside their hour folder (a writer filing rows by
    their +02:00 wall-clock hour) was loaded as no_data without outside_partition_count or a warning: the rows were
    dropped without a word."""
    _, drifted = _twins(tmp_path)
    _local_hour_file(drifted)

    result = drifted.run("--start", "2026-03-02T13:00", "--end", "2026-03-02T14:00", "--no-report")

    [run] = drifted.figures(DAY + timedelta(hours=13), DAY + timedelta(hours=14))["monitoring_run"]
    assert (run["status"], run["row_count"]) == ("no_data", 0)
    assert run["outside_partition_count"] == 120
    assert "120 rows lie outside the hour of their partition folder" in " ".join(result.output.split())


# --------------------------------------------------------------------------------------- types that hold no values


def test_run_given_a_column_logged_with_a_type_that_cannot_hold_its_values_should_fail_as_bad_data_naming_it(
    tmp_path: Path,
) -> None:
    """Defect (issue 15): a numerical feature logged as a date, bytes, a list or a struct failed the window as
    "unexpected ArrowNotImplementedError ... this is a bug in drifting-etl", and a categorical feature logged as a
    list as "unreadable Parquet data: b'c'". Such a file now fails the window at once as bad data (terminal), naming
    the file, the column, its configuration key and its type, as a file lacking a column does (and as a timestamp
    logged as text already did)."""
    clean, _ = _categorical_twins(tmp_path)
    columns = {**_arrays(_numbers(9, 50, 0)), "c": pa.array([1, 2] * 25)}
    clean.write(9, "part-0", columns)
    clean.run()
    good = clean.figures()
    hour_10 = {**columns, "timestamp": pa.array(_moments(10, 50, 1), UTC_MICROS)}
    typed = "log file column(s) {}: expected"
    cases = {
        "a": (pa.array([date(2026, 3, 2)] * 50), typed.format("'a' (features.numerical) has type date32[day]")),
        "b": (pa.array([b"1.5"] * 50), typed.format("'b' (features.numerical) has type binary")),
        "prediction": (
            pa.array([[1.0]] * 50),
            typed.format("'prediction' (columns.prediction) has type list<element: double>"),
        ),
        "c": (pa.array([{"k": "x"}] * 50), typed.format("'c' (features.categorical) has type struct<k: string>")),
        # a timestamp logged as ISO text: never parsed (its zone would be a guess)
        "timestamp": (
            pa.array([m.isoformat() for m in _moments(10, 50, 1)]),
            "column 'timestamp' has type string, expected a timestamp",
        ),
    }
    for column, (values, message) in cases.items():
        bad = clean.write(10, "bad", {**hour_10, column: values})
        failed = clean.run(ok=False)
        flat = " ".join(failed.output.split())
        assert failed.exit_code == 1 and "bug" not in flat and "unexpected" not in flat, flat
        assert message in flat and "hour=10/bad.parquet" in flat, flat
        assert column == "timestamp" or "log the column(s) with the type the project declares" in flat
        run = MetricsDatabase(clean.url).window_run("faults", DAY, END)
        assert run is not None and run["status"] == "failed" and message in run["error"]
        bad.unlink()
    clean.run()
    assert clean.figures() == good


def test_numerical_profile_given_values_far_beyond_the_reference_should_place_them_in_the_last_tail_bin() -> None:
    """Defect (issue 15): a value more than 2**63 tail widths beyond the reference's range (a uint64 near its top, a
    sentinel like -1e19 or 1e30) wrapped to a negative bin and failed the window as "unexpected ValueError"."""
    edges = np.array([0.0, 1.0, 2.0])  # tail bins 1/64 wide: 2**63 of them span 1.4e17
    profile = NumericalProfile.of(np.array([1e30, -1e19, 2.0**64, 0.5, 5.0]), edges)
    assert profile.tail_counts[0].tolist()[-1] == 1 and profile.tail_counts[1].tolist()[-1] == 2
    assert profile.tail_counts.sum() == 4 and profile.count == 5
