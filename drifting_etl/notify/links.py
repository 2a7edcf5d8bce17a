"""The report link in an e-mail: a presigned URL on S3/GCS, a `file://` link on a local store, never a script URL."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drifting_etl.notify.formatting import duration_text

if TYPE_CHECKING:
    from drifting_etl.store.artifacts import ArtifactStore

logger = logging.getLogger(__name__)

DEFAULT_LINK_EXPIRY = timedelta(days=7)  # the longest an S3 SigV4 presigned URL may live
_LINK_SCHEMES = ("http", "https", "file")


@dataclass(frozen=True)
class ReportLink:
    """How the e-mail points at the full report: `href` is clickable (http/https/file), `text` is shown."""

    text: str | None = None
    href: str | None = None
    note: str | None = None


def safe_href(url: str | None) -> str | None:
    """Only http(s) and file URLs become links (never `javascript:` or `data:`)."""
    if not url:
        return None
    return url if urlsplit(url).scheme.lower() in _LINK_SCHEMES else None


def locate_report(store: ArtifactStore, location: str) -> tuple[Any, str]:
    """The filesystem and path of a report location given as a store path or a URL."""
    if "://" in location:
        import fsspec

        fs, path = fsspec.core.url_to_fs(location)
        return fs, path
    return store.fs, location


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def display_path(fs: Any, path: str) -> str:
    if _is_local(fs):
        return path
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{protocol}://{path}"


def report_link(fs: Any, path: str, *, expiry: timedelta) -> ReportLink:
    """A presigned URL on S3/GCS (`fs.sign`), a file:// URL on a local disk; the plain location if signing fails."""
    if _is_local(fs):
        url = Path(path).absolute().as_uri()
        return ReportLink(text=url, href=url)
    try:
        signed = str(_signer(fs).sign(path, expiration=int(expiry.total_seconds())))
    except Exception as exc:  # e.g. GCS without a service-account key cannot sign
        logger.warning("could not presign the report URL for %s: %s", display_path(fs, path), type(exc).__name__)
        return ReportLink(
            text=display_path(fs, path), note="a presigned link could not be made; open it with your credentials"
        )
    return ReportLink(text=signed, href=safe_href(signed), note=f"the link expires in {duration_text(expiry)}")


def _signer(fs: Any) -> Any:
    """The filesystem that presigns: for S3 one that signs with SigV4 unless a signature version is configured.

    botocore presigns with SigV2 by default in the regions that still accept it, but S3 rejects SigV2 for buckets
    created since 2020 and in newer regions; SigV4 works everywhere (the region must be right, and the URL lives at
    most 7 days).
    """
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if "s3" not in protocols:
        return fs
    options = dict(fs.storage_options)
    config = dict(options.get("config_kwargs") or {})
    if "signature_version" in config:
        return fs
    options["config_kwargs"] = {**config, "signature_version": "s3v4"}
    return type(fs)(**options)


def report_url(store: ArtifactStore, location: str | None, *, expiry: timedelta = DEFAULT_LINK_EXPIRY) -> str | None:
    """A URL to the report at `location` (a store path or URL), for an alert: an http(s) location as it is, a
    presigned URL on S3/GCS, a file:// URL on a local disk; None without a location or a link that can be made."""
    if location is None:
        return None
    if urlsplit(location).scheme.lower() in ("http", "https"):
        return location
    fs, path = locate_report(store, location)
    return report_link(fs, path, expiry=expiry).href
