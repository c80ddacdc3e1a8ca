# Set-up and checks. `make test` and `make lab` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A local CPU build on these machines; an unpinned torch pulls GBs of CUDA packages.
TORCH_SPEC ?= torch==2.13.0

.PHONY: test lab install clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.lab: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,lab]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest -q

# Jupyter refuses to start as root unless told; these machines run as root.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(VENV)/.lab
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/

clean:
	rm -rf $(VENV) build *.egg-info
