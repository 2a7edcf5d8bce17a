"""The metrics database: where each monitoring window's results are stored for dashboards and trends.

This module owns the table definitions (SQLAlchemy Core), the row types the compute stages hand over,
idempotent window writes, the readers the CLI summary uses, and running the Alembic migrations that ship
inside the package (`drifting_etl/migrations`). It computes nothing and reads no artifact-store data.

Rules it keeps:

- The schema is created and changed only by migrations (`MetricsDatabase.migrate`), never by `create_all`.
  The table definitions below mirror the migrations so queries can be built from them; a test compares the two.
- Alembic's version table is `drifting_alembic_version`, so our history and Airflow's `alembic_version`
  can share one PostgreSQL database.
- A window is written in one transaction: delete every row of the window, insert the new ones. Re-running a
  window leaves the same rows, and a failed write leaves the previous rows untouched.
- Datetimes are timezone-aware UTC on every backend. Naive datetimes are rejected (`ValueError`), never
  guessed: a naive value is a bug upstream, and treating it as UTC would hide a shifted window.
- Error messages never contain the database password.

Supported databases: SQLite (the default next to a local artifact store) and PostgreSQL through psycopg2.
"""

from __future__ import annotations

import math
import numbers
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.schema import SchemaItem

from drifting_etl.core.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

    from drifting_etl.store.artifacts import ArtifactStore

__all__ = [
    "ALL_ROWS",
    "DATABASE_ENV",
    "METRIC_TABLES",
    "VERSION_TABLE",
    "ColumnType",
    "DataQualityRow",
    "DatasetDriftRow",
    "FeatureDriftRow",
    "FeatureKind",
    "MetricTable",
    "MetricsDatabase",
    "PerformanceRow",
    "RunRow",
    "RunStatus",
    "ThresholdDirection",
    "UTCDateTime",
    "alembic_config",
    "database_url",
    "metadata",
]

DATABASE_ENV = "DRIFTING_DATABASE_URL"
VERSION_TABLE = "drifting_alembic_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_FILE_NAME = "metrics.db"
MIGRATION_LOCK_ID = 0x64726966  # PostgreSQL advisory lock key held while migrating ("drif")
INIT_HINT = "run `drifting-etl init` to create or upgrade the metrics tables"

RunStatus = Literal["success", "failed", "no_data"]
FeatureKind = Literal["feature", "prediction"]
ColumnType = Literal["numerical", "categorical"]
ThresholdDirection = Literal["min", "max"]
NotificationStatus = Literal["sent", "skipped", "failed"]
MetricTable = Literal["monitoring_run", "feature_drift", "dataset_drift", "data_quality", "performance_metric"]
METRIC_TABLES: tuple[MetricTable, ...] = get_args(MetricTable)

ALL_ROWS = "*"  # slice_key/slice_value of metrics computed over the whole window


# ---------------------------------------------------------------------------------------------------- URLs
def database_url(store: ArtifactStore, override: str | None = None) -> str:
    """The metrics database URL: `override`, else `$DRIFTING_DATABASE_URL`, else SQLite next to a local store."""
    url = override or os.environ.get(DATABASE_ENV)
    if url:
        return url
    if store.is_local:
        return f"sqlite:///{store.path(SQLITE_FILE_NAME)}"
    raise ConfigError(
        "the artifact store is not on the local disk, so there is no default metrics database",
        hint=f"set {DATABASE_ENV} or pass --database-url (e.g. postgresql+psycopg2://user@host:5432/metrics)",
        store=store.display(store.root),
    )


def _parse_url(url: str) -> URL:
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
            database=parsed.render_as_string(hide_password=True),
        )
    return parsed


# ---------------------------------------------------------------------------------------------------- types
class UTCDateTime(sa.TypeDecorator[datetime]):
    """`TIMESTAMP WITH TIME ZONE` that always binds and returns timezone-aware UTC datetimes.

    SQLite has no timestamp type: values are stored as UTC text without an offset (sortable), and read back
    with UTC attached. PostgreSQL values are converted to UTC whatever the session time zone. Naive datetimes
    raise `ValueError`.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# ---------------------------------------------------------------------------------------------------- rows
_LITERALS: dict[str, tuple[str, ...]] = {
    "RunStatus": get_args(RunStatus),
    "FeatureKind": get_args(FeatureKind),
    "ColumnType": get_args(ColumnType),
    "ThresholdDirection": get_args(ThresholdDirection),
    "NotificationStatus": get_args(NotificationStatus),
}


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def _check_row(row: Any) -> None:
    """Validate a row's fields against their annotations and coerce numpy scalars to Python types.

    Compute stages work in numpy; psycopg2 and sqlite3 cannot bind `numpy.int64` or `numpy.bool_`. NaN
    becomes None where the column is nullable (SQLite cannot store NaN; PostgreSQL could, and the two
    backends must agree) and is rejected where it is not.
    """
    name = type(row).__name__
    for field in fields(row):
        value = getattr(row, field.name)
        annotation = str(field.type)
        optional = annotation.endswith(" | None")
        base = annotation.removesuffix(" | None")
        where = f"{name}.{field.name}"
        if value is None:
            if not optional:
                raise TypeError(f"{where} must not be None")
            continue
        coerced: Any = value
        if base == "str":
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a str, got {type(value).__name__}")
        elif base == "bool":
            if not _is_bool(value):
                raise TypeError(f"{where} must be a bool, got {type(value).__name__}")
            coerced = bool(value)
        elif base == "int":
            if _is_bool(value) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{where} must be an int, got {type(value).__name__}")
            coerced = int(value)
        elif base == "float":
            if _is_bool(value) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where} must be a float, got {type(value).__name__}")
            coerced = float(value)
            if math.isnan(coerced):
                if not optional:
                    raise ValueError(f"{where} is NaN")
                coerced = None
        elif base == "datetime":
            if not isinstance(value, datetime):
                raise TypeError(f"{where} must be a datetime, got {type(value).__name__}")
            if value.utcoffset() is None:
                raise ValueError(f"{where} is a naive datetime ({value.isoformat()}); use a timezone-aware UTC one")
        elif base in _LITERALS:
            if value not in _LITERALS[base]:
                raise ValueError(f"{where} must be one of {_LITERALS[base]}, got {value!r}")
        else:  # pragma: no cover - a new field type needs a rule here
            raise TypeError(f"{where}: no validation rule for {annotation!r}")
        if coerced is not value:
            object.__setattr__(row, field.name, coerced)
    if not row.window_start < row.window_end:
        raise ValueError(f"{name}: window_start {row.window_start} is not before window_end {row.window_end}")


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _values(row: Any) -> dict[str, Any]:
    return {field.name: getattr(row, field.name) for field in fields(row)}


@dataclass(frozen=True)
class RunRow:
    """One monitoring run of one window: what happened, and a summary of the metrics written with it."""

    project: str
    window_start: datetime
    window_end: datetime
    status: RunStatus
    row_count: int
    labelled_count: int
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    drifted: bool | None = None
    drift_share: float | None = None
    reference_version: str | None = None
    report_location: str | None = None
    notification_status: NotificationStatus | None = None
    notification_error: str | None = None
    airflow_run_id: str | None = None

    def __post_init__(self) -> None:
        _check_row(self)


@dataclass(frozen=True)
class FeatureDriftRow:
    """Drift of one column (feature or prediction) in one window against the reference."""

    project: str
    window_start: datetime
    window_end: datetime
    feature: str
    feature_kind: FeatureKind
    column_type: ColumnType
    method: str
    score: float
    statistic: float | None
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    approximate: bool = False
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS
    compared_with: str = "reference"

    def __post_init__(self) -> None:
        _check_row(self)


@dataclass(frozen=True)
class DatasetDriftRow:
    """Whether the window as a whole drifted: the share of drifted columns against a threshold."""

    project: str
    window_start: datetime
    window_end: datetime
    drifted_count: int
    feature_count: int
    drift_share: float
    drift_share_threshold: float
    drifted: bool
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS
    compared_with: str = "reference"

    def __post_init__(self) -> None:
        _check_row(self)


@dataclass(frozen=True)
class DataQualityRow:
    """Missing values, out-of-range values and unseen categories of one column in one window."""

    project: str
    window_start: datetime
    window_end: datetime
    feature: str
    column_type: ColumnType
    row_count: int
    missing_count: int
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    distinct_count: int | None = None
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS

    def __post_init__(self) -> None:
        _check_row(self)


@dataclass(frozen=True)
class PerformanceRow:
    """One model performance metric in one window (None when it cannot be computed, e.g. no labels)."""

    project: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float | None
    labelled_count: int
    label_coverage: float
    threshold: float | None
    threshold_direction: ThresholdDirection | None
    breached: bool
    estimated: bool = False
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS

    def __post_init__(self) -> None:
        _check_row(self)


# ---------------------------------------------------------------------------------------------------- tables
# These names and columns are a public contract (BI dashboards query them). Change them only with a new
# migration in drifting_etl/migrations/versions, and keep these definitions in step (tests compare them).
metadata = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Natural key of a row within its (project, window_start, window_end); also the ORDER BY of `rows()`.
_KEYS: dict[str, tuple[str, ...]] = {
    "monitoring_run": (),
    "feature_drift": ("slice_key", "slice_value", "compared_with", "feature"),
    "dataset_drift": ("slice_key", "slice_value", "compared_with"),
    "data_quality": ("slice_key", "slice_value", "feature"),
    "performance_metric": ("slice_key", "slice_value", "metric", "estimated"),
}


def _id_and_window(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _slice_columns(*, compared_with: bool) -> list[sa.Column[Any]]:
    columns = [
        sa.Column("slice_key", sa.Text(), nullable=False, server_default=ALL_ROWS),
        sa.Column("slice_value", sa.Text(), nullable=False, server_default=ALL_ROWS),
    ]
    if compared_with:
        columns.append(sa.Column("compared_with", sa.Text(), nullable=False, server_default="reference"))
    columns.append(sa.Column("computed_at", UTCDateTime(), nullable=False, server_default=sa.func.now()))
    return columns


def _metric_table_extras(name: str) -> list[SchemaItem]:
    return [
        sa.UniqueConstraint("project", "window_start", "window_end", *_KEYS[name], name=f"uq_{name}_key"),
        sa.Index(f"ix_{name}_project_window_start", "project", "window_start"),
    ]


monitoring_run = sa.Table(
    "monitoring_run",
    metadata,
    *_id_and_window("monitoring_run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("labelled_count", sa.BigInteger(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("drifted", sa.Boolean(), nullable=True),
    sa.Column("drift_share", sa.Float(), nullable=True),
    sa.Column("reference_version", sa.Text(), nullable=True),
    sa.Column("report_location", sa.Text(), nullable=True),
    sa.Column("notification_status", sa.String(16), nullable=True),
    sa.Column("notification_error", sa.Text(), nullable=True),
    sa.Column("airflow_run_id", sa.String(250), nullable=True),
    sa.UniqueConstraint("project", "window_start", "window_end", name="uq_monitoring_run_window"),
    sa.CheckConstraint("status IN ('success', 'failed', 'no_data')", name="ck_monitoring_run_status"),
    sa.Index("ix_monitoring_run_project_latest", "project", "window_end", "window_start"),  # migration 0002
)

feature_drift = sa.Table(
    "feature_drift",
    metadata,
    *_id_and_window("feature_drift"),
    sa.Column("feature", sa.Text(), nullable=False),
    sa.Column("feature_kind", sa.String(16), nullable=False),
    sa.Column("column_type", sa.String(16), nullable=False),
    sa.Column("method", sa.Text(), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("statistic", sa.Float(), nullable=True),
    sa.Column("threshold", sa.Float(), nullable=False),
    sa.Column("drifted", sa.Boolean(), nullable=False),
    sa.Column("reference_rows", sa.BigInteger(), nullable=False),
    sa.Column("current_rows", sa.BigInteger(), nullable=False),
    sa.Column("approximate", sa.Boolean(), nullable=False, server_default=sa.false()),
    *_slice_columns(compared_with=True),
    *_metric_table_extras("feature_drift"),
    sa.CheckConstraint("feature_kind IN ('feature', 'prediction')", name="ck_feature_drift_feature_kind"),
    sa.CheckConstraint("column_type IN ('numerical', 'categorical')", name="ck_feature_drift_column_type"),
)

dataset_drift = sa.Table(
    "dataset_drift",
    metadata,
    *_id_and_window("dataset_drift"),
    sa.Column("drifted_count", sa.BigInteger(), nullable=False),
    sa.Column("feature_count", sa.BigInteger(), nullable=False),
    sa.Column("drift_share", sa.Float(), nullable=False),
    sa.Column("drift_share_threshold", sa.Float(), nullable=False),
    sa.Column("drifted", sa.Boolean(), nullable=False),
    *_slice_columns(compared_with=True),
    *_metric_table_extras("dataset_drift"),
)

data_quality = sa.Table(
    "data_quality",
    metadata,
    *_id_and_window("data_quality"),
    sa.Column("feature", sa.Text(), nullable=False),
    sa.Column("column_type", sa.String(16), nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("missing_count", sa.BigInteger(), nullable=False),
    sa.Column("missing_share", sa.Float(), nullable=False),
    sa.Column("out_of_range_share", sa.Float(), nullable=True),
    sa.Column("new_category_share", sa.Float(), nullable=True),
    *_slice_columns(compared_with=False),
    *_metric_table_extras("data_quality"),
    sa.Column("distinct_count", sa.BigInteger(), nullable=True),
    sa.CheckConstraint("column_type IN ('numerical', 'categorical')", name="ck_data_quality_column_type"),
)

performance_metric = sa.Table(
    "performance_metric",
    metadata,
    *_id_and_window("performance_metric"),
    sa.Column("metric", sa.Text(), nullable=False),
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("labelled_count", sa.BigInteger(), nullable=False),
    sa.Column("label_coverage", sa.Float(), nullable=False),
    sa.Column("threshold", sa.Float(), nullable=True),
    sa.Column("threshold_direction", sa.String(8), nullable=True),
    sa.Column("breached", sa.Boolean(), nullable=False),
    sa.Column("estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
    *_slice_columns(compared_with=False),
    *_metric_table_extras("performance_metric"),
    sa.CheckConstraint(
        "threshold_direction IS NULL OR threshold_direction IN ('min', 'max')",
        name="ck_performance_metric_threshold_direction",
    ),
)

# Written by a later feature (retraining triggers); created now so that feature needs no schema change.
retrain_trigger = sa.Table(
    "retrain_trigger",
    metadata,
    *_id_and_window("retrain_trigger"),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("metrics", _JSON, nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("dag_run_id", sa.String(250), nullable=True),
    sa.Column("triggered_at", UTCDateTime(), nullable=False),
    sa.Index("ix_retrain_trigger_project_window_start", "project", "window_start"),
)

_TABLES: dict[str, sa.Table] = {name: metadata.tables[name] for name in METRIC_TABLES}


# ---------------------------------------------------------------------------------------------------- alembic
SCHEMA_REVISION = "0003"
"""The newest migration (checked against Alembic's head by the tests)."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the packaged migrations, built in code (no alembic.ini).

    `MetricsDatabase.migrate` passes its own connection; `url` is only for developer commands such as
    `alembic.command.revision(alembic_config("sqlite:///dev.db"), "add x", autogenerate=True, rev_id="0002")`.
    """
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation: a literal '%' must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        rendered = _parse_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


# ---------------------------------------------------------------------------------------------------- database
def _window_text(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    return f"{start.isoformat()}/{end.isoformat()}"


class MetricsDatabase:
    """The metrics database at one URL. Constructing one does no I/O; the engine is created on first use."""

    def __init__(self, url: str) -> None:
        self._url = _parse_url(url)
        self._engine: Engine | None = None

    @property
    def display_url(self) -> str:
        """The URL with its password masked: the only form that may appear in messages and logs."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect_name(self) -> str:
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"MetricsDatabase({self.display_url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use (for queries this class does not offer yet)."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        if self.dialect_name != "sqlite":
            return sa.create_engine(self._url, pool_pre_ping=True)
        # A generous busy timeout: several Airflow tasks may write the same SQLite file.
        engine = sa.create_engine(self._url, connect_args={"timeout": 30})

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

    def dispose(self) -> None:
        """Close pooled connections (call at the end of a task or CLI command)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ------------------------------------------------------------------------------------------- errors
    def _database_error(
        self, action: str, exc: BaseException, *, project: str | None = None, window: str | None = None
    ) -> DatabaseError:
        original = getattr(exc, "orig", None) or exc
        lines = str(original).strip().splitlines()
        reason = lines[0][:300] if lines else type(original).__name__
        if self._url.password:
            reason = reason.replace(str(self._url.password), "***")
        missing_table = getattr(original, "pgcode", None) == "42P01" or "no such table" in reason
        integrity = isinstance(exc, sa.exc.IntegrityError)
        hint = None
        if missing_table:
            hint = INIT_HINT
        elif integrity:
            hint = "a row breaks a constraint: each feature or metric may appear once per window and slice"
        error = DatabaseError(
            f"could not {action}: {reason}",
            hint=hint,
            project=project,
            window=window,
            database=self.display_url,
        )
        if missing_table or integrity:
            error.transient = False  # retrying the same work cannot succeed
        return error

    @contextmanager
    def _translate_errors(
        self, action: str, *, project: str | None = None, window: str | None = None
    ) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise self._database_error(action, exc, project=project, window=window) from exc

    # ------------------------------------------------------------------------------------------- schema
    def _sqlite_path(self) -> Path | None:
        database = self._url.database
        if self.dialect_name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (idempotent)."""
        from alembic import command
        from alembic.util import CommandError

        path = self._sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        config = alembic_config()
        with self._translate_errors("migrate the metrics database"):
            try:
                with self.engine.begin() as connection:
                    if self.dialect_name == "postgresql":
                        # Two processes running `init` at once: the second waits, then finds nothing to do.
                        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            except CommandError as exc:
                error = DatabaseError(
                    f"could not migrate the metrics database: {exc}",
                    hint="is this drifting-etl older than the database schema? upgrade drifting-etl",
                    database=self.display_url,
                )
                error.transient = False
                raise error from exc

    def check_schema(self) -> None:
        """Raise DatabaseError unless the database is migrated to the newest revision (`SCHEMA_REVISION`).

        Reads the version table with one query rather than through Alembic, whose import costs every run 0.1 s."""
        path = self._sqlite_path()
        if path is not None and not path.exists():
            # Connecting would create an empty file as a side effect of a check.
            error = DatabaseError("the metrics database does not exist", hint=INIT_HINT, database=self.display_url)
            error.transient = False
            raise error
        expected = {SCHEMA_REVISION}
        known = {file.name.split("_", 1)[0] for file in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")}
        version_table = sa.table(VERSION_TABLE, sa.column("version_num"))
        with self._translate_errors("read the metrics database schema version"), self.engine.connect() as connection:
            if not sa.inspect(connection).has_table(VERSION_TABLE):
                current: set[str] = set()
            else:
                current = set(connection.execute(sa.select(version_table.c.version_num)).scalars())
        if current == expected:
            return
        if current - known:
            hint = "the database was migrated by a newer drifting-etl: upgrade drifting-etl"
        else:
            hint = INIT_HINT
        error = DatabaseError(
            "the metrics database schema is not up to date "
            f"(at {', '.join(sorted(current)) or 'no revision'}, expected {', '.join(sorted(expected))})",
            hint=hint,
            database=self.display_url,
        )
        error.transient = False
        raise error

    # ------------------------------------------------------------------------------------------- writers
    def replace_window(
        self,
        run: RunRow,
        feature_drift: Sequence[FeatureDriftRow],
        dataset_drift: DatasetDriftRow | None,
        data_quality: Sequence[DataQualityRow],
        performance: Sequence[PerformanceRow],
    ) -> None:
        """Replace every row of `run`'s window, in one transaction: all new rows are stored, or none are."""
        window = (run.project, run.window_start, run.window_end)
        batches: list[tuple[sa.Table, list[dict[str, Any]]]] = []
        computed_at = datetime.now(UTC)
        # The parameters shadow the module's table names, hence _TABLES.
        for name, rows in (
            ("feature_drift", feature_drift),
            ("dataset_drift", [dataset_drift] if dataset_drift is not None else []),
            ("data_quality", data_quality),
            ("performance_metric", performance),
        ):
            values = []
            for row in rows:
                if (row.project, row.window_start, row.window_end) != window:
                    raise ValueError(
                        f"{type(row).__name__} for {row.project} {_window_text(row.window_start, row.window_end)} "
                        f"passed with the run of {run.project} {_window_text(run.window_start, run.window_end)}"
                    )
                values.append({**_values(row), "computed_at": computed_at})
            batches.append((_TABLES[name], values))

        with (
            self._translate_errors(
                "replace the window's metrics",
                project=run.project,
                window=_window_text(run.window_start, run.window_end),
            ),
            self.engine.begin() as connection,
        ):
            for table, _ in batches:
                connection.execute(sa.delete(table).where(*self._window_filter(table, *window)))
            connection.execute(sa.delete(monitoring_run).where(*self._window_filter(monitoring_run, *window)))
            connection.execute(sa.insert(monitoring_run), [_values(run)])
            for table, values in batches:
                if values:
                    connection.execute(sa.insert(table), values)

    def record_failure(
        self,
        project: str,
        window_start: datetime,
        window_end: datetime,
        started_at: datetime,
        finished_at: datetime,
        error: str,
        *,
        airflow_run_id: str | None = None,
    ) -> None:
        """Mark the window's run as failed, keeping the metric rows (and their summary) of an earlier run.

        Only the attempt's columns change on an existing run row: status, error, started_at, finished_at and
        airflow_run_id. row_count, drifted, … keep describing the metric rows that are still stored.
        """
        run = RunRow(
            project=project,
            window_start=window_start,
            window_end=window_end,
            status="failed",
            row_count=0,
            labelled_count=0,
            started_at=started_at,
            finished_at=finished_at,
            error=error,
            airflow_run_id=airflow_run_id,
        )
        insert = (postgresql.insert if self.dialect_name == "postgresql" else sqlite.insert)(monitoring_run)
        attempt = ("status", "error", "started_at", "finished_at", "airflow_run_id")
        statement = insert.values(_values(run)).on_conflict_do_update(
            index_elements=["project", "window_start", "window_end"],
            set_={name: insert.excluded[name] for name in attempt},
        )
        with (
            self._translate_errors(
                "record the failed run", project=project, window=_window_text(window_start, window_end)
            ),
            self.engine.begin() as connection,
        ):
            connection.execute(statement)

    # ------------------------------------------------------------------------------------------- readers
    @staticmethod
    def _window_filter(table: sa.Table, project: str, start: datetime, end: datetime) -> list[Any]:
        return [table.c.project == project, table.c.window_start == start, table.c.window_end == end]

    def runs(self, project: str) -> list[dict[str, Any]]:
        """Every run of `project`, oldest window first."""
        statement = (
            sa.select(monitoring_run)
            .where(monitoring_run.c.project == project)
            .order_by(monitoring_run.c.window_start, monitoring_run.c.window_end)
        )
        with self._translate_errors("read the runs", project=project), self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def rows(
        self,
        table: MetricTable | str,
        project: str,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of one of the five window tables for `project`, ordered by window then natural key.

        `window_start`/`window_end` bound a range: rows whose window starts at or after `window_start` and
        ends at or before `window_end` (pass both of one window to get exactly that window).
        """
        if table not in _TABLES:
            raise ConfigError(f"unknown metrics table {table!r}", hint=f"use one of {', '.join(METRIC_TABLES)}")
        _require_aware("window_start", window_start)
        _require_aware("window_end", window_end)
        source = _TABLES[table]
        conditions = [source.c.project == project]
        if window_start is not None:
            conditions.append(source.c.window_start >= window_start)
        if window_end is not None:
            conditions.append(source.c.window_end <= window_end)
        order = [source.c.window_start, source.c.window_end, *(source.c[key] for key in _KEYS[table]), source.c.id]
        statement = sa.select(source).where(*conditions).order_by(*order)
        with (
            self._translate_errors(f"read {table}", project=project, window=_window_text(window_start, window_end)),
            self.engine.connect() as connection,
        ):
            return [dict(row) for row in connection.execute(statement).mappings()]

    def previous_performance(self, project: str, before: datetime) -> dict[str, float]:
        """Measured whole-window metrics (metric -> value) of the latest successful window ending at or
        before `before` that has any; windows without labels (all values None) are skipped.
        """
        _require_aware("before", before)
        run, perf = monitoring_run, performance_metric
        measured = [
            perf.c.slice_key == ALL_ROWS,
            perf.c.slice_value == ALL_ROWS,
            perf.c.estimated.is_(False),
            perf.c.value.is_not(None),
        ]
        joined = perf.join(
            run,
            sa.and_(
                run.c.project == perf.c.project,
                run.c.window_start == perf.c.window_start,
                run.c.window_end == perf.c.window_end,
            ),
        )
        latest = (
            sa.select(perf.c.window_start, perf.c.window_end)
            .select_from(joined)
            .where(perf.c.project == project, perf.c.window_end <= before, run.c.status == "success", *measured)
            .order_by(perf.c.window_end.desc(), perf.c.window_start.desc())
            .limit(1)
            .subquery("latest")
        )
        # One statement, so a window being rewritten concurrently is seen either before or after, never half.
        statement = (
            sa.select(perf.c.metric, perf.c.value)
            .select_from(
                perf.join(
                    latest,
                    sa.and_(perf.c.window_start == latest.c.window_start, perf.c.window_end == latest.c.window_end),
                )
            )
            .where(perf.c.project == project, *measured)
            .order_by(perf.c.metric)
        )
        with (
            self._translate_errors("read the previous performance", project=project),
            self.engine.connect() as connection,
        ):
            return {metric: float(value) for metric, value in connection.execute(statement)}

    def annotate_run(self, project: str, window_start: datetime, window_end: datetime, **fields: str | None) -> None:
        """Set the report location or the notification outcome of a window's run (after its metrics were loaded)."""
        allowed = {"report_location", "notification_status", "notification_error"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"annotate_run sets only {sorted(allowed)}")
        window = _window_text(window_start, window_end)
        statement = (
            sa.update(monitoring_run)
            .where(*self._window_filter(monitoring_run, project, window_start, window_end))
            .values(**fields)
        )
        with (
            self._translate_errors("annotate the run", project=project, window=window),
            self.engine.begin() as connection,
        ):
            connection.execute(statement)

    # ------------------------------------------------------------------------------------------- retraining
    def retrain_triggers(self, project: str) -> list[dict[str, Any]]:
        """Every recorded retraining trigger of `project`, oldest first."""
        table = retrain_trigger
        statement = sa.select(table).where(table.c.project == project).order_by(table.c.triggered_at, table.c.id)
        with self._translate_errors("read retraining triggers", project=project), self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def claim_retrain_trigger(
        self,
        project: str,
        window_start: datetime,
        window_end: datetime,
        *,
        cooldown: timedelta,
        now: datetime,
        reason: str,
        metrics: dict[str, Any],
        dag_id: str,
        dag_run_id: str,
    ) -> bool:
        """Decide and record a retraining trigger atomically, so concurrent windows cannot both trigger.

        True when the window may trigger: it already did (a re-run; its recorded trigger is kept) or no trigger of
        the project lies within `cooldown`, in data time (window ends) or in wall-clock time (triggered_at); the
        trigger is then recorded. False otherwise.
        """
        for name, value in (("window_start", window_start), ("window_end", window_end), ("now", now)):
            _require_aware(name, value)
        table = retrain_trigger
        window = _window_text(window_start, window_end)
        with (
            self._translate_errors("claim a retraining trigger", project=project, window=window),
            self.engine.execution_options(sqlite_immediate=True).begin() as connection,
        ):
            if self.dialect_name == "postgresql":  # serialise claims of one project
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(project.encode()))))
            earlier = connection.execute(sa.select(table).where(table.c.project == project)).mappings().all()
            for row in earlier:
                if (row["window_start"], row["window_end"], row["dag_id"]) == (window_start, window_end, dag_id):
                    return True
            for row in earlier:
                if abs(row["window_end"] - window_end) < cooldown or now - row["triggered_at"] < cooldown:
                    return False
            connection.execute(
                sa.insert(table),
                [
                    {
                        "project": project,
                        "window_start": window_start,
                        "window_end": window_end,
                        "reason": reason,
                        "metrics": metrics,
                        "dag_id": dag_id,
                        "dag_run_id": dag_run_id,
                        "triggered_at": now,
                    }
                ],
            )
            return True
