# The two quick-start commands are `make demo` and `make test`; both set up everything they need.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .venv-tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint airflow clean

$(UV):
	python3.11 -m venv .venv-tools && .venv-tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra all --python 3.11 --compile-bytecode
	touch $@

# PYTHONDONTWRITEBYTECODE is set on some machines: compile once here, or every command compiles its imports again.
setup: $(VENV)/.synced
	$(PY) -m compileall -q drifting_etl dags > /dev/null

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
