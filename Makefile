# The two commands a newcomer runs: `make demo` and `make test`. Both set up everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit smoke serve clean bench browser structure

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

## make test: lint, format check, type check and the whole test suite (with the browser tests)
test: browser lint typecheck unit

## the browser tests need Debian's chromium and the CJK fonts: installed where we may (root
## with apt-get); elsewhere those tests are skipped and say why
browser:
	@if [ -x /usr/bin/chromium ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and fonts-noto-cjk for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else \
		echo "chromium or fonts-noto-cjk missing and cannot be installed here: browser tests will be skipped"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## two processes, each with its own database, then alone what measures time or load
unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

## make smoke: migrate, load, serve and answer a request (CI runs it on the other database)
smoke: $(STAMP)
	$(BIN)/pytest tests/e2e/test_smoke.py

## make structure: modules and functions over the size rules, import cycles, local imports
structure: $(STAMP)
	$(BIN)/python -m dispatch.tools.structure

serve: $(STAMP)
	$(BIN)/dispatch serve

clean:
	rm -rf $(VENV) .dispatch .pytest_cache .mypy_cache .ruff_cache .hypothesis
