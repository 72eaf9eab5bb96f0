# One definition of every check: CI (.ci/run, .github/workflows) calls these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The Snowflake CLI pins exact versions of its own dependencies: it gets a virtual environment of its own.
SNOWFLAKE_CLI_VERSION := 3.30.0
SNOW_VENV := .venv-snow
SNOW := $(SNOW_VENV)/bin/snow
SNOW_STAMP := $(SNOW_VENV)/.installed-$(SNOWFLAKE_CLI_VERSION)

.PHONY: install snow-cli demo test lint format unit integration contract bench lambda-package \
	app-code app-sql app-bundle plain-deploy-sql fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	@# PostgreSQL for the embedded stack: the system's binaries, else the pgserver wheel
	@$(BIN)/python -c 'from aurora_sync.stack.postgres import find_pg_bindir; raise SystemExit(find_pg_bindir() is None)' \
		|| $(BIN)/pip install --quiet --disable-pip-version-check pgserver
	@touch $(STAMP)

snow-cli: $(SNOW_STAMP)

$(SNOW_STAMP):
	$(PYTHON) -m venv $(SNOW_VENV)
	$(SNOW_VENV)/bin/pip install --quiet --disable-pip-version-check snowflake-cli==$(SNOWFLAKE_CLI_VERSION)
	@touch $(SNOW_STAMP)

demo: install
	$(BIN)/aurora-sync demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install snow-cli lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: install
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

contract: install snow-cli
	$(BIN)/pytest -m contract $(PYTEST_ARGS)

# Longer randomized crash runs than CI's 50 cycles: make fuzz FUZZ_CYCLES=500 [FUZZ_SEED=...]
FUZZ_CYCLES ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: install
	AURORA_SYNC_FUZZ_CYCLES=$(FUZZ_CYCLES) AURORA_SYNC_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/pytest tests/integration/test_fuzz.py -s $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.run

lambda-package: install
	$(BIN)/python -m tools.build_lambda

# The Native App: the procedures' code zip, the generated object files, the offline bundle (output/deploy)
app-code: install
	$(BIN)/python -m tools.build_app_code

app-sql: install
	$(BIN)/python -m tools.app_sql

app-bundle: app-code snow-cli
	$(BIN)/python -m tools.app_sql --check
	@mkdir -p .snowflake-home  # the CLI's config and logs stay in the project: no connection is needed
	SNOWFLAKE_HOME=$(CURDIR)/.snowflake-home $(SNOW) app bundle

# The same procedures and views without the Native App: build/plain/deploy.sql for `snow sql -f`
plain-deploy-sql: app-code
	$(BIN)/python -m tools.plain_deploy $(PLAIN_ARGS)

clean:
	rm -rf $(VENV) $(SNOW_VENV) .snowflake-home output .pytest_cache .pytest-tmp .mypy_cache .ruff_cache *.egg-info build
