# Porte-voix: `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := app

.PHONY: run test lint translations messages install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# The browser tests' front-end tools (axe-core), pinned in package-lock.json; never served to supporters.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the browser tests' accessibility checks will be skipped"; fi

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev node_modules/.installed

# Compiled catalogues are built, not committed.
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d translations

run: install translations
	$(BIN)/flask db upgrade
	$(BIN)/flask demo seed --url http://$(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C to stop)"
	SANDBOX_URL=$${SANDBOX_URL:-http://$(HOST):$(PORT)/sandbox} PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/gunicorn --workers 1 --threads 16 \
		--bind $(HOST):$(PORT) --access-logfile - --logger-class accesslog.ScrubbedLogger --config scheduler/gunicorn_embedded.py "app:create_app()"

test: install-dev translations
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)  # two processes: this machine's two cores

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Re-extract the strings to translate and merge them into the catalogues (then translate the new ones).
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg --ignore-dirs=".venv tests bench migrations" -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
