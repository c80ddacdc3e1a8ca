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
    return fit_affine_many(x, y, [fn], a_range, b_range, n_grid, rounds, steps)[0]


def fit_affine_many(x: Tensor, y: Tensor, fns, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0),
                    n_grid: int = 21, rounds: int = 4, steps: int = 6):
    """``fit_affine`` for every function of ``fns`` at once: each round of the grid search
    evaluates every function on its own (a, b) grid and then picks all the best points and
    narrows all the grids together; the Gauss-Newton steps solve one batch of 4x4 systems.
    Returns [((a, b, c, d), r2)] in the order of ``fns``."""
    for name, r in (("a_range", a_range), ("b_range", b_range)):
        if len(r) != 2 or not float(r[0]) < float(r[1]):
            raise ValueError(f"{name} must be (low, high) with low < high; got {r!r}.")
    x, y = x.detach().double().reshape(-1), y.detach().double().reshape(-1)
    yc = y - y.mean()
    syy = float((yc * yc).sum())
    if syy <= 0:  # a constant curve: c = 0, d = the constant
        return [((1.0, 0.0, 0.0, float(y.mean())), 1.0)] * len(fns)
    n_fn = len(fns)
    rows = torch.arange(n_fn)
    lo = torch.tensor([[a_range[0], b_range[0]]], dtype=x.dtype).repeat(n_fn, 1)  # (F, 2)
    hi = torch.tensor([[a_range[1], b_range[1]]], dtype=x.dtype).repeat(n_fn, 1)
    t = torch.linspace(0, 1, n_grid, dtype=x.dtype)
    for _ in range(rounds):
        grid = lo[:, :, None] + (hi - lo)[:, :, None] * t  # (F, 2, G): a and b values
        r2 = torch.stack([_grid_r2(fn, x, yc, syy, grid[k, 0], grid[k, 1])
                          for k, fn in enumerate(fns)])  # (F, G, G)
        idx = r2.flatten(1).argmax(1)
        best = torch.stack([grid[rows, 0, idx // n_grid], grid[rows, 1, idx % n_grid]], 1)
        best_r2 = r2.flatten(1)[rows, idx]
        step = (hi - lo) / (n_grid - 1)
        lo, hi = best - step, best + step
    theta = torch.cat([best, torch.stack([torch.tensor(_linear(fn(a * x + b), y), dtype=x.dtype)
                                          for fn, (a, b) in zip(fns, best.tolist())])], 1)
    theta, sse = _gauss_newton(x, y, fns, theta, steps)
    r2 = torch.maximum(1.0 - sse / syy, best_r2).clamp_max(1.0)
    return [(tuple(p), float(q)) for p, q in zip(theta.tolist(), r2)]


def _grid_r2(fn, x: Tensor, yc: Tensor, syy: float, a: Tensor, b: Tensor) -> Tensor:
    """r2 of the best c fn(a x + b) + d for every (a, b) of the grid: (A, B)."""
    z = torch.nan_to_num(fn(a[:, None, None] * x + b[None, :, None]), nan=0.0, posinf=0.0,
                         neginf=0.0)  # (A, B, n)
    zc = z - z.mean(-1, keepdim=True)
    szz = (zc * zc).sum(-1)
    szy = (zc * yc).sum(-1)
    return torch.where(szz > 1e-300, szy**2 / (szz.clamp_min(1e-300) * syy), torch.zeros_like(szz))


def _linear(z: Tensor, y: Tensor) -> tuple[float, float]:
    """Least-squares (c, d) of y ~ c z + d."""
    z = torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    zc = z - z.mean()
    szz = (zc * zc).sum()
    c = float((zc * (y - y.mean())).sum() / szz) if szz > 0 else 0.0
    return c, float(y.mean() - c * z.mean())


def _gauss_newton(x: Tensor, y: Tensor, fns, theta: Tensor, steps: int):
    """Levenberg-Marquardt refinement of theta (F, 4) = (a, b, c, d) per function for
    y ~ c fn(a x + b) + d; returns the parameters (F, 4) and their sums of squared residuals
    (F,). A function's step is taken only when it lowers its sum (never worse than the start);
    functions whose values or slopes are not finite keep their start."""

    def residual(t: Tensor) -> tuple[Tensor, Tensor]:
        u = (t[:, :1] * x + t[:, 1:2]).detach().requires_grad_(True)  # (F, n)
        with torch.enable_grad():
            f = torch.stack([fn(u[k]) for k, fn in enumerate(fns)])
            (df,) = torch.autograd.grad(f.sum(), u)
        f = f.detach()
        c = t[:, 2:3]
        jac = torch.stack([c * df * x, c * df, f, torch.ones_like(f)], 2)  # (F, n, 4)
        return c * f + t[:, 3:] - y, jac

    r, jac = residual(theta)
    sse = (r * r).sum(1)
    alive = torch.isfinite(jac).flatten(1).all(1) & torch.isfinite(sse)
    damping = torch.full_like(sse, 1e-3)
    for _ in range(steps):
        jtj = jac.transpose(1, 2) @ jac
        jtr = (jac.transpose(1, 2) @ r[:, :, None])[:, :, 0]
        scale = torch.diag_embed(jtj.diagonal(dim1=1, dim2=2).clamp_min(1e-300))
        step, info = torch.linalg.solve_ex(jtj + damping[:, None, None] * scale, -jtr)
        ok = alive & (info == 0) & torch.isfinite(step).all(1)
        trial = torch.where(ok[:, None], theta + torch.nan_to_num(step), theta)
        r_new, jac_new = residual(trial)
        sse_new = (r_new * r_new).sum(1)
        better = ok & (sse_new < sse) & torch.isfinite(jac_new).flatten(1).all(1)
        theta = torch.where(better[:, None], trial, theta)
        r = torch.where(better[:, None], r_new, r)
        jac = torch.where(better[:, None, None], jac_new, jac)
        sse = torch.where(better, sse_new, sse)
        damping = torch.where(better, (damping / 10).clamp_min(1e-12), damping * 10)
        if not bool((alive & (sse > 1e-30)).any()):
            break
    return theta, sse
