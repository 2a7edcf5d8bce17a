"""The scheduler-facing steps: partition planning, and the retraining decision that concurrent windows share."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drifting_etl.load.database import MetricsDatabase

WINDOWS = [(datetime(2026, 4, d, tzinfo=UTC), datetime(2026, 4, d + 1, tzinfo=UTC)) for d in range(1, 9)]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> MetricsDatabase:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else f"sqlite:///{tmp_path / 'm.db'}"
    db = MetricsDatabase(url)
    db.migrate()
    return db


def _claim(database: MetricsDatabase, window: tuple[datetime, datetime], now: datetime, cooldown: timedelta) -> bool:
    return database.claim_retrain_trigger(
        "fleet",
        *window,
        cooldown=cooldown,
        now=now,
        reason="dataset_drift",
        metrics={"drift_share": 0.6},
        dag_id="retrain__fleet",
        dag_run_id=f"drift__fleet__{window[0]:%Y%m%dT%H%M%S}",
    )


def test_claim_retrain_trigger_given_concurrent_drifted_windows_should_let_exactly_one_trigger(
    database: MetricsDatabase,
) -> None:
    now = datetime(2026, 4, 10, tzinfo=UTC)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def claim(window: tuple[datetime, datetime]) -> None:
        barrier.wait()
        results.append(_claim(database, window, now, timedelta(hours=24)))

    threads = [threading.Thread(target=claim, args=(window,)) for window in WINDOWS[:6]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert len(database.retrain_triggers("fleet")) == 1
    database.dispose()


def test_claim_retrain_trigger_given_rerun_and_cooldowns_should_follow_data_and_wall_clock_time(
    database: MetricsDatabase,
) -> None:
    day = timedelta(days=1)
    start = datetime(2026, 4, 2, tzinfo=UTC)
    assert _claim(database, WINDOWS[1], start, 2 * day)
    assert _claim(database, WINDOWS[1], start + 10 * day, 2 * day)  # a re-run of the window keeps its trigger
    assert not _claim(database, WINDOWS[2], start + 10 * day, 2 * day)  # one day later in data time: cooling down
    assert not _claim(database, WINDOWS[5], start + day, 2 * day)  # later data, but triggered a day ago (backfill)
    assert _claim(database, WINDOWS[5], start + 3 * day, 2 * day)  # both cooldowns over
    triggers = database.retrain_triggers("fleet")
    assert [(t["window_start"].day, t["dag_run_id"]) for t in triggers] == [
        (2, "drift__fleet__20260402T000000"),
        (6, "drift__fleet__20260406T000000"),
    ]
    database.dispose()
