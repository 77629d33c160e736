# msgan: the two commands of the README are `make demo` and `make test`; both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
BIN := .venv/bin
STAMP := .venv/.installed
# JupyterLab settings of this environment only (never ~/.jupyter): book/*.py open as notebooks.
LAB_OVERRIDES := .venv/share/jupyter/lab/settings/overrides.json
CHAPTERS := $(basename $(notdir $(sort $(wildcard book/[0-9][0-9]_*.py))))
MATHJAX_VERSION := 3.2.2
MATHJAX := .vendor/static/mathjax/tex-chtml.js

.PHONY: setup demo test unit chromium notebooks nbval book site-check chapter lab clean

## setup: create .venv if missing and install msgan with its dev tools (editable)
setup: $(STAMP) $(LAB_OVERRIDES)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv .venv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
	@echo "installing msgan and its dependencies into .venv (a minute or two)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' 2> >(grep -v "is ignored: it is neither" >&2) | { grep --line-buffered -E '^(Collecting|Successfully)' || true; }
	@touch $@

$(LAB_OVERRIDES): jupyter/overrides.json $(STAMP)
	install -D -m 644 $< $@

## demo: the main job, from nothing to a Ms. Pac-Man prediction in inference/
demo: setup
	$(BIN)/msgan demo

## test: everything CI runs: lint, unit tests, every chapter executed, nbval, the site built and checked
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory unit notebooks nbval book site-check

unit: setup chromium
	$(BIN)/pytest -q tests --ignore=tests/test_notebooks.py

# Headless Chromium (Debian's package) for the JupyterLab test and the site check.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

## notebooks: execute every chapter with its FAST parameters (book/NN_*.py -> book/NN_*.ipynb)
notebooks: setup
	$(BIN)/pytest -q tests/test_notebooks.py

nbval: setup
	$(BIN)/pytest -q --nbval-lax $(addprefix book/,$(addsuffix .ipynb,$(CHAPTERS)))

## chapter: run one chapter in batch, e.g. make chapter NB=04_train PARAMS="-p preset small"
chapter: setup
	$(BIN)/jupytext --quiet --to ipynb book/$(NB).py
	$(BIN)/papermill --cwd book book/$(NB).ipynb book/$(NB).ipynb $(PARAMS)

## book: build the HTML site from the executed notebooks into _build/html
book: setup $(MATHJAX)
	$(BIN)/jupyter-book build --warningiserror --keep-going .

## site-check: open the built site in headless Chromium and check the figures render
site-check: setup chromium
	$(BIN)/python scripts/check_site.py _build/html

# MathJax from the npm registry, so that formulas render without the (unreachable) CDN.
$(MATHJAX):
	@mkdir -p .vendor/static/mathjax
	cd .vendor && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	tar -xzf .vendor/mathjax-$(MATHJAX_VERSION).tgz -C .vendor/static/mathjax --strip-components=2 package/es5
	@rm .vendor/mathjax-$(MATHJAX_VERSION).tgz

## lab: open the book in JupyterLab (book/*.py open as notebooks through jupytext)
lab: setup
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build .vendor book/*.ipynb
