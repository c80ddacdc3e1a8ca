"""Loss and gradient of a training step by hand (no autograd over the batch).

Small KANs are bound by per-operation overhead, not arithmetic: the autograd graph of a step
costs more than the step. For the common case (MSE loss, spline edges, sum nodes and
multiplication nodes of one arity per layer) this module runs the forward pass keeping what
the backward needs, then back-propagates explicitly, writing every parameter gradient into its
``.grad`` (views of the optimizer's flat gradient). The regulariser, a function of
parameter-sized tensors, is also differentiated by hand. ``supports`` says when it applies;
otherwise training uses the autograd path, which is also the test oracle for this one.

The regulariser's gradient is written out too (``_reg_layer``).

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

import torch
from torch import Tensor

from ._layer import block_apply, centred_cov
from ._spline import spline_features


def supports(model, loss_fn, reg_weights, x: Tensor) -> bool:
    """Whether the hand-written step applies to this model and objective on inputs x (not where
    the Triton kernels compute the layers)."""
    if loss_fn is not None or any(reg_weights[2:]) or model.kernel_for(x) is not None:
        return False
    if any(layer.has_symbolic() for layer in model.layers):
        return False
    return all(len(set(a)) <= 1 for a in model.mult_arity)


def _exclusive_prod(z: Tensor) -> Tensor:
    """prod_{i != j} z[..., i] for every j (no division, exact with zeros)."""
    if z.shape[-1] == 2:
        return z.flip(-1)
    ones = torch.ones_like(z[..., :1])
    left = torch.cat([ones, z[..., :-1].cumprod(-1)], -1)
    right = torch.cat([ones, z.flip(-1)[..., :-1].cumprod(-1)], -1).flip(-1)
    return left * right


def _set_grad(p: Tensor, value: Tensor) -> None:
    p.grad.add_(value)


def _entropy_and_grad(vec: Tensor, dim: int) -> tuple[float, Tensor]:
    """pykan's entropy term mean(-sum_dim p log2(p + 1e-4)), p = vec / (sum_dim vec + 1), and
    its gradient with respect to vec (same shape)."""
    total = vec.sum(dim, keepdim=True) + 1
    p = vec / total
    pe = p + 1e-4
    lg = torch.log2(pe)
    plg = p * lg
    groups = vec.shape[1 - dim]
    value = -float(plg.sum()) / groups
    q = torch.add(lg, p / pe, alpha=1 / math.log(2))  # -d(-p log2(p + eps))/dp
    grad = ((q * p).sum(dim, keepdim=True) - q).div_(total.mul_(groups))
    return value, grad


def _reg_layer(w: Tensor, cov: Tensor, den: Tensor, l1: float, ent: float, lamb: float,
               inner: bool):
    """One layer's regulariser (L1 + entropies of the edge scales) and lamb times its
    gradients with respect to w (in, F, out) and, for an ``inner`` layer (whose inputs are
    trained), 2 Cov (in, F, F) (the gradient of a symmetric argument, already symmetrised)
    and den = std(x) + 0.1 (in, 1).

    Edge scale: vec = sqrt(w^T Cov w) / den, so d vec / d w = Cov w / (sqrt(.) den)."""
    cw = torch.bmm(cov, w)  # (in, F, out)
    root = (cw * w).sum(1).clamp_min_(1e-20).sqrt_()  # (in, out)
    vec = root / den
    e_in, g_in = _entropy_and_grad(vec, 0)
    e_out, g_out = _entropy_and_grad(vec, 1)
    value = l1 * float(vec.sum()) + ent * (e_in + e_out)
    g_vec = torch.add(g_in, g_out).mul_(lamb * ent).add_(lamb * l1)  # (in, out)
    h = g_vec / (root * den)  # d reg / d var * 2
    g_w = cw * h.unsqueeze(1)
    if not inner:
        return value, (g_w, None, None)
    g_cov2 = torch.bmm(w * h.unsqueeze(1), w.transpose(1, 2))  # 2 d reg / d Cov
    g_den = (g_vec * vec).sum(1, keepdim=True).neg_().div_(den)  # d reg / d den, (in, 1)
    return value, (g_w, g_cov2, g_den)


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


@torch.inference_mode()
def forward(model, refs: list[_LayerRefs], xb: Tensor, feats0: Tensor | None = None,
            keep: bool = False):
    """The model's output for xb (batch, n_in) along the training path; with ``keep`` also
    what the backward needs per layer (features with their x-derivatives, weights, ...).
    Runs in inference mode (less per-operation overhead; nothing made here outlives it)."""
    x = model._select_inputs(xb)
    batch = x.shape[0]
    cache = []
    for l, ref in enumerate(refs):
        layer, s, c, ns, nc, arity = ref.layer, ref.s, ref.c, ref.ns, ref.nc, ref.arity
        if l == 0 and feats0 is not None:
            a, da = feats0, None
        else:
            a, da = spline_features(x, layer.grid, layer.table(), layer.base_fun, keep and l > 0)
        msp = ref.scale_sp if ref.full_mask else ref.mask * ref.scale_sp
        wb = ref.scale_base if ref.full_mask else ref.mask * ref.scale_base
        w = torch.cat([wb.unsqueeze(1), (msp.unsqueeze(-1) * ref.coef).transpose(1, 2)], 1)
        s_eff, c_eff = ref.fixed if ref.fixed is not None else output_affine(arity, s, c, ns, nc)
        ws = w if ref.unit else w * s_eff
        z = torch.addmm(c_eff, a.view(batch, -1), ws.view(-1, ws.shape[-1]))
        pre = zm = None
        if arity:
            n_sum = ref.n_sum
            zm = z[:, n_sum:].view(batch, len(arity), arity[0])
            pre = torch.cat([z[:, :n_sum], zm.prod(-1)], 1)
            y = torch.addcmul(nc, pre, ns)
        else:
            y = z
        if keep:
            cache.append((x, a, da, w, ws, s_eff, msp, pre, zm))
        x = y
    return x, cache


@torch.inference_mode()
def loss_and_grad(model, refs: list[_LayerRefs], xb: Tensor, yb: Tensor, feats0: Tensor,
                  cov0: Tensor | None, sx0: Tensor | None, lamb: float,
                  reg_weights) -> tuple[Tensor, float]:
    """MSE (+ lamb * regulariser) at xb, yb; adds the gradient into every parameter's .grad.
    ``refs`` is ``plan(model)``; feats0, cov0 and sx0 are the first layer's features, their
    covariance and the std of its inputs (constants of the data). Returns the MSE (0-d
    tensor) and the regulariser (a float, 0 when lamb == 0)."""
    x, cache = forward(model, refs, xb, feats0, keep=True)
    batch = x.shape[0]
    r = x - yb
    mse = r.square().mean()
    g = r * (2.0 / r.numel())

    reg = 0.0
    reg_grads = [None] * model.depth
    if lamb > 0:
        l1, ent = reg_weights[0], reg_weights[1]
        for l, (xl, a, _, w, *_rest) in enumerate(cache):
            if l == 0:
                cov, ac, sx = cov0, None, sx0
            else:
                ac = a - a.mean(0)
                cov = centred_cov(ac)
                sx = xl.std(0) if batch > 1 else None
            den = (sx + 0.1).unsqueeze(1) if sx is not None else w.new_full((w.shape[0], 1), 0.1)
            r_l, grads = _reg_layer(w, cov, den, l1, ent, lamb, inner=l > 0 and sx is not None)
            reg += r_l
            # the first layer's inputs are data: nothing flows into them
            reg_grads[l] = (*grads, ac, sx)

    for l in range(len(refs) - 1, -1, -1):
        ref = refs[l]
        xl, a, da, w, ws, s_eff, msp, pre, zm = cache[l]
        s, c, ns, nc, affine = ref.s, ref.c, ref.ns, ref.nc, ref.affine
        if zm is not None:
            n_sum = ref.n_sum
            if affine:
                _set_grad(nc, g.sum(0))
                _set_grad(ns, (g * pre).sum(0))
            gp = g * ns
            gzm = gp[:, n_sum:].unsqueeze(-1) * _exclusive_prod(zm)
            gz = torch.cat([gp[:, :n_sum], gzm.flatten(1)], 1)
        else:
            gz = g
        proj = (a.view(batch, -1).t() @ gz).view(w.shape)  # (in, F, out)
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
            gs_eff, gc_eff = (proj * w).sum((0, 1)), gz.sum(0)
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
        ga = (gz @ ws.view(-1, ws.shape[-1]).t()).view(a.shape)
        if rg is not None and rg[1] is not None:  # through Cov = ac^T ac / (N - 1)
            g_cov2, g_den, ac, sx = rg[1:]
            ga = ga + block_apply(ac, g_cov2.div_(batch - 1))
        g = (ga * da).sum(-1)
        if rg is not None and rg[1] is not None:  # through den = std(x) + 0.1
            coef = g_den.squeeze(1).div_(sx.clamp_min(1e-30)).div_(batch - 1)
            g = g + coef * (xl - xl.mean(0))
    return mse, reg
