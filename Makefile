# The README's two commands are `make run` and `make test`; everything installs itself into .venv.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help run test lint bench install clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

run: install ## serve meterr on http://localhost:8501 (embedded SQLite under data/)
	$(BIN)/meterr db upgrade
	$(BIN)/streamlit run server.py

test: install ## run the whole test suite (PostgreSQL and browser tests when available; mandatory with CI=true)
	$(BIN)/python -m pytest

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install ## benchmark 1,000,000 synthetic charges (load, Overview, DuckDB floor, memory)
	$(BIN)/meterr bench --rows 1000000 --json

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean: ## remove the virtualenv and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
