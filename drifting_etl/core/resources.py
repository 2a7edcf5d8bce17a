"""Where the templates shipped with drifting-etl are: `reports/` in a source checkout, `drifting_etl/templates/` in an
installed wheel (pyproject.toml force-includes `reports/` there). Paths only: no template engine is imported here."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIRS = (
    Path(__file__).resolve().parents[1] / "templates",  # an installed wheel
    Path(__file__).resolve().parents[2] / "reports",  # a source checkout / editable install
)
