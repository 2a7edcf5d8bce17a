"""Sending a window's e-mail through Airflow's SMTP connection (the monitoring DAG's `notify_team` task)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from drifting_etl.core.errors import ConfigError, NotifyError, SendError
from drifting_etl.core.settings import Settings
from drifting_etl.notify.smtp import describe_error, recipients_of


def send_with_airflow(message: EmailMessage, conn_id: str = "smtp_default") -> None:
    """Send `message` through the Airflow SMTP connection `conn_id` (host, port, login, TLS settings).

    The provider's `SmtpHook.send_email_smtp` builds its own HTML-only MIME message, so this logs in with the
    hook and hands our message to the hook's smtplib client unchanged (From is filled in from the
    connection's `from_email`, else DRIFTING_SMTP_FROM or drifting-etl@localhost, when the message has none).
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    recipients = recipients_of(message)
    try:  # the hook would say only "SMTP connection is not found."
        SmtpHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ConfigError(
            f"the Airflow connection {conn_id!r} does not exist, so the e-mail was not sent",
            conn_id=conn_id,
            hint=missing_connection_hint(conn_id),
        ) from exc
    hook = SmtpHook(smtp_conn_id=conn_id)
    password: str | None = None
    try:
        with hook:
            client = hook._smtp_client  # the hook exposes no public accessor for its logged-in client
            if client is None or not isinstance(client, smtplib.SMTP):
                raise ConfigError(
                    "the Airflow SMTP hook did not open an SMTP connection",
                    conn_id=conn_id,
                    hint=f"check the Airflow connection {conn_id!r} (host, port, TLS settings)",
                )
            if "From" not in message:
                message["From"] = hook.from_email or Settings.from_env().smtp_from
            envelope_from = message["From"].addresses[0].addr_spec
            refused = client.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    except (NotifyError, ConfigError):
        raise
    except Exception as exc:  # AirflowException (connection missing, retries exhausted), smtplib and socket errors
        if hook.smtp_connection is not None:
            password = hook.smtp_connection.password or None
        raise SendError(
            f"could not send the e-mail through Airflow connection {conn_id!r}: {describe_error(exc, password)}",
            conn_id=conn_id,
        ) from exc
    if refused:
        raise SendError(f"the SMTP server refused recipients {sorted(refused)}", conn_id=conn_id)


def missing_connection_hint(conn_id: str) -> str:
    """How to create the SMTP connection `conn_id` (what a missing-connection error tells the operator)."""
    return (
        f"create it: airflow connections add {conn_id} --conn-type smtp --conn-host <smtp host> --conn-port <port> "
        "[--conn-login <user> --conn-password <password>] (a plain local server also needs "
        '--conn-extra \'{"disable_ssl": true, "disable_tls": true}\'), '
        f"or set AIRFLOW_CONN_{conn_id.upper()} in the workers' environment; then clear the notify_team task"
    )
