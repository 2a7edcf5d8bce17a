"""The HTML drift report: bottom-k sampling, Evidently's verdicts against the pipeline's, and the page in Chromium.

The project is built like tests/test_pipeline.py does (LogWriter / LabelWriter into a local store), with one stable
day and one clearly drifted day, request ids fixed so the samples are the same on every run.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.core.errors import DataError, DriftingError, NotFoundError
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelIndex
from drifting_etl.extract.logs import window_partitions
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import run_window
from drifting_etl.report.banner import banner_html
from drifting_etl.report.build import build_report
from drifting_etl.report.evidently_report import EVIDENTLY_METHODS, evaluate_report, render_report
from drifting_etl.report.sample import BottomK, read_reference, row_keys, sample_frame, sample_partition, sample_window
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import Project, load_project, register

NAME = "shop-report"
STABLE = Window(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
DRIFTED = Window(datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
EMPTY = Window(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC))
ROWS_PER_HOUR = 80
FEATURES = ("age", "basket", "channel", "coupon")
CONFIG = f"""\
name: {NAME}
task: classification
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [age, basket]
  categorical: [channel, coupon]
drift:
  per_feature:
    basket: {{method: psi}}
    coupon: {{method: ztest, threshold: 0.001}}
"""
CHROMIUM = os.environ.get("DRIFTING_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = ("</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<script>alert(3)</script>")


def _rows(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "age": rng.normal(49 if drifted else 40, 8, n).round(1),
            "basket": rng.gamma(2.0, 40.0 if drifted else 20.0, n).round(2),
            "channel": rng.choice(["web", "app", "store"], n, p=[0.5, 0.3, 0.2]),
            "coupon": rng.choice(["yes", "no"], n, p=[0.7, 0.3] if drifted else [0.3, 0.7]),
        }
    )
    proba = 1 / (1 + np.exp(-(frame["basket"] - 40) / 15))
    frame["prediction_proba"] = proba.round(4)
    frame["prediction"] = (proba >= 0.5).astype(int)
    frame["truth"] = (rng.random(n) < proba).astype(int)
    return frame


@dataclass
class Shop:
    store: ArtifactStore
    database: MetricsDatabase
    logs: pd.DataFrame
    labels: pd.Series

    @functools.cached_property
    def project(self) -> Project:
        return load_project(self.store, NAME)

    def window_logs(self, window: Window) -> pd.DataFrame:
        return self.logs[(self.logs["timestamp"] >= window.start) & (self.logs["timestamp"] < window.end)]

    def pipeline_drifted(self, window: Window) -> set[str]:
        rows = self.database.rows("feature_drift", NAME, window.start, window.end)
        assert {row["feature"] for row in rows} == {*FEATURES, "prediction"}
        return {row["feature"] for row in rows if row["drifted"]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A registered project with a stable and a drifted day of logs, labels for 40% of requests, and the
    pipeline's metrics for both days in SQLite."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(20260302)
    reference = _rows(rng, 3000, drifted=False)
    reference.drop(columns="truth").assign(label=reference["truth"]).to_parquet(root / "reference.parquet")
    (root / f"{NAME}.yaml").write_text(CONFIG)
    store = ArtifactStore(str(root / "store"))
    store.ensure_layout()
    register(store, root / f"{NAME}.yaml", str(root / "reference.parquet"))

    frames = []
    for window, drifted in ((STABLE, False), (DRIFTED, True)):
        for hour in range(24):
            frame = _rows(rng, ROWS_PER_HOUR, drifted)
            offsets = np.sort(rng.uniform(0, 3599, ROWS_PER_HOUR))
            frame.insert(0, "timestamp", [window.start + timedelta(hours=hour, seconds=s) for s in offsets])
            frame.insert(0, "request_id", [f"{window.start:%m%d}-{hour:02d}-{i:03d}" for i in range(ROWS_PER_HOUR)])
            frames.append(frame)
    logs = pd.concat(frames, ignore_index=True)
    with LogWriter(NAME, store, model_version="v1", max_rows=10**6) as writer:
        for half in (logs.iloc[::2], logs.iloc[1::2]):  # two files per hour partition
            writer.log_frame(half.drop(columns="truth"))
            writer.flush()
    labelled = logs.sample(frac=0.4, random_state=3)
    with LabelWriter(NAME, store) as labels:
        labels.label_many(
            list(zip(labelled["request_id"], labelled["truth"], strict=True)), labelled_at=DRIFTED.end + timedelta(1)
        )
    database = MetricsDatabase(f"sqlite:///{root / 'metrics.db'}")
    database.migrate()
    for window in (STABLE, DRIFTED):
        run_window(store, database, NAME, window)
    yield Shop(store, database, logs, labelled.set_index("request_id")["truth"])
    database.dispose()


# ============================================================================================== bottom-k sampling


def _numbered(n: int) -> pa.Table:
    return pa.table({"i": np.arange(n)})


def test_bottom_k_given_more_rows_than_k_should_keep_exactly_the_k_smallest_keys() -> None:
    n, k = 1000, 37
    keys, ties = row_keys(n, source="logs/a.parquet", ids=pa.array([f"id-{i}" for i in range(n)]))
    sample = BottomK.empty(k)
    for start in range(0, n, 128):  # batch by batch, as partitions are streamed
        end = min(start + 128, n)
        sample = sample.add(_numbered(n).slice(start, end - start), keys[start:end], ties[start:end])
        assert sample.rows is not None and sample.rows.num_rows <= k
    table = sample.table()
    assert table is not None and sample.seen == n
    assert table["i"].to_pylist() == np.lexsort((ties, keys))[:k].tolist()


def test_bottom_k_given_many_seeds_should_include_every_row_equally_often() -> None:
    n, k, seeds = 100, 10, 3000
    ids = pa.array([f"req-{i}" for i in range(n)])
    by_id, by_position = np.zeros(n), np.zeros(n)
    for seed in range(seeds):
        for counts, row_ids in ((by_id, ids), (by_position, None)):
            keys, ties = row_keys(n, source="logs/x.parquet", ids=row_ids, seed=seed)
            table = BottomK.empty(k).add(_numbered(n), keys, ties).table()
            assert table is not None
            counts[table["i"].to_numpy()] += 1
    for counts in (by_id, by_position):
        assert counts.sum() == k * seeds
        # every row is kept with probability k/n: counts are multinomial-like around seeds * k / n
        assert stats.chisquare(counts).pvalue > 1e-3


def test_row_keys_given_many_ids_should_be_uniform_on_64_bits() -> None:
    n = 200_000
    keys, ties = row_keys(n, source="logs/y.parquet", ids=pa.array([f"{i:x}" for i in range(n)]))
    for values in (keys, ties):
        assert stats.kstest(values.astype(np.float64) / 2.0**64, "uniform").pvalue > 1e-3
    assert len(np.unique(ties)) == n  # position hashes never tie within a file


def test_bottom_k_given_parts_merged_in_any_order_should_equal_the_sample_of_the_whole() -> None:
    n, k = 600, 50
    keys, ties = row_keys(n, source="logs/z.parquet", seed=7)
    whole = BottomK.empty(k).add(_numbered(n), keys, ties)
    cuts = [0, 40, 41, 250, 420, n]  # parts both smaller and larger than k
    parts = [
        BottomK.empty(k).add(_numbered(n).slice(a, b - a), keys[a:b], ties[a:b]) for a, b in itertools.pairwise(cuts)
    ]
    forward = functools.reduce(BottomK.merge, parts, BottomK.empty(k))
    backward = functools.reduce(BottomK.merge, reversed(parts), BottomK.empty(k))
    nested = parts[0].merge(parts[1].merge(parts[2])).merge(parts[3].merge(parts[4]))
    expected = whole.table()
    assert expected is not None
    for merged in (forward, backward, nested):
        assert merged.seen == n
        assert merged.table() == expected


def test_sample_window_given_partitions_sampled_separately_should_merge_into_the_window_sample(shop: Shop) -> None:
    project, k = shop.project, 300
    sample, total = sample_window(shop.store, project, DRIFTED, k)
    labels = LabelIndex.listed(shop.store, project.config)
    partitions = window_partitions(shop.store, NAME, DRIFTED)
    assert len(partitions) == 24 and any(len(p.files) > 1 for p in partitions)
    parts = [sample_partition(shop.store, project, DRIFTED, p, labels.table_for(p.cut(DRIFTED)), k) for p in partitions]
    merged = functools.reduce(BottomK.merge, reversed(parts), BottomK.empty(k))
    assert merged.seen == total == len(shop.window_logs(DRIFTED))
    pd.testing.assert_frame_equal(sample_frame(merged, project), sample)


def test_sample_window_given_same_data_should_be_deterministic_bounded_and_seed_dependent(shop: Shop) -> None:
    first, total = sample_window(shop.store, shop.project, STABLE, 500)
    again, _ = sample_window(shop.store, shop.project, STABLE, 500)
    other, _ = sample_window(shop.store, shop.project, STABLE, 500, seed=1)
    assert len(first) == 500 and total == len(shop.window_logs(STABLE))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert list(first.columns) == [*FEATURES, "prediction", "prediction_proba", "label"]
    # the rows are the window's rows, labels joined by request id
    logged = shop.window_logs(STABLE).set_index(["age", "basket"])
    assert first.set_index(["age", "basket"]).index.isin(logged.index).all()


def test_sample_window_given_window_smaller_than_k_should_return_every_row_with_its_label(shop: Shop) -> None:
    sample, total = sample_window(shop.store, shop.project, STABLE, 10_000)
    logged = shop.window_logs(STABLE)
    assert total == len(sample) == len(logged)
    expected = logged[["age", "basket", "coupon"]].sort_values(["age", "basket"]).reset_index(drop=True)
    actual = sample[["age", "basket", "coupon"]].sort_values(["age", "basket"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected)
    truth = logged["request_id"].map(shop.labels)
    assert sample["label"].notna().sum() == truth.notna().sum()
    assert sample["label"].sum() == truth.sum()


def test_read_reference_given_size_below_its_rows_should_sample_it_with_its_labels(shop: Shop) -> None:
    reference, total = read_reference(shop.store, shop.project, 1200)
    assert total == 3000 and len(reference) == 1200
    assert {*FEATURES, "prediction", "prediction_proba", "label"} <= set(reference.columns)
    assert reference["label"].notna().all()


# ============================================================================================== Evidently's verdicts


def test_evidently_methods_given_our_names_should_be_registered_stat_tests() -> None:
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType
    from evidently_reference import EVIDENTLY_METHODS as DISPLAY_NAMES

    for ours, theirs in EVIDENTLY_METHODS.items():
        kind = ColumnType.Numerical if ours in ("ks", "wasserstein") else ColumnType.Categorical
        stat_test = get_registered_stattest(theirs, kind)
        assert stat_test.name == theirs
        assert DISPLAY_NAMES[stat_test.display_name] == ours


@pytest.mark.slow
@pytest.mark.parametrize("sample_size", [50_000, 1200], ids=["whole-window", "sample"])
def test_build_report_given_drifted_and_stable_windows_should_flag_what_the_pipeline_flags(
    shop: Shop, sample_size: int
) -> None:
    drifted = build_report(shop.store, NAME, DRIFTED, sample_size=sample_size)
    stable = build_report(shop.store, NAME, STABLE, sample_size=sample_size)
    assert shop.pipeline_drifted(DRIFTED) == {"age", "basket", "coupon", "prediction"}  # the data is clear
    assert shop.pipeline_drifted(STABLE) == set()
    assert drifted.drifted_columns == shop.pipeline_drifted(DRIFTED)
    assert stable.drifted_columns == shop.pipeline_drifted(STABLE)
    total = len(shop.window_logs(DRIFTED))
    assert (drifted.total_rows, drifted.sampled_rows) == (total, min(total, sample_size))
    assert drifted.location == shop.store.report_path(NAME, DRIFTED.start, DRIFTED.end)
    assert drifted.display == drifted.location  # a local store shows plain paths
    page = Path(drifted.location).read_text(encoding="utf-8")
    assert drifted.size_bytes == len(page.encode()) > 1_000_000  # Evidently's JS bundle is inlined
    banner = page[page.index('<div id="drifting-etl-banner"') :].split("<!-- /drifting-etl-banner -->", 1)[0]
    if sample_size < total:
        assert f"uniform random sample of {sample_size:,} of {total:,} rows" in banner
    else:
        assert f"all {total:,} rows" in banner
    assert "feature_drift" in banner and NAME in banner


def test_build_report_given_empty_window_should_write_a_no_data_page_without_evidently(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_evidently(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Evidently must not run for an empty window")

    monkeypatch.setattr("drifting_etl.report.evidently_report._drift_snapshot", no_evidently)
    result = build_report(shop.store, NAME, EMPTY)
    assert (result.total_rows, result.sampled_rows, result.drifted_columns) == (0, 0, frozenset())
    page = Path(result.location).read_text(encoding="utf-8")
    assert "No rows were logged in this window" in page and result.size_bytes < 10_000


def test_build_report_given_unreadable_log_file_should_fail_naming_project_window_and_file(shop: Shop) -> None:
    window = Window(datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
    partition = shop.store.log_partition_dir(NAME, window.start.date(), 7)
    shop.store.write_bytes(f"{partition}/broken.parquet", b"PAR1 not a parquet file")
    with pytest.raises(DataError) as failure:
        build_report(shop.store, NAME, window)
    message = str(failure.value)
    assert "broken.parquet" in message and NAME in message and "2026-03-05" in message


def test_build_report_given_unknown_project_should_fail_naming_it(shop: Shop) -> None:
    with pytest.raises(NotFoundError, match="unknown project 'nope'"):
        build_report(shop.store, "nope", STABLE)


def test_banner_given_markup_in_its_text_should_escape_it() -> None:
    banner = banner_html(
        "<script>alert(1)</script>", STABLE, sampled_rows=5, total_rows=9, notes=["<img src=x onerror=alert(2)>"]
    )
    assert "<script>" not in banner and "<img" not in banner
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in banner
    assert "uniform random sample of 5 of 9 rows" in banner


def test_render_report_given_no_usable_column_should_raise_nothing_but_say_so(shop: Shop) -> None:
    sample, total = sample_window(shop.store, shop.project, STABLE, 200)
    sample["age"] = np.nan
    reference, _ = read_reference(shop.store, shop.project, 200)
    rendered = evaluate_report(shop.project, reference, sample, STABLE, total_rows=total)
    assert "no drift shown for age" in rendered.html
    assert "age" not in rendered.drifted_columns


def test_render_report_given_labels_of_one_class_should_keep_drift_and_say_why_performance_is_missing(
    shop: Shop,
) -> None:
    sample, total = sample_window(shop.store, shop.project, STABLE, 400)
    sample.loc[sample["label"].notna(), "label"] = 0
    reference, _ = read_reference(shop.store, shop.project, 1500)
    rendered = evaluate_report(shop.project, reference, sample, STABLE, total_rows=total)
    assert "no model performance section: Evidently could not compute it" in rendered.html
    assert "Data drift (features and prediction)" in rendered.html
    assert rendered.drifted_columns == frozenset()


def test_render_report_given_broken_input_should_raise_a_drifting_error_naming_project_and_window(
    shop: Shop,
) -> None:
    sample, total = sample_window(shop.store, shop.project, STABLE, 200)
    with pytest.raises(DriftingError) as failure:
        render_report(shop.project, pd.DataFrame({"unrelated": [1]}), sample, STABLE, total_rows=total)
    assert NAME in str(failure.value) and "2026-03-02" in str(failure.value)


REGRESSION_CONFIG = """\
name: basket-value
task: regression
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [age]
  categorical: [channel]
columns:
  prediction_proba: null
"""


@pytest.mark.slow
def test_build_report_given_regressor_with_inline_labels_should_add_regression_section_and_match_pipeline(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(11)

    def rows(n: int, shift: float) -> pd.DataFrame:
        frame = pd.DataFrame({"age": rng.normal(40 + shift, 8, n).round(1), "channel": rng.choice(["web", "app"], n)})
        frame["prediction"] = (2.0 * frame["age"] + rng.normal(0, 3, n)).round(2)
        frame["label"] = (frame["prediction"] + rng.normal(0, 4, n)).round(2)
        return frame

    rows(2000, 0.0).to_parquet(tmp_path / "reference.parquet")
    (tmp_path / "basket-value.yaml").write_text(REGRESSION_CONFIG)
    store = ArtifactStore(str(tmp_path / "store"))
    store.ensure_layout()
    register(store, tmp_path / "basket-value.yaml", str(tmp_path / "reference.parquet"))
    logs = rows(1500, 12.0)
    logs.loc[logs.index % 2 == 1, "label"] = np.nan  # half the rows know their truth inline
    logs["timestamp"] = [STABLE.start + timedelta(seconds=int(s)) for s in rng.uniform(0, 86_399, len(logs))]
    logs["request_id"] = [f"r{i}" for i in range(len(logs))]
    with LogWriter("basket-value", store, max_rows=10**6) as writer:
        writer.log_frame(logs)
    database = MetricsDatabase(f"sqlite:///{tmp_path / 'metrics.db'}")
    database.migrate()
    run_window(store, database, "basket-value", STABLE)
    expected = {row["feature"] for row in database.rows("feature_drift", "basket-value") if row["drifted"]}
    database.dispose()

    result = build_report(store, "basket-value", STABLE, sample_size=1000)
    assert expected == {"age", "prediction"}
    assert result.drifted_columns == expected
    page = Path(result.location).read_text(encoding="utf-8")
    assert "RegressionPreset) on the " in page and "uniform random sample of 1,000 of 1,500 rows" in page


# ============================================================================================== in a browser


@dataclass
class Visit:
    text: str
    errors: list[str]
    dialogs: list[str]
    requests: list[str]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by playwright, or the reason there is none (the tests then fail with it)."""
    if not Path(CHROMIUM).exists():
        yield (
            f"Debian's chromium is not installed at {CHROMIUM}: the report must be checked in a real browser. "
            "Install it with `apt-get install -y chromium` (CI installs it); DRIFTING_TEST_CHROMIUM overrides the path."
        )
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _visit(browser: Any, path: Path, screenshot: Path) -> Visit:
    if isinstance(browser, str):
        pytest.fail(browser)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    visit = Visit("", [], [], [])
    page.on("pageerror", lambda error: visit.errors.append(f"page error: {error}"))
    page.on("console", lambda message: visit.errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: visit.requests.append(request.url))

    def dialog(opened: Any) -> None:
        visit.dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri())
    page.wait_for_selector("text=Data Drift Summary", timeout=30_000)  # Evidently's drift table has rendered
    page.wait_for_load_state("networkidle")
    visit.text = page.inner_text("body")
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return visit


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
def test_report_given_chromium_should_render_drift_table_and_banner_without_errors_or_network(
    shop: Shop, browser: Any, tmp_path: Path
) -> None:
    result = build_report(shop.store, NAME, DRIFTED, sample_size=1200)
    visit = _visit(browser, Path(result.location), tmp_path / "report.png")
    assert visit.errors == [] and visit.dialogs == []
    assert all(url.startswith(("file:", "data:", "blob:", "about:")) for url in visit.requests), visit.requests
    assert "uniform random sample of 1,200 of 1,920 rows" in visit.text
    assert "full-data figures" in visit.text and NAME in visit.text
    assert "Dataset Drift" in visit.text and "Drift is detected" in visit.text
    for name in [*FEATURES, "prediction"]:
        assert name in visit.text
    assert "Accuracy" in visit.text  # the classification section on the labelled rows
    width, height = _png_size(tmp_path / "report.png")
    assert width >= 1400 and height > 2000 and (tmp_path / "report.png").stat().st_size > 50_000


@pytest.mark.slow
def test_report_given_hostile_category_values_should_escape_them_and_run_no_script(
    shop: Shop, browser: Any, tmp_path: Path
) -> None:
    sample, total = sample_window(shop.store, shop.project, STABLE, 600)
    reference, _ = read_reference(shop.store, shop.project, 600)
    for index, value in enumerate(HOSTILE):
        sample.loc[index * 40 : index * 40 + 39, "channel"] = value
    page = render_report(shop.project, reference, sample, STABLE, total_rows=total)
    banner = page[page.index('<div id="drifting-etl-banner"') :].split("<!-- /drifting-etl-banner -->", 1)[0]
    assert "<script" not in banner and "<img" not in banner
    for value in HOSTILE:
        assert value not in page  # embedded as JSON with <, > escaped ...
    assert "\\u003cimg src=x onerror=alert(2)\\u003e" in page  # ... but embedded
    path = tmp_path / "hostile.html"
    path.write_text(page, encoding="utf-8")
    visit = _visit(browser, path, tmp_path / "hostile.png")
    assert visit.dialogs == [] and visit.errors == []
    assert "channel" in visit.text and "Drift" in visit.text
