# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make demo` writes (data/, mlruns/, reports/, cache/); the CLI's --home.
DEMO_HOME ?= .

.PHONY: install demo test test-fast check lint typecheck browser clean

$(BIN)/sparkpick: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sparkpick needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/sparkpick

demo: install
	$(BIN)/sparkpick --home $(DEMO_HOME) demo

browser:
	@bash scripts/install-browser.sh || echo "WARNING: could not install Chromium; the browser test will be skipped"

lint: install
	$(BIN)/ruff check .

# mypy, strict (pyproject.toml's [tool.mypy]); its cache (.mypy_cache) makes the next run fast.
typecheck: install
	$(BIN)/mypy

# The fast tests run in parallel processes (pytest-xdist), each test file's tests in one of them and in
# their order, so a file's shared fixtures are built once. PYTEST_WORKERS=0: all in this process.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile
# The tests' temporary folders (homes, warehouses, MLflow stores) in memory when /dev/shm has room: every
# SQLite commit (MLflow's store runs ~150 on creation) waits for the disk otherwise. Empty: the system's.
TEST_TMPDIR ?= $(shell $(PYTHON) -c 'import os, shutil; d = "/dev/shm"; print(d if os.path.isdir(d) and os.access(d, os.W_OK) and shutil.disk_usage(d).free > 4e9 else "")')

# Fast tests first, then the slow ones (real Prefect server, browser, bigger worlds), also two files at a
# time: their waits on child processes have deadlines that allow for a busy machine. Exit 5 = none selected.
test: install browser lint typecheck
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(XDIST) -m "not slow"
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(XDIST) -m slow || [ $$? -eq 5 ]

test-fast: install
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(XDIST) -m "not slow" -x -q

# The inner loop: lint, type check, the fast tests.
check: lint typecheck test-fast

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
