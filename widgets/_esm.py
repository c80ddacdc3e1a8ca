"""The front-end modules of the widgets: each one's file with the shared figure tools
(``export.js``: toolbar, SVG and PNG export) put before it, so that code is written once."""
from __future__ import annotations

import pathlib

_HERE = pathlib.Path(__file__).parent


def module_source(name: str) -> str:
    """The ES module text of widget file ``name`` (e.g. "network.js") with export.js first."""
    return (_HERE / "export.js").read_text() + "\n" + (_HERE / name).read_text()
