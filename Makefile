# The two commands a fresh machine needs:
#   make run    install into .venv if needed, then run the bot (needs WORKLEDGER_TOKEN)
#   make test   install into .venv if needed, then run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format i18n clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/workledger run

# Four pytest-xdist workers, handed tests one by one as each finishes (worksteal): the
# tests wait on HTTP, subprocesses and the database more than they compute, so four
# keep two cores busy. Every test has its own database, emulator port and files.
PYTEST_WORKERS ?= 4

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

i18n: $(STAMP)
	scripts/i18n all

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
