"""A static matplotlib picture of a network: nodes in rows (inputs at the bottom), every active
edge as a small box holding its learned curve on the data, faded by its importance.

Spline edges are drawn black, symbolic ones red (both active: purple); an edge's opacity is
tanh(beta * score) with the score of ``metric``: "backward" (attribution, KAN 2.0 Sec. 4.1),
"forward_u" (std of the edge's output) or "forward_n" (that std over the std of its input).
The model is not changed (its stored attribution scores are left alone).
"""
from __future__ import annotations

import pathlib

import numpy as np
import torch

from ._attribution import layer_stats, to_subnodes
from ._attribution import scores as attribution_scores

METRICS = ("backward", "forward_u", "forward_n")
_POINTS = 64  # samples drawn per edge curve


def _scores(model, stats, metric: str) -> list[torch.Tensor]:
    """Per layer (in, out) edge scores for the opacity."""
    if metric == "backward":
        return attribution_scores(model, stats)[1]
    if metric == "forward_u":
        return [st.edge_std for st in stats]
    return [st.edge_std / (st.x.std(0)[:, None] + 1e-4) for st in stats]


def _node_x(n: int) -> np.ndarray:
    """Horizontal positions of n nodes in [0, 1]."""
    return (np.arange(n) + 0.5) / n


@torch.no_grad()
def draw(model, x, beta: float = 3.0, metric: str = "backward", scale: float = 0.5,
         in_vars=None, out_vars=None, title=None, varscale: float = 1.0):
    """The network on inputs x (batch, n_in) as a matplotlib Figure (not shown, not saved)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}.")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0; got {beta!r}.")
    stats = layer_stats(model, x)
    scores = _scores(model, stats, metric)
    widest = max(max(model.width_in), max(l.in_dim * l.out_dim for l in model.layers) / 4)
    fig, ax = plt.subplots(figsize=(max(4.0, 10 * scale * widest ** 0.5),
                                    max(3.0, 10 * scale * model.depth ** 0.7)))
    wires, wire_colors, curves, curve_colors, boxes, box_colors = [], [], [], [], [], []
    for l, layer in enumerate(model.layers):
        xl = stats[l].x
        n_in, n_out = layer.in_dim, layer.out_dim
        sub_node = to_subnodes(torch.arange(model.width_in[l + 1]), model.width[l + 1][0],
                               model.mult_arity[l + 1]).tolist()
        x_in, x_next = _node_x(n_in), _node_x(model.width_in[l + 1])
        active = layer.active
        edges = active.nonzero().tolist()
        if not edges:
            continue
        order = torch.argsort(xl, 0)
        pick = order[torch.linspace(0, len(xl) - 1, min(_POINTS, len(xl))).long()]  # (p, in)
        size = min(0.8 / max(len(edges), 1), 0.12)
        alpha = torch.tanh(beta * scores[l]).clamp(0.02, 1).cpu().numpy()
        for e, (i, j) in enumerate(sorted(edges, key=lambda ij: (ij[1], ij[0]))):
            xi = xl[pick[:, i]]  # (p, in): inputs sorted along column i
            phi = layer.edge_activations(xi, torch.tensor([j], device=xi.device))[:, i, 0]
            u, v = xi[:, i].cpu().numpy(), phi.cpu().numpy()
            cx, cy = (e + 0.5) / len(edges), l + 0.5
            spline, symbolic = bool(layer.mask[i, j] != 0), bool(layer.sym_mask[i, j] != 0)
            rgb = (0.5, 0, 0.5) if spline and symbolic else (0.8, 0, 0) if symbolic else (0, 0, 0)
            rgba = (*rgb, float(alpha[i, j]))
            span_u, span_v = np.ptp(u) or 1.0, np.ptp(v)
            pu = cx - size / 2 + size * (u - u.min()) / span_u
            pv = cy - 0.1 + 0.2 * ((v - v.min()) / span_v if span_v > 1e-12 else 0.5 + 0 * v)
            curves.append(np.stack([pu, pv], 1))
            curve_colors.append(rgba)
            boxes.append([(cx - size / 2, cy - 0.1), (cx + size / 2, cy - 0.1),
                          (cx + size / 2, cy + 0.1), (cx - size / 2, cy + 0.1),
                          (cx - size / 2, cy - 0.1)])
            box_colors.append((*rgb, 0.3 * rgba[3]))
            wires += [[(x_in[i], l + 0.05), (cx, cy - 0.1)],
                      [(cx, cy + 0.1), (x_next[sub_node[j]], l + 0.95)]]
            wire_colors += [rgba, rgba]
    ax.add_collection(LineCollection(wires, colors=wire_colors, linewidths=0.8))
    ax.add_collection(LineCollection(boxes, colors=box_colors, linewidths=0.6))
    ax.add_collection(LineCollection(curves, colors=curve_colors, linewidths=1.4))
    for l, n in enumerate(model.width_in):
        n_sum = model.width[l][0]
        xs = _node_x(n)
        ax.scatter(xs[:n_sum], [l] * n_sum, s=40, c="black", zorder=3)
        if n > n_sum:
            ax.scatter(xs[n_sum:], [l] * (n - n_sum), s=80, c="black", marker="x", zorder=3)
    fontsize = 12 * varscale
    names_in = in_vars if in_vars is not None else model.in_vars
    if names_in is not None:
        kept = [names_in[k] for k in model.input_id.tolist()] if len(names_in) == model.n_in \
            else names_in
        for xpos, name in zip(_node_x(model.width_in[0]), kept):
            ax.text(xpos, -0.12, str(name), ha="center", va="top", fontsize=fontsize)
    names_out = out_vars if out_vars is not None else model.out_vars
    if names_out is not None:
        for xpos, name in zip(_node_x(model.width_in[-1]), names_out):
            ax.text(xpos, model.depth + 0.12, str(name), ha="center", va="bottom",
                    fontsize=fontsize)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.35, model.depth + 0.35)
    ax.axis("off")
    if title is not None:
        ax.set_title(str(title), fontsize=fontsize)
    return fig


def in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (where widgets and figures are displayed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def draw_figure(model, x, path=None, **style):
    """``draw`` for ``MultKAN.plot``: saved to ``path`` when given (its suffix picks the
    format); in Jupyter's inline backend taken off pyplot's list, so that it is displayed
    once, as the value."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("model.plot() outside Jupyter draws with matplotlib: pip install "
                          "matplotlib.") from err
    if path is not None:
        if pathlib.Path(path).suffix.lower().lstrip(".") not in _FORMATS:
            raise ValueError(f"path {str(path)!r}: the figure is saved as one of "
                             f".{', .'.join(_FORMATS)} (matplotlib), chosen by the suffix.")
    fig = draw(model, x, **style)
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    if in_jupyter() and "inline" in plt.get_backend():
        plt.close(fig)  # else the inline backend shows it at the cell's end, and again as value
    return fig
