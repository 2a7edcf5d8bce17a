"""Where the templates shipped with drifting-etl are: `reports/` in a source checkout, `drifting_etl/templates/` in an
installed wheel (pyproject.toml force-includes `reports/` there). Paths only: no template engine is imported here.
The example project configuration (`drifting-etl config example`) is found the same way."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from drifting_etl.core.errors import ConfigError

TEMPLATE_DIRS = (
    Path(__file__).resolve().parents[1] / "templates",  # an installed wheel
    Path(__file__).resolve().parents[2] / "reports",  # a source checkout / editable install
)

EXAMPLE_PROJECT = "example_project.yaml"
"""The commented example configuration in an installed wheel (pyproject.toml force-includes examples/project.yaml)."""
EXAMPLE_PROJECT_CHECKOUT = Path(__file__).resolve().parents[2] / "examples" / "project.yaml"
"""The single source of the example, in a source checkout / editable install."""


def example_project_text() -> str:
    """The commented example project configuration: the installed package's copy, else the checkout's."""
    packaged = resources.files("drifting_etl.core").joinpath(EXAMPLE_PROJECT)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    try:
        return EXAMPLE_PROJECT_CHECKOUT.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"the example project configuration is missing: not in the package, nor at {EXAMPLE_PROJECT_CHECKOUT}",
            path=str(EXAMPLE_PROJECT_CHECKOUT),
            hint="reinstall drifting-etl",
        ) from exc
