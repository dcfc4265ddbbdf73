# The two commands: `make run` serves the hub, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck tools pgbouncer chromium test-sqlite test-postgresql bench bench-settlement bench-contention bench-federation bench-webhooks bench-limits

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "alliance-hub needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The worker (webhooks, scheduled jobs) runs beside the server and stops with it.
run: $(STAMP)
	$(BIN)/alliance-hub migrate
	$(BIN)/alliance-hub demo
	@echo "Codes sent to members' phones go to $${HUB_NOTIFY_OUTBOX:-./notifications.jsonl} (tail -f it); HUB_SMS_WEBHOOK_URL sends them to an SMS gateway instead."
	$(BIN)/alliance-hub worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
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

# Debian's PgBouncer, for the transaction-pooling test (tests/hub/test_pgbouncer.py).
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; }; \
	else \
		echo "pgbouncer not found and apt-get unavailable: its test skips (and fails under CI=true)"; \
	fi

# The browser test drives Debian's Chromium headless through Playwright (nothing downloaded).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium not found (apt-get install chromium as root): the browser test skips (and fails under CI=true)"; \
	fi

test-sqlite: $(STAMP)
	HUB_TEST_STORE=sqlite $(BIN)/pytest

test-postgresql: $(STAMP)
	HUB_TEST_STORE=postgresql $(BIN)/pytest

test: lint typecheck tools pgbouncer chromium test-sqlite test-postgresql

bench: $(STAMP)
	$(BIN)/python bench/ledger.py

bench-settlement: $(STAMP)
	$(BIN)/python bench/settlement.py

bench-contention: $(STAMP)
	$(BIN)/python bench/contention.py

bench-federation: $(STAMP) tools
	$(BIN)/python bench/federation.py

bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks.py

bench-limits: $(STAMP)
	$(BIN)/python bench/limits.py
