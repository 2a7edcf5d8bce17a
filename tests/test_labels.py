"""One label rule: a row's ground truth comes from the label partitions dated from its hour to `labels.max_delay`
after the hour, and the stored metrics, the report's sample and the retraining input all apply it alike.

The expected labels are worked out here with pandas from the label files' dates, independently of the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.core.columns import LABEL
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelIndex
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import run_window
from drifting_etl.report.sample import sample_window
from drifting_etl.retrain.training import read_labelled
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_project, register

NAME = "late-truth"
DAY = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = Window(DAY, DAY + timedelta(days=1))
MAX_DELAY = timedelta(days=1)
ROWS_PER_HOUR = 20
CONFIG = f"""\
name: {NAME}
task: classification
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [x]
  categorical: [c]
labels:
  max_delay: 1d
performance:
  metrics: [accuracy]
"""


def _rows(rng: np.random.Generator, n: int, first_x: int) -> pd.DataFrame:
    # x numbers the rows, so a sampled or training row can be traced back to its request
    return pd.DataFrame(
        {
            "x": np.arange(first_x, first_x + n, dtype=np.float64),
            "c": rng.choice(["a", "b"], n),
            "prediction": rng.integers(0, 2, n),
        }
    )


@dataclass(frozen=True)
class LateTruth:
    store: ArtifactStore
    logs: pd.DataFrame
    labels: pd.DataFrame
    """Every label written: request_id, label, labelled_at."""

    def expected(self) -> dict[float, int]:
        """x -> label by the documented rule, computed with pandas: a label counts for a row when its partition's
        date (the UTC date of labelled_at) lies between the date of the row's hour and the date `max_delay` after
        the hour's end; the latest such label wins."""
        joined = self.logs.merge(self.labels, on="request_id")
        hour = joined["timestamp"].dt.floor("h")
        day = joined["labelled_at"].dt.floor("D")
        within = (day >= hour.dt.floor("D")) & (day <= (hour + timedelta(hours=1) + MAX_DELAY).dt.floor("D"))
        latest = joined[within].sort_values("labelled_at").drop_duplicates("request_id", keep="last")
        return dict(zip(latest["x"], latest["label"].astype(int), strict=True))


@pytest.fixture
def late_truth(tmp_path: Path) -> LateTruth:
    """One day's logs in hours 01 and 23; labels arriving one and two days later, and a correction that comes too
    late for the early hour."""
    rng = np.random.default_rng(12)
    reference = _rows(rng, 300, 10_000).assign(label=lambda frame: rng.integers(0, 2, len(frame)))
    reference.to_parquet(tmp_path / "reference.parquet")
    (tmp_path / f"{NAME}.yaml").write_text(CONFIG)
    store = ArtifactStore(str(tmp_path / "store"))
    store.ensure_layout()
    register(store, tmp_path / f"{NAME}.yaml", str(tmp_path / "reference.parquet"))

    frames = []
    for number, hour in enumerate((1, 23)):
        frame = _rows(rng, ROWS_PER_HOUR, number * ROWS_PER_HOUR)
        frame.insert(0, "timestamp", [DAY + timedelta(hours=hour, minutes=2 * i) for i in range(ROWS_PER_HOUR)])
        frame.insert(0, "request_id", [f"h{hour:02d}-{i:02d}" for i in range(ROWS_PER_HOUR)])
        frames.append(frame)
    logs = pd.concat(frames, ignore_index=True)
    with LogWriter(NAME, store, max_rows=10**6) as writer:
        writer.log_frame(logs)

    next_day, day_after = DAY + timedelta(days=1, hours=12), DAY + timedelta(days=2, hours=12)
    batches = [
        ([f"h01-{i:02d}" for i in range(0, 5)], 1, next_day),  # late, within max_delay of hour 01: counts
        ([f"h01-{i:02d}" for i in range(5, 10)], 1, day_after),  # beyond max_delay of hour 01: never counts
        ([f"h01-{i:02d}" for i in range(10, 15)], 0, next_day),  # counts ...
        ([f"h01-{i:02d}" for i in range(10, 15)], 1, day_after),  # ... and its correction comes too late
        ([f"h23-{i:02d}" for i in range(0, 8)], 1, day_after),  # two days on, but within max_delay of hour 23
        ([f"h23-{i:02d}" for i in range(8, 12)], 0, next_day),
    ]
    written = []
    with LabelWriter(NAME, store) as labels:
        for ids, label, moment in batches:
            labels.label_many([(rid, label) for rid in ids], labelled_at=moment)
            labels.flush()
            written.append(pd.DataFrame({"request_id": ids, "label": label, "labelled_at": moment}))
    return LateTruth(store, logs, pd.concat(written, ignore_index=True))


def test_label_index_given_rows_of_one_hour_should_offer_label_partitions_up_to_max_delay_after_it(
    late_truth: LateTruth,
) -> None:
    index = LabelIndex.listed(late_truth.store, load_project(late_truth.store, NAME).config)
    early = index.files_for(Window(DAY + timedelta(hours=1), DAY + timedelta(hours=2)))
    late = index.files_for(Window(DAY + timedelta(hours=23), DAY + timedelta(days=1)))
    assert early is not None and late is not None
    assert {f.path.split("/date=")[1][:10] for f in early} == {"2026-03-03"}
    assert {f.path.split("/date=")[1][:10] for f in late} == {"2026-03-03", "2026-03-04"}


def test_label_rule_given_labels_within_and_beyond_max_delay_should_reach_metrics_report_and_training_alike(
    late_truth: LateTruth, tmp_path: Path
) -> None:
    expected = late_truth.expected()
    # the rule keeps something and leaves something out, or the test could not tell the rules apart
    assert 0 < len(expected) < late_truth.labels["request_id"].nunique()
    assert expected[float(10)] == 0  # the correction beyond max_delay is not the latest label that counts

    database = MetricsDatabase(f"sqlite:///{tmp_path / 'metrics.db'}")
    database.migrate()
    run_window(late_truth.store, database, NAME, WINDOW)
    [run] = database.runs(NAME)
    [accuracy] = database.rows("performance_metric", NAME)
    database.dispose()
    predicted = late_truth.logs.set_index("x")["prediction"]
    xs = sorted(expected)
    assert run["labelled_count"] == accuracy["labelled_count"] == len(expected)
    assert accuracy["value"] == pytest.approx(
        metrics.accuracy_score([expected[x] for x in xs], [predicted[x] for x in xs]), abs=1e-12
    )

    project = load_project(late_truth.store, NAME)
    sample, total = sample_window(late_truth.store, project, WINDOW, size=10_000)
    assert total == len(sample) == len(late_truth.logs)
    sampled = sample[sample["label"].notna()]
    assert dict(zip(sampled["x"], sampled["label"].astype(int), strict=True)) == expected

    training, read = read_labelled(late_truth.store, project.config, WINDOW)
    assert read == len(late_truth.logs)
    trained = dict(zip(training.column("x").to_pylist(), training.column(LABEL).to_pylist(), strict=True))
    assert {x: int(label) for x, label in trained.items()} == expected
