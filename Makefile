# Fresh machine: `make run` (small default sweep) and `make test` set up what they need.
PYTHON ?= python3
VENV := .venv
IPEX_VENV := .venv-ipex
PY := $(VENV)/bin/python

.PHONY: setup system-packages test-system-packages ipex-env run lint test test-fast bench bench-ladder bench-rank bench-race clean-results

setup: system-packages $(VENV)/.installed

system-packages:
	@scripts/install-system-packages.sh

# Each environment takes about 7.5 GB (torch's wheel brings its CUDA libraries).
$(VENV)/.installed: pyproject.toml
	@scripts/check-disk.sh $(VENV) 8
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,cluster]' --config-settings editable_mode=compat
	touch $@

# IPEX 2.8.0 (discontinued) only imports with torch 2.8, so its runs use a
# second interpreter; conf/backend/ipex*.yaml name it.
ipex-env: $(IPEX_VENV)/.installed

$(IPEX_VENV)/.installed: requirements-ipex.txt pyproject.toml
	@scripts/check-disk.sh $(IPEX_VENV) 8
	$(PYTHON) -m venv $(IPEX_VENV)
	$(IPEX_VENV)/bin/pip install -q --upgrade pip
	$(IPEX_VENV)/bin/pip install -q -r requirements-ipex.txt
	$(IPEX_VENV)/bin/pip install -q --no-deps -e . --config-settings editable_mode=compat
	touch $@

run: setup
	$(PY) -m xeonsweep -m experiment=quick

test-system-packages:
	@scripts/install-system-packages.sh --test

lint: setup
	$(PY) -m ruff check .

# Lint first: it takes a second, and a style slip should not wait for the whole suite.
test: setup test-system-packages ipex-env
	$(PY) -m ruff check .
	$(PY) -m pytest -q -ra

# The inner loop: everything that starts no process (tests/conftest.py refuses one here).
test-fast: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q -ra -m "not slow"

# Benchmarks print ratios measured side by side; tests never assert speed.
bench: setup ipex-env
	$(PY) benchmarks/harness_overhead.py
	$(PY) benchmarks/artifact_cache.py

bench-ladder: setup ipex-env   # the whole ladder for resnet50: about half an hour on 2 cores
	$(PY) benchmarks/ladder.py

bench-rank: setup ipex-env    # the resnet50 ladder, two pairs of runs: does it rank the same way again?
	$(PY) benchmarks/rank_stability.py

bench-race: setup             # which of 12 resnet50 configs is fastest: goal=best against goal=rank
	$(PY) benchmarks/racing.py

clean-results:
	rm -rf outputs/results outputs/runs outputs/sweeps
