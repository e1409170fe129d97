# `make serve`, `make test` (everything) and `make unit` (the fast tests). Each installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: serve test unit clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.serve-$(DEPS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-$(DEPS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Serve the API on http://127.0.0.1:8000 (SQLite under instance/, rules/ bundled);
## the first run adds a development API key with every scope and prints it.
serve: $(VENV)/.serve-$(DEPS)
	$(BIN)/escalation keys dev
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## Install what the tests need and run the whole suite: lint, types, tests.
test: $(VENV)/.test-$(DEPS)
	./.ci/ensure-postgres
	./.ci/ensure-chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

## Run the fast tests only: everything not marked slow, without lint and type checks.
unit: $(VENV)/.test-$(DEPS)
	./.ci/ensure-postgres
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .hypothesis
