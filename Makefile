# One entry point. `make run` and `make test` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

## Run web + worker + embedded Redis on the embedded defaults (SQLite in ./var), sandbox mode.
run: $(STAMP)
	$(BIN)/songda run --sandbox

## Lint, type-check and run the whole test suite (needs PostgreSQL and Redis on 127.0.0.1).
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Bring the message catalogue in step with the sources (templates/catalogue.py): new msgids
## are added to templates/locale/*/LC_MESSAGES/messages.po for translation, then compiled.
messages: $(STAMP)
	$(BIN)/python -m templates.catalogue

## The e-mail throughput benchmark (on demand; prints figures and ratios).
bench: $(STAMP)
	$(BIN)/python bench/email_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
