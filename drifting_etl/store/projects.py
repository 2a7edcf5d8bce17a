"""The project registry: registering a project (configuration + reference), listing, pausing, and loading it.

What is stored per project is described in store/artifacts.py. Registering validates everything up front, so a run
never discovers that the reference lacks a declared column. A configuration is validated here with the checks
other stages own (`PROJECT_CHECKS`: whether each column's drift method accepts its type), which core cannot make.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from drifting_etl.core.config import ConfigCheck, ProjectConfig, load_config, parse_config
from drifting_etl.core.errors import ConfigError, DataError, NotFoundError
from drifting_etl.core.names import check_project_name
from drifting_etl.metrics.calibration import calibration_problem
from drifting_etl.metrics.drift import config_problems as drift_config_problems
from drifting_etl.profiles.columns import ReferenceProfile, fit_reference
from drifting_etl.profiles.summary import positive_label
from drifting_etl.store.artifacts import ArtifactStore, IndexEntry, ProjectStatus

PROJECT_CHECKS: tuple[ConfigCheck, ...] = (drift_config_problems,)
"""What a project's configuration is checked against beyond its own rules (see core.config.parse_config)."""


def parse_project_config(text: str, *, source: str) -> ProjectConfig:
    """A project configuration from YAML text, checked against its own rules and `PROJECT_CHECKS`."""
    return parse_config(text, source=source, checks=PROJECT_CHECKS)


def load_project_config(path: str | Path) -> ProjectConfig:
    """A project configuration file, checked against its own rules and `PROJECT_CHECKS`."""
    return load_config(path, checks=PROJECT_CHECKS)


@dataclass(frozen=True)
class Project:
    config: ProjectConfig
    reference: ReferenceProfile
    """The fitted reference profile; with the reference's numerical values attached for exact computations unless
    loaded with `reference_values=False` (profiling partitions needs only the bins and categories)."""

    @functools.cached_property
    def positive_label(self) -> str:
        """The class `prediction_proba` is the probability of (binary classifiers), as a category key; worked out
        once per loaded project from the configuration and the reference's predictions."""
        return positive_label(self.config, self.reference)


def _read_reference(data: bytes, source: str, config: ProjectConfig) -> pa.Table:
    """The reference's monitored columns (features and prediction)."""
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        present = set(parquet.schema_arrow.names)
        missing = [name for name in config.monitored_columns() if name not in present]
        table = parquet.read(columns=[name for name in config.monitored_columns() if name in present])
    except Exception as exc:
        raise DataError(f"reference is not a readable Parquet file: {exc}", project=config.name, path=source) from exc
    if missing:
        raise DataError(
            f"reference lacks column(s) {', '.join(missing)}",
            project=config.name,
            path=source,
            hint="the reference needs every declared feature and the prediction column",
        )
    return table


def register(
    store: ArtifactStore, config_path: str | Path, reference_path: str
) -> tuple[ProjectConfig, ReferenceProfile]:
    """Validate and store a project's configuration and reference, and fit its reference profile."""
    config = load_project_config(config_path)
    try:
        with fsspec.open(reference_path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise NotFoundError("reference file not found", project=config.name, path=reference_path) from exc
    table = _read_reference(data, reference_path, config)
    try:
        profile = fit_reference(table, config.monitored_columns(), source_digest=hashlib.sha256(data).hexdigest())
    except ValueError as exc:
        raise DataError(f"cannot profile the reference: {exc}", project=config.name, path=reference_path) from exc
    _check_calibration(config, table, reference_path)
    store.ensure_layout()
    store.write_bytes(store.reference_path(config.name), data)
    store.write_text(store.reference_profile_path(config.name), profile.to_json())
    store.write_text(store.configuration_path(config.name), Path(config_path).read_text(encoding="utf-8"))
    existing = store.read_index().get(config.name)
    index_project(store, config, existing.status if existing else "active")
    return config, profile


def _check_calibration(config: ProjectConfig, table: pa.Table, source: str) -> None:
    """Refuse a reference too small for the project's `drift.calibration`, before anything is stored."""
    if config.drift.calibration is None:
        return
    problem = calibration_problem(config.drift.calibration, table.num_rows)
    if problem:
        raise ConfigError(
            problem,
            project=config.name,
            path=source,
            hint="lower drift.calibration.window_rows in the configuration, or use a larger reference",
        )


def index_project(store: ArtifactStore, config: ProjectConfig, status: ProjectStatus) -> IndexEntry:
    return store.set_index_entry(
        config.name,
        status=status,
        schedule=config.schedule,
        start_date=config.start_date.isoformat(),
        catchup=config.catchup,
        retrain_dag_id=config.retrain_dag_id,
    )


def replace_reference(store: ArtifactStore, name: str, table: pa.Table, *, source: str) -> ReferenceProfile:
    """Make `table` the project's reference (e.g. a retrained model's training window) and refit its profile."""
    config = load_config_of(store, name)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = buffer.getvalue()
    table = _read_reference(data, source, config)
    try:
        profile = fit_reference(table, config.monitored_columns(), source_digest=hashlib.sha256(data).hexdigest())
    except ValueError as exc:
        raise DataError(f"cannot profile the new reference: {exc}", project=name, path=source) from exc
    _check_calibration(config, table, source)
    store.write_bytes(store.reference_path(name), data)
    store.write_text(store.reference_profile_path(name), profile.to_json())
    return profile


def unknown_project(store: ArtifactStore, name: str, *, hint: str | None = None) -> NotFoundError:
    """The error for a project `store` does not hold: the closest registered name (did you mean ...?), the registered
    ones, and `hint` (default: how to register one)."""
    known = list(store.read_index())
    close = difflib.get_close_matches(name, known, n=1)
    message = f"unknown project {name!r}" + (f" \N{EM DASH} did you mean {close[0]!r}?" if close else "")
    hint = hint or "register with `drifting-etl project register CONFIG.yaml --reference DATA.parquet`"
    return NotFoundError(
        message, project=name, store=store.url, hint=f"registered projects: {', '.join(known) or 'none'}; {hint}"
    )


def load_config_of(store: ArtifactStore, name: str) -> ProjectConfig:
    check_project_name(name)
    path = store.configuration_path(name)
    if name not in store.read_index() or not store.exists(path):
        raise unknown_project(store, name)
    config = parse_project_config(store.read_text(path), source=store.display(path))
    if config.name != name:
        raise ConfigError(f"stored configuration names project {config.name!r}", project=name, path=store.display(path))
    return config


def load_project(store: ArtifactStore, name: str, *, reference_values: bool = True) -> Project:
    """The project's configuration and reference profile; `reference_values=False` leaves reference.parquet unread
    (the profile's bins, counts and categories come from reference_profile.json)."""
    config = load_config_of(store, name)
    profile = ReferenceProfile.from_json(store.read_text(store.reference_profile_path(name)))
    if not reference_values:
        return Project(config, profile)
    table = _read_reference(
        store.read_bytes(store.reference_path(name)), store.display(store.reference_path(name)), config
    )
    return Project(config, profile.with_values(table))


def reference_table(store: ArtifactStore, project: Project) -> pa.Table:
    """The project's stored reference: its monitored columns."""
    path = store.reference_path(project.config.name)
    return _read_reference(store.read_bytes(path), store.display(path), project.config)


def list_projects(store: ArtifactStore) -> list[IndexEntry]:
    return list(store.read_index().values())


def set_status(store: ArtifactStore, name: str, status: ProjectStatus) -> IndexEntry:
    return index_project(store, load_config_of(store, name), status)


@dataclass(frozen=True)
class DeletedProject:
    """What `delete_project` removed from the store, and what it kept (as a user would type the paths)."""

    name: str
    removed: tuple[str, ...]
    kept: tuple[str, ...]


def project_data_dirs(store: ArtifactStore, name: str) -> tuple[str, ...]:
    """Where a project's data lies beside its definition: logs, labels, cached profiles and plans, reports, models."""
    return (
        store.logs_dir(name),
        store.labels_dir(name),
        store.profiles_dir(name),
        store.plans_dir(name),
        store.reports_dir(name),
        store.models_dir(name),
    )


def require_deletable(store: ArtifactStore, name: str, *, purge: bool) -> None:
    """Pass for a registered project, or, with `purge`, one deleted earlier without it whose data is still in the
    store; else NotFoundError naming the closest registered project."""
    if check_project_name(name) in store.read_index():
        return
    if purge and any(store.exists(path) for path in project_data_dirs(store, name)):
        return
    raise unknown_project(store, name, hint="list them with `drifting-etl project list`")


def delete_project(store: ArtifactStore, name: str, *, purge: bool) -> DeletedProject:
    """Remove a project from the index with its configuration and reference; with `purge` also its data
    (`project_data_dirs`). Its metric rows are the database's (`MetricsDatabase.purge_project`).

    The index entry goes last, so a delete that fails half way can be run again; so can `purge` after a delete
    without it."""
    require_deletable(store, name, purge=purge)
    definition = (
        store.configuration_path(name),
        store.reference_path(name),
        store.reference_profile_path(name),
        store.calibration_path(name),
    )
    data = project_data_dirs(store, name)
    removed = [store.display(path) for path in (*definition, *(data if purge else ())) if store.remove(path)]
    project_dir = store.project_dir(name)
    if purge or store.is_empty_dir(project_dir):
        store.remove(project_dir)
    kept = () if purge else tuple(store.display(path) for path in data if store.exists(path))
    store.remove_index_entry(name)
    return DeletedProject(name, tuple(removed), kept)
