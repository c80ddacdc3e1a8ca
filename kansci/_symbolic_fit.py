"""Fitting an edge's learned curve with c * f(a x + b) + d.

For every (a, b) on a grid, the best (c, d) is linear least squares in closed form and the fit
quality is the coefficient of determination r2 = cov(f, y)^2 / (var f var y) (<= 1). The grid
is searched coarse to fine around the best point.
"""
from __future__ import annotations

import torch
from torch import Tensor


def fit_affine(x: Tensor, y: Tensor, fn, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0),
               n_grid: int = 21, rounds: int = 4) -> tuple[tuple[float, float, float, float], float]:
    """Best (a, b, c, d) for y ~ c fn(a x + b) + d and its r2. x, y: (n,) samples."""
    x, y = x.detach().double().reshape(-1), y.detach().double().reshape(-1)
    yc = y - y.mean()
    syy = (yc * yc).sum()
    if syy <= 0:  # a constant curve: c = 0, d = the constant
        return (1.0, 0.0, 0.0, float(y.mean())), 1.0
    lo_a, hi_a = a_range
    lo_b, hi_b = b_range
    best = (0.0, 0.0, -1.0)
    for _ in range(rounds):
        a = torch.linspace(lo_a, hi_a, n_grid, dtype=x.dtype)
        b = torch.linspace(lo_b, hi_b, n_grid, dtype=x.dtype)
        z = fn(a[:, None, None] * x + b[None, :, None])  # (A, B, n)
        z = torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
        zc = z - z.mean(-1, keepdim=True)
        szz = (zc * zc).sum(-1)
        szy = (zc * yc).sum(-1)
        r2 = torch.where(szz > 1e-300, szy**2 / (szz.clamp_min(1e-300) * syy), torch.zeros_like(szz))
        idx = int(r2.argmax())
        ia, ib = divmod(idx, n_grid)
        best = (float(a[ia]), float(b[ib]), float(r2[ia, ib]))
        da, db = (hi_a - lo_a) / (n_grid - 1), (hi_b - lo_b) / (n_grid - 1)
        lo_a, hi_a = best[0] - da, best[0] + da
        lo_b, hi_b = best[1] - db, best[1] + db
    a_best, b_best, r2_best = best
    z = torch.nan_to_num(fn(a_best * x + b_best), nan=0.0, posinf=0.0, neginf=0.0)
    zc = z - z.mean()
    szz = (zc * zc).sum()
    c = float((zc * yc).sum() / szz) if szz > 0 else 0.0
    d = float(y.mean() - c * z.mean())
    return (a_best, b_best, c, d), min(r2_best, 1.0)
