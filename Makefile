# kefu: two commands on a fresh machine.
#   make demo   install and run the demo on embedded defaults (no server needed)
#   make test   install test extras, make sure every test service is up, run everything
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

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
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP) services
	$(BIN)/python -m bench.run

# Regenerate src/kefu/v1 from proto/ (tests/unit/test_proto.py fails while it is stale).
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=src --pyi_out=src \
		--grpc_python_out=src proto/kefu/v1/unified.proto

clean:
	rm -rf $(VENV) .kefu .mypy_cache .ruff_cache .pytest_cache
