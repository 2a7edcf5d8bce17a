# The two quick-start commands are `make demo` and `make test`; both set up everything they need.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint airflow clean

# Bytecode is written as modules are first imported, not for all ~34,000 files up front (2 minutes on 2 cores,
# half of them plotly's, which Evidently barely uses). Some machines set PYTHONDONTWRITEBYTECODE, which would make
# every command compile its imports again: make's commands run without it, so the demo and the tests leave the
# bytecode of what they import for the commands run afterwards.
unexport PYTHONDONTWRITEBYTECODE

$(UV):
	python3.11 -m venv .venv-tools && .venv-tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra all --python 3.11
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/drifting-etl demo

test: setup
	bash scripts/ensure-chromium.sh
	$(VENV)/bin/pytest

airflow: setup
	bash scripts/airflow.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy drifting_etl
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .venv-tools .drifting .airflow .pytest_cache
