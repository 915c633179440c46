# Two entry points: `make demo` runs the flights example, `make test` the test suite.
# `make test-slow` runs the soak tests (several minutes), which `make test` leaves out.
# Both create .venv on first use; nothing else needs to be installed by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,examples,dev]'
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=examples $(BIN)/python -m flights $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy src
	$(BIN)/python -m pytest -n 2 $(ARGS)

# TETHER_SOAK_SECONDS sets the load duration of each soak test (default 180).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m soak $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .tether reports .pytest_cache
