"""The one settings object (drifting_etl/core/settings.py): every DRIFTING_* variable, read at the edge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drifting_etl.core.errors import ConfigError
from drifting_etl.core.settings import Settings, variable

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_settings_given_environment_should_read_every_variable_and_count_empty_as_unset() -> None:
    settings = Settings.from_env(
        {
            "DRIFTING_STORAGE_URL": "s3://bucket/prefix",
            "DRIFTING_DATABASE_URL": "postgresql://monitor:s3cret@db/metrics",
            "DRIFTING_WORKERS": "3",
            "DRIFTING_PARTITION_GROUP_BYTES": "1000",
            "DRIFTING_REPORT_ATTACH_MAX_BYTES": "",
            "DRIFTING_SMTP_HOST": "mail",
        }
    )
    assert settings.storage_url == "s3://bucket/prefix"
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://monitor:s3cret@db/metrics"
    assert (settings.workers, settings.partition_group_bytes) == (3, 1000)
    assert settings.report_attach_max_bytes == 2**20  # 1 MiB: the default report is ~30 KB
    assert settings.smtp.host == "mail" and settings.smtp.resolved_port == 25
    assert Settings.from_env({}).storage_url == ".drifting"


def test_settings_given_secrets_should_never_print_them() -> None:
    settings = Settings.from_env(
        {"DRIFTING_DATABASE_URL": "postgresql://monitor:s3cret@db/metrics", "DRIFTING_SMTP_PASSWORD": "hunter2"}
    )
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "s3cret" not in shown and "hunter2" not in shown


@pytest.mark.parametrize(
    ("variable_name", "value"),
    [("DRIFTING_WORKERS", "many"), ("DRIFTING_WORKERS", "0"), ("DRIFTING_PARTITION_GROUP_BYTES", "-1")],
)
def test_settings_given_bad_value_should_name_the_variable(variable_name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable_name):
        Settings.from_env({variable_name: value})


def test_settings_given_bad_variable_should_not_fail_any_import() -> None:
    """Nothing reads DRIFTING_* at import time: a bad value fails the command that reads it, not an import."""
    env = {**os.environ, "DRIFTING_WORKERS": "many", "DRIFTING_PARTITION_GROUP_BYTES": "lots"}
    modules = (
        "drifting_etl.pipeline.partitions, drifting_etl.pipeline.steps, drifting_etl.cli.main, drifting_etl.capture"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import {modules}"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_settings_given_readme_should_document_every_variable() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Settings") : readme.index("## Deployment")]
    assert all(f"`{variable(name)}`" in section for name in Settings.model_fields)


def test_settings_given_package_should_be_the_only_reader_of_drifting_variables() -> None:
    readers = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "drifting_etl").rglob("*.py")
        if "DRIFTING_" in path.read_text() and "os.environ" in path.read_text()
    ]
    assert readers == []
