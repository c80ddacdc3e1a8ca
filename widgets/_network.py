"""NetworkView: the KAN drawn as SVG in the browser (an anywidget, no plotly).

The app (the explorer) describes the whole drawing in one dict and assigns it to
``view``; the front end (``network.js``) lays it out and draws it. Clicking an
edge (its lines or its curve box) sets ``selected`` to that edge's id, which the
app can observe; setting ``selected`` from Python moves the highlight.

``view`` schema::

    {"width": int, "height": int,                     # px
     "nodes": [{"id": str,
                "row": int,        # 0 = inputs (bottom) ... last row = outputs (top)
                "index": int,      # position in the row
                "kind": "input" | "sum" | "mult" | "output",
                "label": str,      # may be ""; drawn under inputs / above outputs
                "x": float,        # horizontal position in [0, 1], 0 = left
                "faded": bool}],
     "edges": [{"id": str,         # e.g. "0,1,2" = (layer, i, j)
                "layer": int,      # goes from node row `layer` to row `layer + 1`
                "source": str, "target": str,    # node ids
                "curve": [[u, v], ...],          # the edge function, both in [0, 1]; may be []
                "alpha": float,    # importance in [0, 1]; opacity (floor 0.08)
                "symbolic": str | None,          # snapped function name, e.g. "sin"
                "faded": bool}]}   # pruning preview: drawn light and dashed
"""

from __future__ import annotations

import math

import anywidget
import traitlets

from ._esm import module_source


def _finite_or_none(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _ok_point(p) -> bool:
    return (
        isinstance(p, (list, tuple))
        and len(p) == 2
        and all(type(c) in (float, int) and math.isfinite(c) for c in p)
    )


def _clean_point(p):
    if hasattr(p, "tolist"):
        p = p.tolist()
    try:
        u, v = p
    except (TypeError, ValueError):
        return [None, None]
    return [_finite_or_none(u), _finite_or_none(v)]


class NetworkView(anywidget.AnyWidget):
    """SVG drawing of a KAN: node rows, one small curve box per edge."""

    _esm = module_source("network.js")

    view = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)

    @traitlets.validate("view")
    def _clean_view(self, proposal):
        # JSON has no NaN/inf: a non-finite value in a curve would break the
        # comm message, so such points become null (the drawing breaks the line).
        view = proposal["value"]
        edges = view.get("edges")
        if not edges:
            return view
        clean = []
        changed = False
        for e in edges:
            curve = e.get("curve") if isinstance(e, dict) else None
            if curve is not None and not (isinstance(curve, list) and all(map(_ok_point, curve))):
                if hasattr(curve, "tolist"):  # numpy array / torch tensor
                    curve = curve.tolist()
                e = dict(e, curve=[_clean_point(p) for p in curve])
                changed = True
            clean.append(e)
        return dict(view, edges=clean) if changed else view

    def select(self, edge=None) -> None:
        """Select an edge by id ("l,i,j") or by (l, i, j); None or "" clears."""
        if edge is None:
            self.selected = ""
        elif isinstance(edge, str):
            self.selected = edge
        else:
            self.selected = ",".join(str(int(k)) for k in edge)
