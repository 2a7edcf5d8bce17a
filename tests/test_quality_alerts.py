"""Data-quality alerts (issue 16, "quiet by default"): a feature alerts only beyond `alerts.data_quality`'s
thresholds; then `alerts.send: on_drift` e-mails the window, saying which threshold fired, and the channels
listening for `quality` hear of it. Windows like the reference stay silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.config import QualityAlerts
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.metrics.evaluation import QualityResult, quality_alert
from drifting_etl.notify.alert_events import window_events
from drifting_etl.notify.digest import read_digest

DAY = datetime(2026, 5, 4, tzinfo=UTC)
CONFIG = """\
name: feed
task: regression
start_date: 2026-05-01
features:
  numerical: [a, b]
  categorical: [c]
alerts:
  email: [team@example.com]
  send: on_drift
"""


def _result(missing: float = 0.0, outside: float | None = None, unseen: float | None = None) -> QualityResult:
    return QualityResult("a", "numerical", 1000, int(missing * 1000), missing, outside, unseen)


def test_quality_alert_given_shares_at_and_beyond_each_threshold_should_alert_only_beyond() -> None:
    alerts = QualityAlerts(missing_share_increase=0.1, out_of_range_share=0.2, new_category_share=0.2)
    assert quality_alert(_result(missing=0.15), 0.05, alerts) is None  # exactly 10 points above: not beyond
    assert quality_alert(_result(missing=0.1501), 0.05, alerts) is not None
    assert quality_alert(_result(outside=0.2), 0.0, alerts) is None
    assert "25.0% outside the reference's range" in (quality_alert(_result(outside=0.25), 0.0, alerts) or "")
    assert "30.0% unseen categories" in (quality_alert(_result(unseen=0.3), 0.0, alerts) or "")
    both = quality_alert(_result(missing=0.5, outside=0.3), 0.0, alerts) or ""
    assert "missing 50.0%, 50.0 points above the reference" in both and "; " in both


def _frame(rng: np.random.Generator, n: int, *, missing_a: float = 0.0) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], n),
            "prediction": rng.normal(size=n),
        }
    )
    frame.loc[rng.random(n) < missing_a, "a"] = np.nan
    return frame


@pytest.mark.parametrize(("missing_a", "alerts"), [(0.0, False), (0.4, True)])
def test_run_given_a_feature_missing_beyond_the_threshold_should_email_which_threshold_fired(
    tmp_path: Path, mail_sink: tuple, monkeypatch: pytest.MonkeyPatch, missing_a: float, alerts: bool
) -> None:
    inbox, port = mail_sink
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(port))
    rng = np.random.default_rng(21)
    _frame(rng, 3000).to_parquet(tmp_path / "reference.parquet")
    store = str(tmp_path / "store")
    logs = _frame(rng, 1200, missing_a=missing_a)  # like the reference, but for a's missing values
    logs.insert(0, "timestamp", [DAY + timedelta(seconds=60 * i) for i in range(len(logs))])
    with LogWriter("feed", store, max_rows=10**6) as writer:
        writer.log_frame(logs)
    (tmp_path / "feed.yaml").write_text(CONFIG)
    runner = CliRunner()
    window = ["--start", DAY.isoformat(), "--end", (DAY + timedelta(days=1)).isoformat()]
    for arguments in (["init"], ["project", "register", str(tmp_path / "feed.yaml"), "--reference",
                                 str(tmp_path / "reference.parquet")], ["run", "feed", *window]):  # fmt: skip
        result = runner.invoke(main, ["--storage", store, *arguments])
        assert result.exit_code == 0, result.output

    database = MetricsDatabase(f"sqlite:///{tmp_path / 'store' / 'metrics.db'}")
    rows = {row["feature"]: row for row in database.rows("data_quality", "feed", DAY, DAY + timedelta(days=1))}
    digest = read_digest(database, "feed", Window(DAY, DAY + timedelta(days=1)))
    drifted = any(row["drifted"] for row in database.rows("feature_drift", "feed", DAY, DAY + timedelta(days=1)))
    database.dispose()
    assert rows["b"]["alert"] is None and rows["c"]["alert"] is None
    if not alerts:
        assert rows["a"]["alert"] is None and not drifted
        assert inbox.messages == [] and window_events(digest) == ()  # a sound feed is quiet
        return
    assert rows["a"]["missing_share"] == pytest.approx(logs["a"].isna().mean())
    assert "points above the reference (alerts.data_quality.missing_share_increase 0.1)" in rows["a"]["alert"]
    assert "quality" in window_events(digest)
    [message] = inbox.messages
    assert "DATA QUALITY 1 features" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "ALERT: missing" in text and "alerts.data_quality.missing_share_increase" in text
