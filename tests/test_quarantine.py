"""Quarantine (`extract.max_bad_file_share`, issue 15): a log file that cannot be read as the project's logs is left
out of its window, named in the run record and the e-mail, as long as the window's share of such files stays at or
below the setting; above it, and with the setting off, the window fails."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_faults import CONFIG, DAY, WINDOW, _cli, _drift, _project

from drifting_etl.load.database import MetricsDatabase
from drifting_etl.store.artifacts import ArtifactStore

QUARANTINE = CONFIG + "extract:\n  max_bad_file_share: 0.5\n"


def _bad_file(store_url: str, hour: int, content: bytes = b"PAR1 this is not parquet PAR1") -> str:
    path = Path(ArtifactStore(store_url).log_partition_dir("faults", DAY.date(), hour)) / f"{uuid.uuid4().hex}.parquet"
    path.write_bytes(content)
    return path.name


def _run_row(url: str) -> dict:
    database = MetricsDatabase(url)
    try:
        return database.window_run("faults", DAY, DAY + timedelta(days=1))  # type: ignore[return-value]
    finally:
        database.dispose()


def test_run_given_bad_files_within_the_share_should_leave_them_out_name_them_and_equal_a_run_without_them(
    tmp_path: Path, mail_sink: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = mail_sink
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(port))
    config = QUARANTINE + "alerts:\n  email: [team@example.com]\n  send: always\n"
    store_url, url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url, config=config)
    _cli(store_url, url, "run", "faults", *WINDOW, "--no-notify")
    clean = _drift(url)

    corrupt = _bad_file(store_url, 9)
    wrongly_typed = Path(ArtifactStore(store_url).log_partition_dir("faults", DAY.date(), 15)) / "typed.parquet"
    pd.DataFrame({"timestamp": [DAY + timedelta(hours=15)], "a": [[1.0]], "b": [0.0], "prediction": [0.0]}).to_parquet(
        wrongly_typed
    )  # a list where a number belongs: read, but not as the project's logs
    ran = _cli(store_url, url, "run", "faults", *WINDOW[:-1])  # with the report and the e-mail
    flat = " ".join(ran.output.split())
    assert "2 of 4 log files cannot be read and were left out" in flat and corrupt in flat and "typed.parquet" in flat

    quarantined = _drift(url)
    assert quarantined["status"] == "success" and quarantined["scores"] == clean["scores"]  # computed from the rest
    row = _run_row(url)
    assert row["quarantined_file_count"] == 2 and row["row_count"] == 800
    named = row["quarantined_files"].splitlines()
    assert [line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in named] == [corrupt, "typed.parquet"]
    assert "unreadable Parquet data" in named[0] and "'a' (features.numerical) has type list<element: double>" in named[1]
    [message] = inbox.messages[-1:]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert corrupt in " ".join(text.split()) and "left out" in text


def test_run_given_more_bad_files_than_the_share_should_fail_naming_every_one(tmp_path: Path) -> None:
    store_url, url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url, config=QUARANTINE)
    names = [_bad_file(store_url, 9), _bad_file(store_url, 15), _bad_file(store_url, 15, b"")]  # 3 of 5 files
    failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    flat = " ".join(failed.output.split())
    assert "3 of the window's 5 log files cannot be read, more than extract.max_bad_file_share (0.5) allows" in flat
    assert all(name in flat for name in names)
    recorded = _drift(url)
    assert recorded["status"] == "failed" and all(name in recorded["error"] for name in names)


def test_run_given_no_quarantine_should_fail_on_one_bad_file_as_before(tmp_path: Path) -> None:
    store_url, url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    name = _bad_file(store_url, 9)
    failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    assert "unreadable Parquet data" in failed.output and name in " ".join(failed.output.split())
    assert _run_row(url)["status"] == "failed"
