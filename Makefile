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
$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

# Everything the tests need, QuickFIX included (it compiles once; pip's wheel cache serves later runs).
$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint,interop,sweep,cluster]'
	@touch $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/marketdrill demo

# Real external parts the integration tests drive: Alertmanager (Debian package).  Installed when
# we are root and it is missing; elsewhere the tests that need it skip and say why.
system-deps:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing prometheus-alertmanager (Debian package) for the integration tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null \
	      || echo "warning: could not install prometheus-alertmanager; its integration test will skip"; \
	  else echo "note: prometheus-alertmanager not installed; its integration test will skip"; fi; }

test: $(STAMP) system-deps
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules -m "not slow and not interop" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
