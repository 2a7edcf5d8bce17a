"""Connecting to the metrics database: one SQLAlchemy engine per backend, and driver errors as `DatabaseError`.

This module owns how connections behave (SQLite's transactions and busy timeout, PostgreSQL's pre-ping) and how a
failure is reported: the action, project and window it concerns, what to do next, and never the password. It
builds no query and knows no table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from drifting_etl.core.errors import DatabaseError, DatabaseUnavailable, SchemaError
from drifting_etl.load.url import display_url

__all__ = ["INIT_HINT", "create_engine", "database_error", "translate_errors", "window_text"]

INIT_HINT = "run `drifting-etl init` to create or upgrade the metrics tables"
UNREACHABLE_HINT = "the database server is down, restarting, or ended the session: a retry may succeed once it is back"


def create_engine(url: URL) -> Engine:
    """An engine for `url` (parsed by `url.parse_url`); creating it does not connect."""
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    # A generous busy timeout: several Airflow tasks may write the same SQLite file.
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    # Python 3.11's sqlite3 only BEGINs before INSERT/UPDATE/DELETE, so DDL (migrations) would autocommit
    # statement by statement. Let SQLAlchemy emit BEGIN itself (SQLAlchemy's documented recipe).
    @sa.event.listens_for(engine, "connect")
    def _disable_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, for read-then-write transactions that must not interleave
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def window_text(start: datetime | None, end: datetime | None) -> str | None:
    """A window as error messages name it (`start/end`, ISO 8601), or None when either end is unknown."""
    if start is None or end is None:
        return None
    return f"{start.isoformat()}/{end.isoformat()}"


def _connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection to a database server could not be made, or was lost (a server stopped or
    restarted, a terminated session), rather than that a statement failed."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    # SQLAlchemy marks a lost connection (the dialect's is_disconnect); a failed connect has no statement
    return exc.connection_invalidated or (isinstance(exc, sa.exc.OperationalError) and exc.statement is None)


def database_error(
    action: str, exc: BaseException, *, url: URL, project: str | None = None, window: str | None = None
) -> DatabaseError:
    """`exc` (a driver or SQLAlchemy error) as a DatabaseError saying what could not be done and what to do next."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    reason = lines[0][:300] if lines else type(original).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    missing_table = getattr(original, "pgcode", None) == "42P01" or "no such table" in reason
    integrity = isinstance(exc, sa.exc.IntegrityError)
    hint = None
    if missing_table:
        hint = INIT_HINT
    elif integrity:
        hint = "a row breaks a constraint: each feature or metric may appear once per window and slice"
    elif url.get_backend_name() != "sqlite" and _connection_lost(exc):
        hint = UNREACHABLE_HINT
    # a missing table or a broken constraint stays so however often the same work is retried
    kind = SchemaError if missing_table or integrity else DatabaseUnavailable
    return kind(f"could not {action}: {reason}", hint=hint, project=project, window=window, database=display_url(url))


@contextmanager
def translate_errors(action: str, *, url: URL, project: str | None = None, window: str | None = None) -> Iterator[None]:
    """Raise SQLAlchemy errors from the block as `database_error(action, ...)`."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise database_error(action, exc, url=url, project=project, window=window) from exc
