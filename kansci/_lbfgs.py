"""L-BFGS on one flat parameter vector (Nocedal & Wright, Alg. 7.4/7.5), strong-Wolfe steps.

The model's parameters are made views of one flat buffer (and their gradients views of one
flat gradient) for the duration of training, so the optimizer works on two vectors instead of
gathering and scattering per-parameter tensors at every evaluation. The semantics follow the
LBFGS pykan trains with (history 10, up to 20 iterations and 25 evaluations per step,
curvature pairs kept when y.s > 1e-32), whose strong-Wolfe search is torch's.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor
from torch.optim.lbfgs import _strong_wolfe


@contextmanager
def flat_parameters(params: list[Tensor]):
    """Make ``params`` (and their .grad) views of one flat vector; yields (flat, flat_grad).

    On exit every parameter gets its own storage back (values kept) and .grad is cleared."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    grad = torch.zeros_like(flat)
    off = 0
    for p in params:
        n = p.numel()
        p.data = flat[off:off + n].view_as(p)
        p.grad = grad[off:off + n].view_as(p)
        off += n
    try:
        yield flat, grad
    finally:
        for p in params:
            p.data = p.data.clone()
            p.grad = None


class LBFGS:
    """Minimise ``closure()`` (which must refill ``grad`` and return the loss as a float)."""

    def __init__(self, flat: Tensor, grad: Tensor, lr: float = 1.0, history_size: int = 10,
                 max_iter: int = 20, max_eval: int = 25, tolerance_grad: float = 1e-32,
                 tolerance_change: float = 1e-32, tolerance_ys: float = 1e-32):
        self.flat, self.grad, self.lr = flat, grad, lr
        self.history_size, self.max_iter, self.max_eval = history_size, max_iter, max_eval
        self.tol_grad, self.tol_change, self.tol_ys = tolerance_grad, tolerance_change, tolerance_ys
        self.s: list[Tensor] = []
        self.y: list[Tensor] = []
        self.rho: list[float] = []
        self.d = self.g_prev = None
        self.t = lr
        self.h_diag = 1.0
        self.n_iter = 0

    def _direction(self, g: Tensor) -> Tensor:
        """-H g by the two-loop recursion. (The compact form of Byrd, Nocedal & Schnabel costs
        fewer operations but its triangular solves lose the step in float32 when a curvature
        pair is nearly degenerate; the recursion does not.)"""
        q = -g
        alpha = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho)):
            a = rho * float(s.dot(q))
            q.add_(y, alpha=-a)
            alpha.append(a)
        r = q.mul_(self.h_diag)
        for s, y, rho, a in zip(self.s, self.y, self.rho, reversed(alpha)):
            b = rho * float(y.dot(r))
            r.add_(s, alpha=a - b)
        return r

    def step(self, closure) -> float:
        loss = float(closure())
        evals = 1
        g = self.grad.clone()
        if float(g.abs().max()) <= self.tol_grad:
            return loss
        for it in range(self.max_iter):
            self.n_iter += 1
            if self.n_iter == 1:
                d = -g
                self.h_diag = 1.0
            else:
                y = g - self.g_prev
                s = self.d * self.t
                ys = float(y.dot(s))
                if ys > self.tol_ys:
                    if len(self.s) == self.history_size:
                        self.s.pop(0), self.y.pop(0), self.rho.pop(0)
                    self.s.append(s), self.y.append(y), self.rho.append(1.0 / ys)
                    self.h_diag = ys / float(y.dot(y))
                d = self._direction(g)
            self.g_prev, loss_prev = g, loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g.dot(d))
            if gtd > -self.tol_change:
                break
            x0 = self.flat.clone()

            def directional(x, t_, d_):
                self.flat.copy_(x).add_(d_, alpha=t_)
                return float(closure()), self.grad.clone()

            loss, g, t, n_ls = _strong_wolfe(directional, x0, t, d, loss, g, gtd)
            self.flat.copy_(x0).add_(d, alpha=t)
            self.d, self.t = d, t
            evals += n_ls
            if it + 1 == self.max_iter or evals >= self.max_eval:
                break
            if float(g.abs().max()) <= self.tol_grad:
                break
            if float(d.abs().max()) * abs(t) <= self.tol_change or abs(loss - loss_prev) < self.tol_change:
                break
        return loss
