# Development tasks. `make run` starts the stack, `make test` runs the suite on SQLite and on
# PostgreSQL, `make lint` checks (ruff, mypy, bandit, djLint, migrations, pip-audit), `make fmt` formats. The logic lives in scripts/.
#   make run PORT=8001 REDIS_PORT=6380     other ports (defaults 8000 and 6379)
#   make test ARGS="-k schedule -x"        arguments for pytest
#   make test TEST_TODAY=2028-03-05        the day the SQLite run pins the clock to (default 2028-11-05)
#   make test DATABASE_URL=postgres://...  your PostgreSQL for the second run
#   make benchmark                         the performance record: 1,000, 20,000 and 100,000 patients on
#                                          SQLite and on a throwaway PostgreSQL, printed as one table
#   make benchmark QUICK=1                 1,000 and 20,000 patients, SQLite only
#   make benchmark SIZES=200 DATABASES=sqlite    other sizes or databases (sqlite, postgresql)
#   make benchmark-import                  a clinic's import: 5,000 patients and 15,000 placements, checked
#                                          and imported on a throwaway SQLite (PATIENTS=500 for a quick look)
#   make load                              30 coordinators for 60 s on gunicorn while 10,000 reminders go
#                                          out, on a throwaway PostgreSQL, then on SQLite (5,000 patients)
#   make load USERS=10 DURATION=20s PATIENTS=5000 REMINDERS=10000 DATABASES=sqlite

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Remembers which requirements the venv was last installed from.
STAMP := $(VENV)/.requirements-installed

.PHONY: venv run test lint fmt benchmark benchmark-import load

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	scripts/venv.sh
	touch $@

run: venv
	scripts/run.sh

test: venv
	TEST_TODAY="$(TEST_TODAY)" scripts/test.sh $(ARGS)

# bandit: medium and high findings fail (settings in pyproject.toml); djlint: the templates (its
# rules in pyproject.toml); makemigrations: every model change has its migration; audit.sh: known
# vulnerabilities in the pins, skipped with a warning where pip-audit's advisory service does not answer.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/bandit -c pyproject.toml -r . -ll -q
	$(BIN)/djlint templates --lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	scripts/audit.sh

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# benchmarks/run.py builds a database per size (seed_demo), measures each in a process of its own,
# and prints the table and the targets; PostgreSQL runs go to one throwaway cluster.
ifeq ($(QUICK),1)
SIZES ?= 1000 20000
DATABASES ?= sqlite
endif
SIZES ?= 1000 20000 100000
DATABASES ?= sqlite postgresql
BENCHMARK_RUN := $(BIN)/python benchmarks/run.py --sizes "$(SIZES)" --databases "$(DATABASES)"
benchmark: venv
ifneq (,$(filter postgresql,$(DATABASES)))
	scripts/with-postgres.sh $(BENCHMARK_RUN)
else
	$(BENCHMARK_RUN)
endif

# benchmarks/imports.py times the check (the preview) and the import of a patients file and its
# placements file, on an empty SQLite database of its own.
benchmark-import: venv
	$(BIN)/python benchmarks/imports.py --patients $(PATIENTS)

# benchmarks/load/run.py seeds a database per run, signs the coordinators in, and runs locust against
# gunicorn while a Celery worker drains the due reminders; it prints one table and fails on an error
# or "database is locked". 5,000 patients hold the 10,000 pending reminders it makes due.
USERS ?= 30
DURATION ?= 60s
PATIENTS ?= 5000
REMINDERS ?= 10000
load: venv
	scripts/load.sh --databases "$(DATABASES)" --users $(USERS) --duration $(DURATION) \
		--patients $(PATIENTS) --reminders $(REMINDERS)
