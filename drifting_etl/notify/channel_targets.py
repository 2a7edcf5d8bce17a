"""Where an alert channel's URL and signing secret come from: environment variables the project names (`url_env`,
`secret_env`), or, under Airflow, a connection (`connection`: host = the URL, password = the secret).

Both values are `SecretStr` from the moment they are read: a Slack incoming-webhook URL is itself a credential.
Errors name the variable or connection to set, never a value. Imports no Airflow: the Airflow adapter passes a
`ConnectionLookup` in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from drifting_etl.core.config import AlertChannel
from drifting_etl.core.errors import ConfigError


@dataclass(frozen=True)
class ConnectionSecrets:
    """What an Airflow connection holds for a channel: the URL (its host) and the signing secret (its password)."""

    host: SecretStr | None
    password: SecretStr | None


ConnectionLookup = Callable[[str], ConnectionSecrets]
"""Reads a connection by id; raises ConfigError (saying how to create it) when there is none."""


@dataclass(frozen=True)
class ChannelTarget:
    """A channel's resolved URL and, for a webhook, its signing secret."""

    url: SecretStr
    secret: SecretStr | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values to mask in any text about this channel."""
        values = [self.url.get_secret_value()]
        if self.secret is not None:
            values.append(self.secret.get_secret_value())
        return tuple(values)


def _where(channel: AlertChannel, key: str) -> str:
    return f"alerts.channels[{channel.name}].{key}"


def _from_environment(channel: AlertChannel, key: str, variable: str, environ: Mapping[str, str]) -> SecretStr:
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"the environment variable {variable} ({_where(channel, key)}) is not set, so channel {channel.name!r} "
            "cannot be sent to",
            hint=f"set {variable} in the environment drifting-etl runs in (the CLI's shell, the Airflow workers)",
            channel=channel.name,
        )
    return SecretStr(value)


def _checked_url(channel: AlertChannel, url: SecretStr, source: str) -> SecretStr:
    try:
        parts = urlsplit(url.get_secret_value())
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket; the error's text would hold the URL
        usable = False
    if not usable or any(character.isspace() for character in url.get_secret_value()):
        raise ConfigError(
            f"the URL of channel {channel.name!r} in {source} is not an http(s) URL",
            hint=f"put the whole URL (https://…) in {source}",
            channel=channel.name,
        )
    return url


def resolve_target(
    channel: AlertChannel,
    *,
    environ: Mapping[str, str],
    lookup_connection: ConnectionLookup | None = None,
) -> ChannelTarget:
    """The channel's URL and secret: from its Airflow connection when `lookup_connection` is given (under Airflow)
    and the channel names one, else from its environment variables. Raises ConfigError naming what to set."""
    signed = channel.type == "webhook"
    if channel.connection is not None and lookup_connection is not None:
        found = lookup_connection(channel.connection)
        source = f"the host of Airflow connection {channel.connection!r}"
        if found.host is None or not found.host.get_secret_value().strip():
            raise ConfigError(
                f"{source} ({_where(channel, 'connection')}) is empty",
                hint=f"set its host to the channel's whole URL: airflow connections add {channel.connection} "
                "--conn-type http --conn-host 'https://…'" + (" --conn-password '<signing secret>'" if signed else ""),
                channel=channel.name,
            )
        url = _checked_url(channel, SecretStr(found.host.get_secret_value().strip()), source)
        if not signed:
            return ChannelTarget(url)
        if found.password is not None and found.password.get_secret_value():
            return ChannelTarget(url, found.password)
        if channel.secret_env is not None:
            return ChannelTarget(url, _from_environment(channel, "secret_env", channel.secret_env, environ))
        raise ConfigError(
            f"the Airflow connection {channel.connection!r} of webhook channel {channel.name!r} has no password, "
            "the signing secret",
            hint=f"set the connection's password to the secret the receiver verifies with, or set "
            f"{_where(channel, 'secret_env')}",
            channel=channel.name,
        )
    if channel.url_env is None:
        raise ConfigError(
            f"channel {channel.name!r} reads its URL from the Airflow connection {channel.connection!r}, which only "
            "exists under Airflow",
            hint=f"to send to it from the CLI too, also set {_where(channel, 'url_env')}"
            + (" and secret_env" if signed else ""),
            channel=channel.name,
        )
    url = _checked_url(
        channel,
        _from_environment(channel, "url_env", channel.url_env, environ),
        f"the environment variable {channel.url_env}",
    )
    if not signed:
        return ChannelTarget(url)
    if channel.secret_env is None:
        raise ConfigError(
            f"webhook channel {channel.name!r} takes its signing secret from the Airflow connection "
            f"{channel.connection!r}, which only exists under Airflow",
            hint=f"to send to it from the CLI too, also set {_where(channel, 'secret_env')}",
            channel=channel.name,
        )
    return ChannelTarget(url, _from_environment(channel, "secret_env", channel.secret_env, environ))
