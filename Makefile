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
# checkov pins exact versions of many dependencies: it gets a virtual environment of its own too.
CHECKOV_VERSION := 3.3.30
IAC_VENV := .venv-iac
CHECKOV := $(IAC_VENV)/bin/checkov
IAC_STAMP := $(IAC_VENV)/.installed-$(CHECKOV_VERSION)
# bandit and pip-audit for `make security`, apart from the project's dependencies they examine
BANDIT_VERSION := 1.9.4
PIP_AUDIT_VERSION := 2.10.1
SEC_VENV := .venv-security
SEC_STAMP := $(SEC_VENV)/.installed-$(BANDIT_VERSION)-$(PIP_AUDIT_VERSION)
# uv writes the Lambda zip's hashed lock (`make lambda-lock`); it pins its own build: a venv of its own
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
LOCK_STAMP := $(LOCK_VENV)/.installed-$(UV_VERSION)
LAMBDA_LOCK := tools/lambda-requirements.lock
# dlt, the end-to-end benchmark's peer (benchmarks/dlt_peer.py), is no dependency of the project: a venv of its own
DLT_VERSION := 1.31.0
DLT_VENV := .venv-dlt
DLT_STAMP := $(DLT_VENV)/.installed-$(DLT_VERSION)
LOCK_ARGS ?=

.PHONY: browser install snow-cli iac-tools security-tools lock-tools dlt-peer demo test lint format unit integration contract bench \
	lambda-package lambda-lock app-code app-sql app-bundle plain-deploy-sql fuzz iac-check security clean

# quiet on stdout (`make bench` prints only its benchmark lines there): what it sets up is said on stderr
install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@echo "setting up $(VENV): the project and its dependencies from the package index (about 1 min)…" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[local,dev]' >&2
	@# PostgreSQL for the embedded stack: the system's binaries, else the pgserver wheel
	@$(BIN)/python -c 'from aurora_sync.stack.postgres import find_pg_bindir; raise SystemExit(find_pg_bindir() is None)' \
		|| { echo "installing the pgserver wheel: no PostgreSQL server binaries found (about 30 s)…" >&2; \
			$(BIN)/pip install --quiet --disable-pip-version-check pgserver >&2; }
	@touch $(STAMP)

# Chromium and its driver from the distribution's packages, for the dashboard's browser test: installed
# only when missing and apt-get may run (root); otherwise it says so and that test is skipped.
browser:
	@if command -v chromedriver >/dev/null 2>&1 && { command -v chromium || command -v chromium-browser; } >/dev/null 2>&1; \
	then echo "browser: chromium and chromedriver found"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "browser: installing chromium and chromium-driver with apt-get (about 1 min)…" >&2; \
		apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null \
		|| echo "browser: apt-get could not install chromium; the dashboard's browser test will be skipped"; \
	else echo "browser: no chromium (apt-get unavailable or not root); the dashboard's browser test will be skipped"; fi

snow-cli: $(SNOW_STAMP)

$(SNOW_STAMP):
	@echo "setting up $(SNOW_VENV): snowflake-cli $(SNOWFLAKE_CLI_VERSION) from the package index (about 1 min)…" >&2
	$(PYTHON) -m venv $(SNOW_VENV)
	$(SNOW_VENV)/bin/pip install --quiet --disable-pip-version-check snowflake-cli==$(SNOWFLAKE_CLI_VERSION)
	@touch $(SNOW_STAMP)

iac-tools: $(IAC_STAMP)

$(IAC_STAMP):
	@echo "setting up $(IAC_VENV): checkov $(CHECKOV_VERSION) from the package index (about 1 min)…" >&2
	$(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $(IAC_STAMP)

security-tools: $(SEC_STAMP)

$(SEC_STAMP):
	@echo "setting up $(SEC_VENV): bandit and pip-audit from the package index (about 30 s)…" >&2
	$(PYTHON) -m venv $(SEC_VENV)
	$(SEC_VENV)/bin/pip install --quiet --disable-pip-version-check bandit==$(BANDIT_VERSION) pip-audit==$(PIP_AUDIT_VERSION)
	@touch $(SEC_STAMP)

lock-tools: $(LOCK_STAMP)

$(LOCK_STAMP):
	@echo "setting up $(LOCK_VENV): uv $(UV_VERSION) from the package index (about 30 s)…" >&2
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $(LOCK_STAMP)

dlt-peer: $(DLT_STAMP)

# silent on stdout: `make bench` prints only the benchmark lines there
$(DLT_STAMP):
	@echo "setting up $(DLT_VENV): dlt $(DLT_VERSION) from the package index (about 1 min)…" >&2
	@$(PYTHON) -m venv $(DLT_VENV) >&2
	@$(DLT_VENV)/bin/pip install --quiet --disable-pip-version-check \
		'dlt[duckdb,sql-database,parquet]==$(DLT_VERSION)' psycopg2-binary==2.9.13 >&2
	@touch $(DLT_STAMP)

demo: install
	$(BIN)/aurora-sync demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install browser snow-cli lint iac-check
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: install browser
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

contract: install snow-cli
	$(BIN)/pytest -m contract $(PYTEST_ARGS)

# checkov on terraform/ and the CI workflows with no network (no guideline download, no external modules),
# then `terraform fmt` where a terraform binary is on PATH (CI machines may have none: it says so and passes).
iac-check: iac-tools
	$(CHECKOV) --directory terraform --framework terraform --quiet --compact --skip-download \
		--download-external-modules false
	$(CHECKOV) --directory .github --framework github_actions --quiet --compact --skip-download
	@if command -v terraform >/dev/null 2>&1; then \
		terraform fmt -check -recursive -diff terraform && echo "terraform fmt: clean"; \
	else echo "terraform fmt: skipped (no terraform on PATH)"; fi

# bandit on the code, pip-audit on every installed dependency (needs the network: PyPI's advisory data),
# checkov, and gitleaks over the git history where a gitleaks binary is on PATH.
security: install security-tools iac-check
	$(SEC_VENV)/bin/bandit -q -c pyproject.toml --severity-level medium -r lambda_exporter sync_contract stored_procs aurora_sync tools benchmarks
	@mkdir -p build
	$(BIN)/pip freeze --exclude-editable --disable-pip-version-check > build/requirements-audit.txt
	$(SEC_VENV)/bin/pip-audit --requirement build/requirements-audit.txt --no-deps --disable-pip --strict --progress-spinner off
	$(SEC_VENV)/bin/pip-audit --requirement $(LAMBDA_LOCK) --require-hashes --disable-pip --strict --progress-spinner off
	@if command -v gitleaks >/dev/null 2>&1; then gitleaks git --redact --no-banner .; \
	else echo "gitleaks: skipped (no gitleaks on PATH)"; fi

# Longer randomized crash runs than CI's 50 cycles: make fuzz FUZZ_CYCLES=500 [FUZZ_SEED=...]
FUZZ_CYCLES ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: install
	AURORA_SYNC_FUZZ_CYCLES=$(FUZZ_CYCLES) AURORA_SYNC_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/pytest tests/integration/test_fuzz.py -s $(PYTEST_ARGS)

# six lines on stdout (issue 14), details on stderr, both into docs/BENCHMARKS.md; BENCH_ARGS=--rows N ...
BENCH_ARGS ?=
bench: install dlt-peer
	@$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The Lambda zip installs only what the hashed lock names (--require-hashes --no-deps), never pyproject's ranges.
lambda-package: install
	$(BIN)/python -m tools.build_lambda

# Rewrite the lock from pyproject's [project].dependencies for the Lambda's platform, keeping the pins it
# has where they still fit; `make lambda-lock LOCK_ARGS=--upgrade` moves every pin to the newest release.
lambda-lock: lock-tools
	$(UV) pip compile pyproject.toml --generate-hashes --python-platform x86_64-manylinux2014 \
		--python-version 3.11 --custom-compile-command 'make lambda-lock' --quiet $(LOCK_ARGS) -o $(LAMBDA_LOCK)

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
	rm -rf $(VENV) $(SNOW_VENV) $(IAC_VENV) $(SEC_VENV) $(LOCK_VENV) $(DLT_VENV) .snowflake-home output .pytest_cache .pytest-tmp .mypy_cache .ruff_cache *.egg-info build
