# Development tasks. `make run` starts the stack, `make test` runs the suite on SQLite and on
# PostgreSQL, `make lint` checks, `make fmt` formats. The logic lives in scripts/.
#   make run PORT=8001 REDIS_PORT=6380     other ports (defaults 8000 and 6379)
#   make test ARGS="-k schedule -x"        arguments for pytest
#   make test DATABASE_URL=postgres://...  your PostgreSQL for the second run

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Remembers which requirements the venv was last installed from.
STAMP := $(VENV)/.requirements-installed

.PHONY: venv run test lint fmt

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	scripts/venv.sh
	touch $@

run: venv
	scripts/run.sh

test: venv
	scripts/test.sh $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
