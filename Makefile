# msbayes: two commands are the contract.
#   make run   - set up .venv and run the default pipeline on the built-in Harris 2024 data
#   make test  - set up .venv and run the test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/.pytensor,cxx=g++
export MPLBACKEND := Agg
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: venv run test test-fast test-slow bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/msbayes run configs/run/default.yaml $(RUN_ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow" -q
	$(PY) -m pytest -m slow -q

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytensor results .pytest_cache
