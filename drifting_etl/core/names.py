"""Project names: they become storage path segments and DAG ids, so they are checked once, here; and the DAG id
derived from a name."""

from __future__ import annotations

import re

from drifting_etl.core.errors import ConfigError

PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_project_name(name: str) -> str:
    """Return `name` if it is a safe slug, else raise: names become path segments and must not escape."""
    if not isinstance(name, str) or not PROJECT_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid project name {name!r}",
            hint="use a slug of lowercase letters, digits, '-' and '_', starting with a letter or digit (max 63)",
        )
    return name


def retrain_dag_id(project: str) -> str:
    """The id of the reference retraining DAG shipped for `project` (`dags/retrain.py`), `retrain__<project>`."""
    return f"retrain__{project}"
