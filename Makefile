# msbayes: two commands are the contract.
#   make run   - set up .venv and run the default pipeline on the built-in Harris 2024 data
#   make test  - set up .venv and run the test suite
# The first of python3.11, python3.12, python3.13 that runs (a pyenv shim without that version
# installed does not count); override with `make PYTHON=/path/to/python3.x`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13; do \
  $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1 \
  && { echo $$p; break; }; done)
LOCK   := requirements/lock.txt
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/.pytensor,cxx=g++
export MPLBACKEND := Agg
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: venv run test test-fast test-slow docs lock bench clean

# Exact versions from the lock file, then msbayes itself without resolving again.
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "need Python 3.11, 3.12 or 3.13 on PATH (python3.11 / python3.12 / python3.13), or make PYTHON=..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/msbayes run configs/run/default.yaml $(RUN_ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow" -q
	$(PY) -m pytest -n 2 --dist loadfile -m slow -q

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m slow -q

# The documentation site (API reference from the docstrings + user guide), warnings as errors.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

# Re-resolve the lock file to the newest versions the ranges in pyproject.toml allow.
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra docs --universal \
	  --python-version 3.11 --no-header --no-annotate -o $(LOCK).new
	{ echo "# Exact versions for make and CI (Python 3.11-3.13). Regenerate with: make lock"; cat $(LOCK).new; } > $(LOCK)
	rm -f $(LOCK).new

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytensor results .pytest_cache site
