"""The one exception hierarchy of drifting-etl.

    DriftingError                 base; carries keyword context (project, window, path, column, ...)
    ├── ConfigError               a project configuration or setting is invalid          (terminal)
    ├── StorageError              the artifact store could not be read or written        (transient)
    │   └── NotFoundError         a project, file or reference that should exist does not (terminal)
    ├── DataError                 a log/label/reference file does not match the contract (terminal)
    ├── ComputeError              a metric could not be computed from valid data          (terminal)
    ├── DatabaseError             the metrics database failed                             (transient)
    ├── NotifyError               a notification could not be composed or sent      (set per error)
    └── MissingExtraError         an optional part's extra is not installed; also an ImportError (terminal)

`transient` says whether retrying the same work may succeed (Airflow retries decide on it).
Messages never contain secrets: context values are names, windows and paths only.
"""

from __future__ import annotations

from typing import Any


class DriftingError(Exception):
    """Base of every error drifting-etl raises on purpose."""

    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        self.message = message
        self.hint = hint
        self.context = {key: value for key, value in context.items() if value is not None}
        for key, value in self.context.items():
            setattr(self, key, value)
        super().__init__(self._render())

    def _render(self) -> str:
        where = ", ".join(f"{key}={value}" for key, value in self.context.items())
        text = f"{self.message} [{where}]" if where else self.message
        if self.hint:
            text += f"\n  → {self.hint}"
        return text


class ConfigError(DriftingError):
    """A project configuration or setting is invalid."""


class StorageError(DriftingError):
    """The artifact store could not be read or written; retrying may help."""

    transient = True


class NotFoundError(StorageError):
    """Something that should exist in the artifact store does not."""

    transient = False


class DataError(DriftingError):
    """Input data (logs, labels, reference) does not match what the project declares."""


class ComputeError(DriftingError):
    """A metric could not be computed."""


class DatabaseError(DriftingError):
    """The metrics database failed; retrying may help."""

    transient = True


class NotifyError(DriftingError):
    """A notification could not be composed or sent. Sending errors are transient (the server may come back)."""


class MissingExtraError(DriftingError, ImportError):
    """An optional part of drifting-etl was used without the extra that installs its libraries.

    Also an ImportError, so that `except ImportError` around an optional import keeps working."""
