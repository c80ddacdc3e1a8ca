"""Fitting an edge's learned curve with c * f(a x + b) + d.

For every (a, b) on a grid, the best (c, d) is linear least squares in closed form and the fit
quality is the coefficient of determination r2 = cov(f, y)^2 / (var f var y) (<= 1). The grid
is searched coarse to fine around the best point; a few Gauss-Newton steps on (a, b, c, d)
then polish the fit below the grid's spacing.
"""
from __future__ import annotations

import torch
from torch import Tensor


def fit_affine(x: Tensor, y: Tensor, fn, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0),
               n_grid: int = 21, rounds: int = 4,
               steps: int = 6) -> tuple[tuple[float, float, float, float], float]:
    """Best (a, b, c, d) for y ~ c fn(a x + b) + d and its r2. x, y: (n,) samples. The grid
    search is followed by ``steps`` Gauss-Newton (Levenberg-Marquardt) refinements of all four
    parameters."""
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
    c, d = _linear(fn(a_best * x + b_best), y)
    (a_best, b_best, c, d), sse = _gauss_newton(x, y, fn, (a_best, b_best, c, d), steps)
    return (a_best, b_best, c, d), min(max(1.0 - sse / float(syy), r2_best), 1.0)


def _linear(z: Tensor, y: Tensor) -> tuple[float, float]:
    """Least-squares (c, d) of y ~ c z + d."""
    z = torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    zc = z - z.mean()
    szz = (zc * zc).sum()
    c = float((zc * (y - y.mean())).sum() / szz) if szz > 0 else 0.0
    return c, float(y.mean() - c * z.mean())


def _gauss_newton(x: Tensor, y: Tensor, fn, start, steps: int):
    """Levenberg-Marquardt refinement of (a, b, c, d) for y ~ c fn(a x + b) + d from ``start``;
    returns the parameters and their sum of squared residuals (a step is taken only when it
    lowers that sum, so the result is never worse than the start)."""
    theta = torch.tensor(start, dtype=x.dtype)

    def residual(t: Tensor) -> tuple[Tensor, Tensor]:
        u = (t[0] * x + t[1]).detach().requires_grad_(True)
        with torch.enable_grad():
            f = fn(u)
            (df,) = torch.autograd.grad(f.sum(), u)
        return t[2] * f.detach() + t[3] - y, torch.stack([t[2] * df * x, t[2] * df, f.detach(),
                                                           torch.ones_like(x)], 1)

    r, jac = residual(theta)
    sse = float(r @ r)
    if not torch.isfinite(jac).all() or not sse < float("inf"):
        return tuple(start), sse
    damping = 1e-3
    for _ in range(steps):
        jtj, jtr = jac.t() @ jac, jac.t() @ r
        scale = jtj.diagonal().clamp_min(1e-300)
        try:
            step = torch.linalg.solve(jtj + damping * torch.diag(scale), -jtr)
        except RuntimeError:  # singular: stop where we are
            break
        trial = theta + step
        r_new, jac_new = residual(trial)
        sse_new = float(r_new @ r_new)
        if sse_new < sse and torch.isfinite(jac_new).all():
            theta, r, jac, sse = trial, r_new, jac_new, sse_new
            damping = max(damping / 10, 1e-12)
        else:
            damping *= 10
        if sse <= 1e-30:
            break
    return tuple(float(v) for v in theta), sse
