# Set-up and checks. `make test` and `make lab` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A local CPU build on these machines; an unpinned torch pulls GBs of CUDA packages.
TORCH_SPEC ?= torch==2.13.0

.PHONY: test lab docs install clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.lab: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,lab]"
	touch $@

install: $(VENV)/.installed

# The browser tests (tests/test_browser_*.py) drive JupyterLab in Debian's chromium; Python
# playwright comes from the dev extras, but `playwright install` downloads fail here. As root
# (these machines) install the apt package, `apt-get update` only if that fails (~75 s, once).
# Otherwise, or if apt fails, say so and go on: the tests then skip, or fail where CI is set.
# The stamp is written only once chromium is there, so a later `make test` tries again.
CHROMIUM := /usr/bin/chromium
$(VENV)/.chromium: | $(VENV)/.installed
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
	fi; \
	if [ -x $(CHROMIUM) ]; then touch $@; \
	else echo "NOTE: $(CHROMIUM) missing (needs root: apt-get install -y chromium); browser tests will skip, or fail under CI"; fi

test: $(VENV)/.installed $(VENV)/.chromium
	$(PY) -m pytest -q

# Jupyter refuses to start as root unless told; these machines run as root.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(VENV)/.lab
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/

# The documentation site (mkdocs.yml): every notebook runs in the build; open site/index.html.
docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info
