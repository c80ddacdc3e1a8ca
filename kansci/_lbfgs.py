"""L-BFGS on one flat parameter vector (Nocedal & Wright, Alg. 7.4/7.5), strong-Wolfe steps.

The model's parameters are made views of one flat buffer (and their gradients views of one
flat gradient) for the duration of training, so the optimizer works on two vectors instead of
gathering and scattering per-parameter tensors at every evaluation. The semantics follow the
LBFGS pykan trains with (history 10, up to 20 iterations and 25 evaluations per step,
curvature pairs kept when y.s > 1e-32, the same strong-Wolfe rules: ``_wolfe``).

On the CPU the optimizer's own vector arithmetic runs in NumPy on views of the same buffers:
its vectors hold a few hundred numbers, where NumPy's per-operation cost is a fraction of
PyTorch's dispatch. Elsewhere (GPU tensors, half precision) it runs in PyTorch.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from ._wolfe import strong_wolfe


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


class _TorchOps:
    """Vector operations of the optimizer on torch tensors."""

    view = staticmethod(lambda t: t)
    copy = staticmethod(lambda a: a.clone())
    equal = staticmethod(torch.equal)
    as64 = staticmethod(lambda a: a.double())
    cast = staticmethod(lambda a, like: a.to(like.dtype))
    vector = staticmethod(lambda values, like: like.new_tensor(values))

    @staticmethod
    def zeros(rows: int, like: Tensor):
        return like.new_zeros(rows, like.numel(), dtype=torch.float64)

    @staticmethod
    def axpy(out, x, d, t: float) -> None:
        """out = x + t d."""
        torch.add(x, d, alpha=t, out=out)

    @staticmethod
    def scaled_sub(h: float, g, mat, coef):
        """h (g - mat^T coef)."""
        return torch.addmv(g, mat.t(), coef, beta=h, alpha=-h)


class _NumpyOps:
    """The same operations on NumPy arrays (views of CPU tensors)."""

    view = staticmethod(lambda t: t.numpy())
    copy = staticmethod(lambda a: a.copy())
    equal = staticmethod(np.array_equal)
    as64 = staticmethod(lambda a: a.astype(np.float64))
    cast = staticmethod(lambda a, like: a.astype(like.dtype))
    vector = staticmethod(lambda values, like: np.asarray(values))

    @staticmethod
    def zeros(rows: int, like):
        return np.zeros((rows, like.size))

    @staticmethod
    def axpy(out, x, d, t: float) -> None:
        np.multiply(d, t, out=out)
        out += x

    @staticmethod
    def scaled_sub(h: float, g, mat, coef):
        return (g - mat.T @ coef) * h


def _ops_for(t: Tensor):
    numpy_ok = t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)
    return _NumpyOps if numpy_ok else _TorchOps


class _Diverged(Exception):
    """A line-search trial left the finite numbers."""


def _value(loss) -> float:
    """The closure's loss as a float; a float (or float subclass carrying what the caller
    keeps of that evaluation) as it is, so ``step`` returns the object of the point it ends on."""
    return loss if isinstance(loss, float) else float(loss)


class LBFGS:
    """Minimise ``closure()`` (which must refill ``grad`` and return the loss as a float).
    ``step`` returns the closure's own return value of the point it ends on (the line search
    may end on a point evaluated before its last trial), so a float subclass that carries
    more of that evaluation (``_train.Objective``: the loss's parts) comes back with it.

    The curvature pairs live in two preallocated float64 buffers (history, n), filled in
    turn; ``pairs()`` lists them oldest first. A line-search trial that overflows (a huge
    step in float32, say) is not followed into NaN: the parameters go back to the last good
    point, the curvature pairs are dropped and the iteration restarts from steepest descent.
    Vectors are NumPy views of ``flat`` and ``grad`` on the CPU (see the module docstring)."""

    def __init__(self, flat: Tensor, grad: Tensor, lr: float = 1.0, history_size: int = 10,
                 max_iter: int = 20, max_eval: int = 25, tolerance_grad: float = 1e-32,
                 tolerance_change: float = 1e-32, tolerance_ys: float = 1e-32):
        self.ops = ops = _ops_for(flat)
        self.flat, self.grad, self.lr = flat, grad, lr
        self._x, self._g = ops.view(flat), ops.view(grad)  # the same memory
        self.history_size, self.max_iter, self.max_eval = history_size, max_iter, max_eval
        self.tol_grad, self.tol_change, self.tol_ys = tolerance_grad, tolerance_change, tolerance_ys
        self._S = ops.zeros(history_size, self._x)
        self._Y = ops.zeros(history_size, self._x)
        self.reset()
        self.h_diag = 1.0
        self._known = None  # (loss, gradient, point) where the last step ended

    def forget_objective(self) -> None:
        """The objective changed (new grid, new minibatch): the next step re-evaluates it at
        the current point instead of reusing the loss and gradient the last step ended with."""
        self._known = None

    def reset(self) -> None:
        """Forget the curvature pairs: the next iteration is a steepest-descent step."""
        self.order: list[int] = []  # buffer rows, oldest pair first
        self.rho = [0.0] * self.history_size  # by buffer row
        self.sy = [[0.0] * self.history_size for _ in range(self.history_size)]  # s_i . y_j
        self.d = self.g_prev = None
        self.t = self.lr
        self.n_iter = 0

    def pairs(self) -> list:
        """The stored (s, y) pairs, oldest first (float64 views of the buffers)."""
        return [(self._S[i], self._Y[i]) for i in self.order]

    def _add_pair(self, s, y, ys: float) -> None:
        """Store a curvature pair (replacing the oldest when full) and its dot products."""
        if len(self.order) == self.history_size:
            row = self.order.pop(0)
        else:
            row = len(self.order)
        self.order.append(row)
        self._S[row] = s
        self._Y[row] = y
        m = max(self.order) + 1  # rows in use are 0 .. m-1
        # float64 dot products: the recursion combines them by differences
        col = (self._S[:m] @ self._Y[row]).tolist()  # s_i . y_new
        new = (self._Y[:m] @ self._S[row]).tolist()  # s_new . y_j
        for i in self.order:
            self.sy[i][row] = col[i]
            self.sy[row][i] = new[i]
        self.rho[row] = 1.0 / ys
        self.h_diag = ys / float(y @ y)

    def _direction(self, g):
        """-H g by the two-loop recursion, with its dot products taken from the stored
        s_i . y_j and one matrix-vector product per loop:
            alpha_i = rho_i (s_i.g - sum_{j>i} alpha_j s_i.y_j),  q = g - Y^T alpha,
            beta_i = rho_i (y_i.(h q) + sum_{j<i} (alpha_j - beta_j) s_j.y_i),
            H g = h q + S^T (alpha - beta)   (i, j in age order).
        The same arithmetic as the textbook recursion, with a few matrix-vector products
        instead of 4m vector operations."""
        ops, order, rho, sy = self.ops, self.order, self.rho, self.sy
        if not order:
            return g * -self.h_diag
        m = max(order) + 1
        S, Y = self._S[:m], self._Y[:m]
        g64 = ops.as64(g)
        sg = (S @ g64).tolist()
        alpha = [0.0] * m  # by buffer row
        for pos in range(len(order) - 1, -1, -1):
            i = order[pos]
            row, acc = sy[i], sg[i]
            for j in order[pos + 1:]:
                acc -= alpha[j] * row[j]
            alpha[i] = rho[i] * acc
        r = ops.scaled_sub(self.h_diag, g64, Y, ops.vector(alpha, g64))  # h q
        yr = (Y @ r).tolist()
        coeff = [0.0] * m  # alpha_j - beta_j
        for pos, i in enumerate(order):
            acc = yr[i]
            for j in order[:pos]:
                acc += coeff[j] * sy[j][i]
            coeff[i] = alpha[i] - rho[i] * acc
        return ops.cast(-(r + S.T @ ops.vector(coeff, g64)), g)

    def step(self, closure) -> float:
        ops, x, grad = self.ops, self._x, self._g
        known = self._known
        if known is not None and ops.equal(known[2], x):
            loss, g = known[0], known[1]  # the last step ended here: same loss and gradient
            grad[:] = g
        else:
            loss = _value(closure())
            g = ops.copy(grad)
        self._known = None
        evals = 1
        if float(abs(g).max()) <= self.tol_grad:
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
                ys = float(y @ s)
                if ys > self.tol_ys:
                    self._add_pair(s, y, ys)
                d = self._direction(g)
            self.g_prev, loss_prev = g, loss
            t = min(1.0, 1.0 / float(abs(g).sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g @ d)
            if gtd > -self.tol_change:
                break
            x0 = ops.copy(x)

            def evaluate(t_):
                if not math.isfinite(t_):
                    raise _Diverged
                ops.axpy(x, x0, d, t_)
                f = _value(closure())
                if not math.isfinite(f):
                    raise _Diverged
                g_ = ops.copy(grad)
                return f, g_, float(g_ @ d)

            try:
                loss, g, t, n_ls = strong_wolfe(evaluate, t, loss, g, gtd, float(abs(d).max()))
            except _Diverged:
                x[:] = x0
                loss = _value(closure())  # the model's state (and gradient) at the good point
                evals += 2
                self.reset()
                if restarted:
                    break
                restarted = True
                continue
            ops.axpy(x, x0, d, t)
            self.d, self.t = d, t
            self._known = (loss, g, ops.copy(x))
            evals += n_ls
            if it + 1 == self.max_iter or evals >= self.max_eval:
                break
            if float(abs(g).max()) <= self.tol_grad:
                break
            if float(abs(d).max()) * abs(t) <= self.tol_change or abs(loss - loss_prev) < self.tol_change:
                break
        return loss
