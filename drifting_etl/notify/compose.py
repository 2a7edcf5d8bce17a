"""Composing a window's e-mail from its digest and the templates in `reports/` (text and HTML parts, the report
attached when small enough).

User data (project and feature names, error texts) is only ever passed *into* templates as values, never rendered
as a template; the HTML part is rendered with autoescaping, inline styles and table layout only.

Templates: `reports/email.html.j2` and `reports/email.txt.j2` at the repository root are the canonical copies.
They are looked up in `drifting_etl/templates/` first (where a wheel build places them) and then in the
repository's `reports/` (a source checkout or an editable install).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.resources import TEMPLATE_DIRS
from drifting_etl.core.settings import DEFAULT_SENDER, Settings
from drifting_etl.core.window import Window
from drifting_etl.notify.digest import WindowDigest, read_digest
from drifting_etl.notify.formatting import number_text, percent_text, signed_text, size_text
from drifting_etl.notify.links import (
    DEFAULT_LINK_EXPIRY,
    ReportLink,
    display_path,
    locate_report,
    report_link,
    safe_href,
)
from drifting_etl.store.projects import load_config_of

if TYPE_CHECKING:
    import jinja2

    from drifting_etl.core.config import ProjectConfig
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.store.artifacts import ArtifactStore

logger = logging.getLogger(__name__)

MESSAGE_POLICY = email_policy.default.clone(max_line_length=998)
"""Headers are folded only beyond RFC 5322's 998 characters: folding a subject at 78 before its em dash makes Python
write an empty encoded word (`=?utf-8?q??=`) that some mail clients show."""


HTML_TEMPLATE = "email.html.j2"
TEXT_TEMPLATE = "email.txt.j2"


def attach_limit(explicit: int | None = None) -> int:
    """The largest report attached, in bytes: `explicit`, else $DRIFTING_REPORT_ATTACH_MAX_BYTES, else 1 MiB."""
    return explicit if explicit is not None else Settings.from_env().report_attach_max_bytes


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
    environment.filters.update(num=number_text, signed=signed_text, pct=percent_text)
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


def compose_message(
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
        fs, path = locate_report(store, location)
        link = report_link(fs, path, expiry=link_expiry)
        try:
            size = int(fs.size(path))
        except FileNotFoundError:
            size = None
            note = "the report file was not found"
        except Exception as exc:
            logger.warning("could not read the size of the report %s: %s", display_path(fs, path), exc)
            size = None
            note = "the report could not be read, so it is not attached"
        if size is not None and size <= limit:
            try:
                attachment = fs.cat_file(path)
                note = f"attached ({size_text(size)})"
            except Exception as exc:
                logger.warning("could not read the report %s: %s", display_path(fs, path), exc)
                note = "the report could not be read, so it is not attached"
        elif size is not None:
            note = f"not attached: {size_text(size)} is over the {size_text(limit)} limit; open the link"
        link = ReportLink(text=link.text, href=link.href, note="; ".join(filter(None, (note, link.note))))

    view = _View(
        digest=digest,
        report=link,
        airflow_run_url=airflow_run_url,
        airflow_run_href=safe_href(airflow_run_url),
        policy=policy,
    )
    message = EmailMessage(policy=MESSAGE_POLICY)
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
    when it is at most `attach_limit_bytes` (None: $DRIFTING_REPORT_ATTACH_MAX_BYTES, else 1 MiB).
    `report_location`: a store path or URL of the report; None = the one recorded on the run, else the store's
    report path if a report exists there. Recipients are the project's `alerts.email`. Without `sender` the
    message has no From header and the sender fills it in.
    """
    config = config if config is not None else load_config_of(store, project_name)
    digest = read_digest(database, project_name, window)
    return compose_message(
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
