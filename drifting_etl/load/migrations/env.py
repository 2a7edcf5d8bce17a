"""Alembic environment of the drifting-etl metrics database, configured from Python (no alembic.ini).

`MetricsDatabase.migrate()` passes an open connection in `config.attributes["connection"]`, inside its own
transaction. The version table is `drifting_alembic_version`, so these migrations and Airflow's (which use
`alembic_version`) can live in the same PostgreSQL database without overwriting each other's revision.

New revision, for developers (number revisions 0002, 0003, …)::

    from alembic import command
    from drifting_etl.load.migrate import alembic_config
    command.revision(alembic_config("sqlite:////tmp/dev.db"), "what changes", autogenerate=True, rev_id="0002")

`render_as_batch` makes autogenerate write SQLite-compatible ALTERs (table copy), which PostgreSQL runs as
plain ALTERs.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.migrate import VERSION_TABLE
from drifting_etl.load.tables import metadata

config = context.config


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (`alembic.command.upgrade(..., sql=True)`)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no connection or sqlalchemy.url given; use MetricsDatabase.migrate() or alembic_config(url)"
        )
    database = MetricsDatabase(url)
    try:
        with database.engine.begin() as connection:
            _run_with(connection)
    finally:
        database.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
