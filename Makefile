# perform: `make demo` and `make test` are all a newcomer needs (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-packages demo test lint layers bench soak clean

install: $(STAMP)

# Re-install when pyproject.toml changes. torch==2.13.0 is pinned there: any other torch
# request would download gigabytes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12)), "perform needs Python 3.11 or 3.12, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,midi,ndi]'
	@touch $(STAMP)

# Debian packages beside the wheels: installed when run as root (as CI does), otherwise the one
# `sudo apt-get install` line for what is missing is printed and the tests needing it skip.
system-packages:
	@.ci/system-packages test

demo: install
	@.ci/system-packages demo
	$(BIN)/perform run config/demo.yaml --seconds 10 --stats out/demo-stats.json

test: install lint system-packages
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check perform tests benchmarks
	$(BIN)/ruff format --check perform tests benchmarks

# Which package imports which, lowest layer first; fails on an import that runs back up.
layers: install
	$(BIN)/python -m tests.layers

bench: install
	$(BIN)/perform bench --json benchmarks/latest.json --md benchmarks/latest.md

# The soak: the whole show headless for MINUTES (default 60), judged on memory growth, p99 frame
# time drift, dropped frames and restarts (config/soak.yaml; CI runs 2 minutes in tests/test_soak.py).
MINUTES ?= 60
soak: install
	$(BIN)/python -m perform.soak --minutes $(MINUTES) --json out/soak.json

clean:
	rm -rf $(VENV) out bench.json .pytest_cache .ruff_cache
