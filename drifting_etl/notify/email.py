"""Notify: the e-mail sent about a monitored window once its metrics are loaded.

This module owns reading a window's results back from the metrics database (so notifying can be its own Airflow
task, in another process), the send policy (`alerts.send`), composing the message from the templates in
`reports/`, the two senders (smtplib with settings from the environment; Airflow's `smtp_default` connection),
and recording the outcome on the window's `monitoring_run` row. It computes no metric and renders no drift report.

Rules it keeps:

- A failure to *send* is logged and recorded (`notification_status = 'failed'`, `notification_error`) and never
  raised: a mail server being down must not fail or roll back the metrics load. Failing to *compose* (no run row
  for the window, a missing template) raises a `NotifyError`/`DriftingError`: that is a bug or a wrong call.
- User data (project and feature names, error texts) is only ever passed *into* templates as values, never
  rendered as a template; the HTML part is rendered with autoescaping, inline styles and table layout only.
- The SMTP password is a `SecretStr`: it is never printed, logged or put into an error message.

Templates: `reports/email.html.j2` and `reports/email.txt.j2` at the repository root are the canonical copies.
They are looked up in `drifting_etl/templates/` first (where a wheel build places them) and then in the
repository's `reports/` (a source checkout or an editable install).
"""

from __future__ import annotations

import functools
import logging
import math
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from drifting_etl.core.errors import ComposeError, ConfigError, DriftingError, NotifyError, SendError
from drifting_etl.core.settings import DEFAULT_SENDER, Settings, SmtpSettings, variable
from drifting_etl.core.window import Window
from drifting_etl.load.database import ALL_ROWS

if TYPE_CHECKING:
    import jinja2

    from drifting_etl.core.config import ProjectConfig, SendPolicy
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.store.artifacts import ArtifactStore

__all__ = [
    "DEFAULT_LINK_EXPIRY",
    "NotificationResult",
    "NotificationStatus",
    "NotifyError",
    "SmtpSettings",
    "WindowDigest",
    "compose_email",
    "notify_window",
    "read_digest",
    "send_smtp",
    "should_send",
    "window_label",
]

logger = logging.getLogger(__name__)

NotificationStatus = Literal["sent", "skipped", "failed"]

DEFAULT_LINK_EXPIRY = timedelta(days=7)  # the longest an S3 SigV4 presigned URL may live
TEMPLATE_DIRS = (
    Path(__file__).resolve().parents[1] / "templates",  # an installed wheel (reports/ force-included here)
    Path(__file__).resolve().parents[2] / "reports",  # a source checkout / editable install
)
HTML_TEMPLATE = "email.html.j2"
TEXT_TEMPLATE = "email.txt.j2"
_ERROR_MAX_CHARS = 2000
_LINK_SCHEMES = ("http", "https", "file")


# ---------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class NotificationResult:
    """What happened to a window's notification; the same status is recorded on its monitoring_run row."""

    status: NotificationStatus
    recipients: tuple[str, ...]
    subject: str | None = None
    error: str | None = None
    """Why sending failed (no secrets in it); None unless status is 'failed'."""
    reason: str | None = None
    """Why nothing was sent, when status is 'skipped'."""


# ---------------------------------------------------------------------------------------------------- digest
@dataclass(frozen=True)
class DatasetLine:
    drifted: bool
    drifted_count: int
    feature_count: int
    drift_share: float
    threshold: float


@dataclass(frozen=True)
class DriftLine:
    feature: str
    column_type: str
    method: str
    score: float
    threshold: float
    drifted: bool
    approximate: bool


@dataclass(frozen=True)
class PerformanceLine:
    metric: str
    value: float | None
    threshold: float | None
    direction: str | None
    breached: bool
    estimated: bool
    previous: float | None
    change: float | None


@dataclass(frozen=True)
class QualityLine:
    feature: str
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None

    @property
    def problems(self) -> list[str]:
        """'missing 5.2%', 'out of range 1.0%', 'new categories 3.0%' for the shares above zero."""
        shares = (
            ("missing", self.missing_share),
            ("out of range", self.out_of_range_share),
            ("new categories", self.new_category_share),
        )
        return [f"{name} {_percent(share)}" for name, share in shares if share]


@dataclass(frozen=True)
class RetrainLine:
    dag_id: str
    dag_run_id: str | None
    reason: str


@dataclass(frozen=True)
class WindowDigest:
    """Everything the e-mail says about one window, read from the metrics database."""

    project: str
    window: Window
    status: str
    row_count: int | None
    labelled_count: int | None
    error: str | None
    report_location: str | None
    """As recorded on the run (`annotate_run(report_location=...)`), if any."""
    dataset: DatasetLine | None
    drifted_features: tuple[DriftLine, ...]
    features_checked: int
    prediction: DriftLine | None
    performance: tuple[PerformanceLine, ...]
    previous_window_found: bool
    quality: tuple[QualityLine, ...]
    retrain: tuple[RetrainLine, ...]
    run: Mapping[str, Any] = field(repr=False)

    @property
    def has_drift(self) -> bool:
        return bool(self.dataset and self.dataset.drifted) or bool(self.drifted_features)

    @property
    def has_breach(self) -> bool:
        return any(line.breached for line in self.performance)

    @property
    def headline(self) -> str:
        if self.status == "failed":
            return "RUN FAILED"
        if self.status == "no_data":
            return "NO DATA"
        parts = []
        if self.has_drift:
            kind = "DATA DRIFT" if self.dataset is not None and self.dataset.drifted else "FEATURE DRIFT"
            parts.append(f"{kind} {len(self.drifted_features)}/{self.features_checked} features")
        if self.has_breach:
            parts.append("PERFORMANCE BREACH")
        return ", ".join(parts) or "OK"

    @property
    def headline_color(self) -> str:
        if self.status == "success" and not (self.has_drift or self.has_breach):
            return "#15803d"
        return "#6b7280" if self.status == "no_data" else "#b91c1c"

    @property
    def window_text(self) -> str:
        return window_label(self.window, long=True)

    @property
    def subject(self) -> str:
        return f"[drifting-etl] {self.project}: {self.headline} — {window_label(self.window)}"


def window_label(window: Window, *, long: bool = False) -> str:
    """'2026-01-04' for a calendar day, else '2026-01-04 06:00–12:00' (UTC); `long`: '[start, end) UTC'."""
    start, end = window.start, window.end
    midnight = start.hour == start.minute == start.second == start.microsecond == 0
    if midnight and end - start == timedelta(days=1):
        short = f"{start:%Y-%m-%d}"
    elif start.date() == end.date() or (end - start <= timedelta(days=1) and end.time() == datetime.min.time()):
        short = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    else:
        short = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    if not long:
        return short
    return f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC"


def _this_window(rows: list[dict[str, Any]], window: Window, *, whole: bool = True) -> list[dict[str, Any]]:
    """Rows of exactly this window (`rows()` returns a range) over all rows ('*' slice)."""
    return [
        row
        for row in rows
        if row["window_start"] == window.start
        and row["window_end"] == window.end
        and (not whole or (row.get("slice_key", ALL_ROWS) == ALL_ROWS and row.get("slice_value", ALL_ROWS) == ALL_ROWS))
    ]


def _drift_line(row: Mapping[str, Any]) -> DriftLine:
    return DriftLine(
        feature=row["feature"],
        column_type=row["column_type"],
        method=row["method"],
        score=row["score"],
        threshold=row["threshold"],
        drifted=bool(row["drifted"]),
        approximate=bool(row["approximate"]),
    )


def read_digest(database: MetricsDatabase, project_name: str, window: Window) -> WindowDigest:
    """Read what the e-mail reports about `window` from the metrics database.

    Raises NotifyError when the window has no run row (it was never loaded), so there is nothing to report.
    """
    start, end = window.start, window.end
    runs = _this_window(database.rows("monitoring_run", project_name, start, end), window, whole=False)
    if not runs:
        raise ComposeError(
            "no monitoring run is recorded for this window, so there is nothing to notify about",
            project=project_name,
            window=str(window),
            hint="run the window first (`drifting-etl run`, or the DAG's load_metrics task), then notify",
        )
    run = runs[0]
    success = run["status"] == "success"  # a failed run keeps an earlier attempt's rows: do not report them

    drift = _this_window(database.rows("feature_drift", project_name, start, end), window) if success else []
    features = [row for row in drift if row["feature_kind"] == "feature" and row["compared_with"] == "reference"]
    predictions = [row for row in drift if row["feature_kind"] == "prediction" and row["compared_with"] == "reference"]
    datasets = _this_window(database.rows("dataset_drift", project_name, start, end), window) if success else []
    datasets = [row for row in datasets if row["compared_with"] == "reference"]
    dataset = (
        DatasetLine(
            drifted=bool(datasets[0]["drifted"]),
            drifted_count=datasets[0]["drifted_count"],
            feature_count=datasets[0]["feature_count"],
            drift_share=datasets[0]["drift_share"],
            threshold=datasets[0]["drift_share_threshold"],
        )
        if datasets
        else None
    )

    performance_rows = (
        _this_window(database.rows("performance_metric", project_name, start, end), window) if success else []
    )
    previous = database.previous_performance(project_name, before=start) if performance_rows else {}
    performance = []
    for row in performance_rows:
        value, before = row["value"], None if row["estimated"] else previous.get(row["metric"])
        performance.append(
            PerformanceLine(
                metric=row["metric"],
                value=value,
                threshold=row["threshold"],
                direction=row["threshold_direction"],
                breached=bool(row["breached"]),
                estimated=bool(row["estimated"]),
                previous=before,
                change=None if value is None or before is None else value - before,
            )
        )

    quality_rows = _this_window(database.rows("data_quality", project_name, start, end), window) if success else []
    quality = [
        QualityLine(row["feature"], row["missing_share"], row["out_of_range_share"], row["new_category_share"])
        for row in quality_rows
        if (row["missing_share"] or 0) > 0
        or (row["out_of_range_share"] or 0) > 0
        or (row["new_category_share"] or 0) > 0
    ]
    triggers = [
        RetrainLine(dag_id=row["dag_id"], dag_run_id=row["dag_run_id"], reason=row["reason"])
        for row in database.retrain_triggers(project_name)
        if row["window_start"] == start and row["window_end"] == end
    ]
    return WindowDigest(
        project=project_name,
        window=window,
        status=run["status"],
        row_count=run["row_count"] if run["status"] != "failed" else None,
        labelled_count=run["labelled_count"] if run["status"] != "failed" else None,
        error=run["error"] if run["status"] == "failed" else None,
        report_location=run["report_location"],
        dataset=dataset,
        drifted_features=tuple(_drift_line(row) for row in features if row["drifted"]),
        features_checked=len(features),
        prediction=_drift_line(predictions[0]) if predictions else None,
        performance=tuple(performance),
        previous_window_found=bool(previous),
        quality=tuple(quality),
        retrain=tuple(triggers),
        run=run,
    )


# ---------------------------------------------------------------------------------------------------- policy
def should_send(policy: SendPolicy, run_row: Mapping[str, Any], has_drift_or_breach: bool) -> bool:
    """`always`: every window; `never`: none; `on_drift`: a loaded window whose dataset or any feature drifted,
    or that breached a performance threshold."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy == "on_drift":
        return run_row.get("status") == "success" and (has_drift_or_breach or bool(run_row.get("drifted")))
    raise ValueError(f"unknown alerts.send policy {policy!r}; use always, on_drift or never")


# ---------------------------------------------------------------------------------------------------- report link
@dataclass(frozen=True)
class ReportLink:
    """How the e-mail points at the full report: `href` is clickable (http/https/file), `text` is shown."""

    text: str | None = None
    href: str | None = None
    note: str | None = None


def _safe_href(url: str | None) -> str | None:
    """Only http(s) and file URLs become links (never `javascript:` or `data:`)."""
    if not url:
        return None
    return url if urlsplit(url).scheme.lower() in _LINK_SCHEMES else None


def _locate(store: ArtifactStore, location: str) -> tuple[Any, str]:
    """The filesystem and path of a report location given as a store path or a URL."""
    if "://" in location:
        import fsspec

        fs, path = fsspec.core.url_to_fs(location)
        return fs, path
    return store.fs, location


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _display(fs: Any, path: str) -> str:
    if _is_local(fs):
        return path
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{protocol}://{path}"


def report_link(fs: Any, path: str, *, expiry: timedelta) -> ReportLink:
    """A presigned URL on S3/GCS (`fs.sign`), a file:// URL on a local disk; the plain location if signing fails."""
    if _is_local(fs):
        url = Path(path).absolute().as_uri()
        return ReportLink(text=url, href=url)
    try:
        signed = str(_signer(fs).sign(path, expiration=int(expiry.total_seconds())))
    except Exception as exc:  # e.g. GCS without a service-account key cannot sign
        logger.warning("could not presign the report URL for %s: %s", _display(fs, path), type(exc).__name__)
        return ReportLink(
            text=_display(fs, path), note="a presigned link could not be made; open it with your credentials"
        )
    return ReportLink(text=signed, href=_safe_href(signed), note=f"the link expires in {_duration_text(expiry)}")


def _signer(fs: Any) -> Any:
    """The filesystem that presigns: for S3 one that signs with SigV4 unless a signature version is configured.

    botocore presigns with SigV2 by default in the regions that still accept it, but S3 rejects SigV2 for buckets
    created since 2020 and in newer regions; SigV4 works everywhere (the region must be right, and the URL lives at
    most 7 days).
    """
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if "s3" not in protocols:
        return fs
    options = dict(fs.storage_options)
    config = dict(options.get("config_kwargs") or {})
    if "signature_version" in config:
        return fs
    options["config_kwargs"] = {**config, "signature_version": "s3v4"}
    return type(fs)(**options)


def _duration_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 1024:.0f} KiB"
    return f"{size / 2**20:.1f} MiB"


def attach_limit(explicit: int | None = None) -> int:
    """The largest report attached, in bytes: `explicit`, else $DRIFTING_REPORT_ATTACH_MAX_BYTES, else 5 MiB."""
    return explicit if explicit is not None else Settings.from_env().report_attach_max_bytes


# ---------------------------------------------------------------------------------------------------- rendering
def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1e-3 and abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3g}"


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    text = _number(abs(value))
    return "±0" if value == 0 else ("+" if value > 0 else "−") + text


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0%"
    if abs(value) < 0.001:
        return "<0.1%"
    return f"{value * 100:.1f}%"


@functools.cache
def _environment(html: bool) -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(directory) for directory in TEMPLATE_DIRS]),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(num=_number, signed=_signed, pct=_percent)
    return environment


def _render(name: str, *, html: bool, **context: Any) -> str:
    import jinja2

    try:
        template = _environment(html).get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"the e-mail template {name} is missing",
            hint=f"looked in {', '.join(str(directory) for directory in TEMPLATE_DIRS)}; reinstall drifting-etl",
        ) from exc
    return template.render(**context)


@dataclass(frozen=True)
class _View:
    """The digest plus what composing adds (links, policy); templates read only this."""

    digest: WindowDigest
    report: ReportLink
    airflow_run_url: str | None
    airflow_run_href: str | None
    policy: str

    def __getattr__(self, name: str) -> Any:
        if name == "digest":  # not set yet (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.digest, name)


def _compose(
    store: ArtifactStore,
    digest: WindowDigest,
    *,
    recipients: Sequence[str],
    policy: str,
    report_location: str | None,
    airflow_run_url: str | None,
    attach_limit_bytes: int | None,
    link_expiry: timedelta,
    sender: str | None,
) -> EmailMessage:
    limit = attach_limit(attach_limit_bytes)
    location = report_location or digest.report_location
    if location is None:
        default = store.report_path(digest.project, digest.window.start, digest.window.end)
        location = default if store.exists(default) else None
    attachment: bytes | None = None
    link = ReportLink()
    if location is not None and urlsplit(location).scheme.lower() in ("http", "https"):
        link = ReportLink(text=location, href=location)
    elif location is not None:
        fs, path = _locate(store, location)
        link = report_link(fs, path, expiry=link_expiry)
        try:
            size = int(fs.size(path))
        except FileNotFoundError:
            size = None
            note = "the report file was not found"
        except Exception as exc:
            logger.warning("could not read the size of the report %s: %s", _display(fs, path), exc)
            size = None
            note = "the report could not be read, so it is not attached"
        if size is not None and size <= limit:
            try:
                attachment = fs.cat_file(path)
                note = f"attached ({_size_text(size)})"
            except Exception as exc:
                logger.warning("could not read the report %s: %s", _display(fs, path), exc)
                note = "the report could not be read, so it is not attached"
        elif size is not None:
            note = f"not attached: {_size_text(size)} is over the {_size_text(limit)} limit; open the link"
        link = ReportLink(text=link.text, href=link.href, note="; ".join(filter(None, (note, link.note))))

    view = _View(
        digest=digest,
        report=link,
        airflow_run_url=airflow_run_url,
        airflow_run_href=_safe_href(airflow_run_url),
        policy=policy,
    )
    message = EmailMessage()
    message["Subject"] = digest.subject
    if sender:
        message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    domain = (sender or DEFAULT_SENDER).rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)  # an explicit domain: no DNS lookup of this host's name
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    message.set_content(_render(TEXT_TEMPLATE, html=False, d=view))
    message.add_alternative(_render(HTML_TEMPLATE, html=True, d=view), subtype="html")
    if attachment is not None:
        message.add_attachment(
            attachment, maintype="text", subtype="html", filename=f"{digest.project}-{digest.window.slug}.html"
        )
    return message


def compose_email(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    config: ProjectConfig | None = None,
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    attach_limit_bytes: int | None = None,
    link_expiry: timedelta = DEFAULT_LINK_EXPIRY,
    sender: str | None = None,
) -> EmailMessage:
    """The notification for `window`, from its rows in the metrics database.

    multipart/alternative (text/plain and text/html), in a multipart/mixed with the report attached as text/html
    when it is at most `attach_limit_bytes` (None: $DRIFTING_REPORT_ATTACH_MAX_BYTES, else 5 MiB).
    `report_location`: a store path or URL of the report; None = the one recorded on the run, else the store's
    report path if a report exists there. Recipients are the project's `alerts.email`. Without `sender` the
    message has no From header and the sender fills it in.
    """
    config = config if config is not None else _load_config(store, project_name)
    digest = read_digest(database, project_name, window)
    return _compose(
        store,
        digest,
        recipients=config.alerts.email,
        policy=config.alerts.send,
        report_location=report_location,
        airflow_run_url=airflow_run_url,
        attach_limit_bytes=attach_limit_bytes,
        link_expiry=link_expiry,
        sender=sender,
    )


def _load_config(store: ArtifactStore, project_name: str) -> ProjectConfig:
    from drifting_etl.store.projects import load_config_of

    return load_config_of(store, project_name)


# ---------------------------------------------------------------------------------------------------- notify
def notify_window(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    config: ProjectConfig | None = None,
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    send: Callable[[EmailMessage], None],
    attach_limit_bytes: int | None = None,
    link_expiry: timedelta = DEFAULT_LINK_EXPIRY,
) -> NotificationResult:
    """Apply the project's send policy, compose, send with `send`, and record the outcome on the window's run.

    A failure inside `send` is logged and recorded as 'failed' and returned, never raised. Composing errors
    (no run recorded for the window, a missing template) raise.
    """
    config = config if config is not None else _load_config(store, project_name)
    recipients = tuple(config.alerts.email)
    digest = read_digest(database, project_name, window)
    if not recipients:
        result = NotificationResult("skipped", recipients, reason="the project has no alerts.email recipients")
    elif not should_send(config.alerts.send, digest.run, digest.has_drift or digest.has_breach):
        reason = f"alerts.send is {config.alerts.send}" + (
            " and the window neither drifted nor breached a threshold" if config.alerts.send == "on_drift" else ""
        )
        result = NotificationResult("skipped", recipients, reason=reason)
    else:
        message = _compose(
            store,
            digest,
            recipients=recipients,
            policy=config.alerts.send,
            report_location=report_location,
            airflow_run_url=airflow_run_url,
            attach_limit_bytes=attach_limit_bytes,
            link_expiry=link_expiry,
            sender=None,
        )
        subject = str(message["Subject"])
        try:
            send(message)
        except Exception as exc:  # any sender failure: record it, never fail the metrics load
            error = _describe(exc)
            logger.warning("could not send the notification for %s %s: %s", project_name, window, error)
            result = NotificationResult("failed", recipients, subject=subject, error=error)
        else:
            logger.info("sent the notification for %s %s to %s", project_name, window, ", ".join(recipients))
            result = NotificationResult("sent", recipients, subject=subject)
    if result.status == "skipped":
        logger.info("no notification for %s %s: %s", project_name, window, result.reason)
    try:
        database.annotate_run(
            project_name,
            window.start,
            window.end,
            notification_status=result.status,
            notification_error=result.error,
        )
    except DriftingError as exc:
        # Raising here would make Airflow retry the task and send the e-mail again.
        logger.error("could not record the notification outcome for %s %s: %s", project_name, window, exc)
    return result


def _describe(exc: BaseException, secret: str | None = None) -> str:
    text = str(exc) if isinstance(exc, DriftingError) else f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***")
    return text[:_ERROR_MAX_CHARS]


# ---------------------------------------------------------------------------------------------------- senders
def _recipients(message: EmailMessage) -> list[str]:
    addresses: list[str] = []
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header, []):
            addresses.extend(address.addr_spec for address in getattr(value, "addresses", ()))
    if not addresses:
        raise ComposeError("the message has no recipients (To, Cc or Bcc)")
    return addresses


def send_smtp(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send `message` with smtplib as `settings` say (SMTPS or STARTTLS with verified certificates, optional login).

    Fills in From with `settings.sender` when the message has none. Raises SendError (transient) when the
    server cannot be reached or refuses the message or a recipient, ConfigError when no host is configured;
    the password never appears in either.
    """
    if not settings.host:
        raise ConfigError(
            f"no SMTP server is configured ({variable('smtp_host')} is not set)",
            hint=f"set {variable('smtp_host')} (and {variable('smtp_port')}, {variable('smtp_starttls')}, ... as needed)",
        )
    if "From" not in message:
        message["From"] = settings.sender
    recipients = _recipients(message)
    host, port = settings.host, settings.resolved_port
    password = settings.password.get_secret_value() if settings.password is not None else None
    try:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if settings.ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout)
        with client:
            if settings.starttls:
                client.starttls(context=context)
            if settings.user and password is not None:
                client.login(settings.user, password)
            refused = client.send_message(message, from_addr=settings.sender, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(
            f"could not send the e-mail: {_describe(exc, password)}", host=host, port=port, user=settings.user
        ) from exc
    if refused:
        raise SendError(f"the SMTP server refused recipients {sorted(refused)}", host=host, port=port)
