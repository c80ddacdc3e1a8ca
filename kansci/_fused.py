"""Fused training path of one KAN layer: features, weight and matmul in one autograd node.

Forward:  W[i, 0, o] = mask * scale_base,  W[i, 1+m, o] = mask * scale_sp * coef[i, o, m]
          y = A.view(batch, in*F) @ W.view(in*F, out),  A = features(x)  (batch, in, F)
Backward: gW = A^T gy, then by the product rule
          d scale_base = mask * gW[:, 0],  d coef = mask * scale_sp * gW[:, 1:]^T,
          d scale_sp = mask * sum_m gW[:, 1+m] coef_m;
          gA = gy W^T and dx from the features' local derivatives (``features_backward``).
One autograd node instead of a dozen keeps the per-step overhead of small networks low. It is
differentiable once (training); the composed path in ``KANLayer.forward`` serves higher
derivatives.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ._spline import features_backward, spline_features


class SplineLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, mask, grid, table, feats, k, base_fun):
        need_x = ctx.needs_input_grad[0]
        if feats is None:
            feats, count, dvals, dbase = spline_features(x, grid, table, k, base_fun, need_x)
        else:  # precomputed features of inputs that need no gradient
            count = dvals = dbase = None
        msp = mask * scale_sp
        w = torch.cat([(mask * scale_base).unsqueeze(1), (msp.unsqueeze(-1) * coef).transpose(1, 2)], 1)
        y = feats.view(feats.shape[0], -1) @ w.view(-1, w.shape[-1])
        ctx.save_for_backward(feats, w, coef, mask, msp, count, dvals, dbase)
        ctx.k, ctx.table = k, table
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        feats, w, coef, mask, msp, count, dvals, dbase = ctx.saved_tensors
        batch, in_dim, n_feat = feats.shape
        gw = (feats.view(batch, -1).t() @ gy).view(in_dim, n_feat, -1)  # (in, F, out)
        gs = gw[:, 1:].transpose(1, 2)  # (in, out, nb)
        g_coef = msp.unsqueeze(-1) * gs
        g_sb = mask * gw[:, 0]
        g_sp = mask * (gs * coef).sum(-1)
        gx = None
        if ctx.needs_input_grad[0]:
            ga = (gy @ w.view(-1, w.shape[-1]).t()).view(batch, in_dim, n_feat)
            gx = features_backward(ga, count, dvals, dbase, ctx.table, ctx.k)
        return gx, g_coef, g_sb, g_sp, None, None, None, None, None, None
