"""POSTing an alert's JSON body to a channel's receiver, with the standard library's urllib.

Each attempt has a timeout. What a retry may fix — no answer in time, a refused or dropped connection, HTTP 5xx or
429 — is tried again with exponential backoff (`core.retry`: 1 s, 2 s, …); any other answer outside 2xx is not
(a 4xx will not change by asking again), and redirects are not followed. The URL (for Slack it is the credential)
and the signing secret never appear in an error or a log line: errors name what went wrong, never where.
"""

from __future__ import annotations

import functools
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from drifting_etl.core.errors import DeliveryRejected, NotifyError, SendError
from drifting_etl.core.retry import with_retries

_ANSWER_CHARS = 200  # of a refusal's body in the error: Slack says why there ("invalid_payload", "no_service")


@functools.cache
def user_agent() -> str:
    try:
        return f"drifting-etl/{version('drifting-etl')}"
    except PackageNotFoundError:  # a source tree without installed metadata
        return "drifting-etl"


@dataclass(frozen=True)
class PostOutcome:
    """What POSTing one alert came to, over all its attempts."""

    delivered: bool
    attempts: int
    http_status: int | None
    """The status of the last answer; None when there was none (a timeout, a refused connection)."""
    error: str | None = None
    """Why it was not delivered (no URL or secret in it); None when delivered."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: urllib would re-send a POST as a GET without its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _scrubbed(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _answer(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(_ANSWER_CHARS).decode("utf-8", "replace").strip()
    except Exception:  # the body could not be read: the status says enough
        return ""
    return f": {text}" if text else ""


def post_json(
    url: str,
    body: bytes,
    *,
    headers: Callable[[], Mapping[str, str]],
    timeout: float,
    attempts: int,
    what: str,
    secrets: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> PostOutcome:
    """POST `body` (JSON) to `url`, up to `attempts` times while a retry may help; never raises for the receiver's
    faults. `headers()` gives each attempt's extra headers (a fresh signature per attempt); `what` names the alert in
    retry log lines; `secrets` (the URL, the signing secret) are masked in any error text."""
    opener = urllib.request.build_opener(_NoRedirects)
    state: dict[str, Any] = {"attempts": 0, "status": None}

    def attempt() -> None:
        state["attempts"] += 1
        state["status"] = None
        # `from None` below: urllib's exceptions carry the URL, which must not reach a traceback or log
        try:
            request = urllib.request.Request(
                url,
                data=body,
                headers={**headers(), "Content-Type": "application/json; charset=utf-8", "User-Agent": user_agent()},
                method="POST",
            )
            with opener.open(request, timeout=timeout) as response:
                state["status"] = response.status
        except urllib.error.HTTPError as exc:
            state["status"] = exc.code
            answer = _scrubbed(_answer(exc), secrets)
            if exc.code >= 500 or exc.code == 429:
                raise SendError(f"the receiver answered HTTP {exc.code}{answer}") from None
            raise DeliveryRejected(
                f"the receiver refused the alert with HTTP {exc.code}{answer}",
                hint="a retry cannot change that: check the channel's URL (for Slack: is the incoming webhook still "
                "active?) and, for a webhook, the secret the receiver checks the signature with",
            ) from None
        except TimeoutError:
            raise SendError(f"the receiver did not answer within {timeout:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise SendError(f"the receiver did not answer within {timeout:g} s") from None
            reason = exc.reason if isinstance(exc.reason, BaseException) else str(exc.reason)
            described = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else reason
            raise SendError(f"could not reach the receiver: {_scrubbed(described, secrets)}") from None
        except (http.client.InvalidURL, ValueError) as exc:  # their text holds (part of) the URL: not shown
            raise DeliveryRejected(
                f"the channel's URL cannot be requested ({type(exc).__name__})",
                hint="check the URL: no spaces or line breaks, a valid host",
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise SendError(f"the connection failed: {_scrubbed(f'{type(exc).__name__}: {exc}', secrets)}") from None

    try:
        with_retries(attempt, attempts=attempts, what=what, sleep=sleep)
    except NotifyError as exc:
        tries = state["attempts"]
        error = f"{exc.message} (after {tries} attempt{'' if tries == 1 else 's'})"
        if exc.hint:
            error += f"\n  → {exc.hint}"
        return PostOutcome(False, tries, state["status"], error)
    return PostOutcome(True, state["attempts"], state["status"])
