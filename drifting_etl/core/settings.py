"""Every `DRIFTING_*` environment variable, in one validated object read at the edge (`Settings.from_env()`).

The CLI, the Airflow task adapters, the DAG factory and the capture SDK read the settings when they start work
and pass the values they need down; nothing reads the environment at import time, and no other module reads a
`DRIFTING_*` variable. Empty variables count as unset. Secrets (the database URL, which may hold a password, and
the SMTP password) are `SecretStr`: printing the settings or an error about them never shows their value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drifting_etl.core.errors import ConfigError

ENV_PREFIX = "DRIFTING_"
DEFAULT_STORAGE = ".drifting"
DEFAULT_SENDER = "drifting-etl@localhost"
DEFAULT_ATTACH_LIMIT_BYTES = 2**20
DEFAULT_PARTITION_GROUP_BYTES = 64 * 2**20


def variable(field: str) -> str:
    """The environment variable of a settings field (`smtp_host` -> `DRIFTING_SMTP_HOST`)."""
    return ENV_PREFIX + field.upper()


STORAGE_ENV = variable("storage_url")
DATABASE_ENV = variable("database_url")


class SmtpSettings(BaseModel):
    """Where `notify.smtp.send_smtp` sends: the `DRIFTING_SMTP_*` variables (`Settings.smtp`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str | None = None
    """DRIFTING_SMTP_HOST: the SMTP server; None = not configured (sending fails with a ConfigError)."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    """DRIFTING_SMTP_PORT; None = 465 with SSL, 587 with STARTTLS, else 25."""
    user: str | None = None
    """DRIFTING_SMTP_USER: log in when set (needs the password)."""
    password: SecretStr | None = None
    """DRIFTING_SMTP_PASSWORD: never printed, logged or put into errors."""
    starttls: bool = False
    """DRIFTING_SMTP_STARTTLS: upgrade the connection with STARTTLS (certificate verified)."""
    ssl: bool = False
    """DRIFTING_SMTP_SSL: connect over TLS from the start (SMTPS, usually port 465)."""
    sender: str = DEFAULT_SENDER
    """DRIFTING_SMTP_FROM: the envelope sender, and the From header when the message has none."""
    timeout: float = Field(default=30.0, gt=0)
    """DRIFTING_SMTP_TIMEOUT: seconds for connecting and each command."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """The SMTP part of `Settings.from_env(environ)`."""
        return Settings.from_env(environ).smtp

    @model_validator(mode="after")
    def _consistent(self) -> SmtpSettings:
        if self.ssl and self.starttls:
            raise ValueError(f"use {variable('smtp_ssl')} or {variable('smtp_starttls')}, not both")
        if self.user and self.password is None:
            raise ValueError(f"{variable('smtp_user')} is set without {variable('smtp_password')}")
        return self

    @property
    def resolved_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25


class Settings(BaseSettings):
    """drifting-etl's environment. Each field is the variable `DRIFTING_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True)

    storage_url: str = DEFAULT_STORAGE
    """DRIFTING_STORAGE_URL: the artifact store (a local path, s3://bucket/prefix, gs://bucket/prefix)."""
    database_url: SecretStr | None = None
    """DRIFTING_DATABASE_URL: the metrics database (SQLAlchemy URL); None = SQLite in a local store. May hold a
    password, so it is never printed."""
    workers: int | None = Field(default=None, ge=1)
    """DRIFTING_WORKERS: partitions profiled at once in one process; None = one per CPU core."""
    partition_group_bytes: int = Field(default=DEFAULT_PARTITION_GROUP_BYTES, gt=0)
    """DRIFTING_PARTITION_GROUP_BYTES: Airflow profiles a window's partitions in groups of about this many Parquet
    bytes, one mapped task per group."""
    storage_attempts: int = Field(default=3, ge=1, le=20)
    """DRIFTING_STORAGE_ATTEMPTS: tries of a log partition whose storage reads fail (a dropped connection, a timeout,
    a 5xx) before its window fails, waiting 1 s, 2 s, 4 s, … between them."""
    report_attach_max_bytes: int = Field(default=DEFAULT_ATTACH_LIMIT_BYTES, ge=0)
    """DRIFTING_REPORT_ATTACH_MAX_BYTES: reports up to this size are attached to the e-mail; 0 never attaches."""
    smtp_host: str | None = None
    """DRIFTING_SMTP_HOST (see SmtpSettings for this and the other DRIFTING_SMTP_* variables)."""
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = DEFAULT_SENDER
    smtp_timeout: float = Field(default=30.0, gt=0)
    alert_timeout: float = Field(default=10.0, gt=0, le=300)
    """DRIFTING_ALERT_TIMEOUT: seconds an alert channel's receiver has to answer each POST."""
    alert_attempts: int = Field(default=3, ge=1, le=10)
    """DRIFTING_ALERT_ATTEMPTS: tries of an alert whose receiver cannot be reached, times out or answers 5xx or 429,
    waiting 1 s, 2 s, 4 s, … between them (other 4xx answers are not retried)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from `environ` (default: the process environment); ConfigError names a bad variable."""
        try:
            if environ is None:
                return cls()
            return cls.model_validate(_fields_of(environ))
        except ValidationError as exc:
            raise _config_error(exc) from None

    @property
    def smtp(self) -> SmtpSettings:
        try:
            return SmtpSettings(**{field: getattr(self, setting) for field, setting in SMTP_FIELDS.items()})
        except ValidationError as exc:
            raise _config_error(exc, SMTP_FIELDS) from None

    def workers_or_cores(self) -> int:
        return self.workers or os.cpu_count() or 1


def _fields_of(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings fields set (non-empty) in `environ`, as `cls()` would read them from the process environment."""
    found: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = environ.get(variable(name), "")
        if value.strip():
            # spaces may be part of a password; every other value is stripped
            found[name] = value if name.endswith("password") else value.strip()
    return found


SMTP_FIELDS = {field: "smtp_from" if field == "sender" else f"smtp_{field}" for field in SmtpSettings.model_fields}
"""SmtpSettings field -> Settings field."""


def _config_error(exc: ValidationError, fields: Mapping[str, str] | None = None) -> ConfigError:
    # Only variable names and pydantic's message: never an input value (one could be a password).
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else None
        where = variable((fields or {}).get(field, field)) if field else "settings"
        problems.append(f"{where}: {error['msg']}")
    return ConfigError(
        "invalid drifting-etl settings: " + "; ".join(problems),
        hint="fix the environment variable (README: Settings lists every DRIFTING_* variable)",
    )
