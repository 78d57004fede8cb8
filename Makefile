# Two commands do all the set-up on a fresh machine:
#   make demo   — create .venv, install cmrules, evaluate a vendor of the embedded demo
#   make test   — create .venv, install cmrules with test tools, lint and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_VENDOR ?= Agence Hashtag & Co
DEMO_AS_OF ?= 2026-11-20T12:00:00Z

.PHONY: demo test lint bench clean report-demo

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
	$(BIN)/lint-imports --no-logo

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/e2e.py
	$(BIN)/python benchmarks/local_write.py
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/zendesk_calls.py
	$(BIN)/python benchmarks/report.py

# The README's screenshot: four nightly syncs of the demo (for the trend), the HTML report, and
# a 1280-pixel-wide capture by headless Chromium (Debian: apt-get install chromium).
CHROMIUM ?= chromium
report-demo: $(VENV)/.installed
	@home=$$(mktemp -d); \
	for d in 2026-09-01 2026-10-01 2026-11-01 2026-11-20; do \
	  CMRULES_HOME=$$home $(BIN)/cmrules sync --full --as-of $${d}T12:00:00Z --json >/dev/null || exit 1; \
	done; \
	CMRULES_HOME=$$home $(BIN)/cmrules report --all --as-of $(DEMO_AS_OF) --lang en \
	  --format html --output $$home/report-demo.html && \
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$home/chromium --hide-scrollbars --window-size=1280,1700 \
	  --screenshot=docs/report-demo.png file://$$home/report-demo.html 2>/dev/null; \
	rm -rf $$home; ls -l docs/report-demo.png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
