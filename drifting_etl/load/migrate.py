"""Migrations of the metrics database: the packaged Alembic history, upgrading to it, and checking a database is
at its newest revision.

The schema is created and changed only here (never by `create_all`). Alembic's version table is
`drifting_alembic_version`, so our history and Airflow's `alembic_version` can share one PostgreSQL database.
Alembic is imported inside the functions that need it: its import costs every monitoring run 0.1 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from drifting_etl.core.errors import SchemaError
from drifting_etl.load.engine import INIT_HINT, translate_errors
from drifting_etl.load.url import display_url, parse_url, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "SCHEMA_REVISION", "VERSION_TABLE", "alembic_config", "check_revision", "upgrade"]

VERSION_TABLE = "drifting_alembic_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_ID = 0x64726966  # PostgreSQL advisory lock key held while migrating ("drif")
SCHEMA_REVISION = "0013"
"""The newest migration (checked against Alembic's head by the tests)."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the packaged migrations, built in code (no alembic.ini).

    `upgrade` passes its own connection; `url` is only for developer commands such as
    `alembic.command.revision(alembic_config("sqlite:///dev.db"), "add x", autogenerate=True, rev_id="0002")`.
    """
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation: a literal '%' must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        rendered = parse_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(engine: Engine, url: URL) -> None:
    """Upgrade the database at `url` (through `engine`) to the newest migration (idempotent)."""
    from alembic import command
    from alembic.util import CommandError

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config()
    with translate_errors("migrate the metrics database", url=url):
        try:
            with engine.begin() as connection:
                if url.get_backend_name() == "postgresql":
                    # Two processes running `init` at once: the second waits, then finds nothing to do.
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except CommandError as exc:
            raise SchemaError(
                f"could not migrate the metrics database: {exc}",
                hint="is this drifting-etl older than the database schema? upgrade drifting-etl",
                database=display_url(url),
            ) from exc


def check_revision(engine: Engine, url: URL) -> None:
    """Raise DatabaseError unless the database is migrated to the newest revision (`SCHEMA_REVISION`).

    Reads the version table with one query rather than through Alembic."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        # Connecting would create an empty file as a side effect of a check.
        raise SchemaError("the metrics database does not exist", hint=INIT_HINT, database=display_url(url))
    expected = {SCHEMA_REVISION}
    known = {file.name.split("_", 1)[0] for file in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")}
    version_table = sa.table(VERSION_TABLE, sa.column("version_num"))
    with translate_errors("read the metrics database schema version", url=url), engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            current: set[str] = set()
        else:
            current = set(connection.execute(sa.select(version_table.c.version_num)).scalars())
    if current == expected:
        return
    newer = current - known  # revisions this drifting-etl does not ship
    hint = "the database was migrated by a newer drifting-etl: upgrade drifting-etl" if newer else INIT_HINT
    raise SchemaError(
        "the metrics database schema is not up to date "
        f"(at {', '.join(sorted(current)) or 'no revision'}, expected {', '.join(sorted(expected))})",
        hint=hint,
        database=display_url(url),
    )
