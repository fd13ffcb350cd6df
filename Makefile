# marketdrill: every target sets up .venv on first use, so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-fast bench lint fuzz clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,interop]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/marketdrill demo

test: $(STAMP)
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests sim engines scenarios --doctest-modules -m "not slow and not interop" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
