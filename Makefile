# Tumen: `make run` (embedded pipeline) and `make test` (lint, types, unit + integration tests
# against a real Kafka broker and a real PostgreSQL, both started here and stopped afterwards).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test check lint typecheck unit bench venv services-up services-down clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/tumen db upgrade
	$(VENV)/bin/tumen run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

check: lint typecheck

# Starts Kafka and PostgreSQL unless already running, runs everything, then stops only what it
# started, also when a step fails.
test: venv
	@bash tests/run-all.sh

bench: venv
	@bash bench/run-all.sh

clean:
	rm -rf .kafka/run .pg .tumen tumen.db
