# Task runner. Every target sets up what it needs from a clean clone.
# `make test` runs every test (library + every notebook with nbval); `make book` builds the website.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export PYTHONPATH := $(CURDIR)
export OMP_NUM_THREADS ?= 1
JOBS    ?= 2

.PHONY: venv test test-lib test-nb book sync nb clean-book test-site slides fresh-env

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
		--nbval-cell-timeout=600 -p no:cacheprovider --junitxml=.test-results.xml --ignore=tests/website/test_site.py tests book
	$(BIN)/python tools/test_times.py .test-results.xml

test-lib: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider tests

test-nb: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider book

## the website, offline, warnings as errors, from the committed (nbval-checked) outputs
book: venv
	$(BIN)/python tools/gen_reference.py
	$(BIN)/python tools/gen_index.py
	$(BIN)/jupyter-book build . --path-output _build_root -W --keep-going
	@echo "Open: $(CURDIR)/_build_root/_build/html/index.html"

## the built website in headless Chromium (after `make book`; needs Debian's chromium)
test-site: venv
	ACCEL_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -p no:cacheprovider -q tests/website

## slide-ready figures into _build_root/slides
slides: venv
	$(BIN)/python tools/slide_figures.py

## every notebook in a fresh virtualenv with only the library's declared dependencies
fresh-env: venv
	$(BIN)/python tools/fresh_env_check.py

## check every book/**/*.ipynb against its text mirror nbsrc/**/*.md
sync: venv
	$(BIN)/python tools/check_sync.py

## build and execute one notebook from its text mirror: make nb NB=nbsrc/core/measuring.md
nb: venv
	$(BIN)/python tools/make_notebook.py $(NB)

clean-book:
	rm -rf _build_root
