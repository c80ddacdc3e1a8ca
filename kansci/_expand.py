"""Growing a network without changing what it computes (KAN 2.0: compile a law, then widen,
deepen and perturb it so training can find corrections).

``expand_width`` adds hidden nodes whose edges are off, ``expand_depth`` appends a layer of
identity edges, and ``perturb`` switches the spline branch on for every edge that is off, with
scale_base = 0 and scale_sp = mag / sqrt(in): with mag = 0 the output is unchanged but every
edge can learn (the gradient of scale_base and scale_sp is not zero).
"""
from __future__ import annotations

import copy
import math

import torch


def _node_map(width_old, width_new) -> torch.Tensor:
    """New index of each old node when nodes are appended to the sum and/or mult groups."""
    (s_old, m_old), (s_new, _) = width_old, width_new
    return torch.cat([torch.arange(s_old), s_new + torch.arange(m_old)])


def _subnode_map(n_sum_old, arity_old, n_sum_new) -> torch.Tensor:
    n_sub_mult = sum(arity_old)
    return torch.cat([torch.arange(n_sum_old), n_sum_new + torch.arange(n_sub_mult)])


def _transplant(new_layer, old_layer, in_map, out_map) -> None:
    """Copy every per-edge tensor of ``old_layer`` into ``new_layer`` at the mapped indices;
    edges of the new layer that have no old counterpart are switched off."""
    with torch.no_grad():
        new_layer.mask.zero_()
        new_layer.sym_mask.zero_()
        new_layer.grid[in_map] = old_layer.grid  # new inputs keep their fresh grids
        for name in ("coef", "scale_base", "scale_sp", "sym_affine", "mask", "sym_mask"):
            getattr(new_layer, name)[in_map[:, None], out_map[None, :]] = getattr(old_layer, name)
    for i_old, i_new in enumerate(in_map.tolist()):
        for o_old, o_new in enumerate(out_map.tolist()):
            new_layer.sym_names[i_new][o_new] = old_layer.sym_names[i_old][o_old]
    new_layer.clear_caches()


def expand_width(model, layer: int, n: int, sum_bool: bool = True, mult_arity: int = 2):
    """A copy with ``n`` more sum nodes (or multiplication nodes of ``mult_arity``) in hidden
    layer ``layer`` (1 .. depth-1); their edges are off, so the output is unchanged."""
    if not 1 <= layer < model.depth:
        raise ValueError(f"layer must be a hidden layer in [1, {model.depth - 1}]; got {layer}.")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    width = copy.deepcopy(model.width)
    arity = copy.deepcopy(model.mult_arity)
    if sum_bool:
        width[layer][0] += n
    else:
        width[layer][1] += n
        arity[layer] += [int(mult_arity)] * n
    new = model.like(width=width, mult_arity=arity)
    nodes = _node_map(model.width[layer], width[layer])
    subs = _subnode_map(model.width[layer][0], model.mult_arity[layer], width[layer][0])
    identity = lambda k: torch.arange(k)  # noqa: E731
    with torch.no_grad():
        for l, old in enumerate(model.layers):
            in_map = nodes if l == layer else identity(old.in_dim)
            out_map = subs if l + 1 == layer else identity(old.out_dim)
            _transplant(new.layers[l], old, in_map, out_map)
            node_map = nodes if l + 1 == layer else identity(model.width_in[l + 1])
            new.node_scale[l][node_map] = model.node_scale[l]
            new.node_bias[l][node_map] = model.node_bias[l]
            new.subnode_scale[l][out_map] = model.subnode_scale[l]
            new.subnode_bias[l][out_map] = model.subnode_bias[l]
        new.input_id = model.input_id.clone()
    new.cache_data = model.cache_data
    return new


def expand_depth(model):
    """A copy with one more layer at the output: identity edges from each output to itself."""
    n_out = model.width_in[-1]
    width = copy.deepcopy(model.width) + [[n_out, 0]]
    grids = [layer.num for layer in model.layers]
    ks = [layer.k for layer in model.layers]
    new = model.like(width=width, mult_arity=copy.deepcopy(model.mult_arity) + [[]],
                     grid=grids + grids[-1:], k=ks + ks[-1:])
    with torch.no_grad():
        for l, old in enumerate(model.layers):
            ids_in, ids_out = torch.arange(old.in_dim), torch.arange(old.out_dim)
            _transplant(new.layers[l], old, ids_in, ids_out)
            for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"):
                getattr(new, name)[l].copy_(getattr(model, name)[l])
        last = new.layers[-1]
        last.mask.zero_()
        for k in range(n_out):
            last.set_symbolic(k, k, "x", (1.0, 0.0, 1.0, 0.0))
        new.input_id = model.input_id.clone()
    new.cache_data = model.cache_data
    return new


def perturb(model, mag: float = 0.0):
    """A copy whose switched-off edges get their spline branch on (scale_base 0, scale_sp
    mag / sqrt(in)); with mag = 0 the output is unchanged. An edge into a node whose other
    inputs are all zero (a new multiplication node, or a new sum node's edges next to a zero
    outgoing edge) gets no gradient at mag = 0: use a small mag (e.g. 0.01) to let it learn."""
    if not math.isfinite(mag) or mag < 0:
        raise ValueError(f"mag must be a finite number >= 0; got {mag!r}.")
    new = copy.deepcopy(model)
    with torch.no_grad():
        for layer in new.layers:
            off = (layer.mask == 0) & (layer.sym_mask == 0)
            layer.scale_base[off] = 0.0
            layer.scale_sp[off] = mag / math.sqrt(layer.in_dim)
            layer.mask[off] = 1.0
            layer._groups = None
    new.cache_data = model.cache_data
    return new
