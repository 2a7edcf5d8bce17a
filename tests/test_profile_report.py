"""The default report (issue 16): drawn from the window's profile and the metrics database, so it reads no log file
and shows exactly the stored figures; self-contained, escaped, readable without JavaScript, checked in Chromium.

Independent references: the figures are compared with the metrics database's rows, the confusion matrix with
scikit-learn's on the window's labelled log rows, the ROC curve's area with scikit-learn's roc_auc_score."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from airflow_support import START, register_project
from click.testing import CliRunner
from sklearn.metrics import confusion_matrix, roc_auc_score

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import summarize_window
from drifting_etl.report.profile_view import read_stored, report_view
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_project

CHROMIUM = os.environ.get("DRIFTING_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DAYS = 3
WINDOWS = [Window(START + timedelta(days=day), START + timedelta(days=day + 1)) for day in range(DAYS)]
HOSTILE = ["<img src=x onerror=alert(1)>", "</svg><script>alert(2)</script>", '" onmouseover="alert(3)']


@dataclass(frozen=True)
class Fleet:
    root: Path
    store: ArtifactStore
    url: str

    def cli(self, *arguments: str) -> str:
        result = CliRunner().invoke(main, ["--storage", str(self.store.root), "--database-url", self.url, *arguments])
        assert result.exit_code == 0, result.output
        return result.output

    def page(self, window: Window) -> str:
        return Path(self.store.report_path("fleet", window.start, window.end)).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Three daily windows of a classifier (a third of its rows unlabelled, drift from the second day), each run
    with the defaults: metrics, then the default report."""
    root = tmp_path_factory.mktemp("fleet")
    store = ArtifactStore(str(root / "store"))
    url = f"sqlite:///{root / 'metrics.db'}"
    register_project(root, str(root / "store"), "fleet", days=DAYS, database_url=url)
    fleet = Fleet(root, store, url)
    for window in WINDOWS:
        fleet.cli("run", "fleet", "--start", window.start.isoformat(), "--end", window.end.isoformat(), "--no-notify")
    return fleet


class _Rows(HTMLParser):
    """Each table's rows, each row's cells as text (header and data cells; charts left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self._skip += 1
        elif tag == "div" and self._cell is not None:
            self._cell.append(" ")  # a block: its text is a word of its own

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "svg":
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._skip:
            self._cell.append(data)


def _tables(page: str) -> list[dict[str, list[str]]]:
    """Each table of the page, its rows by their first cell's first word."""
    parser = _Rows()
    parser.feed(page)
    return [{row[0].split(" ")[0]: row for row in table if row} for table in parser.tables]


def _number(value: float) -> str:
    return f"{value:.4g}"


def test_default_report_should_show_the_stored_figure_of_every_feature_metric_and_quality_check(fleet: Fleet) -> None:
    database = MetricsDatabase(fleet.url)
    window = WINDOWS[1]
    page = fleet.page(window)
    features, quality, performance = _tables(page)[:3]
    drift = database.rows("feature_drift", "fleet", window.start, window.end)
    assert {row["feature"] for row in drift} == {"a", "b", "c", "prediction"}
    for row in drift:
        cells = features[row["feature"]]
        assert cells[1] == row["method"]
        assert cells[2].startswith(_number(row["score"])) and cells[3] == _number(row["threshold"])
        assert cells[4].startswith("DRIFT" if row["drifted"] else "ok")
    for row in database.rows("performance_metric", "fleet", window.start, window.end):
        assert performance[row["metric"]][1] == _number(row["value"])
    for row in database.rows("data_quality", "fleet", window.start, window.end):
        assert quality[row["feature"]][1] == f"{100 * row['missing_share']:.1f}%"
        assert quality[row["feature"]][2] == (
            "–" if row["out_of_range_share"] is None else f"{100 * row['out_of_range_share']:.1f}%"
        )
    [dataset] = database.rows("dataset_drift", "fleet", window.start, window.end)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert f"{dataset['drifted_count']} of {dataset['feature_count']} features drifted" in text
    run = database.window_run("fleet", window.start, window.end)
    assert run is not None and f"{run['row_count']:,} rows, {run['labelled_count']:,} labelled" in text
    database.dispose()


def test_default_report_should_match_scikit_learn_on_the_windows_labelled_rows(fleet: Fleet) -> None:
    window = WINDOWS[2]
    logs = pd.concat(
        pd.read_parquet(path)
        for path in sorted(Path(fleet.store.logs_dir("fleet")).rglob("*.parquet"))
    )  # fmt: skip
    logs = logs[(logs["timestamp"] >= window.start) & (logs["timestamp"] < window.end) & logs["label"].notna()]
    project = load_project(fleet.store, "fleet")
    summary, _ = summarize_window(fleet.store, project, window)
    database = MetricsDatabase(fleet.url)
    view = report_view(
        project.config, project.reference, summary, read_stored(database, "fleet", window, trend_windows=10), window
    )
    database.dispose()

    truth, predicted = logs["label"].astype(int).astype(str), logs["prediction"].astype(str)
    expected = confusion_matrix(truth, predicted, labels=list(view.confusion_classes))
    assert [list(row) for row in view.confusion] == expected.tolist()
    [roc] = [curve for curve in view.curves if curve.name == "ROC"]
    x, y = np.array(roc.points).T
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))
    assert area == pytest.approx(roc_auc_score(logs["label"].astype(int), logs["prediction_proba"]), abs=0.01)
    assert [point.window_start for point in view.dataset_trend] == [w.start for w in WINDOWS]  # the trend


def test_default_report_should_be_small_self_contained_and_link_the_neighbouring_windows(fleet: Fleet) -> None:
    first, second = fleet.page(WINDOWS[0]), fleet.page(WINDOWS[1])
    for page in (first, second):
        assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
        assert len(page.encode()) < 100_000
    assert 'rel="prev"' not in first  # no page before the first window
    [previous] = re.findall(r'href="([^"]+)" rel="prev"', second)
    assert (Path(fleet.store.report_path("fleet", WINDOWS[1].start, WINDOWS[1].end)).parent / previous).exists()
    assert "<desc>3 windows" in fleet.page(WINDOWS[2])  # the drifted share over this and the two windows before


def test_default_report_given_25_features_should_stay_under_500_kb(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    numerical, categorical = [f"n{i:02d}" for i in range(20)], [f"c{i}" for i in range(5)]

    def frame(n: int, shift: float) -> pd.DataFrame:
        data: dict[str, Any] = {name: rng.normal(shift, 1, n) for name in numerical}
        data |= {name: rng.choice([f"v{j}" for j in range(30)], n) for name in categorical}
        data["prediction"] = rng.normal(size=n)
        return pd.DataFrame(data)

    frame(5000, 0).to_parquet(tmp_path / "reference.parquet")
    store = str(tmp_path / "store")
    logs = frame(4800, 0.3)
    logs.insert(0, "timestamp", [START + timedelta(seconds=18 * i) for i in range(len(logs))])
    with LogWriter("wide", store, max_rows=10**6) as writer:
        writer.log_frame(logs)
    (tmp_path / "wide.yaml").write_text(
        f"name: wide\ntask: regression\nstart_date: 2026-04-01\nfeatures:\n  numerical: [{', '.join(numerical)}]\n"
        f"  categorical: [{', '.join(categorical)}]\n"
    )
    runner = CliRunner()
    for arguments in (["init"], ["project", "register", str(tmp_path / "wide.yaml"), "--reference", str(tmp_path / "reference.parquet")],
                      ["run", "wide", "--start", START.isoformat(), "--end", (START + timedelta(days=1)).isoformat()]):  # fmt: skip
        result = runner.invoke(main, ["--storage", store, *arguments])
        assert result.exit_code == 0, result.output
    page = Path(ArtifactStore(store).report_path("wide", START, START + timedelta(days=1)))
    assert page.stat().st_size < 500_000
    assert all(name in page.read_text() for name in [*numerical, *categorical])


def test_report_command_given_engine_evidently_should_render_evidently_on_a_sample(fleet: Fleet) -> None:
    output = fleet.root / "evidently.html"
    window = WINDOWS[1]
    printed = fleet.cli("report", "fleet", "--start", window.start.isoformat(), "--end", window.end.isoformat(),
                        "--engine", "evidently", "--sample-size", "500", "-o", str(output))  # fmt: skip
    assert "a sample of 500 of 960 rows" in " ".join(printed.split())
    evidently = output.read_text(encoding="utf-8")
    assert "uniform random sample of 500 of 960 rows" in evidently and "<script" in evidently  # Evidently's page
    default = fleet.root / "default.html"
    fleet.cli(
        "report", "fleet", "--start", window.start.isoformat(), "--end", window.end.isoformat(), "-o", str(default)
    )
    assert "Built from the window's merged profile" in default.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` (CI does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.mark.slow
def test_default_report_given_hostile_categories_in_chromium_should_run_no_script_and_read_at_desktop_and_phone_width(
    tmp_path: Path, browser: Any
) -> None:
    store = str(tmp_path / "store")
    register_project(tmp_path, store, "fleet", days=1)
    hour = Path(ArtifactStore(store).log_partition_dir("fleet", START.date(), 5))
    [logged] = hour.glob("*.parquet")
    frame = pd.read_parquet(logged)
    frame.loc[: len(HOSTILE) * 4 - 1, "c"] = [value for value in HOSTILE for _ in range(4)]
    frame.to_parquet(logged, index=False)
    result = CliRunner().invoke(main, ["--storage", store, "run", "fleet", "--start", START.isoformat(),
                                       "--end", (START + timedelta(days=1)).isoformat(), "--no-notify"])  # fmt: skip
    assert result.exit_code == 0, result.output
    path = Path(ArtifactStore(store).report_path("fleet", START, START + timedelta(days=1)))
    page = path.read_text(encoding="utf-8")
    assert all(value not in page for value in HOSTILE)  # escaped wherever it appears
    assert "&lt;img src=x onerror=alert(1)&gt;" in page

    for width, height, javascript in ((1400, 1000, True), (390, 844, True), (1400, 1000, False)):
        context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=javascript)
        tab = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        requests: list[str] = []
        tab.on("dialog", lambda dialog, seen=dialogs: (seen.append(dialog.message), dialog.dismiss()))
        tab.on("pageerror", lambda error, seen=errors: seen.append(str(error)))
        tab.on("request", lambda request, seen=requests: seen.append(request.url))
        tab.goto(path.as_uri())
        text = tab.inner_text("body")
        screenshot = tmp_path / f"report-{width}-{'js' if javascript else 'nojs'}.png"
        tab.screenshot(path=str(screenshot), full_page=True)
        tab.keyboard.press("Tab")  # the first link takes the focus: the page is usable from the keyboard
        focused = tab.evaluate("document.activeElement.tagName") if javascript else "A"
        context.close()
        assert dialogs == [] and errors == [] and requests == [path.as_uri()]
        assert "Data drift" in text and "Data quality" in text and "Model performance" in text
        assert "jensenshannon" in text and "wasserstein" in text and "accuracy" in text
        assert screenshot.stat().st_size > 20_000 and focused == "A"
