"""The tutorial notebooks: every notebooks/*.ipynb runs headlessly and checks its own result.

Each notebook is copied into a temporary folder and executed there (the kernel's working
directory) by nbclient with the ``python3`` kernel, which jupyter_client starts with this
interpreter (``sys.executable``), so the notebooks see the same environment as the tests.
A notebook gets NOTEBOOK_BUDGET_S seconds of cell execution in all; its wall time is printed
(``pytest -s`` shows it). The committed files must be clean: outputs cleared, a python3
kernelspec, and a last code cell that asserts the scientific result.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOK_BUDGET_S = 180  # cell execution time per notebook (kernel start-up not counted)
MAX_OUTPUT_CHARS = 1000  # committed notebooks: outputs cleared, or a stray tiny one at most
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(paths):
    return [p.name for p in paths]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", \
        f"{path.name}: kernelspec must be python3; got {nb.metadata.get('kernelspec')!r}"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state; clear it"
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code cells"
    size = sum(len(json.dumps(c.get("outputs", []))) - 2 for c in cells)
    assert size <= MAX_OUTPUT_CHARS, \
        f"{path.name}: {size} characters of saved outputs; commit it with outputs cleared"
    assert re.search(r"^\s*assert\b", cells[-1].source, re.MULTILINE), \
        f"{path.name}: the last code cell must assert the notebook's scientific result"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, tmp_path, monkeypatch):
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = nbformat.read(work, as_version=4)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # for a notebook that draws with matplotlib
    start = time.monotonic()
    deadline = start + NOTEBOOK_BUDGET_S
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())))
    try:
        client.execute()
    except nbclient.exceptions.CellTimeoutError:
        pytest.fail(f"{path.name}: over its budget of {NOTEBOOK_BUDGET_S} s "
                    f"(stopped after {time.monotonic() - start:.0f} s)", pytrace=False)
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell failed\n{ANSI.sub('', str(err))}", pytrace=False)
    finally:
        print(f"\n{path.name}: {time.monotonic() - start:.1f} s")
    errors = [o for c in _code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert not errors  # execute() raises on the first one; a second check costs nothing
