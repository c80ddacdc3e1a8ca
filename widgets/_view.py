"""What the explorer draws, as plain JSON-able data computed from a model and its inputs.

``network_view`` gives the network (nodes, every edge's learned curve, its importance, its
symbolic function) in the schema ``NetworkView`` renders; ``edge_detail`` gives one edge's
curve and the data it sees for the inspector. Nothing here imports Jupyter.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from kansci._attribution import layer_stats
from kansci._attribution import scores as attribution_scores

CURVE_POINTS = 40


def edge_id(l: int, i: int, j: int) -> str:
    return f"{l},{i},{j}"


def parse_edge_id(text: str) -> tuple[int, int, int]:
    l, i, j = (int(v) for v in text.split(","))
    return l, i, j


def node_id(row: int, index: int) -> str:
    return f"n{row},{index}"


def _names(model) -> tuple[list[str], list[str]]:
    n_in, n_out = model.width_in[0], model.width_in[-1]
    ins = model.in_vars if model.in_vars is not None else [f"x_{i + 1}" for i in range(model.n_in)]
    ins = [str(ins[int(c)]) for c in model.input_id.tolist()][:n_in]
    outs = model.out_vars if model.out_vars is not None else [f"y_{o + 1}" for o in range(n_out)]
    return ins, [str(v) for v in outs]


def subnode_owner(model, l: int) -> list[int]:
    """For each subnode of layer l's output (width_out[l+1]), the node it belongs to."""
    n_sum = model.width[l + 1][0]
    owner = list(range(n_sum))
    for m, a in enumerate(model.mult_arity[l + 1]):
        owner += [n_sum + m] * a
    return owner


def _dead_ends(model) -> list[set[int]]:
    """Per row, the hidden nodes that no active edge reaches or none leaves (left by pruning
    edges): they carry nothing to the outputs, and are drawn faded."""
    dead = [set() for _ in model.width_in]
    for r in range(1, model.depth):
        owner = subnode_owner(model, r - 1)
        reached = {owner[j] for j in model.layers[r - 1].active.any(0).nonzero()[:, 0].tolist()}
        leaving = set(model.layers[r].active.any(1).nonzero()[:, 0].tolist())
        dead[r] = set(range(model.width_in[r])) - (reached & leaving)
    return dead


def _nodes(model, faded_nodes) -> list[dict]:
    ins, outs = _names(model)
    rows = model.width_in
    dead = _dead_ends(model)
    nodes = []
    for r, n in enumerate(rows):
        n_sum = model.width[r][0]
        for k in range(n):
            if r == 0:
                kind, label = "input", ins[k]
            elif r == len(rows) - 1:
                kind, label = "output", outs[k]
            else:
                kind, label = ("sum" if k < n_sum else "mult"), ""
            faded = bool(faded_nodes is not None and faded_nodes[r][k]) or k in dead[r]
            nodes.append({"id": node_id(r, k), "row": r, "index": k, "kind": kind,
                          "label": label, "x": (k + 0.5) / n, "faded": faded})
    return nodes


def _normalise(v: Tensor) -> Tensor:
    """Columns of v (points, ...) scaled to [0, 1] (0.5 where a curve is flat)."""
    lo, hi = v.min(0).values, v.max(0).values
    span = hi - lo
    out = (v - lo) / torch.where(span > 1e-12, span, torch.ones_like(span))
    return torch.where(span > 1e-12, out, torch.full_like(out, 0.5))


@torch.no_grad()
def _layer_curves(layer, xl: Tensor) -> tuple[Tensor, Tensor]:
    """Every edge of a layer sampled on its input's data range: u (P, in) and v (P, in, out),
    both normalised to [0, 1]."""
    lo, hi = xl.min(0).values, xl.max(0).values
    t = torch.linspace(0, 1, CURVE_POINTS, dtype=xl.dtype, device=xl.device).unsqueeze(1)
    xs = lo + t * (hi - lo)  # (P, in)
    ys = layer.edge_activations(xs)  # (P, in, out)
    return t.expand(-1, xl.shape[1]), _normalise(ys)


def _alpha(score: float) -> float:
    """Opacity from an attribution score (as the KAN papers draw it)."""
    return float(math.tanh(3.0 * score)) if math.isfinite(score) else 0.0


@torch.no_grad()
def network_view(model, x: Tensor, faded=None, width: int = 640, height: int = 480) -> dict:
    """The network as ``NetworkView`` draws it.

    x (batch, n_in): inputs whose activations give each edge's range and attribution scores.
    faded: optional (nodes, edges) masks from ``model.prune_plan`` (drawn as a preview)."""
    stats = layer_stats(model, x)  # the drawing leaves the model's own scores alone
    _, edge_scores, _ = attribution_scores(model, stats)
    acts = [st.x for st in stats]
    faded_nodes, faded_edges = faded if faded is not None else (None, None)
    edges = []
    for l, layer in enumerate(model.layers):
        active = layer.active
        u, v = _layer_curves(layer, acts[l])
        owner = subnode_owner(model, l)
        scores = edge_scores[l]
        u_list = u.round(decimals=4).tolist()  # (P, in)
        v_all = v.round(decimals=4).permute(1, 2, 0).tolist()  # (in, out, P)
        for i, j in active.nonzero().tolist():
            symbolic = layer.sym_names[i][j] if layer.sym_mask[i, j] != 0 else None
            edges.append({
                "id": edge_id(l, i, j), "layer": l, "i": i, "j": j,
                "source": node_id(l, i), "target": node_id(l + 1, owner[j]),
                "curve": [[row[i], val] for row, val in zip(u_list, v_all[i][j])],
                "alpha": _alpha(float(scores[i, j])), "symbolic": symbolic,
                "faded": bool(faded_edges is not None and faded_edges[l][i, j]),
            })
    return {"width": width, "height": height, "nodes": _nodes(model, faded_nodes),
            "edges": edges}


@torch.no_grad()
def edge_detail(model, l: int, i: int, j: int, x: Tensor, n_points: int = 200) -> dict:
    """One edge for the inspector: its data (input, activation) subsampled to n_points, and
    its curve on a fine grid over the data range (the spline when the edge is not symbolic)."""
    from kansci._symbolic import edge_data

    layer = model._check_edge(l, i, j)
    xs, ys = edge_data(model, l, i, j, x, n_max=n_points)
    grid = torch.linspace(float(xs.min()), float(xs.max()), 200, dtype=xs.dtype, device=xs.device)
    inputs = torch.zeros(200, layer.in_dim, dtype=xs.dtype, device=xs.device)
    inputs[:, i] = grid
    curve = layer.edge_activations(inputs, torch.tensor([j], device=xs.device))[:, i, 0]
    symbolic = layer.sym_names[i][j] if layer.sym_mask[i, j] != 0 else None
    return {"x": xs.tolist(), "y": ys.tolist(), "curve_x": grid.tolist(),
            "curve_y": curve.tolist(), "symbolic": symbolic}
