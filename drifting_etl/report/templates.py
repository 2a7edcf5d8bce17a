"""The report's jinja2 templates (`reports/*.j2`, packaged with drifting-etl): one environment, autoescaped, strict
about undefined names, and a missing template named as such."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.resources import TEMPLATE_DIRS

if TYPE_CHECKING:
    import jinja2


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(directory) for directory in TEMPLATE_DIRS]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: object) -> str:
    """`reports/<name>` rendered with `context` (values are data: autoescaped)."""
    import jinja2

    try:
        template = _environment().get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"report template {name} is missing",
            hint=f"looked in {', '.join(str(directory) for directory in TEMPLATE_DIRS)}; reinstall drifting-etl",
        ) from exc
    return template.render(**context)
