"""Loss and gradient of a training step by hand (no autograd over the batch), on the CPU.

Small KANs are bound by per-operation overhead, not arithmetic: the autograd graph of a step
costs more than the step. For the common case (MSE loss, spline edges, sum nodes and
multiplication nodes of one arity per layer, CPU float32/float64) this module runs the forward
pass keeping what the backward needs, then back-propagates explicitly, writing every parameter
gradient into its ``.grad`` (views of the optimizer's flat gradient). The regulariser, a
function of parameter-sized arrays, is also differentiated by hand. ``supports`` says when it
applies; otherwise training uses the autograd path, which is also the test oracle for this one.

The arithmetic runs in NumPy on views of the tensors' memory: on arrays of a few thousand
numbers NumPy's per-operation cost is about half of PyTorch's dispatch, and its views are ten
times cheaper. Gathers, searches and scatters, which PyTorch does faster, run in PyTorch on the
same memory. Every per-sample array is batch-last (inputs (in, batch), features (F, in, batch),
outputs (out, batch); see ``_batchlast``). Inner layers narrower than their basis table run in
edge form (``_edges``), the others through their features:

Per layer (features A (batch, in, F), weights W (in, F, out), output affine (s, c)):
    z = A W s + c;  P = A^T dz;  dW = P s;  ds = sum_f P W;  dc = sum_b dz;  dA = dz (W s)^T
    d coef = mask scale_sp dW[:, 1:]^T;  d scale_base = mask dW[:, 0];
    d scale_sp = mask sum_m dW[:, 1+m] coef_m;  dx = sum_f dA dA/dx.
Regulariser: edge scale = sqrt(var_b phi) / (std(x) + 0.1) with var_b phi = w^T C w (C the
    feature covariance) or taken from the edge values, so dA += A_c (dC + dC^T) / (N - 1) and
    dx += d std * (x - mean) / ((N - 1) std).
A multiplication node y = prod_j z_j passes dz_j = dy prod_{i != j} z_i.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import _edges
from ._batchlast import features_t


# What the hand-written step computes, as a list of what it supports: a model or objective
# with anything else (a tensor a later layer feature adds, a subclass that computes its layers
# otherwise, another loss) trains on the autograd path, never on a step that would leave the
# new part out.
STEP_DTYPES = (torch.float32, torch.float64)
STEP_BASE_FUNCTIONS = ("silu", "identity", "zero")
STEP_LAYER_TENSORS = {"coef", "scale_base", "scale_sp", "grid", "mask", "sym_mask",
                      "sym_affine"}  # the symbolic ones unused: no symbolic edge is allowed
STEP_MODEL_TENSORS = {"node_scale", "node_bias", "subnode_scale", "subnode_bias", "input_id"}


def supports(model, loss_fn, reg_weights, x: Tensor) -> bool:
    """Whether the hand-written step computes this model's objective on inputs x: CPU
    float32/float64 inputs (not where the Triton kernels compute the layers); the mean
    squared error (no ``loss_fn``) with pykan's L1 and entropy regulariser (no coefficient
    terms); MultKAN's and KANLayer's own forward computation; layers of spline edges only
    (base function among ``STEP_BASE_FUNCTIONS``) holding exactly ``STEP_LAYER_TENSORS``; a
    model holding exactly ``STEP_MODEL_TENSORS`` besides its layers; multiplication nodes of
    one arity per layer."""
    from ._layer import KANLayer
    from ._model import MultKAN

    if x.device.type != "cpu" or x.dtype not in STEP_DTYPES:
        return False
    if loss_fn is not None or any(reg_weights[2:]) or model.kernel_for(x) is not None:
        return False
    kind = type(model)
    if any(getattr(kind, f) is not getattr(MultKAN, f) for f in ("_run", "_run_fused",
                                                                   "_layer_output")):
        return False
    own = {n.split(".")[0] for n, _ in model.named_parameters()} | \
        {n.split(".")[0] for n, _ in model.named_buffers()}
    if own - {"layers"} != STEP_MODEL_TENSORS:
        return False
    for layer in model.layers:
        if type(layer) is not KANLayer or layer.base_fun not in STEP_BASE_FUNCTIONS:
            return False
        tensors = {n for n, _ in layer.named_parameters(recurse=False)} | \
            {n for n, _ in layer.named_buffers(recurse=False)}
        if tensors != STEP_LAYER_TENSORS or list(layer.children()) or layer.has_symbolic():
            return False
    return all(len(set(a)) <= 1 for a in model.mult_arity)


def _exclusive_prod(z: np.ndarray) -> np.ndarray:
    """prod_{i != j} of z (n, arity, batch) along axis 1, for every j (no division, exact with
    zeros)."""
    if z.shape[1] == 2:
        return z[:, ::-1]
    ones = np.ones_like(z[:, :1])
    left = np.concatenate([ones, np.cumprod(z[:, :-1], 1)], 1)
    right = np.concatenate([ones, np.cumprod(z[:, :0:-1], 1)], 1)[:, ::-1]
    return left * right


def _regularizer(stats: list[tuple], l1: float, ent: float, lamb: float):
    """pykan's regulariser (L1 + entropies of the edge scales) and lamb times its gradients.

    ``stats`` holds per layer (quad (in, out), den (in, 1)), NumPy float64: quad is the
    variance of every edge's values, den is std(x) + 0.1 of its inputs, so the edge scale is
    vec = sqrt(quad) / den. Returns the value (float) and per layer (h, g_den): h = 2 d(lamb
    reg)/d quad (in, out) and g_den = d(lamb reg)/d den (in, 1).

    Entropy term: mean over groups of -sum_axis p log2(p + 1e-4), p = vec / (sum_axis vec + 1),
    with gradient (sum_axis q p - q) / ((sum_axis vec + 1) groups), q = log2(p + 1e-4) +
    p / ((p + 1e-4) ln 2). All layers are computed at once, zero-padded to the widest: these
    arrays hold a few numbers, so the cost is the number of operations, not their size."""
    shapes = [q.shape for q, _ in stats]
    n_in, n_out = max(s[0] for s in shapes), max(s[1] for s in shapes)
    quad = np.zeros((len(stats), n_in, n_out))
    den = np.ones((len(stats), n_in, 1))
    valid = np.zeros_like(quad)
    groups = np.ones((2, len(stats), 1, 1))  # outputs and inputs of each layer
    for l, (q, d) in enumerate(stats):
        quad[l, :q.shape[0], :q.shape[1]] = q
        den[l, :q.shape[0]] = d
        valid[l, :q.shape[0], :q.shape[1]] = 1
        groups[:, l, 0, 0] = q.shape[::-1]
    root = np.sqrt(np.maximum(quad, 1e-20))
    vec = root / den * valid
    value = l1 * vec.sum()
    g_vec = (lamb * l1) * valid
    for axis, size in ((1, groups[0]), (2, groups[1])):
        total = vec.sum(axis, keepdims=True) + 1
        p = vec / total
        pe = p + 1e-4
        lg = np.log2(pe)
        value -= ent * (p * lg / size).sum()
        q = lg + p / pe / math.log(2)
        g_vec += (lamb * ent) * ((q * p).sum(axis, keepdims=True) - q) / (total * size)
    g_vec *= valid
    h = g_vec / (root * den)
    g_den = -(g_vec * vec).sum(2, keepdims=True) / den
    return float(value), [(h[l, :i, :o], g_den[l, :i]) for l, (i, o) in enumerate(shapes)]


class _LayerRefs(NamedTuple):
    """A layer's parameters and their gradients as NumPy views (None: not trained)."""

    layer: object
    coef: np.ndarray  # (in, out, nb)
    scale_base: np.ndarray  # (in, out)
    scale_sp: np.ndarray
    mask: np.ndarray
    s: np.ndarray  # subnode affine (out,)
    c: np.ndarray
    ns: np.ndarray  # node affine (nodes,)
    nc: np.ndarray
    grads: dict  # parameter name -> its gradient view, for the trained ones
    arity: list
    n_sum: int
    affine: bool  # whether any affine parameter is trained
    full_mask: bool  # every spline edge is on (the mask multiplications can be skipped)
    fixed: tuple | None  # (scale, bias) of the layer output when the affines are not trained
    unit: bool  # that fixed scale is 1
    width: int  # values per basis-table row (F dense, k+1 local): the edge form's bound


def output_affine(arity, s, c, ns, nc):
    """(scale, bias) applied to the layer's matmul: the subnode affine, folded with the node
    affine when the layer has no multiplication nodes (tensors or arrays)."""
    return (s, c) if arity else (ns * s, nc + ns * c)


def _view(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


@torch.no_grad()
def plan(model) -> list[_LayerRefs]:
    """The arrays a step touches, as views of the parameters and their ``.grad`` (call once the
    parameters and gradients live where training keeps them), and what stays constant while
    training (masks, untrained affines)."""
    out = []
    for l, layer in enumerate(model.layers):
        named = {"coef": layer.coef, "scale_base": layer.scale_base,
                 "scale_sp": layer.scale_sp, "s": model.subnode_scale[l],
                 "c": model.subnode_bias[l], "ns": model.node_scale[l], "nc": model.node_bias[l]}
        grads = {k: _view(p.grad) for k, p in named.items() if p.requires_grad}
        v = {k: _view(p) for k, p in named.items()}
        arity = model.mult_arity[l + 1]
        affine = any(k in grads for k in ("s", "c", "ns", "nc"))
        fixed = None if affine else tuple(a.copy() for a in output_affine(
            arity, v["s"], v["c"], v["ns"], v["nc"]))
        unit = fixed is not None and bool((fixed[0] == 1).all())
        mask = _view(layer.mask)
        table = layer.table()
        out.append(_LayerRefs(layer, v["coef"], v["scale_base"], v["scale_sp"], mask, v["s"],
                              v["c"], v["ns"], v["nc"], grads, arity, model.width[l + 1][0],
                              affine, bool((mask == 1).all()), fixed, unit,
                              table.k + 1 if table.local else table.n_feat))
    return out


class StepData(NamedTuple):
    """What the evaluations of one step share, batch-last (see ``_batchlast``)."""

    x_t: np.ndarray  # (in, batch): the first layer's inputs
    y_t: np.ndarray | None  # (out, batch): the labels
    feats0: np.ndarray  # (F, in, batch): the first layer's features (constant until the grid moves)
    cov0: np.ndarray | None  # (in, F, F): their covariance (for the regulariser)
    sx0: np.ndarray | None  # (in,): std of the inputs (None for a batch of one)
    tables: list  # per layer: its ``_edges.EdgeTable`` (None: none, or the first layer)


def _cov_t(ac: np.ndarray) -> np.ndarray:
    """Per-input covariance (in, F, F) of centred batch-last features ac (F, in, batch)."""
    a = ac.transpose(1, 0, 2)
    return _edges.matmul(a, a.transpose(0, 2, 1)) / max(ac.shape[-1] - 1, 1)


@torch.no_grad()
def step_data(model, xb: Tensor, yb: Tensor | None = None, reg: bool = False) -> StepData:
    """``StepData`` of inputs xb (batch, n_in) and labels yb (batch, n_out); with ``reg`` also
    the regulariser's statistics of the first layer (its inputs are data)."""
    x_t = model._select_inputs(xb.detach()).t().contiguous()
    layer = model.layers[0]
    feats0 = features_t(x_t, layer.grid, layer.column_table(), layer.base_fun, False)[0].numpy()
    x_t = x_t.numpy()
    cov0 = sx0 = None
    if reg:
        cov0 = _cov_t(feats0 - feats0.mean(-1, keepdims=True))
        sx0 = x_t.std(1, ddof=1) if x_t.shape[1] > 1 else None
    y_t = yb.detach().t().contiguous().numpy() if yb is not None else None
    tables = [None] + [layer.edge_table() for layer in model.layers[1:]]
    return StepData(x_t, y_t, feats0, cov0, sx0, tables)


class _Kept(NamedTuple):
    """What the backward needs of one layer (``forward(keep=True)``)."""

    x: np.ndarray  # (in, batch) inputs
    a: np.ndarray | None  # (F, in, batch) features (feature form) or None (edge form)
    da: np.ndarray | None  # their x-derivatives (None for the first layer)
    edges: _edges.EdgeSaved | None  # edge form: see ``_edges``
    w: np.ndarray  # (in, F, out) weights without the output affine
    wf: np.ndarray | None  # (F * in, out) weights with the output scale (feature form)
    s_eff: np.ndarray  # (out,) output scale and ...
    z_raw: np.ndarray | None  # ... the output before it (out, batch) (edge form)
    msp: np.ndarray  # (in, out) mask * scale_sp
    pre: np.ndarray | None  # (nodes, batch) node values before the node affine (mult layers)
    zm: np.ndarray | None  # (n_mult, arity, batch) multiplication subnodes


def _weights(ref: _LayerRefs):
    """(w (in, F, out) with row 0 the base weights, mask * scale_sp)."""
    msp = ref.scale_sp if ref.full_mask else ref.mask * ref.scale_sp
    in_dim, out, nb = ref.coef.shape
    w = np.empty((in_dim, nb + 1, out), dtype=ref.coef.dtype)
    w[:, 0] = ref.scale_base if ref.full_mask else ref.mask * ref.scale_base
    np.multiply(msp[:, :, None], ref.coef, out=w[:, 1:].transpose(0, 2, 1))
    return w, msp


def forward(model, refs: list[_LayerRefs], data: StepData, keep: bool = False):
    """The model's output (out, batch) on ``data`` along the training path; with ``keep`` also
    what the backward needs per layer (``_Kept``)."""
    x = data.x_t
    batch = x.shape[1]
    cache = []
    for l, ref in enumerate(refs):
        layer, arity = ref.layer, ref.arity
        w, msp = _weights(ref)
        s_eff, c_eff = ref.fixed if ref.fixed is not None else output_affine(arity, ref.s, ref.c,
                                                                             ref.ns, ref.nc)
        a = da = saved = wf = z_raw = None
        table = data.tables[l]
        if _edges.applies(table, x, w.shape[-1], ref.width):
            z_raw, saved = _edges.forward(x, table, w, layer.base_fun, keep)
            z = z_raw + c_eff[:, None] if ref.unit else z_raw * s_eff[:, None] + c_eff[:, None]
        else:
            if l == 0:
                a = data.feats0
            else:
                a, da = features_t(torch.from_numpy(x), layer.grid, layer.column_table(),
                                   layer.base_fun, keep)
                a, da = a.numpy(), (da.numpy() if keep else None)
            wf = w.transpose(1, 0, 2) if ref.unit else w.transpose(1, 0, 2) * s_eff  # (F, in, out)
            wf = wf.reshape(-1, wf.shape[-1])
            z = _edges.matmul(wf.T, a.reshape(-1, batch))
            z += c_eff[:, None]
        pre = zm = None
        if arity:
            n_sum = ref.n_sum
            zm = z[n_sum:].reshape(len(arity), arity[0], batch)
            pre = np.concatenate([z[:n_sum], zm.prod(1)], 0)
            y = pre * ref.ns[:, None] + ref.nc[:, None]
        else:
            y = z
        if keep:
            cache.append(_Kept(x, a, da, saved, w, wf, s_eff, z_raw, msp, pre, zm))
        x = y
    return x, cache


def _edge_variances(kept: _Kept, data: StepData, first: bool):
    """The variances quad (in, out) of a layer's edge values, and what their gradient needs:
    the centred features (feature form; the first layer's covariance is ``data.cov0``) or
    the centred edge values (edge form), and C w (feature form)."""
    batch = kept.x.shape[1]
    if kept.edges is not None:
        phi = _edges.edge_values(kept.edges)
        centred = phi - np.add.reduce(phi, -1, keepdims=True) * (1 / batch)  # (out, in, batch)
        return (centred * centred).sum(-1).T / max(batch - 1, 1), centred, None
    if first:
        cov, centred = data.cov0, None
    else:
        centred = kept.a - kept.a.mean(-1, keepdims=True)
        cov = _cov_t(centred)
    cw = _edges.matmul(cov, kept.w)  # (in, F, out)
    return (cw * kept.w).sum(1), centred, cw


class _RegGrad(NamedTuple):
    """The regulariser's gradient parts of one layer (None where they do not apply)."""

    w: np.ndarray | None  # d reg / d w (in, F, out) through C w (feature form)
    phi: np.ndarray | None  # d reg / d phi (out, in, batch) (edge form)
    cov2: np.ndarray | None  # 2 d reg / d Cov (in, F, F) (feature form, inner layer)
    centred: np.ndarray | None  # the centred features (F, in, batch) Cov was taken from
    den: np.ndarray | None  # d reg / d den (in, 1) (inner layer, batch > 1)
    sx: np.ndarray | None  # std(x) (in,) and ...
    xc: np.ndarray | None  # ... x - mean(x) (in, batch) of the layer's inputs


def _add(grads: dict, name: str, value) -> None:
    g = grads.get(name)
    if g is not None:
        g += value


def loss_and_grad(model, refs: list[_LayerRefs], data: StepData, lamb: float,
                  reg_weights) -> tuple[float, float]:
    """MSE (+ lamb * regulariser) on ``data``; adds the gradient into every parameter's .grad.
    ``refs`` is ``plan(model)``, ``data`` is ``step_data(model, x, y, reg=lamb > 0)``. Returns
    the MSE and the regulariser (0 when lamb == 0)."""
    x, cache = forward(model, refs, data, keep=True)
    batch = x.shape[1]
    r = x - data.y_t
    mse = float(np.add.reduce(r * r, None)) / r.size  # pairwise summation
    g = r * (2.0 / r.size)  # (out, batch)

    reg = 0.0
    reg_grads = [None] * len(refs)
    if lamb > 0:
        stats, kept_for_grad = [], []
        for l, kept in enumerate(cache):
            quad, centred, cw = _edge_variances(kept, data, l == 0)
            xc = sx = None
            if l == 0:  # the first layer's inputs are data: nothing flows into them
                sx = data.sx0
            elif batch > 1:  # std(x), keeping x - mean(x) for the backward
                xc = kept.x - np.add.reduce(kept.x, 1, keepdims=True) * (1 / batch)
                sx = np.sqrt((xc * xc).sum(1) / (batch - 1))
            den = (sx.astype(np.float64) + 0.1)[:, None] if sx is not None else \
                np.full((kept.x.shape[0], 1), 0.1)
            stats.append((quad.astype(np.float64), den))
            kept_for_grad.append((centred, cw, sx, xc))
        reg, grads = _regularizer(stats, reg_weights[0], reg_weights[1], lamb)
        for l, ((h, g_den), (centred, cw, sx, xc)) in enumerate(zip(grads, kept_for_grad)):
            w = cache[l].w
            dt = w.dtype
            g_den = g_den.astype(dt) if l > 0 and sx is not None else None
            if cw is None:  # edge form: d reg / d phi = h (phi - mean) / (N - 1)
                g_phi = (h.T.astype(dt) / max(batch - 1, 1))[:, :, None] * centred
                reg_grads[l] = _RegGrad(None, g_phi, None, None, g_den, sx, xc)
                continue
            h = h.astype(dt)[:, None]
            g_cov2 = _edges.matmul(w * h, w.transpose(0, 2, 1)) if g_den is not None else None
            reg_grads[l] = _RegGrad(cw * h, None, g_cov2, centred, g_den, sx, xc)

    for l in range(len(refs) - 1, -1, -1):
        ref, kept = refs[l], cache[l]
        grads = ref.grads
        if kept.zm is not None:
            n_sum = ref.n_sum
            if ref.affine:
                _add(grads, "nc", g.sum(1))
                _add(grads, "ns", (g * kept.pre).sum(1))
            gp = g * ref.ns[:, None]
            gzm = gp[n_sum:, None] * _exclusive_prod(kept.zm)
            gz = np.concatenate([gp[:n_sum], gzm.reshape(-1, batch)], 0)
        else:
            gz = g
        rg = reg_grads[l]
        if kept.edges is not None:
            g_z = gz if ref.unit else gz * kept.s_eff[:, None]
            gw, g = _edges.backward(kept.edges, data.tables[l], g_z,
                                    rg.phi if rg is not None else None)
            gs_eff = (gz * kept.z_raw).sum(1) if ref.affine else None
        else:
            a = kept.a
            n_feat, in_dim = a.shape[:2]
            proj = _edges.matmul(a.reshape(-1, batch), gz.T)
            proj = proj.reshape(n_feat, in_dim, -1).transpose(1, 0, 2)
            gw = proj if ref.unit else proj * kept.s_eff  # (in, F, out)
            if rg is not None:
                gw = gw + rg.w
            gs_eff = (proj * kept.w).sum((0, 1)) if ref.affine else None
            if l > 0:
                ga = _edges.matmul(kept.wf, gz).reshape(a.shape)  # (F, in, batch)
                if rg is not None and rg.cov2 is not None:  # through Cov = ac ac^T / (N - 1)
                    ac = rg.centred.transpose(1, 0, 2)
                    ga = ga + _edges.matmul(rg.cov2 / (batch - 1), ac).transpose(1, 0, 2)
                g = (ga * kept.da).sum(0)  # (in, batch)
        gsp = gw[:, 1:].transpose(0, 2, 1)  # (in, out, nb)
        _add(grads, "coef", kept.msp[:, :, None] * gsp)
        _add(grads, "scale_base", gw[:, 0] if ref.full_mask else ref.mask * gw[:, 0])
        if "scale_sp" in grads:
            g_sp = (gsp * ref.coef).sum(-1)
            _add(grads, "scale_sp", g_sp if ref.full_mask else ref.mask * g_sp)
        if ref.affine:
            gc_eff = gz.sum(1)
            if kept.zm is not None:
                _add(grads, "s", gs_eff)
                _add(grads, "c", gc_eff)
            else:
                _add(grads, "s", gs_eff * ref.ns)
                _add(grads, "c", gc_eff * ref.ns)
                _add(grads, "ns", gs_eff * ref.s + gc_eff * ref.c)
                _add(grads, "nc", gc_eff)
        if l == 0:
            break
        if rg is not None and rg.den is not None:  # through den = std(x) + 0.1
            g = g + rg.den / (np.maximum(rg.sx, 1e-30)[:, None] * (batch - 1)) * rg.xc
    return mse, reg
