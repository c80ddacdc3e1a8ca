"""Reordering hidden nodes: the same function, laid out so that modules sit side by side.

A hidden node of layer l (1 <= l < depth) is an output of layer l-1 (one subnode, or a group
of subnodes for a multiplication node) and an input of layer l. Moving nodes, together with
everything attached to them (edges in and out, their grids, symbolic functions, node and subnode
affines, attribution scores), leaves the network's function unchanged. Sum nodes stay among
the sum nodes and multiplication nodes among the multiplication nodes.

``auto_swap`` chooses the order that shortens the drawn edges (KAN 2.0's modularity view):
nodes at positions (i + 1/2) / n of their row, the connection cost is the sum over edges of
attribution score times horizontal distance, lowered by greedy pairwise swaps.
"""
from __future__ import annotations

import numpy as np
import torch


def _subnodes(n_sum: int, arity: list[int], order: list[int]) -> list[int]:
    """Subnode permutation (of the layer below) that moves nodes into ``order``."""
    groups = [[i] for i in range(n_sum)]
    start = n_sum
    for a in arity:
        groups.append(list(range(start, start + a)))
        start += a
    return [s for node in order for s in groups[node]]


def check_order(model, l: int, order) -> list[int]:
    """Validated node order of hidden layer l: a permutation keeping node kinds in place."""
    if not 1 <= l < model.depth:
        raise ValueError(f"layer {l} has no hidden nodes to reorder: l must be in "
                         f"1..{model.depth - 1} (the inputs and outputs keep their order).")
    order = [int(i) for i in order]
    n_sum, n = model.width[l][0], model.width_in[l]
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of 0..{n - 1} (layer {l} has {n} nodes); "
                         f"got {order}.")
    if sorted(order[:n_sum]) != list(range(n_sum)):
        raise ValueError(f"sum nodes (0..{n_sum - 1}) and multiplication nodes ({n_sum}..{n - 1}) "
                         f"of layer {l} cannot trade places; got {order}.")
    return order


@torch.no_grad()
def permute_nodes(model, l: int, order) -> None:
    """Put the nodes of hidden layer l in ``order`` (new position p holds old node order[p])."""
    order = check_order(model, l, order)
    n_sum, arity = model.width[l][0], model.mult_arity[l]
    sub = _subnodes(n_sum, arity, order)
    into, out_of = model.layers[l - 1], model.layers[l]
    for t in (into.coef, into.scale_base, into.scale_sp, into.mask, into.sym_mask, into.sym_affine):
        t.copy_(t[:, sub])
    into.sym_names = [[row[s] for s in sub] for row in into.sym_names]
    for t in (out_of.coef, out_of.scale_base, out_of.scale_sp, out_of.mask, out_of.sym_mask,
              out_of.sym_affine, out_of.grid):
        t.copy_(t[order])
    out_of.sym_names = [out_of.sym_names[i] for i in order]
    for t in (model.subnode_scale[l - 1], model.subnode_bias[l - 1]):
        t.copy_(t[sub])
    for t in (model.node_scale[l - 1], model.node_bias[l - 1]):
        t.copy_(t[order])
    model.mult_arity[l] = [arity[i - n_sum] for i in order[n_sum:]]
    if model.edge_scores is not None:
        model.edge_scores[l - 1] = model.edge_scores[l - 1][:, sub]
        model.edge_scores[l] = model.edge_scores[l][order]
        model.subnode_scores[l - 1] = model.subnode_scores[l - 1][sub]
        model.node_scores[l] = model.node_scores[l][order]


def swap(model, l: int, i: int, j: int) -> None:
    """Exchange nodes i and j of hidden layer l (both sum or both multiplication nodes)."""
    if not 1 <= l < model.depth:
        check_order(model, l, [])  # raises: names the bad layer
    n = model.width_in[l]
    if not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"nodes {i} and {j}: layer {l} has nodes 0..{n - 1}.")
    order = list(range(n))
    order[i], order[j] = order[j], order[i]
    permute_nodes(model, l, order)


def _positions(orders: list[list[int]]) -> list[np.ndarray]:
    """Drawn position of every (old) node of each row, given each row's order."""
    out = []
    for order in orders:
        pos = np.empty(len(order))
        pos[order] = (np.arange(len(order)) + 0.5) / len(order)
        out.append(pos)
    return out


def _cost(edges: list[np.ndarray], node_of: list[np.ndarray], orders) -> float:
    """Sum over layers of score * |position of input node - position of output node|."""
    pos = _positions(orders)
    return float(sum((e * np.abs(pos[l][:, None] - pos[l + 1][node_of[l]][None, :])).sum()
                     for l, e in enumerate(edges)))


def _layout(model, x=None):
    """Edge scores (as arrays) and, per layer, the node each output subnode belongs to."""
    if x is not None or model.edge_scores is None:
        model.attribute(x)
    edges = [e.detach().cpu().double().numpy() for e in model.edge_scores]
    node_of = []
    for l in range(model.depth):
        n_sum, arity = model.width[l + 1][0], model.mult_arity[l + 1]
        node_of.append(np.repeat(np.arange(n_sum + len(arity)), [1] * n_sum + list(arity)))
    return edges, node_of


def connection_cost(model, x=None) -> float:
    """Sum over edges of attribution score times the horizontal distance of its two nodes as
    drawn (nodes at (i + 1/2) / n of their row); attributes on x first when given (or when the
    model has no scores yet)."""
    edges, node_of = _layout(model, x)
    return _cost(edges, node_of, [list(range(n)) for n in model.width_in])


def auto_swap(model, x=None, max_passes: int = 10) -> float:
    """Reorder every hidden layer's nodes to lower ``connection_cost`` (greedy pairwise
    swaps, repeated until a pass changes nothing); returns the cost reached. The model's
    function is unchanged."""
    edges, node_of = _layout(model, x)
    orders = [list(range(n)) for n in model.width_in]
    best = _cost(edges, node_of, orders)
    for _ in range(max_passes):
        improved = False
        for l in range(1, model.depth):
            n_sum, n = model.width[l][0], model.width_in[l]
            for i in range(n):
                kind = range(n_sum) if i < n_sum else range(n_sum, n)
                for j in kind:
                    if j == i:
                        continue
                    orders[l][i], orders[l][j] = orders[l][j], orders[l][i]
                    cost = _cost(edges, node_of, orders)
                    if cost < best - 1e-12 * max(best, 1.0):
                        best, improved = cost, True
                    else:
                        orders[l][i], orders[l][j] = orders[l][j], orders[l][i]
        if not improved:
            break
    for l in range(1, model.depth):
        if orders[l] != list(range(model.width_in[l])):
            permute_nodes(model, l, orders[l])
    return best
