"""Notifications end to end: a real project monitored into SQLite, e-mails sent to a real SMTP server (aiosmtpd on
loopback), received and parsed back; presigned report links on a moto S3 server; Airflow's SMTP connection in a
subprocess."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from click.testing import CliRunner

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.config import Alerts, ProjectConfig
from drifting_etl.core.errors import ConfigError, NotifyError
from drifting_etl.core.settings import SmtpSettings
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import notification as notification_table
from drifting_etl.notify import compose as notify
from drifting_etl.notify.compose import compose_email
from drifting_etl.notify.digest import read_digest, window_label
from drifting_etl.notify.policy import should_send
from drifting_etl.notify.smtp import send_smtp
from drifting_etl.notify.window import notify_window
from drifting_etl.pipeline.run import run_window
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_config_of

PROJECT = "credit-default"
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
RECIPIENTS = ("risk-ml@example.com", "oncall@example.org")
PASSWORD = "pa55-w0rd-never-shown"
DAY0 = Window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))  # no logs: no_data
DAY1 = Window(datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC))  # like the reference
DAY2 = Window(datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))  # drift, breach, bad quality
DAY3 = Window(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))  # a failed run
REPORT_HTML = "<html><body><h1>Full drift report</h1>" + "x" * 2000 + "</body></html>"
FAILURE = "bad file <img src=x onerror=alert(2)> in logs/"
CONFIG = f"""\
name: {PROJECT}
task: classification
start_date: 2026-01-01
features:
  numerical: [income, age]
  categorical: ["{XSS}", region]
performance:
  metrics: [accuracy, f1, log_loss]
  thresholds:
    accuracy: {{min: 0.85}}
alerts:
  email: [{", ".join(RECIPIENTS)}]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------------- fixtures
@dataclass
class Monitored:
    """A registered project with three monitored days in a local store and a SQLite metrics database."""

    store: ArtifactStore
    database: MetricsDatabase
    config: ProjectConfig
    report_path: str

    def with_alerts(self, *, send: str = "on_drift", email: tuple[str, ...] = RECIPIENTS) -> ProjectConfig:
        return self.config.model_copy(update={"alerts": Alerts(email=email, send=send)})  # type: ignore[arg-type]

    def run(self, window: Window) -> dict[str, Any]:
        [run] = [row for row in self.database.runs(PROJECT) if row["window_start"] == window.start]
        return run


def _rows(rng: np.random.Generator, n: int, *, drift: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "income": rng.normal(50_000 + (15_000 if drift else 0), 8_000, n).round(0),
            "age": rng.normal(40, 8, n).round(1),
            XSS: rng.choice(["a", "b", "c"], n, p=[0.1, 0.2, 0.7] if drift else [0.6, 0.3, 0.1]),
            "region": rng.choice(["north", "south"], n),
        }
    )
    proba = 1 / (1 + np.exp(-(frame["income"] - 50_000) / 3_000))
    frame["prediction_proba"] = proba.round(4)
    frame["prediction"] = (proba >= 0.5).astype(int)
    flip = rng.random(n) < (0.4 if drift else 0.04)
    frame["label"] = np.where(flip, 1 - frame["prediction"], frame["prediction"])
    return frame


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    tmp = tmp_path_factory.mktemp("notify")
    rng = np.random.default_rng(11)
    _rows(rng, 600, drift=False).to_parquet(tmp / "reference.parquet")
    (tmp / "project.yaml").write_text(CONFIG)
    store = ArtifactStore(str(tmp / "store"))
    database_url = f"sqlite:///{tmp / 'metrics.db'}"
    args = ["--storage", store.url, "--database-url", database_url]
    runner = CliRunner()
    assert runner.invoke(main, [*args, "init"], catch_exceptions=False).exit_code == 0
    result = runner.invoke(
        main,
        [*args, "project", "register", str(tmp / "project.yaml"), "--reference", str(tmp / "reference.parquet")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output

    with LogWriter(PROJECT, store, model_version="v1", max_rows=10**6) as writer:
        for window, drift in ((DAY1, False), (DAY2, True)):
            frame = _rows(rng, 400, drift=drift)
            if drift:
                frame.loc[:19, "age"] = np.nan  # missing
                frame.loc[20:39, "age"] = 250.0  # out of the reference's range
                frame.loc[40:59, "region"] = "west"  # a category the reference never had
            seconds = np.sort(rng.uniform(0, 86_399, len(frame)))
            frame.insert(0, "timestamp", [window.start + timedelta(seconds=float(s)) for s in seconds])
            writer.log_frame(frame)
    database = MetricsDatabase(database_url)
    for window in (DAY1, DAY2):
        assert run_window(store, database, PROJECT, window).status == "success"
    assert run_window(store, database, PROJECT, DAY0).status == "no_data"
    now = datetime.now(UTC)
    database.record_failure(PROJECT, DAY3.start, DAY3.end, now, now, FAILURE)
    assert database.claim_retrain_trigger(
        PROJECT,
        DAY2.start,
        DAY2.end,
        cooldown=timedelta(hours=24),
        now=now,
        reason="dataset_drift",
        metrics={"drift_share": 0.5},
        dag_id=f"retrain__{PROJECT}",
        dag_run_id="drift__20260105",
    )
    report_path = store.report_path(PROJECT, DAY2.start, DAY2.end)
    store.write_text(report_path, REPORT_HTML)
    yield Monitored(store, database, load_config_of(store, PROJECT), report_path)
    database.dispose()


class Mailbox:
    """What a handler of the aiosmtpd server received: envelopes, parsed back into messages."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login == b"monitor" and data.password == PASSWORD.encode():
            self.logins.append(data.login)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=default_policy)
        return [parser.parsebytes(envelope.original_content or b"") for envelope in self.envelopes]


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox = field(default_factory=Mailbox)

    def settings(self, **changes: Any) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, timeout=10, **changes)

    def send(self, message: EmailMessage) -> None:
        send_smtp(message, self.settings())


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(_free_port())
    controller = Controller(
        server.mailbox,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=server.mailbox.authenticate,
        auth_require_tls=False,  # loopback test server; login is exercised without a certificate
    )
    controller.start()
    yield server
    controller.stop()


@pytest.fixture(autouse=True)
def _forget_sent_e_mails(request: pytest.FixtureRequest) -> None:
    """Each test starts with no e-mail recorded, so alert-once does not carry over from the previous test."""
    if "monitored" in request.fixturenames:
        with request.getfixturevalue("monitored").database.engine.begin() as connection:
            connection.execute(sa.delete(notification_table))


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.mailbox.envelopes.clear()
    smtp_server.mailbox.logins.clear()
    return smtp_server


class _Tables(HTMLParser):
    """Every <table> of an HTML document as rows of cell texts; and every attribute that points somewhere."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.links: list[tuple[str, str, str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "background", "action", "srcset"):
                self.links.append((tag, name, value or ""))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def table(self, first_header: str, second_header: str) -> list[list[str]]:
        [found] = [t for t in self.tables if t and t[0][:2] == [first_header, second_header]]
        return found[1:]


def parse_html(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def number(cell: str) -> float:
    return float(cell.replace("−", "-").replace("±", ""))


def parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------- tests
def test_notify_window_given_drift_and_breach_should_deliver_a_complete_escaped_email(
    monitored: Monitored, smtp: SmtpServer
) -> None:
    result = notify_window(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.config,
        report_location=None,  # the store's report path, where a report was written
        airflow_run_url="https://airflow.example.com/dags/drift_monitor__credit-default/runs/x?tab=graph&a=1",
        send=smtp.send,
    )
    assert result.status == "sent" and result.error is None and result.recipients == RECIPIENTS
    assert monitored.run(DAY2)["notification_status"] == "sent"
    assert monitored.run(DAY2)["notification_error"] is None

    [envelope] = smtp.mailbox.envelopes
    assert envelope.rcpt_tos == list(RECIPIENTS)
    assert envelope.mail_from == "drifting-etl@localhost"
    [message] = smtp.mailbox.messages()
    assert [address.addr_spec for address in message["To"].addresses] == list(RECIPIENTS)
    assert message["From"].addresses[0].addr_spec == "drifting-etl@localhost"
    assert message["Auto-Submitted"] == "auto-generated"

    database = monitored.database
    features = [
        r for r in database.rows("feature_drift", PROJECT, DAY2.start, DAY2.end) if r["feature_kind"] == "feature"
    ]
    drifted = {r["feature"]: r for r in features if r["drifted"]}
    assert {XSS, "income"} <= set(drifted), "the fixture's injected drift must be detected"
    [dataset] = database.rows("dataset_drift", PROJECT, DAY2.start, DAY2.end)
    assert dataset["drifted"]
    expected_subject = (
        f"[drifting-etl] {PROJECT}: DATA DRIFT {len(drifted)}/{len(features)} features, PERFORMANCE BREACH — 2026-01-04"
    )
    assert message["Subject"] == result.subject == expected_subject

    # structure: mixed( alternative(text/plain, text/html), attachment text/html )
    assert message.get_content_type() == "multipart/mixed"
    alternative = next(part for part in message.walk() if part.get_content_type() == "multipart/alternative")
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_filename() == f"{PROJECT}-{DAY2.slug}.html"
    assert attachment.get_content() == REPORT_HTML

    text, html = parts(message)
    # the feature name is data, escaped in HTML; no markup of ours uses <script>, <style>, <link> or external resources
    assert XSS_ESCAPED in html
    assert "<script" not in html.lower()
    for forbidden in ("<style", "<link", "@import", "<img", "url(", "<iframe", "<object", "javascript:"):
        assert forbidden not in html.lower()
    assert "style=" in html and "<table" in html
    tables = parse_html(html)
    report_url = Path(monitored.report_path).as_uri()
    assert {(tag, name) for tag, name, _ in tables.links} == {("a", "href")}
    assert {value for _, _, value in tables.links} == {
        report_url,
        "https://airflow.example.com/dags/drift_monitor__credit-default/runs/x?tab=graph&a=1",
    }
    assert XSS in text  # the plain-text part is not HTML

    # drifted features: every drifted row with its method, score and threshold; how many were checked
    table = tables.table("Feature", "Type")
    assert {row[0] for row in table} == set(drifted)
    for feature, type_, method, score, threshold in table:
        row = drifted[feature]
        assert (type_, method) == (row["column_type"], row["method"])
        assert number(score) == pytest.approx(row["score"], rel=5e-3, abs=1e-300)  # 3-4 significant digits
        assert number(threshold) == pytest.approx(row["threshold"])
    assert f"Drifted features ({len(drifted)} of {len(features)} checked)" in html
    assert f"{dataset['drifted_count']} of {dataset['feature_count']} features drifted" in text
    for feature, row in drifted.items():
        assert f"{feature} [{row['column_type']}]: {row['method']} score" in text

    # performance against thresholds, and the change from the previous window
    previous = {r["metric"]: r["value"] for r in database.rows("performance_metric", PROJECT, DAY1.start, DAY1.end)}
    current = {r["metric"]: r for r in database.rows("performance_metric", PROJECT, DAY2.start, DAY2.end)}
    assert current["accuracy"]["breached"] and not previous["accuracy"] < 0.85
    performance = {row[0]: row for row in tables.table("Metric", "Value")}
    assert set(performance) == {"accuracy", "f1", "log_loss"}
    for metric, (_, value, threshold, before, change) in performance.items():
        assert (threshold == "—") == (current[metric]["threshold"] is None)
        assert number(value) == pytest.approx(current[metric]["value"], rel=1e-3)
        assert number(before) == pytest.approx(previous[metric], rel=1e-3)
        assert number(change) == pytest.approx(current[metric]["value"] - previous[metric], rel=2e-3, abs=1e-4)
    assert performance["accuracy"][2] == "min 0.85 — breached"
    assert "accuracy:" in text and "BREACHED" in text and "change −" in text

    # data quality: only the features with problems, with their shares
    quality = {row["feature"]: row for row in database.rows("data_quality", PROJECT, DAY2.start, DAY2.end)}
    assert quality["age"]["missing_share"] > 0 and quality["age"]["out_of_range_share"] > 0
    assert quality["region"]["new_category_share"] > 0
    with_problems = {
        f
        for f, r in quality.items()
        if r["missing_share"] > 0 or (r["out_of_range_share"] or 0) > 0 or (r["new_category_share"] or 0) > 0
    }
    shown = {row[0]: row for row in tables.table("Feature", "Missing")}
    assert set(shown) == with_problems and XSS not in shown
    assert shown["age"][1] == f"{quality['age']['missing_share'] * 100:.1f}%"
    assert shown["region"][3] == f"{quality['region']['new_category_share'] * 100:.1f}%"

    # retraining, report link and attachment note, Airflow run
    assert f"Triggered <strong>retrain__{PROJECT}</strong> (run drift__20260105): dataset_drift" in html
    assert f"  - retrain__{PROJECT} (run drift__20260105): dataset_drift" in text
    assert f"Full report: {report_url}" in text and "attached (" in text
    assert "Airflow run: https://airflow.example.com/" in text


def test_compose_email_given_previous_window_absent_should_show_no_change(monitored: Monitored) -> None:
    message = compose_email(
        monitored.store, monitored.database, PROJECT, DAY1, config=monitored.with_alerts(send="always")
    )
    assert message["Subject"] == f"[drifting-etl] {PROJECT}: OK — 2026-01-03"
    text, html = parts(message)
    assert "No drifted features (4 checked)" in text
    assert "no report was written for this window" in text
    assert list(message.iter_attachments()) == []
    for _, _, _, before, change in parse_html(html).table("Metric", "Value"):
        assert before == change == "—"
    assert "Retraining: not triggered for this window." in text


def test_compose_email_given_report_over_the_limit_should_link_without_attaching(
    monitored: Monitored, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = len(REPORT_HTML.encode())
    under = compose_email(monitored.store, monitored.database, PROJECT, DAY2, attach_limit_bytes=size)
    assert len(list(under.iter_attachments())) == 1

    over = compose_email(monitored.store, monitored.database, PROJECT, DAY2, attach_limit_bytes=size - 1)
    assert list(over.iter_attachments()) == []
    text, html = parts(over)
    assert "not attached: 2 KiB is over the 2 KiB limit" in text
    assert f'href="{Path(monitored.report_path).as_uri()}"' in html

    monkeypatch.setenv("DRIFTING_REPORT_ATTACH_MAX_BYTES", "100")
    assert list(compose_email(monitored.store, monitored.database, PROJECT, DAY2).iter_attachments()) == []
    monkeypatch.setenv("DRIFTING_REPORT_ATTACH_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="DRIFTING_REPORT_ATTACH_MAX_BYTES"):
        compose_email(monitored.store, monitored.database, PROJECT, DAY2)


@pytest.mark.parametrize(
    ("window", "send", "expected"),
    [
        (DAY1, "always", "sent"),
        (DAY1, "on_drift", "skipped"),
        (DAY2, "on_drift", "sent"),
        (DAY2, "never", "skipped"),
        (DAY3, "on_drift", "skipped"),  # a failed run is not drift (and its old rows are not reported)
        (DAY0, "on_drift", "skipped"),
        (DAY0, "always", "sent"),
    ],
)
def test_notify_window_given_policy_should_send_only_when_it_says(
    monitored: Monitored, smtp: SmtpServer, window: Window, send: str, expected: str
) -> None:
    result = notify_window(
        monitored.store,
        monitored.database,
        PROJECT,
        window,
        config=monitored.with_alerts(send=send),
        send=smtp.send,
    )
    assert result.status == expected
    assert len(smtp.mailbox.envelopes) == (1 if expected == "sent" else 0)
    assert monitored.run(window)["notification_status"] == expected
    if expected == "skipped":
        assert result.reason and f"alerts.send is {send}" in result.reason and result.subject is None


def test_notify_window_given_a_long_subject_should_encode_it_without_empty_encoded_words(
    monitored: Monitored, smtp: SmtpServer
) -> None:
    result = notify_window(
        monitored.store, monitored.database, PROJECT, DAY2, config=monitored.with_alerts(send="always"), send=smtp.send
    )
    assert result.status == "sent"
    [envelope] = smtp.mailbox.envelopes
    [subject_line] = [line for line in (envelope.original_content or b"").splitlines() if line.startswith(b"Subject:")]
    assert b"=?utf-8?q??=" not in subject_line and b"=?utf-8?b?4oCU?=" in subject_line  # the em dash, encoded
    assert smtp.mailbox.messages()[0]["Subject"] == result.subject and " — 2026-01-04" in result.subject


def test_notify_window_given_no_recipients_should_skip(monitored: Monitored, smtp: SmtpServer) -> None:
    result = notify_window(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY2,
        config=monitored.with_alerts(send="always", email=()),
        send=smtp.send,
    )
    assert result.status == "skipped" and result.recipients == () and "no alerts.email" in (result.reason or "")
    assert smtp.mailbox.envelopes == []
    assert monitored.run(DAY2)["notification_status"] == "skipped"


def test_notify_window_given_failed_run_and_always_should_report_the_escaped_error(
    monitored: Monitored, smtp: SmtpServer
) -> None:
    result = notify_window(
        monitored.store,
        monitored.database,
        PROJECT,
        DAY3,
        config=monitored.with_alerts(send="always"),
        send=smtp.send,
    )
    assert result.status == "sent"
    [message] = smtp.mailbox.messages()
    assert message["Subject"] == f"[drifting-etl] {PROJECT}: RUN FAILED — 2026-01-05"
    text, html = parts(message)
    assert FAILURE in text
    assert "bad file &lt;img src=x onerror=alert(2)&gt; in logs/" in html and "<img" not in html
    assert "Drifted features" not in html  # rows of an earlier attempt are not reported as this run's


def test_notify_window_given_unloaded_window_should_raise_a_clear_error(monitored: Monitored, smtp: SmtpServer) -> None:
    window = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC))
    with pytest.raises(NotifyError, match="no monitoring run is recorded") as caught:
        notify_window(monitored.store, monitored.database, PROJECT, window, config=monitored.config, send=smtp.send)
    assert caught.value.context["project"] == PROJECT and "drifting-etl run" in str(caught.value)
    assert smtp.mailbox.envelopes == []


def test_notify_window_given_unreachable_server_should_record_failure_without_raising_or_leaking_the_password(
    monitored: Monitored, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=_free_port(), user="monitor", password=PASSWORD, timeout=5)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="drifting_etl.notify.window"):
        result = notify_window(
            monitored.store,
            monitored.database,
            PROJECT,
            DAY2,
            config=monitored.config,
            send=lambda message: send_smtp(message, settings),
        )
    assert result.status == "failed" and result.subject is not None
    assert result.error and "ConnectionRefusedError" in result.error and f"port={settings.port}" in result.error
    run = monitored.run(DAY2)
    assert run["notification_status"] == "failed" and run["notification_error"] == result.error
    assert "could not send the notification" in caplog.text
    assert PASSWORD not in result.error and PASSWORD not in caplog.text
    assert run["status"] == "success" and run["drifted"]  # the loaded metrics are untouched


def test_send_smtp_given_credentials_should_log_in_and_reject_a_wrong_password_without_showing_it(
    monitored: Monitored, smtp: SmtpServer
) -> None:
    message = compose_email(monitored.store, monitored.database, PROJECT, DAY2, sender="monitor@example.com")
    send_smtp(message, smtp.settings(user="monitor", password=PASSWORD))
    assert smtp.mailbox.logins == [b"monitor"]
    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "drifting-etl@localhost"  # the envelope sender is the settings'
    assert smtp.mailbox.messages()[0]["From"] == "monitor@example.com"  # the header stays the message's

    wrong = "wrong-" + PASSWORD
    with pytest.raises(NotifyError) as caught:
        send_smtp(message, smtp.settings(user="monitor", password=wrong))
    assert "SMTPAuthenticationError" in str(caught.value) and caught.value.transient
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)
    assert len(smtp.mailbox.envelopes) == 1


def test_smtp_settings_given_environment_should_parse_and_never_show_the_password() -> None:
    environ = {
        "DRIFTING_SMTP_HOST": "smtp.example.com",
        "DRIFTING_SMTP_USER": "monitor",
        "DRIFTING_SMTP_PASSWORD": PASSWORD,
        "DRIFTING_SMTP_STARTTLS": "true",
        "DRIFTING_SMTP_FROM": "alerts@example.com",
        "DRIFTING_SMTP_TIMEOUT": "12.5",
    }
    settings = SmtpSettings.from_env(environ)
    assert (settings.host, settings.resolved_port, settings.starttls, settings.ssl) == (
        "smtp.example.com",
        587,
        True,
        False,
    )
    assert (settings.sender, settings.timeout) == ("alerts@example.com", 12.5)
    assert settings.password is not None and settings.password.get_secret_value() == PASSWORD
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings}", f"{settings!r}"):
        assert PASSWORD not in shown
    assert SmtpSettings.from_env({}).host is None and SmtpSettings.from_env({}).resolved_port == 25
    assert SmtpSettings.from_env({"DRIFTING_SMTP_SSL": "1"}).resolved_port == 465
    assert SmtpSettings.from_env({"DRIFTING_SMTP_PORT": "2525", "DRIFTING_SMTP_HOST": ""}).resolved_port == 2525

    with pytest.raises(ConfigError, match="DRIFTING_SMTP_PORT") as caught:
        SmtpSettings.from_env({**environ, "DRIFTING_SMTP_PORT": "twenty-five"})
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigError, match="not both"):
        SmtpSettings.from_env({"DRIFTING_SMTP_SSL": "yes", "DRIFTING_SMTP_STARTTLS": "yes"})
    with pytest.raises(ConfigError, match="without DRIFTING_SMTP_PASSWORD"):
        SmtpSettings.from_env({"DRIFTING_SMTP_USER": "monitor"})
    with pytest.raises(ConfigError, match="DRIFTING_SMTP_HOST is not set"):
        send_smtp(EmailMessage(), SmtpSettings())


def test_should_send_given_each_policy_should_follow_the_documented_rules() -> None:
    success, failed = {"status": "success", "drifted": False}, {"status": "failed", "drifted": True}
    assert should_send("always", failed, False) and not should_send("never", success, True)
    assert should_send("on_drift", success, True) and not should_send("on_drift", success, False)
    # the digest decides what drift alerts (under drift.persistence, a drifted window may not): not the run row
    assert not should_send("on_drift", {"status": "success", "drifted": True}, False)
    assert not should_send("on_drift", failed, True)
    with pytest.raises(ValueError, match="unknown"):
        should_send("sometimes", success, True)  # type: ignore[arg-type]


def test_read_digest_given_breach_without_drift_should_flag_breach(monitored: Monitored) -> None:
    digest = read_digest(monitored.database, PROJECT, DAY2)
    assert digest.has_breach and digest.has_drift and digest.retrain[0].reason == "dataset_drift"
    assert digest.previous_window_found and digest.features_checked == 4
    clean = read_digest(monitored.database, PROJECT, DAY1)
    assert not (clean.has_drift or clean.has_breach) and clean.headline == "OK" and clean.retrain == ()


def test_compose_email_given_s3_store_should_link_a_presigned_url_that_fetches_the_report(
    monitored: Monitored, s3_store_url: str
) -> None:
    store = ArtifactStore(s3_store_url)
    path = store.report_path(PROJECT, DAY2.start, DAY2.end)
    store.write_text(path, REPORT_HTML)
    message = compose_email(
        store, monitored.database, PROJECT, DAY2, config=monitored.config, report_location=store.display(path)
    )
    text, html = parts(message)
    [(_, _, url)] = [link for link in parse_html(html).links if "X-Amz-Signature=" in link[2]]
    assert url.startswith(os.environ["AWS_ENDPOINT_URL"] + "/") and url.startswith("http://")
    key = path.split("/", 1)[1]
    assert f"/{key.replace('=', '%3D')}?" in url or f"/{key}?" in url
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=604800" in url  # SigV4, 7 days
    assert "the link expires in 7 days" in text
    with urllib.request.urlopen(url, timeout=10) as response:  # the signature is valid: moto serves the report
        assert response.read().decode() == REPORT_HTML
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == REPORT_HTML


def test_compose_email_given_no_data_window_should_say_so(monitored: Monitored) -> None:
    message = compose_email(monitored.store, monitored.database, PROJECT, DAY0)
    assert message["Subject"] == f"[drifting-etl] {PROJECT}: NO DATA — 2026-01-02"
    text, html = parts(message)
    assert "Status: no_data (0 rows)" in text and "Drifted features" not in html


def test_window_label_given_schedules_should_stay_short() -> None:
    hours = datetime(2026, 1, 4, 6, tzinfo=UTC)
    assert window_label(DAY2) == "2026-01-04"
    assert window_label(Window(hours, hours + timedelta(hours=6))) == "2026-01-04 06:00–12:00"
    assert window_label(Window(hours + timedelta(hours=12), DAY2.end)) == "2026-01-04 18:00–00:00"
    assert window_label(Window(DAY2.start, DAY2.start + timedelta(days=7))) == "2026-01-04 00:00 – 2026-01-11 00:00"
    assert window_label(DAY2, long=True) == "[2026-01-04 00:00, 2026-01-05 00:00) UTC"


def test_templates_given_source_checkout_should_load_from_reports_and_fail_clearly_when_missing(
    monitored: Monitored, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repository = Path(__file__).resolve().parent.parent
    for name in (notify.HTML_TEMPLATE, notify.TEXT_TEMPLATE):
        assert Path(notify._environment(True).get_template(name).filename or "") == repository / "reports" / name
    monkeypatch.setattr(notify, "TEMPLATE_DIRS", (tmp_path,))
    notify._environment.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"e-mail template email\.txt\.j2 is missing"):
            compose_email(monitored.store, monitored.database, PROJECT, DAY1)
    finally:
        notify._environment.cache_clear()


AIRFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from email.parser import BytesParser
    from email.policy import default
    from drifting_etl.airflow.smtp import send_with_airflow
    from drifting_etl.core.errors import NotifyError

    message = BytesParser(policy=default).parsebytes(open(sys.argv[1], "rb").read())
    send_with_airflow(message)
    try:
        send_with_airflow(message, conn_id="smtp_broken")
    except NotifyError as exc:
        print(json.dumps({"error": str(exc), "transient": exc.transient}))
    """
)


@pytest.mark.slow
def test_send_with_airflow_given_smtp_default_connection_should_reach_the_server(
    monitored: Monitored, smtp: SmtpServer, tmp_path: Path
) -> None:
    message = compose_email(monitored.store, monitored.database, PROJECT, DAY2, config=monitored.config)
    (tmp_path / "message.eml").write_bytes(message.as_bytes())
    extra = {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com", "retry_limit": 0}
    environment = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port, "extra": extra}
        ),
        "AIRFLOW_CONN_SMTP_BROKEN": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": _free_port(),
                "login": "monitor",
                "password": PASSWORD,
                "extra": {**extra, "timeout": 5},
            }
        ),
    }
    completed = subprocess.run(
        [sys.executable, "-c", AIRFLOW_SCRIPT, str(tmp_path / "message.eml")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "airflow@example.com" and envelope.rcpt_tos == list(RECIPIENTS)
    [received] = smtp.mailbox.messages()
    assert received["Subject"] == message["Subject"] and received["From"] == "airflow@example.com"
    assert XSS_ESCAPED in parts(received)[1] and len(list(received.iter_attachments())) == 1  # our message, unchanged
    failure = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "smtp_broken" in failure["error"] and "ConnectionRefusedError" in failure["error"] and failure["transient"]
    assert PASSWORD not in completed.stdout + completed.stderr
