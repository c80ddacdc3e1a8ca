"""Loss and gradient of a training step by hand (no autograd over the batch).

Small KANs are bound by per-operation overhead, not arithmetic: the autograd graph of a step
costs more than the step. For the common case (MSE loss, spline edges, sum nodes and
multiplication nodes of one arity per layer) this module runs the forward pass keeping what
the backward needs, then back-propagates explicitly, writing every parameter gradient into its
``.grad`` (views of the optimizer's flat gradient). The regulariser, a function of
parameter-sized tensors, is also differentiated by hand. ``supports`` says when it applies;
otherwise training uses the autograd path, which is also the test oracle for this one.

The regulariser's gradient is written out too (``_regularizer``). Every per-sample tensor is
batch-last (inputs (in, batch), features (F, in, batch), outputs (out, batch)): on a CPU that
layout makes the element-wise work several times cheaper (see ``_batchlast``).

Per layer (features A (batch, in, F), weights W (in, F, out), output affine (s, c)):
    z = A W s + c;  P = A^T dz;  dW = P s;  ds = sum_f P W;  dc = sum_b dz;  dA = dz (W s)^T
    d coef = mask scale_sp dW[:, 1:]^T;  d scale_base = mask dW[:, 0];
    d scale_sp = mask sum_m dW[:, 1+m] coef_m;  dx = sum_f dA dA/dx.
Regulariser: edge scale = sqrt(w^T C w) / (std(x) + 0.1) with C the feature covariance, so
    dA += A_c (dC + dC^T) / (N - 1)  and  dx += d std * (x - mean) / ((N - 1) std).
A multiplication node y = prod_j z_j passes dz_j = dy prod_{i != j} z_i.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ._batchlast import features_t


def supports(model, loss_fn, reg_weights, x: Tensor) -> bool:
    """Whether the hand-written step applies to this model and objective on inputs x (not where
    the Triton kernels compute the layers)."""
    if loss_fn is not None or any(reg_weights[2:]) or model.kernel_for(x) is not None:
        return False
    if any(layer.has_symbolic() for layer in model.layers):
        return False
    return all(len(set(a)) <= 1 for a in model.mult_arity)


def _exclusive_prod(z: Tensor, dim: int) -> Tensor:
    """prod_{i != j} of z along ``dim``, for every j (no division, exact with zeros)."""
    n = z.shape[dim]
    if n == 2:
        return z.flip(dim)
    ones = torch.ones_like(z.narrow(dim, 0, 1))
    left = torch.cat([ones, z.narrow(dim, 0, n - 1).cumprod(dim)], dim)
    right = torch.cat([ones, z.flip(dim).narrow(dim, 0, n - 1).cumprod(dim)], dim).flip(dim)
    return left * right


def _set_grad(p: Tensor, value: Tensor) -> None:
    p.grad.add_(value)


def _entropy(vec: np.ndarray, axis: int) -> tuple[float, np.ndarray]:
    """pykan's entropy term mean(-sum_axis p log2(p + 1e-4)), p = vec / (sum_axis vec + 1), and
    its gradient with respect to vec (same shape)."""
    total = vec.sum(axis, keepdims=True) + 1
    p = vec / total
    pe = p + 1e-4
    lg = np.log2(pe)
    groups = vec.shape[1 - axis]
    q = lg + p / pe / math.log(2)  # -d(-p log2(p + eps))/dp
    grad = ((q * p).sum(axis, keepdims=True) - q) / (total * groups)
    return -float((p * lg).sum()) / groups, grad


def _regularizer(layers: list[tuple], l1: float, ent: float, lamb: float):
    """pykan's regulariser (L1 + entropies of the edge scales) and lamb times its gradients.

    ``layers`` holds per layer (w (in, F, out), Cov (in, F, F), den (in, 1), inner): den is
    std(x) + 0.1 of its inputs, and ``inner`` says the inputs are trained (not data). Returns
    the value (float) and per layer (d w, 2 d Cov (symmetrised) or None, d den or None).

    Edge scale: vec = sqrt(w^T Cov w) / den, so d vec / d w = Cov w / (sqrt(.) den). The
    arithmetic on the (in, out) edge scales runs in NumPy (float64): a few microseconds per
    operation less than PyTorch's dispatch, on arrays of a few numbers."""
    value, grads = 0.0, []
    for w, cov, den, inner in layers:
        cw = torch.bmm(cov, w)  # (in, F, out)
        quad = (cw * w).sum(1).double().cpu().numpy()  # (in, out)
        d = den.double().cpu().numpy()  # (in, 1)
        root = np.sqrt(np.maximum(quad, 1e-20))
        vec = root / d
        e_in, g_in = _entropy(vec, 0)
        e_out, g_out = _entropy(vec, 1)
        value += l1 * float(vec.sum()) + ent * (e_in + e_out)
        g_vec = (g_in + g_out) * (lamb * ent) + lamb * l1  # (in, out)
        h = torch.from_numpy(g_vec / (root * d)).to(w).unsqueeze(1)  # d reg / d var * 2
        if not inner:
            grads.append((cw * h, None, None))
            continue
        g_cov2 = torch.bmm(w * h, w.transpose(1, 2))  # 2 d reg / d Cov
        g_den = torch.from_numpy(-(g_vec * vec).sum(1, keepdims=True) / d).to(w)  # (in, 1)
        grads.append((cw * h, g_cov2, g_den))
    return value, grads


class _LayerRefs(NamedTuple):
    layer: object
    coef: Tensor
    scale_base: Tensor
    scale_sp: Tensor
    mask: Tensor
    s: Tensor  # subnode affine
    c: Tensor
    ns: Tensor  # node affine
    nc: Tensor
    arity: list
    n_sum: int
    affine: bool  # whether any affine parameter is trained
    full_mask: bool  # every spline edge is on (the mask multiplications can be skipped)
    fixed: tuple | None  # (scale, bias) of the layer output when the affines are not trained
    unit: bool  # that fixed scale is 1


def output_affine(arity, s, c, ns, nc):
    """(scale, bias) applied to the layer's matmul: the subnode affine, folded with the node
    affine when the layer has no multiplication nodes."""
    return (s, c) if arity else (ns * s, torch.addcmul(nc, ns, c))


@torch.no_grad()
def plan(model) -> list[_LayerRefs]:
    """The tensors a step touches, looked up once per fit (module attribute and
    ParameterList lookups cost more than the arithmetic of a small step), and what stays
    constant while training (masks, untrained affines)."""
    out = []
    for l, layer in enumerate(model.layers):
        aff = (model.subnode_scale[l], model.subnode_bias[l], model.node_scale[l], model.node_bias[l])
        arity = model.mult_arity[l + 1]
        affine = any(p.requires_grad for p in aff)
        fixed = None if affine else output_affine(arity, *aff)
        unit = fixed is not None and bool((fixed[0] == 1).all())
        out.append(_LayerRefs(layer, layer.coef, layer.scale_base, layer.scale_sp, layer.mask,
                              *aff, arity, model.width[l + 1][0], affine,
                              bool((layer.mask == 1).all()), fixed, unit))
    return out


class StepData(NamedTuple):
    """What the evaluations of one step share, batch-last (see ``_batchlast``)."""

    x_t: Tensor  # (in, batch): the first layer's inputs
    y_t: Tensor | None  # (out, batch): the labels
    feats0: Tensor  # (F, in, batch): the first layer's features (constant until the grid moves)
    cov0: Tensor | None  # (in, F, F): their covariance (for the regulariser)
    sx0: Tensor | None  # (in,): std of the inputs (None for a batch of one)


def _cov_t(ac: Tensor) -> Tensor:
    """Per-input covariance (in, F, F) of centred batch-last features ac (F, in, batch)."""
    a = ac.permute(1, 0, 2)
    return torch.bmm(a, a.transpose(1, 2)).div_(max(ac.shape[-1] - 1, 1))


@torch.inference_mode()
def step_data(model, xb: Tensor, yb: Tensor | None = None, reg: bool = False) -> StepData:
    """``StepData`` of inputs xb (batch, n_in) and labels yb (batch, n_out); with ``reg`` also
    the regulariser's statistics of the first layer (its inputs are data)."""
    x_t = model._select_inputs(xb).t().contiguous()
    layer = model.layers[0]
    feats0, _ = features_t(x_t, layer.grid, layer.column_table(), layer.base_fun, False)
    cov0 = sx0 = None
    if reg:
        cov0 = _cov_t(feats0 - feats0.mean(-1, keepdim=True))
        sx0 = x_t.std(1) if x_t.shape[1] > 1 else None
    y_t = yb.t().contiguous() if yb is not None else None
    return StepData(x_t, y_t, feats0, cov0, sx0)


@torch.inference_mode()
def forward(model, refs: list[_LayerRefs], data: StepData, keep: bool = False):
    """The model's output (out, batch) on ``data`` along the training path; with ``keep`` also
    what the backward needs per layer (features with their x-derivatives, weights, ...).
    Runs in inference mode (less per-operation overhead; nothing made here outlives it)."""
    x = data.x_t
    batch = x.shape[1]
    cache = []
    for l, ref in enumerate(refs):
        layer, arity = ref.layer, ref.arity
        if l == 0:
            a, da = data.feats0, None
        else:
            a, da = features_t(x, layer.grid, layer.column_table(), layer.base_fun, keep)
        msp = ref.scale_sp if ref.full_mask else ref.mask * ref.scale_sp
        wb = ref.scale_base if ref.full_mask else ref.mask * ref.scale_base
        w = torch.cat([wb.unsqueeze(1), (msp.unsqueeze(-1) * ref.coef).transpose(1, 2)], 1)
        s_eff, c_eff = ref.fixed if ref.fixed is not None else output_affine(arity, ref.s, ref.c,
                                                                             ref.ns, ref.nc)
        wf = w.transpose(0, 1) if ref.unit else w.transpose(0, 1) * s_eff  # (F, in, out)
        wf = wf.reshape(-1, wf.shape[-1])
        z = torch.addmm(c_eff.unsqueeze(1), wf.t(), a.view(-1, batch))  # (out, batch)
        pre = zm = None
        if arity:
            n_sum = ref.n_sum
            zm = z[n_sum:].view(len(arity), arity[0], batch)
            pre = torch.cat([z[:n_sum], zm.prod(1)], 0)
            y = torch.addcmul(ref.nc.unsqueeze(1), pre, ref.ns.unsqueeze(1))
        else:
            y = z
        if keep:
            cache.append((x, a, da, w, wf, s_eff, msp, pre, zm))
        x = y
    return x, cache


@torch.inference_mode()
def loss_and_grad(model, refs: list[_LayerRefs], data: StepData, lamb: float,
                  reg_weights) -> tuple[Tensor, float]:
    """MSE (+ lamb * regulariser) on ``data``; adds the gradient into every parameter's .grad.
    ``refs`` is ``plan(model)``, ``data`` is ``step_data(model, x, y, reg=lamb > 0)``. Returns
    the MSE (0-d tensor) and the regulariser (a float, 0 when lamb == 0)."""
    x, cache = forward(model, refs, data, keep=True)
    batch = x.shape[1]
    r = x - data.y_t
    mse = r.square().mean()
    g = r * (2.0 / r.numel())  # (out, batch)

    reg = 0.0
    reg_grads = [None] * model.depth
    if lamb > 0:
        layers, centred = [], []
        for l, (xl, a, _, w, *_rest) in enumerate(cache):
            xc = None
            if l == 0:  # the first layer's inputs are data: nothing flows into them
                cov, ac, sx = data.cov0, None, data.sx0
            else:
                ac = a - a.mean(-1, keepdim=True)
                cov = _cov_t(ac)
                sx = None
                if batch > 1:  # std(x), keeping x - mean(x) for the backward
                    xc = xl - xl.mean(1, keepdim=True)
                    sx = xc.square().sum(1).div_(batch - 1).sqrt_()
            den = (sx + 0.1).unsqueeze(1) if sx is not None else w.new_full((w.shape[0], 1), 0.1)
            layers.append((w, cov, den, l > 0 and sx is not None))
            centred.append((ac, sx, xc))
        reg, grads = _regularizer(layers, reg_weights[0], reg_weights[1], lamb)
        reg_grads = [(*g, *c) for g, c in zip(grads, centred)]

    for l in range(len(refs) - 1, -1, -1):
        ref = refs[l]
        xl, a, da, w, wf, s_eff, msp, pre, zm = cache[l]
        s, c, ns, nc, affine = ref.s, ref.c, ref.ns, ref.nc, ref.affine
        if zm is not None:
            n_sum = ref.n_sum
            if affine:
                _set_grad(nc, g.sum(1))
                _set_grad(ns, (g * pre).sum(1))
            gp = g * ns.unsqueeze(1)
            gzm = gp[n_sum:].unsqueeze(1) * _exclusive_prod(zm, 1)
            gz = torch.cat([gp[:n_sum], gzm.flatten(0, 1)], 0)
        else:
            gz = g
        n_feat, in_dim = a.shape[:2]
        proj = (a.view(-1, batch) @ gz.t()).view(n_feat, in_dim, -1).transpose(0, 1)  # (in, F, out)
        gw = proj if ref.unit else proj * s_eff
        rg = reg_grads[l]
        if rg is not None:
            gw = gw + rg[0]
        gsp = gw[:, 1:].transpose(1, 2)  # (in, out, nb)
        if ref.coef.requires_grad:
            _set_grad(ref.coef, msp.unsqueeze(-1) * gsp)
        if ref.scale_base.requires_grad:
            _set_grad(ref.scale_base, gw[:, 0] if ref.full_mask else ref.mask * gw[:, 0])
        if ref.scale_sp.requires_grad:
            g_sp = (gsp * ref.coef).sum(-1)
            _set_grad(ref.scale_sp, g_sp if ref.full_mask else ref.mask * g_sp)
        if affine:
            gs_eff, gc_eff = (proj * w).sum((0, 1)), gz.sum(1)
            if zm is not None:
                _set_grad(s, gs_eff)
                _set_grad(c, gc_eff)
            else:
                _set_grad(s, gs_eff * ns)
                _set_grad(c, gc_eff * ns)
                _set_grad(ns, gs_eff * s + gc_eff * c)
                _set_grad(nc, gc_eff)
        if l == 0:
            break
        ga = (wf @ gz).view(a.shape)  # (F, in, batch)
        if rg is not None and rg[1] is not None:  # through Cov = ac ac^T / (N - 1)
            g_cov2, g_den, ac, sx, xc = rg[1:]
            ga = ga + torch.bmm(g_cov2.div_(batch - 1), ac.permute(1, 0, 2)).permute(1, 0, 2)
        g = (ga * da).sum(0)  # (in, batch)
        if rg is not None and rg[1] is not None:  # through den = std(x) + 0.1
            coef = g_den.div_(sx.clamp_min(1e-30).unsqueeze(1)).div_(batch - 1)
            g = g + coef * xc
    return mse, reg
