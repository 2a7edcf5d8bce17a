"""Sending a composed e-mail with smtplib (SMTPS or STARTTLS, certificates verified, optional login).

The SMTP password is a `SecretStr`: it is never printed, logged or put into an error message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from drifting_etl.core.errors import ComposeError, ConfigError, DriftingError, SendError
from drifting_etl.core.settings import SmtpSettings, variable

_ERROR_MAX_CHARS = 2000


def describe_error(exc: BaseException, secret: str | None = None) -> str:
    text = str(exc) if isinstance(exc, DriftingError) else f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***")
    return text[:_ERROR_MAX_CHARS]


def recipients_of(message: EmailMessage) -> list[str]:
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
    recipients = recipients_of(message)
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
            f"could not send the e-mail: {describe_error(exc, password)}", host=host, port=port, user=settings.user
        ) from exc
    if refused:
        raise SendError(f"the SMTP server refused recipients {sorted(refused)}", host=host, port=port)
