"""A static plotly figure of the network, for use outside Jupyter (``model.plot()`` in a script).

The same drawing as the explorer's network: node rows bottom to top, one small box per edge
between its two rows holding the edge's curve, lines from the source node to the box and from
the box to the target node, opacity from the edge's attribution score, snapped edges in orange
with their function name.
"""
from __future__ import annotations

from ._view import network_view

_SYMBOLIC = "#d9480f"


def figure(model, x, width: int = 800, height: int = 600):
    """plotly ``go.Figure`` of ``model`` on inputs x (batch, n_in); ``fig.write_html(path)``
    saves it (PNG export needs plotly's kaleido)."""
    import plotly.graph_objects as go

    view = network_view(model, x, width=width, height=height)
    n_rows = max(n["row"] for n in view["nodes"]) + 1
    row_y = lambda r: r / max(n_rows - 1, 1)  # noqa: E731
    where = {n["id"]: (n["x"], row_y(n["row"])) for n in view["nodes"]}
    fig = go.Figure()
    by_layer: dict[int, list] = {}
    for e in view["edges"]:
        by_layer.setdefault(e["layer"], []).append(e)
    for layer, edges in by_layer.items():
        band = (row_y(layer) + row_y(layer + 1)) / 2
        gap = row_y(layer + 1) - row_y(layer)
        size = min(0.5 * gap, 0.85 / len(edges))
        for k, e in enumerate(edges):
            cx = (k + 0.5) / len(edges)
            x0, y0 = cx - size / 2, band - size / 2
            colour = _SYMBOLIC if e["symbolic"] else "black"
            opacity = max(0.08, e["alpha"])
            (sx, sy), (tx, ty) = where[e["source"]], where[e["target"]]
            fig.add_trace(go.Scatter(x=[sx, cx, None, cx, tx], y=[sy, y0, None, y0 + size, ty],
                                     mode="lines", line=dict(color=colour, width=1),
                                     opacity=opacity, hoverinfo="skip", showlegend=False))
            us = [x0 + u * size for u, _ in e["curve"]]
            vs = [y0 + v * size for _, v in e["curve"]]
            fig.add_trace(go.Scatter(x=us, y=vs, mode="lines", line=dict(color=colour, width=1.5),
                                     opacity=opacity, showlegend=False,
                                     name=f"edge {e['id']}: {e['symbolic'] or 'spline'}"))
            fig.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + size, y1=y0 + size,
                          line=dict(color=colour, width=0.5), opacity=opacity)
            if e["symbolic"]:
                fig.add_annotation(x=cx, y=y0 + size, text=e["symbolic"], showarrow=False,
                                   yshift=8, font=dict(size=9, color=_SYMBOLIC))
    for kind, symbol in (("input", "circle-open"), ("output", "circle-open"), ("sum", "circle"),
                         ("mult", "square-x-open")):
        nodes = [n for n in view["nodes"] if n["kind"] == kind]
        if nodes:
            fig.add_trace(go.Scatter(
                x=[where[n["id"]][0] for n in nodes], y=[where[n["id"]][1] for n in nodes],
                mode="markers+text", marker=dict(symbol=symbol, size=11, color="black"),
                text=[n["label"] for n in nodes], hoverinfo="text", showlegend=False,
                textposition="bottom center" if kind == "input" else "top center"))
    axis = dict(visible=False, range=[-0.05, 1.05])
    fig.update_layout(width=width, height=height, plot_bgcolor="white", xaxis=axis,
                      yaxis=dict(visible=False, range=[-0.12, 1.12]),
                      margin=dict(l=10, r=10, t=10, b=10))
    return fig
