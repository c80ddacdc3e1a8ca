"""The documentation site builds in strict mode (a broken reference, a missing page or a
failing notebook fails it), with every public name on its API page and every notebook
rendered with its outputs."""
import os
import pathlib
import re
import subprocess
import sys

import kansci

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly_with_the_whole_api_and_every_notebook(tmp_path):
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # Jupyter's inline one
    env["NO_MKDOCS_2_WARNING"] = "1"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                          str(site)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    api = (site / "api" / "index.html").read_text()
    ids = set(re.findall(r'id="([^"]+)"', api))
    missing = [n for n in kansci.__all__ if not any(i.rsplit(".", 1)[-1] == n for i in ids)]
    assert not missing, f"not on the API page: {missing}"
    assert "kansci.MultKAN.fit" in ids  # a docstring set at import (from _train.fit)
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in notebooks:
        page = (site / "notebooks" / name / "index.html").read_text()
        assert "jp-OutputArea" in page, f"{name}: no outputs on its page"
        assert "<img" in page, f"{name}: no figure of its science on its page"
    assert len(notebooks) == 12
