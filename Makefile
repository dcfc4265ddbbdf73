# The two commands: `make run` serves the hub, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck tools pgbouncer chromium doctools test-sqlite test-postgresql bench bench-settlement bench-contention bench-federation bench-webhooks bench-limits bench-tiers

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "alliance-hub needs Python 3.11+")'
	@echo "make: creating $(VENV) and installing alliance-hub with its dev tools (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	@echo "make: $(VENV) is ready"
	touch $(STAMP)

install: $(STAMP)

# The worker (webhooks, scheduled jobs) runs beside the server and stops with it. The demo,
# the worker and the server count into one metrics directory, so /metrics shows the demo's
# transfers and the worker's webhook deliveries too.
# `make run PORT=8013 HOST=0.0.0.0` serves elsewhere (the issuer and sign-in link follow).
METRICS_DIR := $(VENV)/metrics
run: $(STAMP)
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	export PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/$(METRICS_DIR)}; \
	$(BIN)/alliance-hub migrate && \
	$(BIN)/alliance-hub demo --host $(HOST) --port $(PORT) && \
	echo "Codes sent to members' phones go to $${HUB_NOTIFY_OUTBOX:-./notifications.jsonl} (tail -f it); HUB_SMS_WEBHOOK_URL sends them to an SMS gateway instead." && \
	{ $(BIN)/alliance-hub worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/alliance-hub serve --host $(HOST) --port $(PORT); }

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

# curl and jq, which the docs' examples use (tests/test_docs.py runs them).
doctools:
	@if command -v curl >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl jq >/dev/null \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl jq >/dev/null; }; \
	else \
		echo "curl or jq not found and apt-get unavailable: the docs test skips (and fails under CI=true)"; \
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

test: lint typecheck tools pgbouncer chromium doctools test-sqlite test-postgresql

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

bench-tiers: $(STAMP)
	$(BIN)/python bench/tiers.py
