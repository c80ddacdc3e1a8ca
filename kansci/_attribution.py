"""Attribution scores of KAN 2.0 (Sec. 4.1): how much each node and edge matters to the outputs.

Scores flow backwards from the outputs (score 1 each): an edge (i -> o) of layer l gets
    E[q, i, o] = std(phi_io) / (std(subnode o) + 1e-4) * S_sub[q, o],
and node i gets the sum of its outgoing edge scores; a multiplication node passes its score to
each of its factors. Per query output q, then averaged over q (as pykan does).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class LayerStats:
    """Data statistics of one layer, from its input samples."""

    x: Tensor  # (batch, in) layer input
    edge_mean: Tensor  # (in, out) mean of each edge's activation
    edge_std: Tensor  # (in, out)
    sub_std: Tensor  # (out,) std of each subnode before its affine


@torch.no_grad()
def layer_stats(model, x) -> list[LayerStats]:
    """Statistics of every layer on inputs x (default: the last fit's training inputs)."""
    acts = model.activations(x)
    stats = []
    for l, layer in enumerate(model.layers):
        xl = acts[l]
        mean, std = layer.edge_stats(xl)
        y, _ = layer(xl)
        sub_std = y.std(0) if y.shape[0] > 1 else torch.zeros_like(y[0])
        stats.append(LayerStats(xl, mean, std, sub_std))
    return stats


def to_subnodes(per_node: Tensor, n_sum: int, arity: list[int]) -> Tensor:
    """Repeat each multiplication node's value for its factors along the last dimension:
    (..., n_sum + n_mult) -> (..., n_sum + sum(arity)) (scores, or a bool mask of nodes)."""
    if not arity:
        return per_node
    reps = torch.tensor([1] * n_sum + list(arity), device=per_node.device)
    return per_node.repeat_interleave(reps, dim=-1)


@torch.no_grad()
def scores(model, stats: list[LayerStats]):
    """The attribution scores on the layer statistics ``stats``, the model left as it is:
    (node scores [(width_in[l],)], edge scores [(in, out)], subnode scores [(width_out[l+1],)])."""
    n_q = model.width_in[-1]
    return _backward(model, stats, model.depth,
                     torch.eye(n_q, dtype=model.dtype, device=model.device))


def attribute(model, x=None, stats: list[LayerStats] | None = None) -> list[LayerStats]:
    """Set ``model.node_scores`` [(width_in[l],)], ``model.edge_scores`` [(in, out)] and
    ``model.subnode_scores`` [(width_out[l+1],)]; returns the layer statistics used."""
    stats = stats if stats is not None else layer_stats(model, x)
    model.node_scores, model.edge_scores, model.subnode_scores = scores(model, stats)
    return stats


def _backward(model, stats: list[LayerStats], top: int, node: Tensor):
    """Scores flowed from node scores ``node`` (q, width_in[top]) of layer ``top`` down to the
    inputs, averaged over q: (node scores of layers 0..top, edge scores and subnode scores of
    layers 0..top-1)."""
    nodes, edges, subs = [node.mean(0)], [], []
    for l in range(top - 1, -1, -1):
        sub = to_subnodes(node, model.width[l + 1][0], model.mult_arity[l + 1])  # (q, out)
        st = stats[l]
        edge = st.edge_std.unsqueeze(0) * (sub / (st.sub_std + 1e-4)).unsqueeze(1)  # (q, in, out)
        node = edge.sum(2)  # (q, in)
        subs.append(sub.mean(0))
        edges.append(edge.mean(0))
        nodes.append(node.mean(0))
    return nodes[::-1], edges[::-1], subs[::-1]


@torch.no_grad()
def node_input_scores(model, l: int, i: int, x=None) -> Tensor:
    """How much each input matters to node i of layer l (1 <= l <= depth): (width_in[0],),
    the attribution scores flowed down from that node alone."""
    if not 1 <= l <= model.depth or not 0 <= i < model.width_in[l]:
        raise ValueError(f"node ({l}, {i}) does not exist: layers 1..{model.depth} have "
                         f"{model.width_in[1:]} nodes.")
    stats = layer_stats(model, x)
    start = torch.zeros(1, model.width_in[l], dtype=model.dtype, device=model.device)
    start[0, i] = 1.0
    return _backward(model, stats, l, start)[0][0]
