"""Signing a webhook's body, and verifying a signature the way a receiver does. Pure (hmac, hashlib).

    X-Drifting-Timestamp: 1767484800                       (Unix seconds when this attempt was sent)
    X-Drifting-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The signed string is the timestamp, a full stop, and the exact body bytes received: a receiver that checks the
signature and rejects timestamps older than a few minutes refuses both forged and replayed alerts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Drifting-Signature"
TIMESTAMP_HEADER = "X-Drifting-Timestamp"
SIGNATURE_SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 keyed with `secret` (UTF-8) over `b"<timestamp>." + body`."""
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_SCHEME}={digest.hexdigest()}"


def signature_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers that sign one attempt's `body` at `timestamp`."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `headers` sign `body` with `secret`, at a timestamp within `tolerance_seconds` of `now` (Unix
    seconds): what a receiver written in Python runs on the raw request body, before parsing it."""
    lowered = {key.lower(): value for key, value in headers.items()}
    stamp, given = lowered.get(TIMESTAMP_HEADER.lower(), ""), lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, int(stamp), body), given)
