# Task runner. Every target sets up what it needs from a clean clone.
# `make test` runs every test (library + every notebook with nbval); `make book` builds the website.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export PYTHONPATH := $(CURDIR)
export OMP_NUM_THREADS ?= 1
JOBS    ?= 2

.PHONY: venv test test-lib test-nb book sync nb clean-book

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

## all tests: library tests, notebook/mirror sync, and nbval over every notebook
test: venv
	$(BIN)/python tools/check_sync.py
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider tests book

test-lib: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider tests

test-nb: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider book

## the website, offline, warnings as errors, from the committed (nbval-checked) outputs
book: venv
	$(BIN)/python tools/gen_reference.py
	$(BIN)/jupyter-book build . --path-output _build_root -W -n --keep-going
	@echo "Open: $(CURDIR)/_build_root/_build/html/index.html"

## check every book/**/*.ipynb against its text mirror nbsrc/**/*.md
sync: venv
	$(BIN)/python tools/check_sync.py

## build and execute one notebook from its text mirror: make nb NB=nbsrc/core/measuring.md
nb: venv
	$(BIN)/python tools/make_notebook.py $(NB)

clean-book:
	rm -rf _build_root
