# Two entry points: `make demo` runs the flights example, `make test` the test suite.
# `make loop` replays 2013 month by month: monitoring, retraining, canary and promotion.
# `make test-slow` runs the soak tests (several minutes), which `make test` leaves out.
# Both create .venv on first use; nothing else needs to be installed by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# The SDK tests that `make test` runs a second time against a Tether server
# over HTTP (TETHER_TEST_STORE=http points every test's store at the server).
SERVER_SUITE := tests/test_tracking.py tests/test_registry.py tests/test_lineage.py \
	tests/test_model_lifecycle.py tests/test_model_testing.py tests/test_pipelines.py \
	tests/test_catalog.py tests/test_catalog_diff.py tests/test_monitor_runs.py \
	tests/test_alerts.py tests/test_split_record.py

.PHONY: demo loop test test-slow bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet -e '.[postgres,examples,dev]'
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=examples $(BIN)/python -m flights $(ARGS)

loop: $(STAMP)
	PYTHONPATH=examples $(BIN)/python -m flights.loop $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src
	$(BIN)/python -m pytest -n 2 $(ARGS)
	TETHER_TEST_STORE=http $(BIN)/python -m pytest -n 2 $(ARGS) $(SERVER_SUITE)

# TETHER_SOAK_SECONDS sets the load duration of each soak test (default 180).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m soak $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

# tests/test_browser.py drives Debian's Chromium (/usr/bin/chromium) and skips
# without it; `make browser` installs it, as root or through sudo. Playwright's
# own browser download is never used.
CHROMIUM_PACKAGES := chromium fonts-liberation
browser:
	@if [ -x /usr/bin/chromium ]; then \
		echo "chromium is installed: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then \
		sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; \
	else \
		echo "install Debian's chromium as root: apt-get install chromium" >&2; exit 1; \
	fi

clean:
	rm -rf $(VENV) .tether reports .pytest_cache
