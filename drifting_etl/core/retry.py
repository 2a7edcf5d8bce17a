"""Retrying work that failed for a reason a retry may fix (`errors.is_transient`), with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from drifting_etl.core.errors import is_transient

T = TypeVar("T")
logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 1.0


def with_retries(
    work: Callable[[], T],
    *,
    attempts: int,
    what: str,
    first_delay: float = FIRST_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`work()`, tried up to `attempts` times while it raises a transient error (waiting `first_delay`, then twice
    as long each time); the last error, or any terminal one, is raised as it is."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            logger.warning("%s failed (attempt %d of %d), retrying in %.0f s: %s", what, attempt, attempts, delay, exc)
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable: the last attempt returns or raises")
