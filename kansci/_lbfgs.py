"""L-BFGS on one flat parameter vector (Nocedal & Wright, Alg. 7.4/7.5), strong-Wolfe steps.

The model's parameters are made views of one flat buffer (and their gradients views of one
flat gradient) for the duration of training, so the optimizer works on two vectors instead of
gathering and scattering per-parameter tensors at every evaluation. The semantics follow the
LBFGS pykan trains with (history 10, up to 20 iterations and 25 evaluations per step,
curvature pairs kept when y.s > 1e-32), whose strong-Wolfe search is torch's.
"""
from __future__ import annotations

import math
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


class _Diverged(Exception):
    """A line-search trial left the finite numbers."""


class LBFGS:
    """Minimise ``closure()`` (which must refill ``grad`` and return the loss as a float).

    A line-search trial that overflows (a huge step in float32, say) is not followed into
    NaN: the parameters go back to the last good point, the curvature pairs are dropped and
    the iteration restarts from steepest descent with a short step."""

    def __init__(self, flat: Tensor, grad: Tensor, lr: float = 1.0, history_size: int = 10,
                 max_iter: int = 20, max_eval: int = 25, tolerance_grad: float = 1e-32,
                 tolerance_change: float = 1e-32, tolerance_ys: float = 1e-32):
        self.flat, self.grad, self.lr = flat, grad, lr
        self.history_size, self.max_iter, self.max_eval = history_size, max_iter, max_eval
        self.tol_grad, self.tol_change, self.tol_ys = tolerance_grad, tolerance_change, tolerance_ys
        self.s: list[Tensor] = []
        self.y: list[Tensor] = []
        self.rho: list[float] = []
        self.sy: list[list[float]] = []  # sy[i][j] = s_i . y_j
        self._s = self._y = None  # stacked s and y, (m, n)
        self.d = self.g_prev = None
        self.t = lr
        self.h_diag = 1.0
        self.n_iter = 0

    def reset(self) -> None:
        """Forget the curvature pairs: the next iteration is a steepest-descent step."""
        self.s, self.y, self.rho, self.sy = [], [], [], []
        self._s = self._y = self.d = None
        self.n_iter = 0

    def _add_pair(self, s: Tensor, y: Tensor, ys: float) -> None:
        """Store a curvature pair, keeping the stacked history and all s_i . y_j as floats."""
        if len(self.s) == self.history_size:
            self.s.pop(0), self.y.pop(0), self.rho.pop(0), self.sy.pop(0)
            for row in self.sy:
                row.pop(0)
        self.s.append(s), self.y.append(y), self.rho.append(1.0 / ys)
        # float64 copies: the recursion combines these dot products by differences
        self._s, self._y = torch.stack(self.s).double(), torch.stack(self.y).double()  # (m, n)
        col = (self._s @ y.double()).tolist()  # s_i . y_new
        for row, v in zip(self.sy, col):
            row.append(v)
        self.sy.append((self._y @ s.double()).tolist())  # s_new . y_j
        self.h_diag = ys / float(y.dot(y))

    def _direction(self, g: Tensor) -> Tensor:
        """-H g by the two-loop recursion, with its dot products taken from the stored
        s_i . y_j and one matrix-vector product per loop:
            alpha_i = rho_i (s_i.g - sum_{j>i} alpha_j s_i.y_j),  q = g - Y^T alpha,
            beta_i = rho_i (y_i.(h q) + sum_{j<i} (alpha_j - beta_j) s_j.y_i),
            H g = h q + S^T (alpha - beta).
        The same arithmetic as the textbook recursion, with a few matrix-vector products
        instead of 4m vector operations."""
        m, rho, sy = len(self.s), self.rho, self.sy
        if m == 0:
            return -self.h_diag * g
        g64 = g.double()
        sg = (self._s @ g64).tolist()
        alpha = [0.0] * m
        for i in range(m - 1, -1, -1):
            alpha[i] = rho[i] * (sg[i] - sum(alpha[j] * sy[i][j] for j in range(i + 1, m)))
        q = torch.addmv(g64, self._y.t(), g64.new_tensor(alpha), alpha=-1.0)
        r = q.mul_(self.h_diag)
        yr = (self._y @ r).tolist()
        coeff = [0.0] * m  # alpha_j - beta_j
        for i in range(m):
            beta = rho[i] * (yr[i] + sum(coeff[j] * sy[j][i] for j in range(i)))
            coeff[i] = alpha[i] - beta
        return torch.addmv(r, self._s.t(), g64.new_tensor(coeff)).neg_().to(g.dtype)

    def step(self, closure) -> float:
        loss = float(closure())
        evals = 1
        g = self.grad.clone()
        if float(g.abs().max()) <= self.tol_grad:
            return loss
        restarted = False
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
                    self._add_pair(s, y, ys)
                d = self._direction(g)
            self.g_prev, loss_prev = g, loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g.dot(d))
            if gtd > -self.tol_change:
                break
            x0 = self.flat.clone()

            def directional(x, t_, d_):
                if not math.isfinite(t_):
                    raise _Diverged
                self.flat.copy_(x).add_(d_, alpha=t_)
                f = float(closure())
                if not math.isfinite(f):
                    raise _Diverged
                return f, self.grad.clone()

            try:
                loss, g, t, n_ls = _strong_wolfe(directional, x0, t, d, loss, g, gtd)
            except _Diverged:
                self.flat.copy_(x0)
                loss = float(closure())  # the model's state (and gradient) at the good point
                evals += 2
                self.reset()
                if restarted:
                    break
                restarted = True
                continue
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
