# mbert: every target installs what it needs first; a fresh clone needs only Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mbert-installed
# Pytest's own per-test limit (CI has 90 minutes in all) and the 20 slowest tests at the end.
PYTEST_ARGS ?= -q -p no:cacheprovider --timeout=1200 --durations=20

.PHONY: install adb test test-fast demo bench results docs lint lock clean help

help:
	@echo "make demo   - the whole chain on the shipped data (MiniLM teacher, distilled student, export, bench)"
	@echo "make test   - the test suite (installs everything first)"
	@echo "make bench  - the performance studies under studies/ (not installed; defaults need no finished demo)"
	@echo "make results - rerun the demo, record it and rewrite docs/results.md"
	@echo "make docs   - regenerate docs/cli.md (from the CLI) and docs/results.md (from docs/results/*.json)"
	@echo "make lint   - ruff"

install: $(STAMP)

# Re-installs only when the dependency pins change. The lock is installed with --no-deps so
# every package is exactly the locked version (the data packages' own optional
# dependencies are not needed: mbert reads their data files only). setuptools stays below 81:
# tensorflow_hub (imported by tf-models' NLP tasks) still imports pkg_resources, which newer
# setuptools no longer ship.
$(STAMP): setup.cfg pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
	  { echo "mbert needs Python 3.11 (found $$($(PYTHON) --version)); set PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24" wheel "setuptools<81"
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# The Debian adb client talks to phones and to the loopback test device.
adb:
	@command -v adb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing the adb client (Debian package adb)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq adb >/dev/null; \
	  else \
	    echo "adb is missing: install it with 'sudo apt-get install adb' (or the Android SDK platform-tools) and rerun."; exit 1; \
	  fi; }

# The slow end-to-end tests (the MiniLM demo alone takes about 37 minutes on an AVX2-only
# 2-core machine) run in a second pytest beside the rest instead of after it: much of the
# suite waits on subprocesses, adb and Python rather than on both cores, so the two overlap.
# The slow run's report follows the fast one's; the target fails if either does. The user's adb
# key (which the loopback devices trust) is made first, so the two runs never both create it.
test: install adb
	@mkdir -p runs; \
	$(BIN)/python -c "from android_harness.loopback.auth import ensure_key_pair; ensure_key_pair()"; \
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m slow > runs/test-slow.log 2>&1 & slow=$$!; \
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow"; fast=$$?; \
	wait $$slow; slow_rc=$$?; \
	echo "== the slow tests (run beside the others)"; cat runs/test-slow.log; \
	test $$fast = 0 && test $$slow_rc = 0

test-fast: install adb
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow"

demo: install adb
	$(BIN)/mbert demo

# The quick performance suite: nano models and small settings, nothing but a checkout needed
# (no finished demo). The long studies (real presets, seeds, a finished run) are commands in
# studies/README.md. `make bench BENCH="studies.seq_lengths"` runs a chosen few.
BENCH ?= "studies.host_latency --tiny" \
	"studies.crosscheck_litert --tiny" \
	"studies.adb_overhead --tiny" \
	"studies.seq_lengths" \
	"studies.train_throughput --pairs nano-teacher:nano-student" \
	"studies.stop_vote --calls 50 --floats 1000000" \
	"benchmarks.train_speed --stages student --batches 4 --reps 1"
bench: install adb
	@set -e; for study in $(BENCH); do echo "== python -m $$study"; $(BIN)/python -m $$study; done

# The demo's figures as stamped records (date, CPU and flags, threads, command), then the page.
results: install adb
	$(BIN)/mbert demo --run runs/demo
	$(BIN)/python scripts/results.py record-demo runs/demo --command "make results (mbert demo --run runs/demo)"
	$(BIN)/python scripts/results.py render

docs: install
	$(BIN)/typer mbert_cli.cli.app utils docs --name mbert --output docs/cli.md
	$(BIN)/python scripts/results.py render

lint: install
	$(BIN)/ruff check .

# Regenerate the lock from the current virtualenv (after changing setup.cfg on purpose).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
