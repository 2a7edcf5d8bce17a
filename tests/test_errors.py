"""The error tree (drifting_etl/core/errors.py): every error says by its class whether a retry can help."""

from __future__ import annotations

import inspect

import pytest

from drifting_etl.core import errors
from drifting_etl.core.errors import DriftingError, Terminal, Transient, is_transient

TREE = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, DriftingError)]
BASES = {DriftingError, errors.DatabaseError, errors.NotifyError}
"""Abstract groupings: only their subclasses are raised."""


@pytest.mark.parametrize("cls", [cls for cls in TREE if cls not in BASES], ids=lambda cls: cls.__name__)
def test_error_class_given_concrete_error_should_be_exactly_one_of_transient_or_terminal(cls: type) -> None:
    assert issubclass(cls, Transient) != issubclass(cls, Terminal)
    assert cls("x").transient is issubclass(cls, Transient)


def test_error_tree_given_module_docstring_should_draw_every_error() -> None:
    drawn = errors.__doc__ or ""
    assert all(f" {cls.__name__} " in drawn for cls in TREE)


def test_transient_given_an_instance_should_not_be_settable() -> None:
    error = errors.DataError("bad row")
    with pytest.raises(AttributeError):
        error.transient = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (errors.StorageError("store down"), True),
        (errors.NotFoundError("no such project"), False),
        (errors.DatabaseUnavailable("server gone"), True),
        (errors.SchemaError("not migrated"), False),
        (errors.SendError("smtp down"), True),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("read timed out"), True),
        (KeyError("prediction"), False),
        (TypeError("unsupported operand"), False),
        (FileNotFoundError("reference.parquet"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_is_transient_given_error_should_retry_only_what_a_retry_can_fix(error: BaseException, retry: bool) -> None:
    assert is_transient(error) is retry
