"""Alert channels (issue 16): Slack and signed webhooks, end to end against real HTTP servers on loopback
(`http.server` in a thread) — a project monitored into SQLite, its alerts POSTed, received, parsed and verified
back; receivers that time out, fail then recover, always fail or refuse; routing, once per window and event,
secrets kept out of every output; the CLI and the Airflow notify path (dag.test, PostgreSQL metrics)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.config import AlertChannel, Alerts, ProjectConfig, parse_config
from drifting_etl.core.errors import ConfigError, DataError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import alert_delivery
from drifting_etl.notify.alert_payloads import PAYLOAD_SCHEMA
from drifting_etl.notify.channel_alerts import alert_channels
from drifting_etl.notify.signing import verify_signature
from drifting_etl.pipeline.run import run_window
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_config_of

PROJECT = "alerting"
XSS = "<!channel> <script>x</script>"  # a category name that must neither mention @channel nor open a tag
TOKEN = "T0KEN-in-the-url-path-7f3a91"  # every receiver URL holds it: a secret, like a Slack webhook's path
SECRET = "whsec-signing-secret-91c2d4"
DAY1 = Window(datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC))  # like the reference
DAY2 = Window(datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))  # drift and a breach
DAY3 = Window(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))  # a corrupt log file: failed
CONFIG = f"""\
name: {PROJECT}
task: classification
start_date: 2026-01-01
features:
  numerical: [income, age]
  categorical: [region, "{XSS}"]
performance:
  metrics: [accuracy]
  thresholds:
    accuracy: {{min: 0.85}}
alerts:
  channels:
    - name: team-slack
      type: slack
      url_env: TEST_SLACK_URL
      on: [drift, breach, failed]
    - name: pager
      type: webhook
      url_env: TEST_PAGER_URL
      secret_env: TEST_PAGER_SECRET
      on: [failed, breach]
"""
FAST = {"timeout": 0.5, "attempts": 3}


# ---------------------------------------------------------------------------------------------------- receivers
@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers the n-th POST with `answers[n]` (status, seconds to wait first;
    the last answer repeats) and keeps every request it read."""

    answers: list[tuple[int, float]] = field(default_factory=lambda: [(200, 0.0)])
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{TOKEN}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                index = len(receiver.received)
                receiver.received.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                status, delay = receiver.answers[min(index, len(receiver.answers) - 1)]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"invalid_payload")
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a handler still sleeping past the client's timeout is not waited for
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receivers() -> Iterator[Any]:
    """`receivers(answers...)` starts a Receiver; all are stopped after the test."""
    started: list[Receiver] = []

    def start(*answers: tuple[int, float]) -> Receiver:
        started.append(Receiver(list(answers) or [(200, 0.0)]).start())
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


# ---------------------------------------------------------------------------------------------------- the project
def _rows(rng: np.random.Generator, n: int, *, drift: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "income": rng.normal(50_000 + (15_000 if drift else 0), 8_000, n).round(0),
            "age": rng.normal(40, 8, n).round(1),
            "region": rng.choice(["north", "south"], n),
            XSS: rng.choice(["a", "b", "c"], n, p=[0.1, 0.2, 0.7] if drift else [0.6, 0.3, 0.1]),
        }
    )
    proba = 1 / (1 + np.exp(-(frame["income"] - 50_000) / 3_000))
    frame["prediction_proba"] = proba.round(4)
    frame["prediction"] = (proba >= 0.5).astype(int)
    flip = rng.random(n) < (0.4 if drift else 0.03)
    frame["label"] = np.where(flip, 1 - frame["prediction"], frame["prediction"])
    return frame


@dataclass(frozen=True)
class Template:
    """A registered project (channels configured) with logs for DAY1, DAY2 and a corrupt file in DAY3, and a migrated,
    empty SQLite metrics database: copied for each test that runs the CLI."""

    directory: Path

    def copy(self, to: Path) -> Path:
        shutil.copytree(self.directory, to)
        return to


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    directory = tmp_path_factory.mktemp("alerting") / "project"
    directory.mkdir()
    rng = np.random.default_rng(16)
    _rows(rng, 600, drift=False).to_parquet(directory / "reference.parquet")
    (directory / "project.yaml").write_text(CONFIG)
    args = ["--storage", str(directory / "store"), "--database-url", f"sqlite:///{directory / 'metrics.db'}"]
    runner = CliRunner()
    assert runner.invoke(main, [*args, "init"], catch_exceptions=False).exit_code == 0
    registered = runner.invoke(
        main,
        [
            *args,
            "project",
            "register",
            str(directory / "project.yaml"),
            "--reference",
            str(directory / "reference.parquet"),
        ],
        catch_exceptions=False,
    )
    assert registered.exit_code == 0, registered.output
    with LogWriter(PROJECT, str(directory / "store"), model_version="v1", max_rows=10**6) as writer:
        for window, drift in ((DAY1, False), (DAY2, True)):
            frame = _rows(rng, 300, drift=drift)
            seconds = np.sort(rng.uniform(0, 86_399, len(frame)))
            frame.insert(0, "timestamp", [window.start + timedelta(seconds=float(s)) for s in seconds])
            writer.log_frame(frame)
    hour = directory / "store" / "logs" / f"project={PROJECT}" / "date=2026-01-05" / "hour=10"
    hour.mkdir(parents=True)
    (hour / "corrupt.parquet").write_bytes(b"not parquet at all")
    return Template(directory)


@dataclass
class Monitored:
    """The template's windows run once: DAY1 success without events, DAY2 drift and breach, DAY3 failed."""

    store: ArtifactStore
    database: MetricsDatabase
    config: ProjectConfig

    def with_channels(self, *channels: AlertChannel) -> ProjectConfig:
        return self.config.model_copy(update={"alerts": Alerts(channels=channels)})

    def deliveries(self, window: Window) -> list[dict[str, Any]]:
        return sorted(self.database.alert_deliveries(PROJECT, window.start, window.end), key=lambda row: row["id"])


@pytest.fixture(scope="module")
def monitored(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    directory = template.copy(tmp_path_factory.mktemp("monitored") / "project")
    store = ArtifactStore(str(directory / "store"))
    database = MetricsDatabase(f"sqlite:///{directory / 'metrics.db'}")
    for window in (DAY1, DAY2):
        assert run_window(store, database, PROJECT, window).status == "success"
    with pytest.raises(DataError):
        run_window(store, database, PROJECT, DAY3)
    store.write_text(store.report_path(PROJECT, DAY2.start, DAY2.end), "<html>the report</html>")
    yield Monitored(store, database, load_config_of(store, PROJECT))
    database.dispose()


@pytest.fixture(autouse=True)
def _forget_deliveries(request: pytest.FixtureRequest) -> None:
    """Each test starts with no alert recorded, so once-per-window does not carry over from the previous test."""
    if "monitored" in request.fixturenames:
        with request.getfixturevalue("monitored").database.engine.begin() as connection:
            connection.execute(sa.delete(alert_delivery))


def slack(url_env: str = "SLACK_URL", *on: str) -> AlertChannel:
    return AlertChannel(name="team-slack", type="slack", url_env=url_env, on=on or ("drift", "breach", "failed"))  # type: ignore[arg-type]


def webhook(name: str = "pager", *on: str) -> AlertChannel:
    return AlertChannel(name=name, type="webhook", url_env="PAGER_URL", secret_env="PAGER_SECRET", on=on or ("drift",))  # type: ignore[arg-type]


def signed_correctly(request: Received, secret: str = SECRET) -> bool:
    """The receiver's check, written independently of drifting_etl: HMAC-SHA256 over b"<timestamp>." + raw body."""
    timestamp = request.headers["X-Drifting-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", request.headers["X-Drifting-Signature"])


# ---------------------------------------------------------------------------------------------------- payloads
def test_slack_channel_given_a_drifted_window_should_post_text_and_blocks_saying_which_policy_fired(
    monitored: Monitored, receivers: Any
) -> None:
    receiver = receivers()
    deliveries = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(slack("SLACK_URL", "drift")),
        environ={"SLACK_URL": receiver.url},
        **FAST,
    )

    assert [(d.channel, d.event, d.status, d.attempts, d.http_status) for d in deliveries] == [
        ("team-slack", "drift", "sent", 1, 200)
    ]
    [request] = receiver.received
    assert request.path == f"/hook/{TOKEN}" and request.headers["Content-Type"].startswith("application/json")
    message = request.json
    assert set(message) == {"text", "blocks"}
    assert message["text"].startswith(f"[drifting-etl] {PROJECT}: drift — 2026-01-04")
    header, section, context = message["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == f"{PROJECT}: drift — 2026-01-04"
    text = section["text"]["text"]
    assert section["text"]["type"] == "mrkdwn"
    assert "*Why:* drift: " in text and "alert policy: none" in text  # which policy fired, in words
    assert "`income`" in text  # the drifted features, listed
    # user data is escaped: no @channel mention, no markup from a category name
    assert "<!channel>" not in json.dumps(message) and "&lt;!channel&gt; &lt;script&gt;" in text
    # a file:// report is shown as text (Slack links only http(s))
    assert context["type"] == "context" and context["elements"][0]["text"].startswith("Full report: `file://")
    [row] = monitored.deliveries(DAY2)
    assert (row["channel"], row["event"], row["status"], row["attempts"], row["http_status"]) == (
        "team-slack",
        "drift",
        "sent",
        1,
        200,
    )


def test_webhook_channel_given_drift_should_post_the_versioned_payload_signed_over_its_exact_body(
    monitored: Monitored, receivers: Any
) -> None:
    receiver = receivers()
    before = int(time.time())
    alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(webhook("pager", "drift", "breach")),
        environ={"PAGER_URL": receiver.url, "PAGER_SECRET": SECRET},
        **FAST,
    )

    drift, breach = receiver.received
    for request in (drift, breach):
        assert signed_correctly(request)  # HMAC-SHA256 verified here with hmac/hashlib alone
        assert before <= int(request.headers["X-Drifting-Timestamp"]) <= int(time.time())
        assert verify_signature(SECRET, request.body, request.headers, now=time.time())  # the documented helper
        assert not signed_correctly(request, secret="another-secret")
        tampered = Received(request.path, request.headers, request.body.replace(b"alerting", b"alertinG"), 0)
        assert not signed_correctly(tampered)
    assert not verify_signature(SECRET, drift.body, drift.headers, now=time.time() + 3600)  # a replay an hour on
    assert (drift.headers["X-Drifting-Event"], breach.headers["X-Drifting-Event"]) == ("drift", "breach")

    payload = drift.json
    stored = {row["feature"]: row for row in monitored.database.rows("feature_drift", PROJECT, DAY2.start, DAY2.end)}
    [dataset] = monitored.database.rows("dataset_drift", PROJECT, DAY2.start, DAY2.end)
    assert payload["schema"] == PAYLOAD_SCHEMA == "drifting-etl.alert/v1"
    assert payload["alert_id"] == f"{PROJECT}:20260104T000000Z--20260105T000000Z:drift"
    assert (payload["event"], payload["project"], payload["run_status"]) == ("drift", PROJECT, "success")
    assert payload["window"] == {"start": "2026-01-04T00:00:00+00:00", "end": "2026-01-05T00:00:00+00:00"}
    assert payload["policy"].startswith("drift: dataset drift, ") and "alert policy: none" in payload["policy"]
    assert payload["dataset_drift"]["drifted"] is True is bool(dataset["drifted"])
    assert payload["dataset_drift"]["drift_share"] == dataset["drift_share"]
    assert {line["feature"] for line in payload["drifted_features"]} == {
        name for name, row in stored.items() if row["drifted"] and row["feature_kind"] == "feature"
    }
    assert {"income", XSS} <= {line["feature"] for line in payload["drifted_features"]}  # JSON, not escaped
    assert payload["verdict"].startswith("success; dataset drift; drifted: ")
    assert payload["error"] is None and payload["rows"] == 300
    report = monitored.store.report_path(PROJECT, DAY2.start, DAY2.end)
    assert payload["report_url"] == Path(report).absolute().as_uri()  # a local store: a file:// link
    breached = breach.json
    assert breached["policy"].startswith("breach: performance threshold breached: accuracy ")
    [metric] = breached["breached_metrics"]
    assert (metric["metric"], metric["threshold"], metric["direction"]) == ("accuracy", 0.85, "min")
    assert metric["value"] < 0.85


# ---------------------------------------------------------------------------------------------------- retries
def test_webhook_given_a_receiver_slower_than_the_timeout_should_retry_then_record_failed(
    monitored: Monitored, receivers: Any
) -> None:
    receiver = receivers((200, 2.0))  # answers after 2 s; the client waits 0.5 s
    [delivery] = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(webhook("pager", "drift")),
        environ={"PAGER_URL": receiver.url, "PAGER_SECRET": SECRET},
        **FAST,
    )

    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 3, None)
    assert delivery.error is not None and "did not answer within 0.5 s (after 3 attempts)" in delivery.error
    assert len(receiver.received) == 3
    [row] = monitored.deliveries(DAY2)
    assert (row["status"], row["attempts"], row["http_status"], row["error"]) == ("failed", 3, None, delivery.error)
    [run] = [r for r in monitored.database.runs(PROJECT) if r["window_start"] == DAY2.start]
    assert run["status"] == "success"  # the metrics are untouched


def test_webhook_given_500_then_200_should_retry_after_a_backoff_and_record_sent_in_two_attempts(
    monitored: Monitored, receivers: Any
) -> None:
    receiver = receivers((500, 0.0), (200, 0.0))
    [delivery] = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(webhook("pager", "drift")),
        environ={"PAGER_URL": receiver.url, "PAGER_SECRET": SECRET},
        **FAST,
    )

    assert (delivery.status, delivery.attempts, delivery.http_status, delivery.error) == ("sent", 2, 200, None)
    first, second = receiver.received
    assert second.at - first.at >= 0.9  # the 1 s backoff
    assert first.body == second.body and signed_correctly(first) and signed_correctly(second)  # each attempt signed
    [row] = monitored.deliveries(DAY2)
    assert (row["status"], row["attempts"], row["http_status"]) == ("sent", 2, 200)


@pytest.mark.parametrize(("status", "retried"), [(429, True), (400, False), (404, False)])
def test_webhook_given_a_4xx_answer_should_retry_only_429(
    monitored: Monitored, receivers: Any, status: int, retried: bool
) -> None:
    receiver = receivers((status, 0.0), (200, 0.0))
    [delivery] = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(webhook("pager", "drift")),
        environ={"PAGER_URL": receiver.url, "PAGER_SECRET": SECRET},
        **FAST,
    )

    if retried:
        assert (delivery.status, delivery.attempts) == ("sent", 2)
    else:
        assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, status)
        assert delivery.error is not None
        assert f"refused the alert with HTTP {status}: invalid_payload (after 1 attempt)" in delivery.error
        assert "a retry cannot change that" in delivery.error
    assert len(receiver.received) == delivery.attempts


# ---------------------------------------------------------------------------------------------------- routing
def test_routing_given_channels_listening_for_different_events_should_send_each_event_only_where_listed(
    monitored: Monitored, receivers: Any
) -> None:
    drift_only, breach_only, failed_only = receivers(), receivers(), receivers()
    channels = (
        AlertChannel(name="drift-room", type="slack", url_env="DRIFT_URL", on=("drift",)),
        AlertChannel(name="quality", type="slack", url_env="BREACH_URL", on=("breach",)),
        AlertChannel(name="pager", type="webhook", url_env="FAILED_URL", secret_env="SECRET", on=("failed",)),
    )
    environ = {
        "DRIFT_URL": drift_only.url,
        "BREACH_URL": breach_only.url,
        "FAILED_URL": failed_only.url,
        "SECRET": SECRET,
    }
    config = monitored.with_channels(*channels)

    def alert(window: Window) -> list[tuple[str, str, str]]:
        done = alert_channels(
            monitored.store, monitored.database, PROJECT, window, config=config, environ=environ, **FAST
        )
        return [(d.channel, d.event, d.status) for d in done]

    assert alert(DAY1) == []  # neither drift nor breach: nothing fires
    assert alert(DAY2) == [("drift-room", "drift", "sent"), ("quality", "breach", "sent")]
    assert alert(DAY3) == [("pager", "failed", "sent")]
    assert [r.json["text"].split(":")[1].strip() for r in drift_only.received] == ["drift — 2026-01-04"]
    assert [r.json["blocks"][0]["text"]["text"] for r in breach_only.received] == [
        f"{PROJECT}: performance threshold breached — 2026-01-04"
    ]
    [failure] = failed_only.received
    payload = failure.json
    assert (payload["event"], payload["run_status"], payload["dataset_drift"]) == ("failed", "failed", None)
    assert payload["policy"] == "failed: the window's run failed (monitoring_run.status = failed)"
    assert "unreadable Parquet data" in payload["error"] and "corrupt.parquet" in payload["error"]
    assert payload["drifted_features"] == [] and payload["breached_metrics"] == []  # an earlier attempt's rows


def test_alerts_given_a_window_alerted_before_should_skip_it_unless_forced(
    monitored: Monitored, receivers: Any
) -> None:
    receiver = receivers()
    config = monitored.with_channels(webhook("pager", "drift"))
    environ = {"PAGER_URL": receiver.url, "PAGER_SECRET": SECRET}

    def alert(force: bool) -> list[str]:
        done = alert_channels(
            monitored.store, monitored.database, PROJECT, DAY2, config=config, environ=environ, force=force, **FAST
        )
        return [d.status for d in done]

    assert alert(force=False) == ["sent"]
    assert alert(force=False) == ["skipped"]  # a re-run or a re-publish of the window
    assert alert(force=True) == ["sent"]
    assert len(receiver.received) == 2
    rows = monitored.deliveries(DAY2)
    assert [(row["status"], row["forced"]) for row in rows] == [("sent", False), ("skipped", False), ("sent", True)]
    assert "was sent to 'pager' at " in rows[1]["reason"] and "force_notify" in rows[1]["reason"]
    assert receiver.received[0].json["alert_id"] == receiver.received[1].json["alert_id"]  # the receiver can dedupe


def test_alerts_given_a_channel_whose_variable_is_unset_should_record_failed_naming_what_to_set(
    monitored: Monitored,
) -> None:
    [delivery] = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(webhook("pager", "drift")),
        environ={"PAGER_SECRET": SECRET},
        **FAST,
    )

    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert delivery.error is not None
    assert "the environment variable PAGER_URL (alerts.channels[pager].url_env) is not set" in delivery.error
    assert "set PAGER_URL in the environment" in delivery.error


def test_alerts_given_a_connection_only_channel_outside_airflow_should_say_to_set_url_env(
    monitored: Monitored,
) -> None:
    channel = AlertChannel(name="ops", type="slack", connection="ops_slack", on=("drift",))
    [delivery] = alert_channels(
        monitored.store, monitored.database, PROJECT, DAY2, config=monitored.with_channels(channel), environ={}, **FAST
    )

    assert delivery.status == "failed" and delivery.error is not None
    assert "reads its URL from the Airflow connection 'ops_slack', which only exists under Airflow" in delivery.error
    assert "also set alerts.channels[ops].url_env" in delivery.error


@pytest.mark.parametrize(
    "url",
    [f"http://[::1/{TOKEN}", f"ftp://files.example/{TOKEN}", f"https://hooks.example/{TOKEN} x", f"file:///{TOKEN}"],
)
def test_alerts_given_an_unusable_url_should_record_failed_without_showing_it(monitored: Monitored, url: str) -> None:
    [delivery] = alert_channels(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_channels(slack("SLACK_URL", "drift")),
        environ={"SLACK_URL": url},
        **FAST,
    )

    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert (
        delivery.error is not None and "in the environment variable SLACK_URL is not an http(s) URL" in delivery.error
    )
    assert TOKEN not in delivery.error


# ---------------------------------------------------------------------------------------------------- configuration
BASE = """\
name: churn
task: regression
start_date: 2026-02-01
features:
  numerical: [tenure]
alerts:
  channels:
"""


@pytest.mark.parametrize(
    ("channels", "field", "says"),
    [
        ("- {name: a, type: teams, url_env: X, on: [drift]}", "alerts.channels.0.type", "'teams' is not one of slack, webhook"),
        ("- {name: a, type: slack, url_env: X, on: [drift, drifted]}", "alerts.channels.0.on.1", "is not one of drift, breach, quality, failed"),
        ("- {name: a, type: slack, url_env: X, on: []}", "alerts.channels.0.on", "list at least one event"),
        ("- {name: a, type: slack, url_env: X, on: [drift, drift]}", "alerts.channels.0.on", "drift listed more than once"),
        ("- {name: a, type: slack, url_env: X}", "alerts.channels.0.on", "missing required key"),
        (
            "- {name: a, type: slack, url_env: X, on: [drift]}\n    - {name: a, type: slack, url_env: Y, on: [drift]}",
            "alerts.channels.1.name",
            "'a' is already the name of alerts.channels.0",
        ),
        ("- {name: a, type: slack, on: [drift]}", "alerts.channels.0.url_env", "channel 'a' has no URL: set url_env"),
        ("- {name: a, type: webhook, url_env: X, on: [drift]}", "alerts.channels.0.secret_env", "signs its payload"),
        ("- {name: a, type: slack, url_env: X, secret_env: Y, on: [drift]}", "alerts.channels.0.secret_env", "not signed"),
        ("- {name: a, type: slack, url: 'https://hooks.example/T0', on: [drift]}", "alerts.channels.0.url", "did you mean 'url_env'"),
        ("- {name: Team Room, type: slack, url_env: X, on: [drift]}", "alerts.channels.0.name", "must be a slug"),
    ],
)  # fmt: skip
def test_parse_config_given_a_bad_channel_should_name_the_field_and_what_to_do(
    channels: str, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "    " + channels + "\n", source="churn.yaml")

    assert f"  {field}: " in str(caught.value) and says in str(caught.value)


def test_parse_config_given_a_secret_pasted_where_its_variable_belongs_should_not_repeat_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            BASE + f"    - {{name: a, type: slack, url_env: 'https://hooks.example/{TOKEN}', on: [drift]}}\n",
            source="c.yaml",
        )

    assert "alerts.channels.0.url_env: must be the name of an environment variable" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_parse_config_given_connection_channels_should_accept_them_without_url_env() -> None:
    config = parse_config(
        BASE + "    - {name: pager, type: webhook, connection: pager_hook, on: [failed]}\n", source="c.yaml"
    )

    [channel] = config.alerts.channels
    assert (channel.connection, channel.url_env, channel.secret_env, channel.on) == (
        "pager_hook",
        None,
        None,
        ("failed",),
    )


# ---------------------------------------------------------------------------------------------------- the CLI
def _cli(directory: Path, *args: str) -> Any:
    options = ["--storage", str(directory / "store"), "--database-url", f"sqlite:///{directory / 'metrics.db'}"]
    return CliRunner().invoke(main, [*options, *args], catch_exceptions=False)


def _everything_stored(directory: Path) -> str:
    """Every row of every table of the metrics database, as text."""
    engine = sa.create_engine(f"sqlite:///{directory / 'metrics.db'}")
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        text = "\n".join(
            repr(row) for table in tables for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
        )
    engine.dispose()
    return text


def test_run_given_a_webhook_that_always_fails_should_exit_0_load_the_metrics_record_it_and_leak_no_secret(
    template: Template,
    tmp_path: Path,
    receivers: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = template.copy(tmp_path / "project")
    slack_receiver, pager = receivers(), receivers((500, 0.0))
    monkeypatch.setenv("TEST_SLACK_URL", slack_receiver.url)
    monkeypatch.setenv("TEST_PAGER_URL", pager.url)
    monkeypatch.setenv("TEST_PAGER_SECRET", SECRET)
    monkeypatch.setenv("DRIFTING_ALERT_TIMEOUT", "2")

    with caplog.at_level(logging.DEBUG):
        result = _cli(
            directory, "run", PROJECT, "--start", "2026-01-04", "--end", "2026-01-05", "--no-report", "--json"
        )

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "success" and record["rows"] == 300  # the metrics are loaded
    alerts = {(a["channel"], a["event"]): a for a in record["alerts"]}
    assert set(alerts) == {("team-slack", "drift"), ("team-slack", "breach"), ("pager", "breach")}
    assert alerts[("team-slack", "drift")]["status"] == "sent"
    failed = alerts[("pager", "breach")]
    assert (failed["status"], failed["attempts"], failed["http_status"]) == ("failed", 3, 500)
    assert "breach alert to pager for" in result.stderr and "failed" in result.stderr
    assert len(pager.received) == 3 and len(slack_receiver.received) == 2
    database = MetricsDatabase(f"sqlite:///{directory / 'metrics.db'}")
    [run] = database.runs(PROJECT)
    assert run["status"] == "success" and run["publish_status"] == "owed"  # the failed alert is still owed
    rows = database.alert_deliveries(PROJECT, DAY2.start, DAY2.end)
    assert {(row["channel"], row["event"], row["status"], row["attempts"]) for row in rows} == {
        ("team-slack", "drift", "sent", 1),
        ("team-slack", "breach", "sent", 1),
        ("pager", "breach", "failed", 3),
    }

    # the receiver comes back: `publish` sends what is owed, and only that
    pager.answers[:] = [(200, 0.0)]
    published = _cli(directory, "publish", PROJECT, "--no-report")
    assert published.exit_code == 0, published.output
    assert len(pager.received) == 4 and len(slack_receiver.received) == 2  # Slack was not told twice
    assert signed_correctly(pager.received[-1])
    assert database.window_run(PROJECT, DAY2.start, DAY2.end)["publish_status"] == "done"  # type: ignore[index]
    newest = database.alert_deliveries(PROJECT, DAY2.start, DAY2.end)[:3]  # what `publish` recorded
    assert sorted((row["channel"], row["event"], row["status"]) for row in newest) == [
        ("pager", "breach", "sent"),
        ("team-slack", "breach", "skipped"),
        ("team-slack", "drift", "skipped"),
    ]
    database.dispose()

    # no secret anywhere: not in what the CLI printed, not in the logs, not in the database
    printed = result.stdout + result.stderr + published.output
    for secret in (TOKEN, SECRET):
        assert secret not in printed
        assert secret not in caplog.text
        assert secret not in _everything_stored(directory)
    assert "retrying in 1 s" in caplog.text  # the retries were logged, without the URL


def test_run_given_a_window_that_fails_should_alert_the_channels_listening_for_failed_and_exit_1(
    template: Template, tmp_path: Path, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = template.copy(tmp_path / "project")
    slack_receiver, pager = receivers(), receivers()
    monkeypatch.setenv("TEST_SLACK_URL", slack_receiver.url)
    monkeypatch.setenv("TEST_PAGER_URL", pager.url)
    monkeypatch.setenv("TEST_PAGER_SECRET", SECRET)

    result = _cli(directory, "run", PROJECT, "--start", "2026-01-05", "--end", "2026-01-06", "--no-report")

    assert result.exit_code == 1 and "unreadable Parquet data" in result.output
    [slack_message] = [r.json for r in slack_receiver.received]
    assert slack_message["blocks"][0]["text"]["text"] == f"{PROJECT}: run failed — 2026-01-05"
    assert "*Error:* ```unreadable Parquet data" in slack_message["blocks"][1]["text"]["text"]
    [failure] = pager.received
    assert signed_correctly(failure) and failure.json["event"] == "failed"
    # the same failure again is not alerted twice; --notify forces it
    again = _cli(directory, "run", PROJECT, "--start", "2026-01-05", "--end", "2026-01-06", "--no-report")
    assert again.exit_code == 1 and len(pager.received) == 1
    forced = _cli(directory, "run", PROJECT, "--start", "2026-01-05", "--end", "2026-01-06", "--no-report", "--notify")
    assert forced.exit_code == 1 and len(pager.received) == 2 and len(slack_receiver.received) == 2


# ---------------------------------------------------------------------------------------------------- Airflow
AIRFLOW_CONFIG = """\
name: {name}
task: classification
schedule: "@daily"
start_date: 2026-04-01
features:
  numerical: [a, b]
  categorical: [c]
alerts:
  channels:
    - name: team-slack
      type: slack
      url_env: HOOK_SLACK_URL
      on: [drift]
    - name: pager
      type: webhook
      connection: pager_hook
      on: [drift, failed]
retrain:
  on: []
"""


@pytest.mark.slow
def test_monitoring_dag_should_alert_through_the_notifier_and_a_failed_window_through_its_failure_callback(
    airflow: Any, tmp_path: Path, postgres_url: str, receivers: Any
) -> None:
    from airflow_support import START, register_project

    storage = str(tmp_path / "store")
    register_project(tmp_path, storage, "paged", days=3, config=AIRFLOW_CONFIG, database_url=postgres_url)
    bad_hour = Path(storage) / "logs" / "project=paged" / "date=2026-04-03" / "hour=07"
    (bad_hour / "corrupt.parquet").write_bytes(b"not parquet")
    slack_receiver, pager = receivers(), receivers()
    connection = {"conn_type": "http", "host": pager.url, "password": SECRET}
    env = {
        "DRIFTING_STORAGE_URL": storage,
        "DRIFTING_DATABASE_URL": postgres_url,
        "DRIFTING_ALERT_TIMEOUT": "5",
        "HOOK_SLACK_URL": slack_receiver.url,
        "AIRFLOW_CONN_PAGER_HOOK": json.dumps(connection),
    }
    # dag.test's logical date is the end of the window it runs: 04-02 drifts, 04-03 holds a corrupt file
    days = [(START + timedelta(days=2)).isoformat(), (START + timedelta(days=3)).isoformat()]
    result = airflow.run([("drift_monitor__paged", day, None) for day in days], **env)

    assert [run["state"] for run in result["runs"]] == ["success", "failed"], result["output"]
    [drift_message] = [r.json for r in slack_receiver.received]
    assert drift_message["blocks"][0]["text"]["text"] == "paged: drift — 2026-04-02"
    drift, failure = pager.received
    assert signed_correctly(drift) and signed_correctly(failure)  # the connection's password signs
    assert (drift.json["event"], drift.json["window"]["start"]) == ("drift", "2026-04-02T00:00:00+00:00")
    assert (failure.json["event"], failure.json["window"]["start"]) == ("failed", "2026-04-03T00:00:00+00:00")
    assert "corrupt.parquet" in failure.json["error"]
    database = MetricsDatabase(postgres_url)
    window2 = Window(START + timedelta(days=1), START + timedelta(days=2))
    window3 = Window(START + timedelta(days=2), START + timedelta(days=3))
    sent = database.alert_deliveries("paged", window2.start, window2.end)
    assert sorted((row["channel"], row["event"], row["status"]) for row in sent) == [
        ("pager", "drift", "sent"),
        ("team-slack", "drift", "sent"),
    ]
    assert {row["airflow_run_id"] for row in sent} == {result["runs"][0]["run_id"]}
    [failed] = database.alert_deliveries("paged", window3.start, window3.end)
    assert (failed["channel"], failed["event"], failed["status"]) == ("pager", "failed", "sent")
    assert database.window_run("paged", window2.start, window2.end)["publish_status"] == "done"  # type: ignore[index]
    database.dispose()
    assert TOKEN not in result["output"] and SECRET not in result["output"]  # task logs
