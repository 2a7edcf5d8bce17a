"""Metrics database URLs: which database a command uses, the URL parsed and normalised, and its display form.

Supported databases: SQLite (the default next to a local artifact store) and PostgreSQL through psycopg2. This
module connects to nothing; error messages and `display_url` never contain the database password.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.settings import DATABASE_ENV, Settings

if TYPE_CHECKING:
    from drifting_etl.store.artifacts import ArtifactStore

__all__ = ["DATABASE_ENV", "SQLITE_FILE_NAME", "database_url", "display_url", "parse_url", "sqlite_path"]

SQLITE_FILE_NAME = "metrics.db"


def database_url(store: ArtifactStore, override: str | None = None) -> str:
    """The metrics database URL: `override`, else `$DRIFTING_DATABASE_URL`, else SQLite next to a local store."""
    if override:
        return override
    configured = Settings.from_env().database_url
    if configured is not None:
        return configured.get_secret_value()
    if store.is_local:
        return f"sqlite:///{store.path(SQLITE_FILE_NAME)}"
    raise ConfigError(
        "the artifact store is not on the local disk, so there is no default metrics database",
        hint=f"set {DATABASE_ENV} or pass --database-url (e.g. postgresql+psycopg2://user@host:5432/metrics)",
        store=store.display(store.root),
    )


def parse_url(url: str) -> URL:
    """Parse and normalise a database URL; PostgreSQL URLs without a driver get psycopg2 (our dependency)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # The text may hold a password we cannot locate in an unparseable URL: never echo it.
        raise ConfigError(
            "the metrics database URL is not a valid SQLAlchemy URL",
            hint="use sqlite:///path/to/metrics.db or postgresql+psycopg2://user@host:5432/db",
        ) from exc
    if parsed.drivername in ("postgres", "postgresql"):
        # SQLAlchemy 2.1 picks psycopg (3) for a bare postgresql://; we depend on and test psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported metrics database {parsed.get_backend_name()!r}",
            hint="use SQLite or PostgreSQL",
            database=display_url(parsed),
        )
    return parsed


def display_url(url: URL) -> str:
    """The URL with its password masked: the only form that may appear in messages and logs."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite database on disk; None for PostgreSQL, in-memory and `file:` URI databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)
