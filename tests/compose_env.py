"""docker-compose.yaml's environment as docker compose would resolve it from deploy/.env.example.

One source for the deployment's settings: tests/test_deployment.py checks the files against each other, and
tests/test_celery.py starts the same Airflow environment on this machine, changing only what names the compose
stack's hosts (its services' names) and what a test must isolate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / "deploy" / ".env.example"
VARIABLE_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as docker compose reads them (comments, blank lines, single/double quotes)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        assert key not in values, f"{path.name}:{number}: {key} set twice"
        values[key] = value
    return values


def resolve(value: str, env: dict[str, str]) -> str:
    """Compose interpolation of ${VAR}, ${VAR:-default}, ${VAR:?error} with the values of .env.example."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator and operator.endswith("-"):
            return argument
        raise AssertionError(f"${{{name}}} has no value in {ENV_EXAMPLE.name}")

    return VARIABLE_REF.sub(replace, value).replace("$$", "$")


def service_env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): "" if value is None else str(value) for key, value in environment.items()}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def airflow_environment(service: str = "airflow-worker") -> dict[str, str]:
    """The environment compose gives `service` (an Airflow service), resolved with deploy/.env.example's values."""
    example = parse_env_file(ENV_EXAMPLE)
    return {key: resolve(value, example) for key, value in service_env(compose()["services"][service]).items()}
