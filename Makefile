# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test install dev lint types pytest browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## Serve the example specs on http://127.0.0.1:8000 with the offline model.
run: install
	$(BIN)/specloom serve --load-specs

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: dev
	$(BIN)/mypy app tests

## Debian's chromium drives the browser tests (never Playwright's downloaded browsers).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

pytest: dev browser
	$(BIN)/pytest -q -p no:cacheprovider

## Lint, types and the whole suite.
test: lint types pytest

## Benchmarks (on demand, not part of `make test`).
bench: dev
	$(BIN)/python -m tests.bench.overhead --calls 300
	$(BIN)/python -m tests.bench.litellm_cost
	$(BIN)/python -m tests.bench.soak --calls 2000

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
