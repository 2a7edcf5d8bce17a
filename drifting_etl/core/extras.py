"""The optional installs ("extras"): which extra a part of drifting-etl needs, checked before that part loads.

`pip install drifting-etl` installs the capture SDK only (`capture`, `core`, `store.artifacts`: pyarrow, fsspec,
pydantic, pydantic-settings, pyyaml, croniter). Everything else comes with an extra of pyproject.toml's
[project.optional-dependencies]: `etl` (the engine and the CLI), `airflow`, `report`, `retrain`, `demo`, the storage
and database drivers `s3`, `gcs`, `postgres`, and `all`. A part that needs an extra calls `require_extra` before its
libraries are imported, so a missing install fails with one message naming the extra to install, not a traceback
from deep inside an import.

Owns: the extras' names and, per extra, the import names whose absence means it is not installed
(tests/test_packaging.py checks them against pyproject.toml). Must not import any optional library: it runs exactly
when they may be missing. Looking a module up (`importlib.util.find_spec` on a top-level name) does not import it.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from drifting_etl.core.errors import MissingExtraError

DISTRIBUTION = "drifting-etl"

Extra = Literal["etl", "airflow", "report", "retrain", "demo", "s3", "gcs", "postgres", "all"]

EXTRA_MODULES: dict[Extra, tuple[str, ...]] = {
    "etl": ("numpy", "scipy", "sqlalchemy", "alembic", "click", "rich", "jinja2"),
    "airflow": ("airflow",),
    "report": ("evidently", "pandas"),
    "retrain": ("sklearn", "skops", "pandas"),
    # the demo fits its models with scikit-learn and renders reports: [demo] includes [report] and [retrain]
    "demo": ("aiosmtpd", "sklearn", "skops", "evidently", "pandas"),
    "s3": ("s3fs",),
    "gcs": ("gcsfs",),
    "postgres": ("psycopg2",),
    "all": (),
}
"""Top-level import names each extra installs; one of them missing means the extra is not installed."""


def install_command(extra: Extra) -> str:
    """What to run to install `extra` (quoted: brackets are a glob in most shells)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_module(extra: Extra) -> str | None:
    """The first of `extra`'s modules that cannot be imported here, or None when the extra is installed."""
    for name in EXTRA_MODULES[extra]:
        if importlib.util.find_spec(name) is None:
            return name
    return None


def require_extra(extra: Extra, *, feature: str, alternative: str | None = None) -> None:
    """Raise MissingExtraError naming `extra` when `feature` cannot run because the extra is not installed.

    `alternative` is a way to go on without the extra (e.g. "or pass --no-report"), added to the hint."""
    module = missing_module(extra)
    if module is None:
        return
    hint = install_command(extra) + (f", {alternative}" if alternative else "")
    raise MissingExtraError(
        f"{feature} cannot run without the [{extra}] extra of {DISTRIBUTION}, which is not installed here",
        hint=hint,
        extra=extra,
        module=module,
    )
