"""``discover``: from data to a closed-form law, the KAN 2.0 workflow run automatically.

Several routes propose formulas, cheapest first, each read off a trained KAN:

* power law: log|y| linear in log|x_i| (exponents rounded to halves);
* additive:        y = sum_i g_i(x_i)           (a [d, 1] KAN, each edge snapped);
* multiplicative:  y = prod_i g_i(x_i)          (a [d, 1] KAN on log|y|, exp of each edge snapped);
* outer function:  y = F(sum_i g_i(x_i))        (a [d, 1, 1] KAN, auto_symbolic);
* general:         a [d, 2d+1, 1] KAN trained sparse, pruned, auto_symbolic.

Every proposal gets its constants refitted to the training split (least squares), then
snapped to small rationals / multiples of pi and e where that costs no accuracy. Proposals
are scored on a held-out split; the answer is the simplest whose error is within a factor of
the best (``equations`` lists them all).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import sympy
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ._data import as_tensor
from ._formula import Formula, refit_constants
from ._model import MultKAN
from ._symbolic import _snap, edge_data, rank_functions
from ._symbolic_lib import SYMBOLIC_LIB, get_function

_EXACT = 1e-12  # held-out NMSE below which a formula counts as exact (ends the search)
_TOLERANCE = 2.0  # a simpler formula may be this many times less accurate than the best
_MAX_TRAIN = 3000  # samples used to train the networks (the rest only score)
_SIMPLIFY_MAX = 60  # expression nodes above which sympy's simplify is not attempted (too slow)


@dataclass
class Discovery:
    """What ``discover`` found: the formula, its held-out R^2, the network it came from and
    the table of every candidate (complexity, held-out loss, formula)."""

    formula: sympy.Expr
    r2: float
    model: MultKAN | None
    equations: object  # pandas.DataFrame
    variables: list = field(default_factory=list)

    def as_formula(self) -> Formula:
        return Formula(self.formula, self.variables)

    def latex(self) -> str:
        return self.as_formula().latex()

    def numpy(self):
        return self.as_formula().numpy()

    def torch(self) -> torch.nn.Module:
        return self.as_formula().torch()


def complexity(expr: sympy.Expr) -> int:
    """Nodes of the expression tree, function applications (sin, exp, ...) counting 3."""
    return sum(3 if isinstance(node, sympy.Function) else 1
               for node in sympy.preorder_traversal(expr))


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """sympy's simplify, for expressions small enough that it finishes quickly."""
    return sympy.simplify(expr) if complexity(expr) <= _SIMPLIFY_MAX else expr


def _close(err: float, best: float) -> bool:
    """Whether a held-out error ``err`` is acceptable next to ``best`` (within the tolerance
    factor, or exact)."""
    return err <= max(best * _TOLERANCE, _EXACT)


def _one_sign(t: Tensor) -> bool:
    """Whether t has no zeros and a single sign (so log|t| exists and keeps the sign)."""
    return not (t == 0).any() and bool((torch.sign(t) == torch.sign(t[0])).all())


def _check_xy(X, y, names):
    x_t = as_tensor(X, "X", torch.float64, "cpu")
    y_t = as_tensor(y, "y", torch.float64, "cpu")
    if y_t.shape[1] != 1:
        raise ValueError(f"y must be one column (one target); got shape {tuple(y_t.shape)}.")
    if y_t.shape[0] != x_t.shape[0]:
        raise ValueError(f"y has {y_t.shape[0]} samples but X has {x_t.shape[0]}; they must match.")
    if x_t.shape[0] < 20:
        raise ValueError(f"discover needs at least 20 samples; got {x_t.shape[0]}.")
    if names is None:
        cols = getattr(X, "columns", None)
        names = [str(c) for c in cols] if cols is not None else \
            [f"x_{k + 1}" for k in range(x_t.shape[1])]
    names = [str(n) for n in names]
    if len(names) != x_t.shape[1]:
        raise ValueError(f"names must name the {x_t.shape[1]} columns of X; got {len(names)}.")
    return x_t, y_t[:, 0], names


class _Search:
    """The candidates found so far, scored on the held-out split."""

    def __init__(self, symbols, x_fit, y_fit, x_val, y_val):
        self.symbols = symbols
        self.x_fit, self.y_fit, self.x_val, self.y_val = x_fit, y_fit, x_val, y_val
        self.var = float(y_val.var()) if len(y_val) > 1 else 1.0
        self.rows: list[dict] = []

    def nmse(self, expr) -> float:
        try:
            pred = Formula(expr, self.symbols).torch()(self.x_val)
        except Exception:  # noqa: BLE001 - a formula that cannot be evaluated scores inf
            return math.inf
        err = float(((pred - self.y_val) ** 2).mean())
        if not math.isfinite(err):
            return math.inf
        return err / self.var if self.var > 0 else err

    def add(self, expr, source: str, model=None) -> None:
        """Refit the constants of ``expr``, snap what can be snapped, and record it."""
        if expr is None or not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan):
            return
        expr, _ = refit_constants(_tidy(expr), self.symbols, self.x_fit, self.y_fit)
        best, best_err = expr, self.nmse(expr)
        for tol in (1e-4, 1e-3):
            snapped = _snap(expr, tol)
            if snapped != expr:
                refit, _ = refit_constants(_tidy(snapped), self.symbols, self.x_fit, self.y_fit)
                err = self.nmse(refit)
                if _close(err, best_err):
                    best, best_err = refit, err
        if complexity(best) <= _SIMPLIFY_MAX:  # e.g. tanh(atanh(u) + atanh(v)) -> (u + v)/(u v + 1)
            other = _tidy(sympy.expand_trig(best))
            if complexity(other) < complexity(best):
                err = self.nmse(other)
                if _close(err, best_err):
                    best, best_err = other, err
        self.rows.append({"complexity": complexity(best), "loss": best_err, "source": source,
                          "formula": best, "model": model})

    def exact(self) -> bool:
        return any(r["loss"] < _EXACT for r in self.rows)

    def choice(self) -> dict | None:
        if not self.rows:
            return None
        top = min(r["loss"] for r in self.rows)
        ok = [r for r in self.rows if _close(r["loss"], top)]
        return min(ok, key=lambda r: (r["complexity"], r["loss"]))


def _power_law(x: Tensor, y: Tensor, symbols):
    """y = C prod x_i^p_i with p_i rounded to halves, if y and every x_i keep one sign."""
    if (x == 0).any() or not _one_sign(y):
        return None
    sy = torch.sign(y)
    a = torch.cat([torch.ones_like(y)[:, None], torch.log(x.abs())], 1)
    sol = torch.linalg.lstsq(a, torch.log(y.abs())[:, None]).solution[:, 0]
    expr = sympy.Float(float(sy[0]) * math.exp(float(sol[0])))
    for s, p in zip(symbols, sol[1:].tolist()):
        half = round(2 * p)
        if half != 0:
            expr = expr * s ** sympy.Rational(half, 2)
    return expr


def _term(xs: Tensor, curve: Tensor, symbol, weight_simple: float):
    """The best library fit c f(a x + b) + d of one curve, as sympy."""
    names = [n for n in SYMBOLIC_LIB if n != "0"]
    best = rank_functions(xs, curve, names, weight_simple)[0]
    a, b, c, d = (sympy.Float(v) for v in best.params)
    return c * get_function(best.name).sympy_fn(a * symbol + b) + d


def _train_once(width, x, t, seed, lamb=0.0, grid=5, fine=20, steps=50, arity=2, mask=None,
                deadline=math.inf):
    """A KAN of ``width`` trained on (x, t): grid ``grid``, then refined to ``fine``.
    ``mask`` (optional) fixes which first-layer edges exist; training stops at ``deadline``
    (time.monotonic())."""
    model = MultKAN(width, grid=grid, k=3, seed=seed, mult_arity=arity, dtype=torch.float64)
    if mask is not None:
        with torch.no_grad():
            model.layers[0].mask.copy_(mask)
    data = {"train_input": x, "train_label": t[:, None]}
    kw = dict(steps=steps, progress=False, callbacks=lambda *_: time.monotonic() > deadline)
    model.fit(data, lamb=lamb, **kw)
    if lamb > 0:
        model = model.prune()
        model.fit(data, **kw)
    if fine > grid:
        model = model.refine(fine)
        model.fit(data, **kw)
    return model


def _train(width, x, t, seed, tries: int = 3, deadline=math.inf, **kw):
    """The best of up to ``tries`` seeds (training can stall in a poor minimum); stops at the
    first that fits t (standardised) to MSE 1e-6, or when the deadline has passed."""
    best, best_err = None, math.inf
    for k in range(tries):
        if k > 0 and time.monotonic() > deadline:
            break
        model = _train_once(width, x, t, seed + k, deadline=deadline, **kw)
        with torch.no_grad():
            err = float(((model(x)[:, 0] - t) ** 2).mean())
        if err < best_err:
            best, best_err = model, err
        if best_err < 1e-6:
            break
    return best


def _separable(x, y, symbols, seed, mode: str, deadline=math.inf):
    """Additive (y = sum g_i) or multiplicative (y = prod g_i) proposal from a [d, 1] KAN."""
    if mode == "mul":
        if not _one_sign(y):
            return None, None
        t = torch.log(y.abs())
    else:
        t = y
    mu, sd = float(t.mean()), float(t.std()) or 1.0
    model = _train([x.shape[1], 1], x, (t - mu) / sd, seed, deadline=deadline)
    expr = sympy.Integer(0) if mode == "add" else sympy.Float(float(torch.sign(y[0])))
    for i, s in enumerate(symbols):
        xs, curve = edge_data(model, 0, i, 0, x)
        curve = curve.double() * sd
        if float(curve.std()) < 1e-6 * max(1.0, float(curve.abs().max())):
            continue  # y does not depend on this variable
        if mode == "add":
            expr = expr + _term(xs, curve, s, 0.8)
        else:
            expr = expr * _term(xs, torch.exp(curve - curve.mean()), s, 0.8)
    if mode == "add":
        expr = expr + sympy.Float(mu)
    return expr, model


def _network(x, y, symbols, seed, width, lamb, weight_simple, **kw):
    """Proposals read off a whole network (auto_symbolic, constants trained, formula), one
    per ``weight_simple``."""
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    t = (y - mu) / sd
    model = _train(width, x, t, seed, lamb=lamb, **kw)
    exprs = []
    for w in weight_simple:
        snapped = model.like()
        snapped.load_state_dict(model.state_dict())
        snapped.auto_symbolic(weight_simple=w, progress=False, x=x)
        snapped.fit({"train_input": x, "train_label": t[:, None]}, steps=20, update_grid=False,
                    progress=False)
        try:
            f = snapped.symbolic_formula(var=symbols, simplify=False, snap_tol=None)[0]
        except ValueError:
            continue
        exprs.append(sd * f + mu)
    return exprs, model


def discover(X, y, names=None, seed: int = 0, budget_s: float | None = None,
             progress: bool = True) -> Discovery:
    """Find a closed-form formula y = f(X).

    X (n, d) and y (n,) as arrays, tensors or pandas objects (DataFrame columns name the
    variables, else ``names``, else x_1 .. x_d). 20% of the samples (chosen with ``seed``)
    are held out to score the candidates. ``budget_s`` bounds the time spent: training stops
    at 80% of it and no route starts after that; reading off and refitting the formulas
    found so far takes the rest (it can overrun a little)."""
    x, y, names = _check_xy(X, y, names)
    symbols = [sympy.Symbol(n) for n in names]
    start = time.monotonic()
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds or None; got {budget_s!r}.")
    # training stops at 80% of the budget, leaving the rest to read and refit formulas
    deadline = math.inf if budget_s is None else start + 0.8 * float(budget_s)
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(x.shape[0], generator=gen)
    n_val = max(4, x.shape[0] // 5)
    val, fit = order[:n_val], order[n_val:][:_MAX_TRAIN]
    search = _Search(symbols, x[fit], y[fit], x[val], y[val])
    d = x.shape[1]
    routes = [
        ("power law", lambda: ([_power_law(x[fit], y[fit], symbols)], None)),
        ("additive", lambda: _wrap(_separable(x[fit], y[fit], symbols, seed, "add", deadline))),
        ("multiplicative", lambda: _wrap(_separable(x[fit], y[fit], symbols, seed, "mul",
                                                    deadline))),
        # y = prod g_i(x_i) with factors that may change sign: one multiplication node whose
        # i-th factor sees x_i alone
        ("product", lambda: _network(x[fit], y[fit], symbols, seed, [d, [0, 1], 1], 0.0, (0.8,),
                                     arity=d, mask=torch.eye(d, dtype=torch.float64), deadline=deadline)
         if d > 1 else ([], None)),
        ("outer function", lambda: _network(x[fit], y[fit], symbols, seed, [d, 1, 1], 0.0,
                                            (0.8, 0.2), deadline=deadline)),
        ("general", lambda: _network(x[fit], y[fit], symbols, seed, [d, 2 * d + 1, 1], 1e-3,
                                     (0.8, 0.2), deadline=deadline)),
    ]
    best_model = None
    bar = tqdm(routes, disable=not progress, desc="discover")
    for name, route in bar:
        if time.monotonic() > deadline:
            break
        bar.set_postfix_str(name, refresh=False)
        exprs, model = route()
        for e in exprs:
            search.add(e, name, model)
        if search.exact():
            break
    bar.close()
    pick = search.choice()
    if pick is None:
        formula, nmse = sympy.Float(float(y[fit].mean())), 1.0
    else:
        formula, nmse, best_model = pick["formula"], pick["loss"], pick["model"]
    return Discovery(formula, 1.0 - nmse, best_model, _table(search.rows), symbols)


def _wrap(pair):
    expr, model = pair
    return [expr], model


def _table(rows):
    import pandas as pd

    table = pd.DataFrame([{k: r[k] for k in ("complexity", "loss", "source", "formula")}
                          for r in rows], columns=["complexity", "loss", "source", "formula"])
    return table.sort_values(["complexity", "loss"]).reset_index(drop=True)
