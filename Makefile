# Two commands for people: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
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
	@echo 'Installing Python dependencies into $(VENV) (log: $(VENV)/pip.log)'
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@$(BIN)/python -m pip install -e '.[dev]' >> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $@

# The DSFR's own preinstall script expects a project generator; we only serve its dist/ files.
$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

translations: install
	@$(BIN)/pybabel compile -d portal/translations > /dev/null 2>$(VENV)/babel.log || { cat $(VENV)/babel.log; exit 1; }

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
