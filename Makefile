# marketdrill: every target sets up .venv on first use, so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.runtime-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-fast bench lint fuzz clean setup system-deps

setup: $(STAMP)

# The runtime only (what `make demo` needs): quick on a fresh machine.
# setup.py builds the C codec (sim/fix/_ccodec.c); a compiler-less machine gets the pure-Python codec.
$(RUN_STAMP): pyproject.toml setup.py sim/fix/_ccodec.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

# Everything the tests need, QuickFIX included (it compiles once; pip's wheel cache serves later runs).
$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint,interop,sweep,cluster,browser]'
	@touch $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/marketdrill demo

# Real external parts the integration tests drive: Alertmanager, and Chromium with its driver for the
# drill dashboard's browser tests (Debian packages; nothing downloads its own browser).  Installed when
# we are root and they are missing; elsewhere the tests that need them skip and say why.
SYSTEM_PACKAGES := prometheus-alertmanager:prometheus-alertmanager chromium:chromium chromedriver:chromium-driver
system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for the integration tests:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	      || echo "warning: could not install$$missing; the tests that need them will skip"; \
	  else echo "note: not installed:$$missing; the tests that need them will skip"; fi; fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules -m "not slow and not interop" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The long fuzz campaign (not part of `make test`; ~15-30 min on 2 cores): 1,000,000 inputs each at the
# codec and the session, 100,000 at the venue.  Writes bench/results/fuzz.md (then `make bench` or
# `bench/run_all.py --no-run` puts it in BENCHMARKS.md).  FUZZ_ARGS="--count 10000" for a short run.
FUZZ_ARGS ?=
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_campaign.py $(FUZZ_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
