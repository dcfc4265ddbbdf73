# The two commands: `make run` serves the hub, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck tools test-sqlite test-postgresql bench bench-settlement

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "alliance-hub needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/alliance-hub migrate
	$(BIN)/alliance-hub demo
	$(BIN)/alliance-hub serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# External conformance checks (npm packages pinned in tools/package-lock.json).
tools:
	@if command -v npm >/dev/null 2>&1; then \
		cd tools && npm ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the conformance checks skip (and fail under CI=true)"; \
	fi

test-sqlite: $(STAMP)
	HUB_TEST_STORE=sqlite $(BIN)/pytest

test-postgresql: $(STAMP)
	HUB_TEST_STORE=postgresql $(BIN)/pytest

test: lint typecheck tools test-sqlite test-postgresql

bench: $(STAMP)
	$(BIN)/python bench/ledger.py

bench-settlement: $(STAMP)
	$(BIN)/python bench/settlement.py
