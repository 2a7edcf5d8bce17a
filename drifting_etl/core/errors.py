"""The one exception hierarchy of drifting-etl, and which errors a retry can fix.

    DriftingError                      base; carries keyword context (project, window, path, column, ...)
    ├── ConfigError                    a project configuration or setting is invalid               Terminal
    ├── UsageError                     a command was called in a way that cannot work              Terminal
    ├── StorageError                   the artifact store could not be reached, read or written    Transient
    ├── NotFoundError                  the store lacks a project, file or reference it should hold Terminal
    ├── DataError                      a log/label/reference file does not match the contract      Terminal
    │   └── (pipeline.partitions: ValuesMissing, SummariesUnusable — the partition cache mending itself)
    ├── ComputeError                   a metric could not be computed from valid data               Terminal
    ├── DatabaseError                  the metrics database failed
    │   ├── DatabaseUnavailable        ... could not be reached or the statement failed            Transient
    │   └── SchemaError                ... is not migrated, or a row breaks its constraints        Terminal
    ├── NotifyError                    a notification failed
    │   ├── SendError                  ... the mail server or an alert receiver could not be       Transient
    │   │                                  reached, timed out, or answered 5xx / 429
    │   ├── DeliveryRejected           ... an alert receiver refused it (HTTP 3xx / 4xx)            Terminal
    │   └── ComposeError               ... could not be composed (no run row, no recipients)       Terminal
    └── MissingExtraError              an optional part's extra is not installed (an ImportError)   Terminal

Whether retrying may help is a class, never a flag set on an instance: every concrete error inherits `Transient`
or `Terminal` (dlt's pattern), and `DriftingError.transient` reads it. Foreign exceptions are classified once, at
the edge where a scheduler decides on retries, by `is_transient`.

Messages never contain secrets: context values are names, windows and paths only.
"""

from __future__ import annotations

from typing import Any


class Transient:
    """Mixin: retrying the same work may succeed (a server or network hiccup)."""


class Terminal:
    """Mixin: retrying the same work cannot succeed; the input, configuration or code must change first."""


class DriftingError(Exception):
    """Base of every error drifting-etl raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        self.message = message
        self.hint = hint
        self.context = {key: value for key, value in context.items() if value is not None}
        for key, value in self.context.items():
            setattr(self, key, value)
        super().__init__(self._render())

    @property
    def transient(self) -> bool:
        """Whether retrying the same work may succeed (Airflow retries decide on it)."""
        return isinstance(self, Transient)

    def _render(self) -> str:
        where = ", ".join(f"{key}={value}" for key, value in self.context.items())
        text = f"{self.message} [{where}]" if where else self.message
        if self.hint:
            text += f"\n  → {self.hint}"
        return text


class ConfigError(DriftingError, Terminal):
    """A project configuration or setting is invalid."""


class UsageError(DriftingError, Terminal):
    """A command or function was called in a way that cannot work (a closed writer, an empty range)."""


class StorageError(DriftingError, Transient):
    """The artifact store could not be reached, read or written; retrying may help."""


class NotFoundError(DriftingError, Terminal):
    """Something that should exist in the artifact store does not."""


class DataError(DriftingError, Terminal):
    """Input data (logs, labels, reference) does not match what the project declares."""


class ComputeError(DriftingError, Terminal):
    """A metric could not be computed."""


class DatabaseError(DriftingError):
    """The metrics database failed (see the two subclasses for whether a retry helps)."""


class DatabaseUnavailable(DatabaseError, Transient):
    """The metrics database could not be reached or a statement failed; retrying may help."""


class SchemaError(DatabaseError, Terminal):
    """The metrics database is missing, not migrated (or newer than this drifting-etl), or a row breaks a constraint."""


class NotifyError(DriftingError):
    """A notification failed (see the two subclasses for whether a retry helps)."""


class SendError(NotifyError, Transient):
    """The mail server could not be reached, or refused the message or a recipient; or an alert channel's receiver
    could not be reached, did not answer in time, or answered HTTP 5xx or 429. It may come back."""


class DeliveryRejected(NotifyError, Terminal):
    """An alert channel's receiver refused the alert (HTTP 4xx other than 429, or a redirect): sending the same
    request again cannot succeed until the channel's URL, secret or receiver changes."""


class ComposeError(NotifyError, Terminal):
    """A notification could not be composed: nothing to notify about, or no recipients."""


class MissingExtraError(DriftingError, ImportError, Terminal):
    """An optional part of drifting-etl was used without the extra that installs its libraries.

    Also an ImportError, so that `except ImportError` around an optional import keeps working."""


TRANSIENT_FOREIGN: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
"""Foreign exceptions a retry may fix: a dropped connection or a timeout, from any library."""


def root_cause(error: BaseException) -> str:
    """The innermost error behind `error` (following `raise ... from` and implicit chaining), as
    'ConnectionResetError: [Errno 104] Connection reset by peer': what went wrong at the bottom, for messages."""
    seen = {id(error)}
    current = error
    while True:
        following = current.__cause__ or current.__context__
        if following is None or id(following) in seen:
            break
        seen.add(id(following))
        current = following
    text = str(current).strip().splitlines()[0] if str(current).strip() else ""
    return f"{type(current).__name__}: {text}" if text else type(current).__name__


def is_transient(error: BaseException) -> bool:
    """Whether a scheduler should retry after `error`.

    Our errors say it by their class. Of foreign exceptions only connection failures and timeouts are retried;
    anything else (a KeyError, a TypeError) is a bug, which a retry would only repeat.
    """
    if isinstance(error, DriftingError):
        return error.transient
    return isinstance(error, TRANSIENT_FOREIGN)
