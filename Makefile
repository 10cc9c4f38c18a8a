# Two commands on a fresh machine: `make run` (set up, start the embedded service and submit a
# quick search on bundled real digits) and `make test`. `make search` runs the same search from
# the CLI alone. Torch comes from the pinned versions this project is built against.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: setup run search test lint bench

$(BIN)/enas: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,mlflow]'
	$(BIN)/pip install -q -e './clients/python[all]'  # the client: `enas jobs ...`, enas_client
	touch $(BIN)/enas

setup: $(BIN)/enas

run: setup
	$(BIN)/enas serve --demo

search: setup
	$(BIN)/enas search --preset quick --dataset digits --output runs/quick

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/engine.py
