# Two commands for people: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: run test install lint format translations migrate seed messages clean

run: install translations migrate seed ## Set up everything and serve the portal on http://127.0.0.1:5000
	$(BIN)/python -m portal.devserver

test: install translations ## Run the whole test suite (server-only tests skip without PostgreSQL/Redis)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The DSFR's own preinstall script expects a project generator; we only serve its dist/ files.
$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

translations: install
	@$(BIN)/pybabel compile --quiet -d portal/translations

messages: install ## Extract new strings and update the catalogues
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --no-location --sort-output --ignore-dirs=".venv node_modules" -o portal/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i portal/translations/messages.pot -d portal/translations

migrate: install
	$(BIN)/alembic upgrade head

seed: install
	$(FLASK) seed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache
