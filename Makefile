# kefu: two commands on a fresh machine.
#   make demo   install and run the demo on embedded defaults (no server needed)
#   make test   install test extras, make sure every test service is up, run everything
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist processes for `make test`. More than the 2 cores it was tuned on: the suite
# waits on servers, browsers and subprocesses about as much as it computes (measured on a
# 2-core machine: 3 workers ~30% faster than 2, 4 barely faster than 3 and more timing
# pressure on the browser tests). Each worker has its own PostgreSQL database, ports and
# temp dirs (tests/conftest.py, tests/support/). --durations=30 prints the slowest
# phases, so a CI log shows where the suite's time goes.
TEST_WORKERS ?= 3

.PHONY: demo serve test lint typecheck unit services bench proto clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kefu demo

serve: $(STAMP)
	$(BIN)/kefu serve

services:
	bash scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) services lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=30

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP) services
	$(BIN)/python -m bench.run

# Regenerate src/kefu/v1 from proto/ (tests/unit/test_proto.py fails while it is stale).
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=src --pyi_out=src \
		--grpc_python_out=src proto/kefu/v1/unified.proto proto/kefu/v1/attachments.proto

clean:
	rm -rf $(VENV) .kefu .mypy_cache .ruff_cache .pytest_cache
