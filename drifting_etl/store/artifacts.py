"""The artifact store: one fsspec URL that holds the registry, references, logs, labels and reports.

This module owns the storage layout (every path is built here and nowhere else), atomic writes,
and the project index `store.json`. It knows nothing about metrics or drift.

Layout under the store root::

    store.json                                              index: name -> status, schedule, updated_at
    projects/<name>/configuration.yaml
    projects/<name>/reference.parquet
    projects/<name>/reference_profile.json
    logs/project=<name>/date=YYYY-MM-DD/hour=HH/<uuid>.parquet
    labels/project=<name>/date=YYYY-MM-DD/<uuid>.parquet
    profiles/project=<name>/date=YYYY-MM-DD/hour=HH/<key>.profile  cached partition summaries (profiles.codec, no pickle)
    plans/project=<name>/date=YYYY-MM-DD/<key>.json                 a window's planned partitions, for Airflow's tasks
    reports/project=<name>/<start>--<end>.html                      HTML drift report of a window (`Window.slug`)
    projects/<name>/models/<version>/model.skops                    a retrained scikit-learn Pipeline (skops, never pickle)
    projects/<name>/models/<version>/metrics.json                   what was trained on, how both models did, the decision
    projects/<name>/models/current.json                             {"version", "promoted_at"} of the promoted model

A model version is `<training window end, compact UTC>-<8 hex digits>` (e.g. 20260105T120000Z-1a2b3c4d); project
names and versions are checked before they become path segments, so an untrusted one cannot escape its prefix.

Files whose name starts with "." or "_" are in-flight or bookkeeping files and are never read as data.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import fsspec
from fsspec.implementations.local import LocalFileSystem

from drifting_etl.core.errors import ConfigError, DataError, NotFoundError, StorageError, root_cause
from drifting_etl.core.names import check_project_name
from drifting_etl.core.settings import Settings
from drifting_etl.core.window import COMPACT_UTC_PATTERN, Window

ProjectStatus = Literal["active", "paused"]
MODEL_VERSION_PATTERN = re.compile(rf"^{COMPACT_UTC_PATTERN}-[0-9a-f]{{8}}$")


@dataclass(frozen=True)
class StoredFile:
    """A data file in the store, with what identifies its version (for caching and error messages)."""

    path: str
    size: int
    version: str  # modification time or ETag, whichever the backend offers


@dataclass(frozen=True)
class IndexEntry:
    """One project's line in `store.json`: what an Airflow DAG factory needs without reading the configuration."""

    name: str
    status: ProjectStatus
    schedule: str
    updated_at: str
    start_date: str = ""
    """ISO date of the first window."""
    catchup: bool = True
    retrain_dag_id: str = ""
    """The DAG to trigger on a breach (`retrain__<name>` is the shipped reference retraining DAG)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "schedule": self.schedule,
            "start_date": self.start_date,
            "catchup": self.catchup,
            "retrain_dag_id": self.retrain_dag_id,
            "updated_at": self.updated_at,
        }


class ArtifactStore:
    """An fsspec filesystem rooted at the store URL. Constructing one does no I/O."""

    def __init__(self, url: str) -> None:
        if "://" not in url and not url.startswith("/"):
            url = str(Path(url).absolute())
        self.url = url
        fs, root = fsspec.core.url_to_fs(url)
        self.fs: fsspec.AbstractFileSystem = fs
        self.root = root.rstrip("/") or "/"

    @classmethod
    def from_env(cls, url: str | None = None) -> ArtifactStore:
        """The store named by `url`, else `$DRIFTING_STORAGE_URL`, else `.drifting` in the working directory."""
        return cls(url or Settings.from_env().storage_url)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # ---------------------------------------------------------------- layout
    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def display(self, path: str) -> str:
        """A path as a user would type it (with the URL scheme for remote stores)."""
        if self.is_local:
            return path
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{path}"

    @property
    def index_path(self) -> str:
        return self.path("store.json")

    def project_dir(self, project: str) -> str:
        return self.path("projects", check_project_name(project))

    def configuration_path(self, project: str) -> str:
        return f"{self.project_dir(project)}/configuration.yaml"

    def reference_path(self, project: str) -> str:
        return f"{self.project_dir(project)}/reference.parquet"

    def reference_profile_path(self, project: str) -> str:
        return f"{self.project_dir(project)}/reference_profile.json"

    def calibration_path(self, project: str) -> str:
        """Thresholds calibrated on the reference (`drift.calibration`), with the key of what they were computed from."""
        return f"{self.project_dir(project)}/calibration.json"

    def logs_dir(self, project: str) -> str:
        return self.path("logs", f"project={check_project_name(project)}")

    def log_partition_dir(self, project: str, day: date, hour: int) -> str:
        return f"{self.logs_dir(project)}/date={day.isoformat()}/hour={hour:02d}"

    def labels_dir(self, project: str) -> str:
        return self.path("labels", f"project={check_project_name(project)}")

    def label_partition_dir(self, project: str, day: date) -> str:
        return f"{self.labels_dir(project)}/date={day.isoformat()}"

    def profiles_dir(self, project: str) -> str:
        """The project's cached partition summaries."""
        return self.path("profiles", f"project={check_project_name(project)}")

    def partition_profile_path(self, project: str, hour: datetime, key: str) -> str:
        """A cached summary of one hour partition; `key` identifies its files, the reference and the window's cut."""
        directory = self.profiles_dir(project)
        return f"{directory}/date={hour.date().isoformat()}/hour={hour.hour:02d}/{_content_key(key, 'profile')}.profile"

    @staticmethod
    def partition_profile_key(path: str) -> str:
        """The key a cached summary's path was made from (`partition_profile_path`)."""
        return _content_key(path.rsplit("/", 1)[-1].removesuffix(".profile"), "profile")

    def plans_dir(self, project: str) -> str:
        """The project's window plans (Airflow's profiling tasks)."""
        return self.path("plans", f"project={check_project_name(project)}")

    def window_plan_path(self, project: str, window_start: datetime, key: str) -> str:
        """A window's plan (pipeline.partitions.WindowPlan, JSON) for Airflow's profiling tasks; `key` digests it."""
        directory = self.plans_dir(project)
        return f"{directory}/date={window_start.date().isoformat()}/{_content_key(key, 'plan')}.json"

    def reports_dir(self, project: str) -> str:
        """The project's HTML drift reports."""
        return self.path("reports", f"project={check_project_name(project)}")

    def report_path(self, project: str, window_start: datetime, window_end: datetime) -> str:
        """The window's HTML drift report: reports/project=<name>/<start>--<end>.html (UTC, ISO basic format)."""
        return f"{self.reports_dir(project)}/{Window(window_start, window_end).slug}.html"

    def models_dir(self, project: str) -> str:
        """Every stored model version of a project (written by the reference retraining)."""
        return f"{self.project_dir(project)}/models"

    def model_dir(self, project: str, version: str) -> str:
        """One model version's directory; ConfigError for a version that is not `MODEL_VERSION_PATTERN`."""
        if not isinstance(version, str) or not MODEL_VERSION_PATTERN.fullmatch(version):
            raise ConfigError(
                f"invalid model version {version!r}", project=project, hint="e.g. 20260105T120000Z-1a2b3c4d"
            )
        return f"{self.models_dir(project)}/{version}"

    def model_path(self, project: str, version: str) -> str:
        return f"{self.model_dir(project, version)}/model.skops"

    def model_metrics_path(self, project: str, version: str) -> str:
        """The version's metrics.json, written last: a version directory without it is incomplete."""
        return f"{self.model_dir(project, version)}/metrics.json"

    def current_model_path(self, project: str) -> str:
        """current.json: which version is promoted (absent until a retrained model is promoted)."""
        return f"{self.models_dir(project)}/current.json"

    def new_data_file(self, directory: str) -> str:
        return f"{directory}/{uuid.uuid4().hex}.parquet"

    # ---------------------------------------------------------------- I/O
    def exists(self, path: str) -> bool:
        try:
            return bool(self.fs.exists(path))
        except Exception as exc:  # network and permission errors alike
            raise StorageError(
                f"could not reach the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc

    def read_bytes(self, path: str, length: int | None = None) -> bytes:
        """The file's bytes, or only its first `length` bytes."""
        try:
            with self.fs.open(path, "rb") as handle:
                return handle.read() if length is None else handle.read(length)
        except FileNotFoundError as exc:
            raise NotFoundError("file not found in the artifact store", path=self.display(path)) from exc
        except Exception as exc:
            raise StorageError(
                f"could not read from the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def write_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:
        """Write a whole file so that no reader ever sees part of it.

        Object stores publish a PUT atomically; on a local disk we write a hidden temporary file in the
        same directory and rename it into place (synced to disk first unless `durable` is False, for caches).
        """
        temporary = None
        try:
            if self.is_local:
                directory, name = path.rsplit("/", 1)
                os.makedirs(directory, exist_ok=True)
                temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
                with open(temporary, "wb") as handle:
                    handle.write(data)
                    if durable:
                        handle.flush()
                        os.fsync(handle.fileno())
                os.replace(temporary, path)
            else:
                self.fs.pipe_file(path, data)
        except Exception as exc:
            if temporary is not None:  # a full disk must not stay full of our half-written files
                with contextlib.suppress(OSError):
                    os.remove(temporary)
            raise StorageError(
                f"could not write to the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def remove(self, path: str) -> bool:
        """Delete the file or directory tree at `path` (built by this class's path methods); False when nothing was
        there. A path that is not strictly inside the store root is refused (ValueError): nothing outside the store
        is ever deleted."""
        root = self.root.rstrip("/") + "/"
        parts = path.split("/")
        if not path.startswith(root) or path == root or ".." in parts or "." in parts:
            raise ValueError(f"refusing to delete {path!r}: not inside the store root {self.root!r}")
        try:
            if not self.fs.exists(path):
                return False
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise StorageError(
                f"could not delete from the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc
        return True

    def is_empty_dir(self, path: str) -> bool:
        """Whether `path` is a directory holding nothing (object stores: no object under the prefix)."""
        try:
            return not self.fs.ls(path, refresh=True)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise StorageError(
                f"could not list the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc

    def list_dirs(self, path: str) -> list[str]:
        """Immediate subdirectories of `path` (empty if it does not exist)."""
        try:
            entries = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StorageError(
                f"could not list the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc
        return sorted(entry["name"].rstrip("/") for entry in entries if entry.get("type") == "directory")

    def list_data_files(self, path: str, suffix: str = ".parquet") -> list[StoredFile]:
        """Data files directly under `path`, skipping in-flight and bookkeeping files."""
        try:
            entries = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StorageError(
                f"could not list the artifact store: {root_cause(exc)}", path=self.display(path)
            ) from exc
        files = []
        for entry in entries:
            name = entry["name"].rsplit("/", 1)[-1]
            if entry.get("type") != "file" or name.startswith((".", "_")) or not name.endswith(suffix):
                continue
            version = entry.get("ETag") or entry.get("etag") or entry.get("mtime") or entry.get("LastModified") or ""
            files.append(StoredFile(path=entry["name"], size=int(entry.get("size") or 0), version=str(version)))
        return sorted(files, key=lambda stored: stored.path)

    def ensure_layout(self) -> None:
        """Create the top-level layout (idempotent). Object stores have no directories; nothing to do there."""
        if self.is_local:
            for part in ("projects", "logs", "labels", "reports"):
                os.makedirs(self.path(part), exist_ok=True)
        if not self.exists(self.index_path):
            self._write_index({})

    # ---------------------------------------------------------------- project index
    def read_index(self) -> dict[str, IndexEntry]:
        """The project index; an uninitialised store has an empty one."""
        if not self.exists(self.index_path):
            return {}
        try:
            raw: dict[str, Any] = json.loads(self.read_text(self.index_path))
        except json.JSONDecodeError as exc:
            raise DataError(
                "the project index is not valid JSON",
                path=self.display(self.index_path),
                hint="restore it from a backup",
            ) from exc
        projects = raw.get("projects", {})
        return {
            name: IndexEntry(
                name=name,
                status=entry["status"],
                schedule=entry["schedule"],
                updated_at=entry["updated_at"],
                start_date=entry.get("start_date", ""),
                catchup=entry.get("catchup", True),
                retrain_dag_id=entry.get("retrain_dag_id", ""),
            )
            for name, entry in sorted(projects.items())
        }

    def set_index_entry(
        self, name: str, *, status: ProjectStatus, schedule: str, start_date: str, catchup: bool, retrain_dag_id: str
    ) -> IndexEntry:
        entries = self.read_index()
        entry = IndexEntry(
            name=check_project_name(name),
            status=status,
            schedule=schedule,
            updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            start_date=start_date,
            catchup=catchup,
            retrain_dag_id=retrain_dag_id,
        )
        entries[name] = entry
        self._write_index(entries)
        return entry

    def remove_index_entry(self, name: str) -> bool:
        """Drop a project from the index (False when it was not in it)."""
        entries = self.read_index()
        if entries.pop(check_project_name(name), None) is None:
            return False
        self._write_index(entries)
        return True

    def _write_index(self, entries: dict[str, IndexEntry]) -> None:
        body = {"version": 1, "projects": {name: entry.as_json() for name, entry in sorted(entries.items())}}
        self.write_text(self.index_path, json.dumps(body, indent=2) + "\n")

    def walk_partitions(self, directory: str, key: str) -> Iterator[tuple[str, str]]:
        """(value, path) for each `key=value` subdirectory of `directory`, in order."""
        for path in self.list_dirs(directory):
            name = path.rsplit("/", 1)[-1]
            if name.startswith(f"{key}="):
                yield name.split("=", 1)[1], path


def _content_key(key: str, what: str) -> str:
    """`key` if it is a hex digest (it becomes a file name, so nothing else may pass)."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", key):
        raise ValueError(f"invalid {what} key {key!r}")
    return key
