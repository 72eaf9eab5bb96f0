# One definition of every check: CI (.ci/run, .github/workflows) calls these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint format unit integration contract bench lambda-package clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	@# PostgreSQL for the embedded stack: the system's binaries, else the pgserver wheel
	@$(BIN)/python -c 'from aurora_sync.stack.postgres import find_pg_bindir; raise SystemExit(find_pg_bindir() is None)' \
		|| $(BIN)/pip install --quiet --disable-pip-version-check pgserver
	@touch $(STAMP)

demo: install
	$(BIN)/aurora-sync demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: install
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

contract: install
	$(BIN)/pytest -m contract $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.run

lambda-package: install
	$(BIN)/python -m tools.build_lambda

clean:
	rm -rf $(VENV) .pytest_cache .pytest-tmp .mypy_cache .ruff_cache *.egg-info build
