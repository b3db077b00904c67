# footy: `make run` starts everything locally, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi.py
# where the browser tests leave their screenshots
export FOOTY_SCREENSHOTS ?= $(CURDIR)/test-artifacts/screenshots

.PHONY: run test lint install install-dev browser bench db clean honcho

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's Chromium for the browser tests (Playwright's own browser download needs the internet)
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

db: install
	$(BIN)/flask footy init-db

run: db
	$(BIN)/flask footy ensure-admin
	$(BIN)/flask footy serve --port $(PORT)

# The production shape on one machine: every Procfile process through honcho (release migrates, then
# idles so honcho keeps web and workers up); WORKERS=3 make honcho runs three worker processes.
WORKERS ?= 1
honcho: install
	$(BIN)/flask footy release
	$(BIN)/flask footy ensure-admin
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -p $(PORT) -c worker=$(WORKERS)

# style (setup.cfg's [flake8]) first: a few seconds, and a finding fails the run like a test
lint: install-dev
	$(BIN)/flake8 footy tests bench wsgi.py

test: lint browser
	mkdir -p $(FOOTY_SCREENSHOTS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@echo "screenshots of the pages: $(FOOTY_SCREENSHOTS)"

bench: install-dev
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/memory.py

clean:
	-$(BIN)/flask footy redis stop
	rm -rf test-artifacts .pytest_cache
