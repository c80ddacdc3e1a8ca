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
def attribute(model, x=None, stats: list[LayerStats] | None = None) -> list[LayerStats]:
    """Set ``model.node_scores`` [(width_in[l],)], ``model.edge_scores`` [(in, out)] and
    ``model.subnode_scores`` [(width_out[l+1],)]; returns the layer statistics used."""
    stats = stats if stats is not None else layer_stats(model, x)
    n_q = model.width_in[-1]
    node = torch.eye(n_q, dtype=model.dtype, device=model.device)  # (q, nodes)
    nodes, edges, subs = [node.mean(0)], [], []
    for l in range(model.depth - 1, -1, -1):
        sub = to_subnodes(node, model.width[l + 1][0], model.mult_arity[l + 1])  # (q, out)
        st = stats[l]
        edge = st.edge_std.unsqueeze(0) * (sub / (st.sub_std + 1e-4)).unsqueeze(1)  # (q, in, out)
        node = edge.sum(2)  # (q, in)
        subs.append(sub.mean(0))
        edges.append(edge.mean(0))
        nodes.append(node.mean(0))
    model.node_scores = nodes[::-1]
    model.edge_scores = edges[::-1]
    model.subnode_scores = subs[::-1]
    return stats
