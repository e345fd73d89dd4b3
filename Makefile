# The commands a fresh machine needs:
#   make sandbox  install into .venv if needed, then try the bot in a browser (no token)
#   make run      install into .venv if needed, then run the bot (needs WORKLEDGER_TOKEN)
#   make test     install into .venv if needed, then run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sandbox run test lint format i18n clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The page at http://127.0.0.1:$(SANDBOX_PORT)/; SANDBOX_ARGS=--fresh starts over.
SANDBOX_PORT ?= 8080
SANDBOX_ARGS ?=

# The project's own modules compiled ahead (an editable install leaves them as source):
# every process the bot, the sandbox or a test starts then loads them instead of
# compiling them again, which matters where PYTHONDONTWRITEBYTECODE is set. Quick when
# nothing changed.
COMPILE := $(BIN)/python -m compileall -q -j 0 bot handlers assessment storage config

sandbox: $(STAMP)
	@$(COMPILE) >/dev/null
	$(BIN)/workledger sandbox --port $(SANDBOX_PORT) $(SANDBOX_ARGS)

run: $(STAMP)
	@$(COMPILE) >/dev/null
	$(BIN)/workledger run

# Four pytest-xdist workers, handed tests one by one as each finishes (worksteal): the
# tests wait on HTTP, subprocesses and the database more than they compute, so four
# keep two cores busy. Every test has its own database, emulator port and files.
PYTEST_WORKERS ?= 4

# pytest compiles each test module again after rewriting its asserts, in every worker,
# unless it may keep the result in __pycache__ (it reads it even when not allowed to
# write): under PYTHONDONTWRITEBYTECODE each worker's collection took 11.7 s of CPU
# instead of 5.0. So the test run may write bytecode, whatever the shell says.
test: $(STAMP)
	@$(COMPILE) >/dev/null
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

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
