# Two commands do all the set-up on a fresh machine:
#   make demo   — create .venv, install cmrules, evaluate a vendor of the embedded demo
#   make test   — create .venv, install cmrules with test tools, lint and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_VENDOR ?= Agence Hashtag & Co
DEMO_AS_OF ?= 2026-11-20T12:00:00Z

.PHONY: demo test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/cmrules evaluate --vendor "$(DEMO_VENDOR)" --as-of $(DEMO_AS_OF)

test: $(VENV)/.installed lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/sync.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
