# The two commands a newcomer runs: `make demo` and `make test`. Both set up everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit smoke serve clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## make demo: embedded PostgreSQL (unless DATABASE_URL), migrate, load Dongcheng, serve :8000
demo: $(STAMP)
	$(BIN)/dispatch demo

## make test: lint, format check, type check and the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

## make smoke: migrate, load, serve and answer a request (CI runs it on the other database)
smoke: $(STAMP)
	$(BIN)/pytest tests/e2e/test_smoke.py

serve: $(STAMP)
	$(BIN)/dispatch serve

clean:
	rm -rf $(VENV) .dispatch .pytest_cache .mypy_cache .ruff_cache .hypothesis
