# callgate: `make run` serves the demo with embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := postgresql redis-server php-cli chromium

.PHONY: run test lint docs docs-config bench fuzz system-deps clean widget

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/callgate serve

# The widget's build tool: esbuild, pinned in widget/package-lock.json.
ESBUILD := widget/node_modules/.bin/esbuild
$(ESBUILD): widget/package.json widget/package-lock.json
	npm ci --prefix widget --no-audit --no-fund --loglevel=error
	touch $@

# Rebuild the served widget (service/static/) from its readable source (widget/src/).
widget: $(VENV)/.runtime $(ESBUILD)
	$(BIN)/python scripts/build_widget.py

system-deps:
	scripts/system-deps.sh $(SYSTEM_PACKAGES)

test: $(VENV)/.dev system-deps $(ESBUILD)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(MAKE) --no-print-directory docs
	$(BIN)/pytest

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on a broken link or
# anchor (not with --quiet, which hides the warnings that strict mode counts).
docs: $(VENV)/.dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Rewrite the configuration reference in docs/configuration.md from the settings' declarations
# (a test fails while the committed page differs).
docs-config: $(VENV)/.dev
	$(BIN)/python scripts/config_reference.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check service tests bench
	$(BIN)/mypy

# Longer fuzzing than make test's: schemathesis and the hypothesis properties, randomised.
fuzz: $(VENV)/.dev
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} FUZZ_PROPERTY_EXAMPLES=$${FUZZ_PROPERTY_EXAMPLES:-20000} \
	FUZZ_RANDOM=1 $(BIN)/pytest tests/fuzz -p no:cacheprovider

bench: $(VENV)/.dev system-deps
	scripts/system-deps.sh wrk
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache widget/node_modules
