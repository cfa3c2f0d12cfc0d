# The one entry point for people and CI. Needs only python3 (3.11+) and make.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium

export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: help install run demo test lint format typecheck pytest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV) ## Install every service and tool into .venv from the lock file
	$(UV) sync --locked --quiet

run: install ## Start api (:8000), frontend (:8001) and collector on SQLite under ./data
	$(BIN)/spotify-mcp serve

demo: install ## Like run, against the bundled fake Spotify, with a demo user and demo plays
	$(BIN)/spotify-mcp demo

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy --strict over every package and every test folder
	$(BIN)/mypy
	@# Each service's tests are their own top-level modules (conftest.py in several), so
	@# they are checked one folder at a time.
	@for tests in services/*/tests tests; do echo "mypy $$tests"; $(BIN)/mypy $$tests || exit 1; done

pytest: install $(CHROMIUM) ## The whole test suite, on SQLite and PostgreSQL
	$(BIN)/pytest

# Runs only when Chromium is missing: installs Debian's package (as root, or through sudo).
$(CHROMIUM):
	@echo "Chromium is missing; installing Debian's chromium for the browser tests"
	@if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

test: lint typecheck pytest ## Everything CI checks

clean: ## Remove the virtual environments (keeps ./data)
	rm -rf .venv $(TOOLS)
