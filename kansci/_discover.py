"""``discover``: from data to a closed-form law, the KAN 2.0 workflow run automatically.

Several routes propose formulas, cheapest first, each read off a trained KAN:

* power law: log|y| linear in log|x_i| (exponents rounded to halves);
* polynomial: y (or y^2, 1/y, 1/y^2, log|y|) as an exact sparse polynomial of degree <= 4;
* additive:        y = sum_i g_i(x_i)           (a [d, 1] KAN, each edge snapped);
* multiplicative:  y = prod_i g_i(x_i)          (a [d, 1] KAN on log|y|, exp of each edge snapped);
* composition (one variable): y = c f(a h(x) + b) + d for every pair of library functions;
* reduced: a surrogate KAN shows an unused variable, a two-variable symmetry (x_i - x_j,
  x_i + x_j, x_i / x_j, x_i x_j) or an additive / multiplicative split into groups of variables
  (``_reduce``); the smaller problems are solved by these same routes and put back together;
* outer function:  y = F(sum_i g_i(x_i))        (a [d, 1, 1] KAN, auto_symbolic; also on log|y|);
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
from tqdm.auto import tqdm

from . import _reduce as reduce
from . import _routes as routes
from ._data import as_tensor
from ._formula import Formula, refit_constants
from ._model import MultKAN
from ._simplify import SIMPLIFY_MAX, SIMPLIFY_S, complexity, tidy, tidy_exact, within
from ._symbolic import _snap

_EXACT = 1e-12  # held-out NMSE below which a formula counts as exact (ends the search)
_SNAP_EXACT = 1e-9  # snapping constants (dropping tiny terms) may cost this much NMSE
_SNAP_ROUNDS = 3  # snap-and-refit rounds per snapping tolerance
_TOLERANCE = 2.0  # a simpler formula may be this many times less accurate than the best
_MAX_TRAIN = 3000  # samples used to train the networks (the rest only score)
_MAX_DEPTH = 3  # reductions (``_reduce``) applied in a row at most
_SHARE = 0.7  # of the time left, what separated parts may use together (the rest: other routes)


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


def _close(err: float, best: float, exact: float = _EXACT) -> bool:
    """Whether a held-out error ``err`` is acceptable next to ``best`` (within the tolerance
    factor, or below ``exact``)."""
    return err <= max(best * _TOLERANCE, exact)


def _fold_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Every constant sub-expression other than a rational (log(11), 2 pi, ...) as one float,
    so that sums of constants become one number that snapping can read."""
    if expr.is_number and not expr.is_Rational:
        value = complex(expr.evalf())
        return sympy.Float(value.real) if value.imag == 0 else expr
    if not expr.args:
        return expr
    return expr.func(*[_fold_numbers(a) for a in expr.args])


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

    def __init__(self, symbols, x_fit, y_fit, x_val, y_val, exact: float = _EXACT,
                 end: float = math.inf):
        self.symbols, self.exact_level, self.end = symbols, exact, end
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
        if time.monotonic() > self.end:  # the budget is spent: record it as it is
            self._record(expr, self.nmse(expr), source, model)
            return
        best, best_err = self._polish(tidy(expr))
        if best.has(sympy.log):  # log(a x) -> log(a) + log(x): the constants can then combine
            split = _fold_numbers(sympy.expand_log(best, force=True))
            other, err = self._polish(tidy(split))
            if _close(err, best_err, _SNAP_EXACT) and complexity(other) < complexity(best):
                best, best_err = other, err
        if complexity(best) <= SIMPLIFY_MAX:  # e.g. tanh(atanh(u) + atanh(v)) -> (u + v)/(u v + 1)
            other = tidy(within(SIMPLIFY_S, lambda: sympy.expand_trig(best), best))
            if complexity(other) < complexity(best):
                err = self.nmse(other)
                if _close(err, best_err):
                    best, best_err = other, err
        self._record(best, best_err, source, model)

    def _record(self, formula, loss: float, source: str, model) -> None:
        self.rows.append({"complexity": complexity(formula), "loss": loss, "source": source,
                          "formula": formula, "model": model})

    def _polish(self, expr):
        """``expr`` with its constants refitted, then snapped where that costs (almost) no
        accuracy; and its held-out error. Snapping starts from the refitted formula and from
        the last snapped one accepted, and repeats on each refit (a refit after snapping can
        land on constants that snap in turn: 2.9 -> pi only once refitted); of the formulas
        within tolerance of the lowest error, the one with the fewest unsnapped constants
        (then the least complex) is returned."""
        expr, _ = refit_constants(expr, self.symbols, self.x_fit, self.y_fit)
        found = [(expr, self.nmse(expr))]
        lowest = found[0][1]
        for tol in (1e-4, 1e-3):
            for start in dict.fromkeys([expr, found[-1][0]]):  # in order, once each
                current = start
                for _ in range(_SNAP_ROUNDS):
                    snapped = within(SIMPLIFY_S, lambda: _snap(current, tol), current)
                    if snapped == current:
                        break
                    refit, _ = refit_constants(tidy_exact(snapped), self.symbols, self.x_fit,
                                               self.y_fit)
                    err = self.nmse(refit)
                    if not _close(err, lowest, _SNAP_EXACT):
                        break
                    found.append((refit, err))
                    current, lowest = refit, min(lowest, err)
        ok = [(f, e) for f, e in found if _close(e, lowest, _SNAP_EXACT)]
        return min(ok, key=lambda fe: (len(fe[0].atoms(sympy.Float)), complexity(fe[0]), fe[1]))

    def exact(self) -> bool:
        return any(r["loss"] < self.exact_level for r in self.rows)

    def choice(self) -> dict | None:
        if not self.rows:
            return None
        top = min(r["loss"] for r in self.rows)
        ok = [r for r in self.rows if _close(r["loss"], top)]
        return min(ok, key=lambda r: (r["complexity"], r["loss"]))


def discover(X, y, names=None, seed: int = 0, budget_s: float | None = None,
             progress: bool = True) -> Discovery:
    """Find a closed-form formula y = f(X).

    X (n, d) and y (n,) as arrays, tensors or pandas objects (DataFrame columns name the
    variables, else ``names``, else x_1 .. x_d). 20% of the samples (chosen with ``seed``)
    are held out to score the candidates. ``budget_s`` bounds the time spent: training stops
    at 80% of it and no route starts after that; reading off, refitting and snapping the
    formulas found takes the rest, and a formula read off after the whole budget is kept as
    it is (no refit, no snapping), so the call ends soon after ``budget_s``."""
    x, y, names = _check_xy(X, y, names)
    symbols = [sympy.Symbol(n) for n in names]
    start = time.monotonic()
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds or None; "
                         f"got {budget_s!r}.")
    # training stops at 80% of the budget, leaving the rest to read and refit formulas
    deadline = math.inf if budget_s is None else start + 0.8 * float(budget_s)
    end = math.inf if budget_s is None else start + float(budget_s)
    search = _solve(x, y, symbols, seed, deadline, 0, progress, end=end)
    pick = search.choice()
    if pick is None:
        formula, nmse, best_model = sympy.Float(float(search.y_fit.mean())), 1.0, None
    else:
        formula, nmse, best_model = pick["formula"], pick["loss"], pick["model"]
    return Discovery(formula, 1.0 - nmse, best_model, _table(search.rows), symbols)


def _solve(x, y, symbols, seed, deadline, depth: int, progress: bool = False,
           exact: float = _EXACT, end: float = math.inf) -> _Search:
    """Run the routes on (x, y) until one is exact (held-out NMSE below ``exact``) or the
    deadline passes; ``depth`` counts the reductions that led to this problem."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(x.shape[0], generator=gen)
    n_val = max(4, x.shape[0] // 5)
    val, fit = order[:n_val], order[n_val:][:_MAX_TRAIN]
    search = _Search(symbols, x[fit], y[fit], x[val], y[val], exact, end)
    xf, yf = x[fit], y[fit]
    d = x.shape[1]
    net = lambda *args, **kw: routes.network(xf, yf, symbols, seed, *args,  # noqa: E731
                                             deadline=deadline, **kw)
    sep = lambda mode: routes.wrap(routes.separable(xf, yf, symbols, seed, mode,  # noqa: E731
                                                    deadline))
    steps = [
        ("power law", lambda: ([routes.power_law(xf, yf, symbols)], None)),
        ("polynomial", lambda: (routes.polynomial_of_target(xf, yf, symbols), None)),
        ("additive", lambda: sep("add")),
        ("multiplicative", lambda: sep("mul")),
        ("composition", lambda: (routes.composition(xf, yf, symbols), None)),
        ("reduced", lambda: _reduced(xf, yf, symbols, seed, deadline, depth, end)),
        # y = prod g_i(x_i) with factors that may change sign: one multiplication node whose
        # i-th factor sees x_i alone
        ("product", lambda: net([d, [0, 1], 1], 0.0, (0.8,), arity=d,
                                mask=torch.eye(d, dtype=torch.float64)) if d > 1 else ([], None)),
        ("outer function", lambda: net([d, 1, 1], 0.0, (0.8, 0.2))),
        # y = +-exp(F(sum g_i(x_i))): the outer function of log|y|
        ("exp outer function", lambda: net([d, 1, 1], 0.0, (0.8,), log=True)
         if d > 1 and routes.one_sign(yf) else ([], None)),
        ("general", lambda: net([d, 2 * d + 1, 1], 1e-3, (0.8, 0.2))),
    ]
    if d <= 2:  # a small network is cheaper than a surrogate: try it first
        names = [n for n, _ in steps]
        steps.insert(names.index("reduced"), steps.pop(names.index("outer function")))
    bar = tqdm(steps, disable=not progress, desc="discover")
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
    return search


def _reduced(x, y, symbols, seed, deadline, depth, end=math.inf):
    """Proposals from smaller problems (``_reduce``): a surrogate KAN is trained on (x, y);
    if it shows an unused variable or a two-variable symmetry, the problem with one variable
    less (same targets) is solved; else if it is additively or multiplicatively separable,
    each group is solved on the surrogate's values and the parts are combined."""
    d = x.shape[1]
    if d < 2 or depth >= _MAX_DEPTH:
        return [], None
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    n_fit = max(2, int(0.8 * x.shape[0]))
    model = routes.train([d, 2 * d + 1, 1], x[:n_fit], ((y - mu) / sd)[:n_fit], seed, tries=1,
                         fine=10, deadline=deadline)

    def f(z):
        return model(z)[:, 0] * sd + mu

    with torch.no_grad():
        err = float((f(x[n_fit:]) - y[n_fit:]).square().mean().sqrt()) / sd
    g = reduce.gradient(f, x)

    def sub(xs, ys, syms, share=0.85, exact=_EXACT):
        """The choice for a smaller problem, given ``share`` of the time left."""
        now = time.monotonic()
        return _solve(xs, ys, syms, seed, now + share * (deadline - now), depth + 1, end=end,
                      exact=exact).choice()

    drop = reduce.unused(g, x, 3e-3)
    if 0 < len(drop) < d:
        keep = [i for i in range(d) if i not in drop]
        pick = sub(x[:, keep], y, [symbols[i] for i in keep])
        return ([pick["formula"]] if pick else []), model
    # what counts as zero is set from the surrogate's held-out error (calibrated on
    # surrogates at 0.03% to 3%; the statistics are medians over samples). A symmetry's
    # score is about the squared relative error of the gradient, a few times the value error
    sym = reduce.symmetries(g, x, min(max(36 * err ** 2, 1e-3), 0.03))
    if sym:
        s = sym[0]
        u = sympy.Dummy("u")
        keep = [i for i in range(d) if i not in (s.i, s.j)]
        xs = torch.cat([x[:, keep], reduce.combine(s.kind, x[:, s.i], x[:, s.j])[:, None]], 1)
        pick = sub(xs, y, [symbols[i] for i in keep] + [u])
        if pick is None:
            return [], model
        new = reduce.combine(s.kind, symbols[s.i], symbols[s.j])
        return [pick["formula"].xreplace({u: new})], model
    # additive or multiplicative, whichever splits more cleanly (ties: additive)
    thr = min(max(3 * err, 0.01), 0.03)
    splits = {m: reduce.split_with_margin(f, x, thr, m, seed=seed) for m in ("add", "mul")}
    mode = min(splits, key=lambda m: (splits[m][1], m != "add"))
    groups = splits[mode][0]
    if len(groups) == 1:
        return [], model
    with torch.no_grad():
        fx = f(x)
    log = mode == "mul" and routes.one_sign(fx)
    if mode == "add" or log:  # additive (in log|f| for a product of one sign): parts up to
        # constants, averaged over 16 anchors (less noise)
        anchors = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:16]]
    else:  # a product that changes sign: one anchor where f is large (no factor near zero)
        anchors = x[fx.abs().argsort()[int(0.9 * (x.shape[0] - 1))]][None]
    h = (lambda z: torch.log(f(z).abs())) if log else f
    # the surrogate's error in h (in log|f|: relative to |f|)
    h_err = 3 * err * sd / (float(fx.abs().median()) if log else 1.0)
    with torch.no_grad():
        h0 = float(h(anchors).mean())  # each part carries the other parts at the anchors
    parts = []
    for k, G in enumerate(groups):
        t = reduce.anchored(h, x, G, anchors)
        # targets come from the surrogate: a part is as exact as the surrogate's error
        # (relative to the part's own spread) allows; time is shared by number of variables
        noise = min(h_err ** 2 / max(float(t.var()), 1e-300), 0.05)
        pick = sub(x[:, G], t, [symbols[i] for i in G],
                   _SHARE * len(G) / sum(len(rest) for rest in groups[k:]),
                   exact=noise + _EXACT)
        if pick is None:
            return [], model
        parts.append(pick["formula"])
    m = len(parts) - 1
    if mode == "add":
        return [sympy.Add(*parts) - m * sympy.Float(h0)], model
    if log:
        sign = float(torch.sign(fx[0]))
        return [sign * sympy.exp(sympy.Add(*parts) - m * sympy.Float(h0))], model
    return [sympy.Mul(*parts) / sympy.Float(h0) ** m], model


def _table(rows):
    import pandas as pd

    table = pd.DataFrame([{k: r[k] for k in ("complexity", "loss", "source", "formula")}
                          for r in rows], columns=["complexity", "loss", "source", "formula"])
    return table.sort_values(["complexity", "loss"]).reset_index(drop=True)
