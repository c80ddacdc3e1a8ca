"""Fused training path of one KAN layer: features, weight, matmul and output affine in one
autograd node.

Forward:  W[i, 0, o] = mask * scale_base,  W[i, 1+m, o] = mask * scale_sp * coef[i, o, m]
          y = A.view(batch, in*F) @ (W * s).view(in*F, out) + b,  A = features(x)  (batch, in, F)
          where (s, b) is the affine applied to the layer's outputs (subnode affine, folded with
          the node affine when the layer has no multiplication nodes).
          The features A are a second output (the regulariser's covariance uses them).
Backward: P = A^T gy (in, F, out), gW = P * s, ds = sum_f P W, db = sum_b gy; then by the
          product rule d scale_base = mask * gW[:, 0], d coef = mask * scale_sp * gW[:, 1:]^T,
          d scale_sp = mask * sum_m gW[:, 1+m] coef_m; gA = gy (W s)^T and dx from the
          features' local derivatives (``features_backward``). Only parameter-sized work is
          added for the affine.
One autograd node instead of a dozen keeps the per-step overhead of small networks low. It is
differentiable once (training); ``KANLayer.forward`` is the path for higher derivatives.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ._spline import features_backward, spline_features


class SplineLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, mask, scale, bias, grid, table, feats,
                base_fun):
        need_x = ctx.needs_input_grad[0]
        if feats is None:
            feats, dfeats = spline_features(x, grid, table, base_fun, need_x)
        else:  # precomputed features of inputs that need no gradient
            dfeats = None
        msp = mask * scale_sp
        w = torch.cat([(mask * scale_base).unsqueeze(1), (msp.unsqueeze(-1) * coef).transpose(1, 2)], 1)
        ws = w * scale  # (in, F, out)
        y = torch.addmm(bias, feats.view(feats.shape[0], -1), ws.view(-1, ws.shape[-1]))
        ctx.save_for_backward(feats, w, ws, scale, coef, mask, msp, dfeats)
        ctx.set_materialize_grads(False)  # an unused features output costs no zero tensor
        return y, feats

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, gfeats):
        feats, w, ws, scale, coef, mask, msp, dfeats = ctx.saved_tensors
        batch, in_dim, n_feat = feats.shape
        if gy is None:
            gy = feats.new_zeros(batch, ws.shape[-1])
        proj = (feats.view(batch, -1).t() @ gy).view(in_dim, n_feat, -1)  # (in, F, out)
        gw = proj * scale
        gs = gw[:, 1:].transpose(1, 2)  # (in, out, nb)
        g_coef = msp.unsqueeze(-1) * gs
        g_sb = mask * gw[:, 0]
        g_sp = mask * (gs * coef).sum(-1)
        need = ctx.needs_input_grad
        g_scale = (proj * w).sum((0, 1)) if need[5] else None
        g_bias = gy.sum(0) if need[6] else None
        gx = None
        if need[0]:
            ga = (gy @ ws.view(-1, ws.shape[-1]).t()).view(batch, in_dim, n_feat)
            gx = features_backward(ga if gfeats is None else ga + gfeats, dfeats)
        return gx, g_coef, g_sb, g_sp, None, g_scale, g_bias, None, None, None, None
