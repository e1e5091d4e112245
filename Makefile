# The two commands a new user needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PostgreSQL tests run when a server answers on 127.0.0.1:5432 (or when you set the URL);
# otherwise they skip and say how to run them. .ci/run always sets it.
ROTA_TEST_POSTGRES_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/postgres)
export ROTA_TEST_POSTGRES_URL

.PHONY: run test install dev lint typecheck pytest faults fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## make run: install Rota, migrate the embedded SQLite database, load examples/, start `rota up`.
run: install
	cd examples && ../$(BIN)/rota db upgrade && ../$(BIN)/rota jobs sync
	@echo
	@echo "In another terminal, from this folder:"
	@echo "  . $(VENV)/bin/activate"
	@echo "  rota run rates.import -p date=2026-11-20 --wait"
	@echo "and, once, to log in to the dashboard (http://127.0.0.1:8080/) and the API:"
	@echo "  rota users create-admin admin    # asks for a password (or ROTA_ADMIN_PASSWORD)"
	@echo
	cd examples && exec ../$(BIN)/rota up

## make test: install the development dependencies; ruff, mypy and the whole pytest suite.
test: dev lint typecheck pytest

lint: dev
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/pytest -n 2

## make faults: the fault-injection suite at full length (100 kills per scenario, schedulers for
## 10 minutes); `make test` runs it short (10 rounds, 1 minute).
faults: dev
	ROTA_FAULTS_ROUNDS=100 ROTA_FAULTS_SCHEDULER_SECONDS=600 $(BIN)/pytest -n 2 -rA tests/faults

## make fuzz: schemathesis with every check against `rota web` on a scratch copy of examples/.
fuzz: dev
	bash bench/fuzz_api.sh

## make bench: throughput against huey (SQLite) and procrastinate (PostgreSQL).
bench: dev
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) examples/.rota .pytest_cache .mypy_cache .ruff_cache
