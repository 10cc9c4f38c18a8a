# Two commands on a fresh machine: `make run` (set up, start the embedded service and submit a
# demo search on bundled real digits) and `make test`. `make search` runs the quick search from
# the CLI alone; `make test-fast` the tests of the edit loop (under 2 minutes).
#
# The install needs a package index (pip's: PyPI, or the mirror pip is configured with). Torch
# comes in the pinned versions this project is built against, from that index (on Linux PyPI's
# torch is the CUDA build, with gigabytes of NVIDIA libraries), or from TORCH_INDEX, e.g.
# PyTorch's CPU-only build where that index is reachable:
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
# `make run` installs what the service and the client need; `make test` and `make setup-dev` add
# the tests' and tools' extras (dev: pytest, ruff, onnxruntime, ...; mlflow).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.14.1 torchvision==0.29.1
TORCH_INDEX ?=

.PHONY: setup setup-dev run search test test-fast lint lint-js bench

# The service, and the client: `enas jobs ...`, enas_client and the README's client script (its
# `all` extra: numpy, pandas, onnxruntime).
$(BIN)/enas: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH)
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q -e './clients/python[all]'
	touch $@

$(VENV)/.dev-installed: $(BIN)/enas
	$(BIN)/pip install -q -e '.[dev,mlflow]'
	touch $@

setup: $(BIN)/enas

setup-dev: $(VENV)/.dev-installed

run: setup
	$(BIN)/enas serve --demo

search: setup
	$(BIN)/enas search --preset quick --dataset digits --output runs/quick

# Three test processes (pytest-xdist), a file each at a time: many slow tests wait on a worker
# or server subprocess, or poll, so three keep two cores busy (four measured no faster); each
# process has its own databases, queue and ports (tests/conftest.py). Files go out in the order tests/conftest.py sorts them, the
# heaviest first (xdist would reorder them by their number of tests). TEST_WORKERS=0 runs them
# in this process, one after another.
TEST_WORKERS ?= 3

test: setup-dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The edit loop's tier: the engine's and the API's unit tests, without those marked `slow`
# (trainings, real Celery workers, the browser, the README's sessions, subprocess start-ups).
test-fast: setup-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup-dev lint-js
	$(BIN)/ruff check .

# The dashboard's ES modules: ESLint, installed by npm into tools/jslint/ on first use (pinned
# by its package-lock.json), or node's syntax check where npm cannot reach its registry.
lint-js:
	tools/jslint/lint.sh

bench: setup
	$(BIN)/python bench/engine.py
