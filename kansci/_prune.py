"""Pruning: new, smaller models without the nodes, edges or inputs that carry little signal.

Whatever is removed is folded: an edge phi(x) that goes away is replaced by its mean over the
data, added to the bias of the subnode it fed (times that subnode's scale). The pruned model
therefore keeps the constant part of what it lost, and its error right after pruning stays
close to the error before.
"""
from __future__ import annotations

import copy

import torch

from ._attribution import attribute, to_subnodes


def _fold(model, l: int, edges: torch.Tensor, means: torch.Tensor) -> None:
    """Add the mean of the edges ``edges`` (bool (in, out)) of layer l into subnode biases."""
    with torch.no_grad():
        const = (means * edges).sum(0)  # (out,)
        model.subnode_bias[l].add_(model.subnode_scale[l] * const)


def _threshold(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0; got {value!r}.")
    return float(value)


def _subset_model(model, keep_nodes: list[torch.Tensor]):
    """A copy keeping, per layer, the nodes where ``keep_nodes[l]`` (bool (width_in[l],)) is
    True; the first and last layers must be kept whole. Parameters are copied, not refit."""
    width, arity, sub_keep = [], [], []
    for l, keep in enumerate(keep_nodes):
        n_sum, _ = model.width[l]
        width.append([int(keep[:n_sum].sum()), int(keep[n_sum:].sum())])
        arity.append([a for a, k in zip(model.mult_arity[l], keep[n_sum:].tolist()) if k])
        sub_keep.append(to_subnodes(keep, n_sum, model.mult_arity[l]))
    new = model.like(width=width, mult_arity=arity)
    with torch.no_grad():
        for l, layer in enumerate(model.layers):
            ins = keep_nodes[l].nonzero()[:, 0]
            outs = sub_keep[l + 1].nonzero()[:, 0]
            new.layers[l] = layer.subset(ins, outs)
            new.node_scale[l].copy_(model.node_scale[l][keep_nodes[l + 1]])
            new.node_bias[l].copy_(model.node_bias[l][keep_nodes[l + 1]])
            new.subnode_scale[l].copy_(model.subnode_scale[l][outs])
            new.subnode_bias[l].copy_(model.subnode_bias[l][outs])
        new.input_id = model.input_id[keep_nodes[0]].clone()
    new.cache_data = model.cache_data
    return new


def _node_keep(model, threshold: float, active=None) -> list[torch.Tensor]:
    """Per layer, bool (width_in[l],): the nodes prune_node keeps (scores from ``attribute``)."""
    keep = [torch.ones(model.width_in[0], dtype=torch.bool, device=model.device)]
    for l in range(1, model.depth):
        score = model.node_scores[l]
        if active is not None:
            k = torch.zeros_like(score, dtype=torch.bool)
            k[torch.as_tensor(active[l - 1], dtype=torch.long)] = True
        else:
            k = score > threshold
            if not k.any():
                k[score.argmax()] = True
        keep.append(k)
    keep.append(torch.ones(model.width_in[-1], dtype=torch.bool, device=model.device))
    return keep


def prune_node(model, threshold: float = 1e-2, x=None, active=None):
    """Remove hidden nodes whose attribution score is <= threshold (or keep only ``active``,
    one list of node indices per hidden layer). Each hidden layer keeps at least its best node."""
    threshold = _threshold("threshold", threshold)
    stats = attribute(model, x)
    return _remove_nodes(model, _node_keep(model, threshold, active), stats)


def _remove_nodes(model, keep: list[torch.Tensor], stats):
    """A copy with only the nodes ``keep`` (per layer, bool), the outgoing edges of the others
    folded into the next biases (``stats``: the model's layer statistics)."""
    model = copy_model(model)
    for l in range(1, model.depth):  # fold the outgoing edges of removed nodes of layer l
        gone = ~keep[l]
        _fold(model, l, gone.unsqueeze(1).expand(-1, model.layers[l].out_dim), stats[l].edge_mean)
    return _subset_model(model, keep)


def prune_edge(model, threshold: float = 3e-2, x=None):
    """Switch off edges whose attribution score is < threshold (folding their means)."""
    threshold = _threshold("threshold", threshold)
    stats = attribute(model, x)
    model = copy_model(model)
    with torch.no_grad():
        for l, layer in enumerate(model.layers):
            active = layer.active
            gone = active & (model.edge_scores[l] < threshold)
            _fold(model, l, gone, stats[l].edge_mean)
            layer.mask[gone] = 0.0
            layer.sym_mask[gone] = 0.0
            layer._groups = None
    return model


def prune_input(model, threshold: float = 1e-2, x=None, active_inputs=None):
    """Remove inputs whose feature score is <= threshold (or keep ``active_inputs``, indices
    into the model's current inputs). The new model still takes all original input columns."""
    threshold = _threshold("threshold", threshold)
    stats = attribute(model, x)
    score = model.node_scores[0]
    if active_inputs is not None:
        keep = torch.zeros_like(score, dtype=torch.bool)
        keep[torch.as_tensor(list(active_inputs), dtype=torch.long)] = True
    else:
        keep = score > threshold
        if not keep.any():
            keep[score.argmax()] = True
    model = copy_model(model)
    _fold(model, 0, (~keep).unsqueeze(1).expand(-1, model.layers[0].out_dim), stats[0].edge_mean)
    full = [torch.ones(w, dtype=torch.bool, device=model.device) for w in model.width_in]
    return _subset_model(model, [keep] + full[1:])


def prune(model, node_th: float = 1e-2, edge_th: float = 3e-2, x=None):
    """prune_node then prune_edge: a new model with only the nodes and edges that matter."""
    return prune_edge(prune_node(model, node_th, x), edge_th, x)


def prune_plan(model, node_th: float = 1e-2, edge_th: float = 3e-2, x=None):
    """What ``prune(node_th, edge_th, x)`` removes, in this model's numbering: (nodes, edges)
    with nodes[l] bool (width_in[l],) and edges[l] bool (in, out) True where a node or an
    active edge goes (edges of removed nodes included). The model is not changed."""
    node_th = _threshold("node_th", node_th)
    edge_th = _threshold("edge_th", edge_th)
    stats = attribute(model, x)
    keep = _node_keep(model, node_th)
    pruned = _remove_nodes(model, keep, stats)
    attribute(pruned, x)
    edges = []
    for l, layer in enumerate(model.layers):
        active = layer.active
        ins = keep[l].nonzero()[:, 0]
        outs = to_subnodes(keep[l + 1], model.width[l + 1][0], model.mult_arity[l + 1]).nonzero()[:, 0]
        small = pruned.layers[l]
        stay = small.active & ~(pruned.edge_scores[l] < edge_th)
        gone = active.clone()
        gone[ins[:, None], outs[None, :]] = active[ins][:, outs] & ~stay
        edges.append(gone)
    return [~k for k in keep], edges


def copy_model(model):
    """deepcopy without duplicating the cached training inputs."""
    data, model.cache_data = model.cache_data, None
    try:
        new = copy.deepcopy(model)
    finally:
        model.cache_data = data
    new.cache_data = data
    return new
