"""Packaging: the extras of pyproject.toml suffice for the modules that need them, and the bare wheel is the capture SDK.

The fast tests read pyproject.toml, drifting_etl/core/extras.py and every module's imports (AST). The slow ones
build the wheel, install it without extras into a fresh virtualenv and run the capture SDK there, as a model
service would. uv is found as the Makefile finds it (PATH, else .venv-tools/bin/uv); without it the stdlib venv
and pip do the same (slower: nothing is cached).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import get_args

import pytest

from drifting_etl.core.extras import EXTRA_MODULES, Extra

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
BASE = "base"  # the install without extras

EXTRA_OF_MODULE = {
    # The longest matching prefix decides which install a module must work in.
    "drifting_etl": BASE,
    "drifting_etl.capture": BASE,
    "drifting_etl.core": BASE,
    "drifting_etl.store.artifacts": BASE,
    "drifting_etl.store": "etl",  # the project registry fits reference profiles (numpy)
    "drifting_etl.profiles": "etl",
    "drifting_etl.metrics": "etl",
    "drifting_etl.extract": "etl",
    "drifting_etl.load": "etl",
    "drifting_etl.pipeline": "etl",
    "drifting_etl.notify": "etl",
    "drifting_etl.notify.sink": "demo",  # the local SMTP sink of `make airflow` (aiosmtpd)
    "drifting_etl.cli": "etl",
    "drifting_etl.cli.demo": "demo",
    "drifting_etl.report": "etl",  # the default report: jinja2 and the profile
    "drifting_etl.report.evidently_report": "report",
    "drifting_etl.report.sample": "report",
    "drifting_etl.retrain": "retrain",
    "drifting_etl.airflow": "airflow",
    "dags": "airflow",
}

OPTIONAL_IMPORTS = {
    ("drifting_etl.capture.writers", "pandas"): "only log_frame imports it, given a DataFrame by a caller that has it",
}

ENGINE_LIBRARIES = ("airflow", "evidently", "sklearn", "sqlalchemy", "scipy", "pandas")


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _requirement(text: str) -> tuple[str, list[str]]:
    """(distribution, extras) of a PEP 508 requirement such as `drifting-etl[etl]` or `pandas>=2.2,<3`."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", text)
    assert match, f"pyproject.toml: cannot read the requirement {text!r}"
    extras = [extra.strip() for extra in (match.group(2) or "").split(",") if extra.strip()]
    return _normalise(match.group(1)), extras


def _declared(extra: str) -> set[str]:
    """Distributions that installing `extra` (or the base, for BASE) declares, through the extras it includes."""
    names = {_requirement(text)[0] for text in PYPROJECT["dependencies"]}
    pending, seen = [extra] if extra != BASE else [], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for text in PYPROJECT["optional-dependencies"][current]:
            name, included = _requirement(text)
            if name == "drifting-etl":
                pending.extend(included)
            else:
                names.add(name)
    return names


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()  # reads every installed distribution's file list: once


def _providers_of(module: str) -> set[str]:
    """Distributions (installed here, from [all]) that provide the import `module`."""
    if module.startswith("airflow.providers."):  # one namespace package, one distribution per provider
        return {"apache-airflow-providers-" + module.split(".")[2].replace("_", "-")}
    top = module.split(".")[0]
    providers = {_normalise(name) for name in _installed().get(top, [])}
    assert providers, f"no installed distribution provides {top!r}: run `make setup` (installs [all])"
    return providers


def _runtime_imports(path: Path) -> Iterator[str]:
    """Absolute third-party imports of a module, at any depth, except those under `if TYPE_CHECKING:`."""

    def visit(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                yield from visit(child)
            return
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    for module in visit(ast.parse(path.read_text(), str(path))):
        top = module.split(".")[0]
        if top not in sys.stdlib_module_names and top != "drifting_etl":
            yield module


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _extra_of(module: str) -> str:
    prefixes = [prefix for prefix in EXTRA_OF_MODULE if module == prefix or module.startswith(prefix + ".")]
    assert prefixes, f"{module} belongs to no install in EXTRA_OF_MODULE: add its package there"
    return EXTRA_OF_MODULE[max(prefixes, key=len)]


def test_extras_given_pyproject_should_be_the_closed_set_of_core_extras() -> None:
    assert set(PYPROJECT["optional-dependencies"]) == set(get_args(Extra)) == set(EXTRA_MODULES)


def test_all_extra_given_every_other_extra_should_install_each_of_them() -> None:
    others = set(PYPROJECT["optional-dependencies"]) - {"all"}
    assert _declared("all") == set().union(*(_declared(extra) for extra in others))


def test_core_extra_modules_given_each_extra_should_be_installed_by_that_extra() -> None:
    for extra, modules in EXTRA_MODULES.items():
        for module in modules:
            assert _providers_of(module) & _declared(extra), f"[{extra}] does not install {module!r}"


def test_module_imports_given_every_module_should_be_declared_by_the_install_it_belongs_to() -> None:
    paths = sorted([*(REPO / "drifting_etl").rglob("*.py"), *(REPO / "dags").glob("*.py")])
    checked = 0
    for path in paths:
        module = _module_name(path)
        extra = _extra_of(module)
        for imported in _runtime_imports(path):
            if (module, imported.split(".")[0]) in OPTIONAL_IMPORTS:
                continue
            where = "the base install" if extra == BASE else f"[{extra}]"
            assert _providers_of(imported) & _declared(extra), (
                f"{path.relative_to(REPO)} imports {imported}, which {where} does not declare in pyproject.toml"
            )
            checked += 1
    assert checked > 50  # the scan found the imports (numpy, pyarrow, sqlalchemy, airflow, ...)


def test_airflow_requirement_given_airflow_extra_should_be_a_range_from_the_tested_3_3_2_below_4() -> None:
    requirements = [text for text in PYPROJECT["optional-dependencies"]["airflow"] if text.startswith("apache-airflow")]
    assert "apache-airflow>=3.3.2,<4" in requirements
    assert not any("==" in text for text in requirements)
    assert "apache-airflow-providers-amazon" not in _declared("all")  # it drags s3fs down to 0.4 (PITFALLS)
    assert all("airflow" not in name for name in _declared(BASE))


# ------------------------------------------------------------------------------------------ the built wheel


def _uv() -> str | None:
    """uv as the Makefile finds it: on PATH, else the copy `make` installs into .venv-tools."""
    local = REPO / ".venv-tools" / "bin" / "uv"
    return shutil.which("uv") or (str(local) if local.is_file() else None)


def _run(command: list[str | Path], *, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 or not check, (
        f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


def _stdlib_venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", path], cwd=path.parent)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    uv = _uv()
    if uv:
        _run([uv, "build", "--wheel", "--out-dir", out, REPO], cwd=out)
    else:
        builder = _stdlib_venv(out / "builder")
        _run([builder, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, REPO], cwd=out)
    (built,) = out.glob("drifting_etl-*.whl")
    return built


@pytest.fixture(scope="module")
def bare_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv with the wheel installed and no extras."""
    root = tmp_path_factory.mktemp("bare")
    uv = _uv()
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, root / "venv"], cwd=root)
        python = root / "venv" / "bin" / "python"
        _run([uv, "pip", "install", "--quiet", "--python", python, wheel], cwd=root)
    else:
        python = _stdlib_venv(root / "venv")
        _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=root)
    return python


@pytest.mark.slow
def test_wheel_given_build_should_contain_the_email_templates_migrations_and_sql_views(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted((REPO / "reports").glob("*.j2"))
    assert templates
    expected = {f"drifting_etl/templates/{template.name}" for template in templates}
    for folder in ("drifting_etl/load/migrations", "drifting_etl/load/sql_views"):
        files = [path for path in (REPO / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts]
        assert files, folder
        expected |= {path.relative_to(REPO).as_posix() for path in files}
    assert expected - names == set()
    assert "drifting_etl/py.typed" in names


BARE_SCRIPT = """
import importlib, importlib.util, json, pkgutil, sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

import drifting_etl, drifting_etl.core
from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.core.errors import DriftingError

storage = Path(sys.argv[1])
logged_at = datetime(2026, 1, 4, 13, 30, tzinfo=timezone.utc)
with LogWriter("bare-wheel", str(storage), model_version="v7") as logs:
    first = logs.log({"timestamp": logged_at, "age": 42, "region": "north", "prediction": 1, "prediction_proba": 0.8})
    second = logs.log({"timestamp": logged_at, "age": 23, "region": "south", "prediction": 0, "prediction_proba": 0.1})
with LabelWriter("bare-wheel", str(storage)) as labels:
    labels.label(first, 1, labelled_at=datetime(2026, 1, 5, 9, tzinfo=timezone.utc))


def written(kind):
    files = sorted((storage / kind).rglob("*.parquet"))
    return {
        "paths": [str(path.relative_to(storage).parent) for path in files],
        "rows": [row for path in files for row in pq.read_table(path).to_pylist()],
    }


imported = [module.name for module in pkgutil.walk_packages(drifting_etl.core.__path__, "drifting_etl.core.")]
for name in [*imported, "drifting_etl.store.artifacts"]:
    importlib.import_module(name)
guards = {}
for package in ("drifting_etl.airflow", "drifting_etl.retrain"):
    try:
        importlib.import_module(package)
        guards[package] = None
    except ImportError as exc:
        guards[package] = {"message": str(exc), "is_drifting_error": isinstance(exc, DriftingError)}
print(json.dumps({
    "package_file": drifting_etl.__file__,
    "request_ids": [first, second],
    "logs": written("logs"),
    "labels": written("labels"),
    "core_modules": imported,
    "importable": {name: importlib.util.find_spec(name) is not None for name in sys.argv[2:]},
    "guards": guards,
}, default=str))
"""


@pytest.mark.slow
def test_bare_wheel_given_fresh_venv_should_write_logs_and_labels_without_any_engine_library(
    bare_python: Path, tmp_path: Path
) -> None:
    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent(BARE_SCRIPT))
    storage = tmp_path / "store"
    result = json.loads(_run([bare_python, script, storage, *ENGINE_LIBRARIES], cwd=tmp_path).stdout)

    assert Path(result["package_file"]).is_relative_to(bare_python.parents[1])  # the wheel, not this checkout
    assert result["importable"] == dict.fromkeys(ENGINE_LIBRARIES, False)
    assert "drifting_etl.core.config" in result["core_modules"]  # every core module imported in the bare install
    first, second = result["request_ids"]
    assert result["logs"]["paths"] == ["logs/project=bare-wheel/date=2026-01-04/hour=13"]
    rows = result["logs"]["rows"]
    assert [(row["request_id"], row["model_version"], row["age"], row["region"]) for row in rows] == [
        (first, "v7", 42, "north"),
        (second, "v7", 23, "south"),
    ]
    assert [row["prediction_proba"] for row in rows] == [0.8, 0.1]
    assert {row["timestamp"] for row in rows} == {str(datetime(2026, 1, 4, 13, 30, tzinfo=UTC))}
    assert result["labels"]["paths"] == ["labels/project=bare-wheel/date=2026-01-05"]
    assert [(row["request_id"], row["label"]) for row in result["labels"]["rows"]] == [(first, 1)]
    for package, extra in (("airflow", "airflow"), ("retrain", "retrain")):
        guard = result["guards"][f"drifting_etl.{package}"]
        assert guard is not None, f"drifting_etl.{package} imported without its extra"
        assert guard["is_drifting_error"]
        assert f"pip install 'drifting-etl[{extra}]'" in guard["message"]


@pytest.mark.slow
def test_bare_wheel_given_cli_without_etl_extra_should_name_the_extra_instead_of_a_traceback(
    bare_python: Path, tmp_path: Path
) -> None:
    result = _run([bare_python.parent / "drifting-etl", "--version"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "pip install 'drifting-etl[etl]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


ETL_PROJECT_SCRIPT = """
import random, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from drifting_etl.capture import LogWriter

root = Path(sys.argv[1])
rng = random.Random(7)


def rows(n, age_shift):
    return [
        {"age": rng.gauss(40 + age_shift, 8), "basket": rng.gammavariate(2.0, 20.0),
         "channel": rng.choice(["web", "app", "store"]), "prediction": rng.randint(0, 1),
         "label": rng.randint(0, 1)}
        for _ in range(n)
    ]


pq.write_table(pa.Table.from_pylist(rows(3000, 0.0)), root / "reference.parquet")
(root / "shop.yaml").write_text(
    "name: shop\\ntask: classification\\nschedule: '@daily'\\nstart_date: 2026-03-01\\n"
    "features:\\n  numerical: [age, basket]\\n  categorical: [channel]\\n"
)
day = datetime(2026, 3, 1, tzinfo=timezone.utc)
with LogWriter("shop", str(root / "store"), model_version="v1") as logs:
    for index, row in enumerate(rows(2000, 30.0)):
        logs.log({**row, "timestamp": day + timedelta(seconds=40 * index)})
"""


@pytest.fixture(scope="module")
def etl_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv with the wheel and its [etl] extra only."""
    root = tmp_path_factory.mktemp("etl")
    uv = _uv()
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, root / "venv"], cwd=root)
        python = root / "venv" / "bin" / "python"
        _run([uv, "pip", "install", "--quiet", "--python", python, f"{wheel}[etl]"], cwd=root)
    else:
        python = _stdlib_venv(root / "venv")
        _run([python, "-m", "pip", "install", "--quiet", f"{wheel}[etl]"], cwd=root)
    return python


@pytest.mark.slow
def test_etl_extra_given_fresh_venv_should_run_a_window_with_its_report_and_name_the_extra_evidently_needs(
    etl_python: Path, tmp_path: Path
) -> None:
    script = tmp_path / "make_project.py"
    script.write_text(textwrap.dedent(ETL_PROJECT_SCRIPT))
    _run([etl_python, script, tmp_path], cwd=tmp_path)
    command = [etl_python.parent / "drifting-etl", "--storage", tmp_path / "store"]
    _run([*command, "init"], cwd=tmp_path)
    _run(
        [*command, "project", "register", tmp_path / "shop.yaml", "--reference", tmp_path / "reference.parquet"],
        cwd=tmp_path,
    )
    window = ["--start", "2026-03-01", "--end", "2026-03-02"]
    result = _run([*command, "run", "shop", *window], cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output  # the default report needs nothing beyond [etl]
    assert list((tmp_path / "store" / "reports").rglob("*.html")), output
    evidently = _run([*command, "report", "shop", *window, "--engine", "evidently", "-o", tmp_path / "e.html"],
                     cwd=tmp_path, check=False)  # fmt: skip
    output = evidently.stdout + evidently.stderr
    assert evidently.returncode == 1 and "Traceback" not in output, output
    assert "pip install 'drifting-etl[report]'" in output  # Evidently's report is all that is missing
    with sqlite3.connect(tmp_path / "store" / "metrics.db") as connection:
        drift = dict(connection.execute("SELECT feature, drifted FROM feature_drift WHERE project = 'shop'"))
        status = connection.execute("SELECT status, row_count FROM monitoring_run WHERE project = 'shop'").fetchall()
    assert status == [("success", 2000)]
    assert {"age", "basket", "channel"} <= set(drift)
    assert drift["age"] == 1  # shifted by almost four standard deviations
    check = "import importlib.util as u; print([m for m in ('airflow', 'evidently', 'sklearn', 'pandas') if u.find_spec(m)])"
    assert _run([etl_python, "-c", check], cwd=tmp_path).stdout.strip() == "[]"
