"""``discover``: from data to a closed-form law, the KAN 2.0 workflow run automatically.

Several routes propose formulas, cheapest first, each read off a trained KAN:

* power law: log|y| linear in log|x_i| (exponents rounded to halves);
* polynomial: y (or y^2, 1/y, 1/y^2, log|y|) as an exact sparse polynomial of degree <= 4, or
  in the variables and their reciprocals (degree <= 4); on noisy data y by backward elimination
  (for one or two variables each transform so, the best two by BIC);
* rational: y = P(x) / Q(x) with polynomials of degree <= 3 (linear in their coefficients);
  also y^2, y^4, exp(y), sinh(y), log(1 +- y), 1/y - 1, log(1/y - 1) so, and for one or two
  variables, ratios in the variables and one function of each (exp(+-x), log x, sqrt x),
  sparse and exact to 1e-20 (on noisy data of one variable the closest sparse ratios, the
  best two by BIC); y as a root of A(x) y^2 + B(x) y + C(x) = 0 (``_routes``);
* log-linear: log|y| (or log(1/y - 1)) linear in log|x_i|, x_i, 1/x_i, x_i^2, 1/x_i^2 and
  x_j log|x_i| (x^2 exp(-x^2 / 2), p (V1 / V2)^gamma, (L/K)^n / (1 + (L/K)^n));
* periodic: P(x_i) + A(x_i) sin(w x_i + phi), w from a periodogram (oscillations too fast
  for a spline grid);
* additive:        y = sum_i g_i(x_i)           (a [d, 1] KAN, each edge snapped);
* multiplicative:  y = prod_i g_i(x_i)          (a [d, 1] KAN on log|y|, exp of each edge snapped);
* scaling (no units): the scalings x_i -> s^c_i x_i, y -> s^e y that leave the data's law
  unchanged, read off the gradients of a surrogate KAN (``_reduce.scalings``), serve as the
  dimensions of the variables: y = s(x) F(Pi) as with units (``_scaled``); on noisy data
  each group problem is solved where |s| keeps y / s precise (``_precise``);
* wave: y depends on x_i only through sin(w x_i + phi), whose shape the others set: the
  wave takes x_i's place (``_waved``);
* composition (one variable): y = c f(a h(x) + b) + d for every pair of library functions
  (on noisy data run before the KAN routes, and a formula as close as the noise ends the
  search only after it);
* a separated formula (additive, multiplicative, reduced) that is close to the data gets its
  least clean part solved again on the data themselves, the other parts subtracted or divided
  out (``_peel``), then its next part while the formula improves;
* reduced: a surrogate KAN shows an unused variable, a two-variable symmetry (x_i - x_j,
  x_i + x_j, x_i / x_j, x_i x_j) or an additive / multiplicative split into groups of variables
  (``_reduce``); the smaller problems are solved by these same routes and put back together;
* outer function:  y = F(sum_i g_i(x_i))        (a [d, 1, 1] KAN, auto_symbolic; also on log|y|);
* general:         a [d, 2d+1, 1] KAN trained sparse, pruned, auto_symbolic.

Every proposal gets its constants refitted to the training split by least squares, with a
standard error each (``fit_constants``); a constant is snapped to a simple number (1/2, 4 pi)
only where that number lies within two standard errors and a value so precise would rarely
land that near a number so simple by chance (``snap_constant``), and the snapped formula is
kept only if its held-out error is not significantly worse (``_worse``). Exact data keep exact
constants; noisy data keep decimals, rounded to their standard error. Square roots are then
simplified with what the data say of the variables (``_on_domain``).

Proposals are scored on a held-out split of n samples. The pick minimises the Bayesian
information criterion n ln(NMSE) + complexity ln(n), every node of a formula counting as a
parameter and a NMSE below 1e-12 as exact (``_bic``): on noisy data a formula must lower the
error by a factor exp(ln(n) / n) per extra node to be preferred, so a simpler law the data
cannot tell apart wins; ``equations`` lists every candidate.
"""
from __future__ import annotations

import cmath
import itertools
import math
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import sympy
import torch
from tqdm.auto import tqdm

from torch import Tensor

from . import _reduce as reduce
from . import _routes as routes
from ._data import as_tensor
from ._formula import Formula, fit_constants, refit_constants
from ._hypothesis import connected_groups
from ._kanpiler import kanpiler
from ._model import MultKAN
from ._simplify import SIMPLIFY_MAX, SIMPLIFY_S, complexity, rewrite, tidy, tidy_exact
from ._symbolic import expand_numbers, snap_constant
from ._units import buckingham, consistent, unit_table

_EXACT = 1e-12  # held-out NMSE below which a formula counts as exact (ends the search)
_T = 2.0  # paired t statistic above which a formula's held-out error is significantly worse
_WORSE = 10.0  # ratio of held-out NMSE above which a formula is worse whatever the t statistic
_SNAP_ROUNDS = 8  # snap-and-refit rounds per formula (each ends at the first kept snap)
_LOOSE_TRIES = 3  # constants the data do not determine tried at 0 and +-1, per round
_ALONE_MAX = 8  # snappable constants above which they are not also tried one at a time
_GROUP_DEGREE = {1: 14, 2: 8, 3: 5}  # degree of a group's polynomial in ``_factored``'s fits
_SPLIT_SHARE = 0.4  # of the time left, what ``_factored``'s parts may use
_MANY_FLOATS = 16  # fitted floats above which a formula gets one snap round (an approximation)
_ADD_S = 4.0  # seconds the refit, snapping and simplifying of one proposal may take
_EXACT_FLOATS = 4  # fitted floats an exact formula above 1e-20 may have (``_Search.exact``)
_NOISY_FLOATS = 2  # ... and one within the noise, for it to end the search
_MAX_TRAIN = 3000  # samples used to train the networks (the rest only score)
_MAX_DEPTH = 3  # reductions (``_reduce``) applied in a row at most
_SUB_SHARE = 0.85  # of the time left, what a sub-problem after units may use for its search
_SCALING_SHARE = 0.5  # of the time left, what the scaling route may use
_SCALING_FIT = 1000  # samples the scaling route's surrogate is trained on
_NOISY = 1e-3  # noise level (a fraction of std(y)) above which data count as noisy
_WAVE_SHARE = 0.2  # of y's variance about its trend a wave along one variable must explain
_WAVE_SAMPLES = 2000  # samples the wave's frequency and phase are read on
_SHARE = 0.7  # of the time left, what separated parts may use together (the rest: other routes)
_MIN_SAMPLES = 8  # below this discover refuses; below _FEW it warns and cross-validates
_FEW = 20
_PEELED = ("additive", "multiplicative", "split", "product", "reduced")  # routes whose formula ``_peel`` revisits
_PEEL_BELOW = 1e-2  # ... where its held-out NMSE is below this (its structure is right)


@dataclass
class Discovery:
    """What ``discover`` found.

    formula: the picked law (sympy); r2: its held-out R^2 (leave-one-out for fewer than 20
    samples); model: the MultKAN behind it, or compiled from it (``kanpiler``) where no network
    was trained; equations: the table of candidates (``discover`` says what its columns are);
    constants: one row per number in the formula that was fitted (``constant`` as it appears,
    refitted ``value``, standard error ``se``, ``snapped``: replaced by an exact number that
    lies within 2 se); noise: the data's noise level estimated from nearest neighbours, as
    a fraction of std(y) (0 for exact data; an upper estimate where y varies fast)."""

    formula: sympy.Expr
    r2: float
    model: MultKAN
    equations: object  # pandas.DataFrame
    variables: list = field(default_factory=list)
    constants: object = None  # pandas.DataFrame
    noise: float = math.nan

    def as_formula(self) -> Formula:
        return Formula(self.formula, self.variables)

    def latex(self) -> str:
        return self.as_formula().latex()

    def numpy(self):
        return self.as_formula().numpy()

    def torch(self) -> torch.nn.Module:
        return self.as_formula().torch()

    def __repr__(self) -> str:
        return (f"Discovery({self.formula}, r2={self.r2:.6g}, {len(self.equations)} candidates,"
                f" noise={self.noise:.2g})")

    def _repr_html_(self) -> str:
        """Jupyter's view: the law in LaTeX, its held-out R^2 and the noise level, the fitted
        constants with their standard errors, and the candidates folded away."""
        import html

        def table(frame, columns) -> str:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r[c]))}</td>"
                                            for c in columns) + "</tr>"
                           for _, r in frame.iterrows())
            return f"<table><tr>{head}</tr>{rows}</table>"

        noise = f" · noise ≈ {self.noise:.2g} of std(y)" if self.noise > 0 else ""
        parts = [f'<div class="kansci-discovery"><p>$$y = {self.latex()}$$</p>',
                 f"<p>held-out R² = {self.r2:.6g}{noise}</p>"]
        if self.constants is not None and len(self.constants):
            parts.append("<p>fitted constants (value ± standard error):</p>"
                         + table(self.constants, list(self.constants.columns)))
        shown = [c for c in ("complexity", "r2", "formula", "constants", "source", "picked")
                 if c in self.equations.columns]
        parts.append(f"<details><summary>{len(self.equations)} candidates</summary>"
                     f"{table(self.equations, shown)}</details></div>")
        return "".join(parts)


def _cell(value) -> str:
    """A table cell as text: floats to 6 significant digits."""
    if isinstance(value, (float, sympy.Float)):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    return str(value)


def _fold_numbers(expr: sympy.Expr) -> sympy.Expr:
    """Every constant sub-expression other than a rational (log(11), 2 pi, ...) as one float,
    so that sums of constants become one number that snapping can read."""
    if expr.is_number and not expr.is_Rational:
        value = complex(expr.evalf())
        return sympy.Float(value.real) if value.imag == 0 else expr
    if not expr.args:
        return expr
    return expr.func(*[_fold_numbers(a) for a in expr.args])


def _unit_sums(expr: sympy.Expr, symbols, x: Tensor) -> sympy.Expr:
    """Each power (other than a positive integer one) of a sum whose terms all carry a float
    with that sum's largest term on the data x (n, d) made of unit coefficient:
    c / sqrt(a M1 + b M2) = (c / sqrt(a)) / sqrt(M1 + (b / a) M2). The scale of the sum and
    the factor before it are one constant written twice, which the refit cannot pin and
    snapping cannot read; the ratio left inside snaps (b / a = 1)."""
    def unit(e):
        if not (e.is_Pow and e.base.is_Add and e.exp.is_number
                and not (e.exp.is_Integer and e.exp > 0)):
            return e
        terms = [t.as_coeff_Mul() for t in e.base.args]
        if not all(isinstance(c, sympy.Float) for c, _ in terms):
            return e
        sizes = []
        for c, t in terms:
            v = routes.values(c * t, symbols, x)
            sizes.append(-1.0 if v is None else float(v.square().mean()))
        lead = max(range(len(terms)), key=lambda j: sizes[j])
        k = abs(float(terms[lead][0]))
        if sizes[lead] < 0 or k == 0:
            return e
        try:
            factor = k ** float(e.exp)
        except OverflowError:  # (1e-200 + ...)^-2: a scale past the float range, kept inside
            return e
        if not (math.isfinite(factor) and factor > 0):
            return e
        inner = sympy.Add(*[(sympy.sign(c) if j == lead else c / k) * t
                            for j, (c, t) in enumerate(terms)])
        return sympy.Float(factor) * inner ** e.exp

    return expr.replace(lambda e: e.is_Pow, unit)


def _check_xy(X, y, names):
    x_t = as_tensor(X, "X", torch.float64, "cpu")
    y_t = as_tensor(y, "y", torch.float64, "cpu")
    if y_t.shape[1] != 1:
        raise ValueError(f"y must be one column (one target); got shape {tuple(y_t.shape)}.")
    if y_t.shape[0] != x_t.shape[0]:
        raise ValueError(f"y has {y_t.shape[0]} samples but X has {x_t.shape[0]}; they must match.")
    if x_t.shape[0] < _MIN_SAMPLES:
        raise ValueError(f"discover needs at least {_MIN_SAMPLES} samples; got "
                         f"{x_t.shape[0]} sample{'s' if x_t.shape[0] != 1 else ''}.")
    if x_t.shape[0] < _FEW:
        warnings.warn(f"only {x_t.shape[0]} samples: the formula is scored by leave-one-out "
                      "cross-validation, and with so few samples several laws may fit equally "
                      "well.", stacklevel=3)
    if names is None:
        cols = getattr(X, "columns", None)
        names = [str(c) for c in cols] if cols is not None else \
            [f"x_{k + 1}" for k in range(x_t.shape[1])]
    names = [str(n) for n in names]
    if len(names) != x_t.shape[1]:
        raise ValueError(f"names must name the {x_t.shape[1]} columns of X; got {len(names)}.")
    return x_t, y_t[:, 0], names


@dataclass
class _Candidate:
    """A formula with refitted constants: held-out NMSE and residuals (n_val,), the standard
    errors of its floats, and the snaps that led to it [(exact number, value, se)]."""

    formula: sympy.Expr
    nmse: float
    residuals: Tensor
    errors: dict
    snaps: list


def _worse(a: _Candidate, b: _Candidate) -> bool:
    """Whether a's held-out errors are significantly larger than b's: the paired differences
    of squared residuals d = r_a^2 - r_b^2 have mean above ``_T`` standard errors, or a's NMSE
    is over ``_WORSE`` times b's (a few huge residuals, where a blows up near a pole, make the
    t statistic about 1 however large they are); a NMSE below ``_EXACT`` is never worse: both
    are exact."""
    if a.nmse < _EXACT or a.nmse <= b.nmse:
        return False
    if not math.isfinite(a.nmse) or a.nmse > _WORSE * b.nmse:
        return True
    d = a.residuals.square() - b.residuals.square()
    mean, sd = float(d.mean()), float(d.std()) if d.numel() > 1 else 0.0
    return mean > _T * sd / math.sqrt(d.numel())


def _n_floats(expr) -> int:
    return len(expr.atoms(sympy.Float))


def _round_to_error(value: float, se: float) -> float:
    """value rounded to the second significant digit of its standard error."""
    if not (math.isfinite(se) and se > 0 and math.isfinite(value)):
        return value
    digits = 1 - math.floor(math.log10(se))
    return round(value, digits) if digits < 17 else value


class _Search:
    """The candidates found so far, scored on the held-out split."""

    def __init__(self, symbols, x_fit, y_fit, x_val, y_val, exact: float = _EXACT,
                 end: float = math.inf):
        self.symbols, self.exact_level, self.end = symbols, exact, end
        self.until = end  # the end of the current add(): at most ``_ADD_S`` after its start
        self.x_fit, self.y_fit, self.x_val, self.y_val = x_fit, y_fit, x_val, y_val
        self.var = float(y_val.var()) if len(y_val) > 1 else 1.0
        self.rows: list[dict] = []
        self.noisy = False  # whether the data are known to be noisy (``_search_for``)
        self.at_noise = False  # whether ``exact`` is the measured data's noise level

    def seconds(self) -> float:
        """Time one simplification may take: ``SIMPLIFY_S``, or what is left of the budget."""
        return max(0.05, min(SIMPLIFY_S, self.until - time.monotonic()))

    def score(self, expr) -> tuple[float, Tensor]:
        """Held-out NMSE and residuals (n_val,) of ``expr`` (inf and NaNs if it cannot be
        evaluated there)."""
        bad = (math.inf, torch.full_like(self.y_val, math.nan))
        try:
            pred = Formula(expr, self.symbols).torch()(self.x_val)
        except Exception:  # noqa: BLE001 - a formula that cannot be evaluated scores inf
            return bad
        res = pred - self.y_val
        err = float(res.square().mean())
        if not math.isfinite(err) or res.is_complex():
            return bad
        return (err / self.var if self.var > 0 else err), res

    def candidate(self, expr, errors=None, snaps=()) -> _Candidate:
        return _Candidate(expr, *self.score(expr), dict(errors or {}), list(snaps))

    def fitted(self, expr, snaps=()) -> _Candidate:
        """``expr`` with its floats refitted to the training split (and their errors)."""
        refit, _, errors = fit_constants(expr, self.symbols, self.x_fit, self.y_fit)
        return self.candidate(refit, errors, snaps)

    def add(self, expr, source: str, model=None) -> None:
        """Refit the constants of ``expr``, snap what can be snapped, and record it."""
        if expr is None or not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan):
            return
        if time.monotonic() > self.end:  # the budget is spent: record it as it is
            self._record(self.candidate(expr), source, model)
            return
        # simplifying and snapping one formula: at most _ADD_S (a nested formula took 15 s
        # in a dozen simplifications of a second each), the rest of the time for the routes
        self.until = min(self.end, time.monotonic() + _ADD_S)
        best = self._polish(tidy(expr, self.seconds()))
        if best.formula.has(sympy.log) and time.monotonic() < self.until:
            # log(a x) -> log(a) + log(x): the constants can then combine
            split = _fold_numbers(sympy.expand_log(best.formula, force=True))
            other = self._polish(tidy(split, self.seconds()))
            if not _worse(other, best) and complexity(other.formula) < complexity(best.formula):
                best = other
            # log(x^3 + x^2 + x + 1) -> log((x + 1)(x^2 + 1)): the factors a law multiplies
            factored = rewrite(self.seconds(), lambda: best.formula.replace(
                lambda e: isinstance(e, sympy.log) and not e.args[0].atoms(sympy.Float),
                lambda e: sympy.log(sympy.factor(e.args[0]))), best.formula)
            if factored != best.formula and complexity(factored) <= complexity(best.formula):
                cand = self.candidate(factored, best.errors, best.snaps)
                if not _worse(cand, best):
                    best = cand
        if complexity(best.formula) <= SIMPLIFY_MAX and time.monotonic() < self.until:
            # e.g. tanh(atanh(u) + atanh(v)) -> (u + v)/(u v + 1)
            other = tidy(rewrite(self.seconds(), lambda: sympy.expand_trig(best.formula),
                                best.formula), self.seconds())
            if complexity(other) < complexity(best.formula):
                cand = self.candidate(other, best.errors, best.snaps)
                if not _worse(cand, best):
                    best = cand
        self._record(self._on_domain(best), source, model)
        self.until = self.end

    def _on_domain(self, best: _Candidate) -> _Candidate:
        """``best`` with its square roots simplified with what the data say of its variables
        (``_on_domain``), if that is less complex and its held-out error not worse."""
        roots = any(p.exp.is_Rational and p.exp.q == 2 for p in best.formula.atoms(sympy.Pow))
        if not roots or complexity(best.formula) > SIMPLIFY_MAX or time.monotonic() > self.until:
            return best
        other = _on_domain(best.formula, self.symbols, self.x_fit, self.seconds())
        if complexity(other) >= complexity(best.formula):
            return best
        cand = self.candidate(other, best.errors, best.snaps)
        return best if _worse(cand, best) else cand

    def _record(self, cand: _Candidate, source: str, model) -> None:
        """Keep ``cand`` with each float rounded to its standard error (unless that makes
        its held-out error significantly worse: a float whose error is 100 times its size
        rounds to 0, which can take a term away)."""
        rounded = {f: sympy.Float(_round_to_error(float(f), se)) for f, se in cand.errors.items()}
        if any(float(r) != float(f) for f, r in rounded.items()):
            formula = cand.formula.xreplace(rounded)
            errors = {rounded.get(f, f): se for f, se in cand.errors.items()}
            short = self.candidate(formula, errors, cand.snaps)
            if not _worse(short, cand):
                cand = short
        self.rows.append({"complexity": complexity(cand.formula), "nmse": cand.nmse,
                          "source": source, "formula": cand.formula, "model": model,
                          "candidate": cand})

    def _snapped(self, cand: _Candidate):
        """Alternatives to try, in order: every float with a finite standard error snapped
        where ``snap_constant`` allows; then each of those alone (nearest in standard errors
        first); then, one at a time, floats that the data do not determine (infinite error)
        fixed at 0 or +-1. Yields (formula, snaps)."""
        snappable, loose = [], []  # (float, its snap, standard error); floats
        for f in cand.formula.atoms(sympy.Float):
            se = cand.errors.get(f, math.inf)
            if not math.isfinite(se):
                loose.append(f)
                continue
            s = snap_constant(float(f), se=se)
            if not isinstance(s, sympy.Float):
                snappable.append((f, s, se))
        if snappable:
            yield (cand.formula.xreplace({f: s for f, s, _ in snappable}),
                   [(s, float(f), se) for f, s, se in snappable])
        if 1 < len(snappable) <= _ALONE_MAX:  # one wrong snap spoils them all: each alone,
            # nearest first (not for a series of dozens of terms: a refit each, 0.4 s)
            for f, s, se in sorted(snappable, key=lambda t: abs(float(t[1] - t[0])) / t[2]):
                yield cand.formula.xreplace({f: s}), [(s, float(f), se)]
        # factors within 2 se of +-1 that the coincidence test kept (0.988 +- 0.056 and
        # 1.03 +- 0.11 in log(0.988 x + sqrt(1.03 x^2 + 1))): set to +-1 together, with the
        # snaps above, as one choice (a constant fewer each; it stands if the held-out error
        # is not significantly worse)
        units = []
        for f in cand.formula.atoms(sympy.Float):
            se = cand.errors.get(f, math.inf)
            one = 1.0 if float(f) > 0 else -1.0
            if math.isfinite(se) and abs(float(f) - one) <= 2 * se and \
                    all(f != g for g, _, _ in snappable):
                units.append((f, sympy.Integer(int(one)), se))
        if units and len(units) + len(snappable) <= _ALONE_MAX:
            both = snappable + units
            yield (cand.formula.xreplace({f: s for f, s, _ in both}),
                   [(s, float(f), se) for f, s, se in both])
        for f in sorted(loose, key=lambda f: abs(float(f)))[:_LOOSE_TRIES]:
            for s in (sympy.Integer(0), sympy.Integer(1 if float(f) > 0 else -1)):
                yield cand.formula.xreplace({f: s}), [(s, float(f), math.inf)]

    def _polish(self, expr) -> _Candidate:
        """``expr`` with its constants refitted (expanded first, so that numeric factors
        combine), then snapped and refitted for up to ``_SNAP_ROUNDS`` rounds (a refit after
        snapping can land on constants that snap in turn); each round keeps the first
        alternative (``_snapped``) whose held-out error is not significantly worse than the
        lowest seen (one round for a formula of more than ``_MANY_FLOATS`` floats: a series
        that approximates a law, whose snaps cost a refit each). Of the formulas not
        significantly worse than the lowest, the one with the fewest floats, then the least
        complex, is returned."""
        base = rewrite(self.seconds(), lambda: expand_numbers(expr), expr)
        if complexity(base) > max(2 * complexity(expr), 100):  # a product of sums blew up
            base = expr
        base = _unit_sums(base, self.symbols, self.x_fit)
        current = self.fitted(base)
        if base is not expr and not current.nmse <= 2 * self.candidate(expr).nmse:
            # the expanded form did not evaluate, or its refit went astray (1/P^2 over
            # samples near P = 0): the formula as it came
            plain = self.fitted(expr)
            current = plain if plain.nmse < current.nmse else current
        found, lowest = [current], current
        rounds = _SNAP_ROUNDS if _n_floats(current.formula) <= _MANY_FLOATS else 1
        for _ in range(rounds):
            if time.monotonic() > self.until:
                break
            step = None
            for formula, snaps in self._snapped(current):
                if time.monotonic() > self.until:
                    break
                cand = self.fitted(tidy_exact(formula, self.seconds()), current.snaps + snaps)
                if not _worse(cand, lowest):
                    step = cand
                    break
            if step is None:
                break
            found.append(step)
            current = step
            if step.nmse < lowest.nmse:
                lowest = step
        ok = [c for c in found if not _worse(c, lowest)]
        return min(ok, key=lambda c: (_n_floats(c.formula), complexity(c.formula), c.nmse))

    def exact(self) -> bool:
        """Whether a row is exact: held-out NMSE below ``exact_level`` with at most
        ``_EXACT_FLOATS`` fitted floats at the default level (exact data), ``_NOISY_FLOATS``
        at the data's measured noise level (within the noise a quartic with four fitted
        floats passes for log(x + 1) + log(x^2 + 1): the search goes on, and its pick weighs
        complexity), any number at a level the caller set (a part read off a fit), or
        below 1e-20 (a right formula fits exact data to about 1e-28 whatever its floats; an
        approximation with many, such as a polynomial for 2 cos(theta), can come within
        1e-13)."""
        strict = self.exact_level <= _EXACT
        most = _EXACT_FLOATS if strict else _NOISY_FLOATS if self.at_noise else math.inf
        return any(r["nmse"] < self.exact_level and (
            r["nmse"] < 1e-20 or _n_floats(r["formula"]) <= most) for r in self.rows)

    def choice(self) -> dict | None:
        """The row of least BIC (``_bic``)."""
        if not self.rows:
            return None
        n = len(self.y_val)
        return min(self.rows, key=lambda r: (_bic(r["nmse"], r["complexity"], n),
                                             r["complexity"]))


def _on_domain(expr: sympy.Expr, symbols, x: Tensor, seconds: float) -> sympy.Expr:
    """``expr`` simplified on the domain of the data x (n, d): variables that are positive
    there are simplified as positive symbols (sqrt(a^2 b) = a sqrt(b)), and a squared factor
    under a square root (or an absolute value) that keeps one sign s on the data leaves it as
    s times itself (sqrt((rho_f - rho_p)^2 g) = (rho_p - rho_f) sqrt(g) where rho_p > rho_f
    throughout). Factoring and simplifying get ``seconds`` each."""
    pos = {s: sympy.Dummy(s.name, positive=True) for i, s in enumerate(symbols)
           if bool((x[:, i] > 0).all())}
    back = {d: s for s, d in pos.items()}

    def sign_on_data(f: sympy.Expr) -> int:
        v = routes.values(f.xreplace(back), symbols, x)
        if v is None:  # the sign is not known
            return 0
        return 1 if bool((v > 0).all()) else (-1 if bool((v < 0).all()) else 0)

    def roots(e: sympy.Expr) -> sympy.Expr:
        if e.is_Atom:
            return e
        e = e.func(*[roots(a) for a in e.args])
        if isinstance(e, sympy.Abs):  # what positive symbols made of sqrt(f^2)
            s = sign_on_data(e.args[0])
            return s * e.args[0] if s else e
        if not (e.is_Pow and e.exp.is_Rational and e.exp.q == 2 and not e.base.is_number):
            return e
        out, rest = [], []
        for f in sympy.Mul.make_args(sympy.factor(e.base)):
            base, k = f.as_base_exp()
            s = sign_on_data(base) if k.is_Integer and k % 2 == 0 else 0
            if s:
                out.append((s * base) ** (k * e.exp))
            else:
                rest.append(f)
        if not out:
            return e
        return sympy.Mul(*out) * sympy.Mul(*rest) ** e.exp

    positive = expr.xreplace(pos)
    out = rewrite(seconds, lambda: roots(positive), positive)
    return tidy(out, seconds).xreplace(back)


def _bic(nmse: float, complexity: int, n: int) -> float:
    """Bayesian information criterion of a formula on n held-out samples, counting every node
    of the formula as a parameter: n ln(nmse) + complexity ln(n), with NMSE below ``_EXACT``
    counted as ``_EXACT`` (exact formulas differ by complexity alone)."""
    if not math.isfinite(nmse):
        return math.inf
    return n * math.log(max(nmse, _EXACT)) + complexity * math.log(max(n, 2))


def discover(X, y, names=None, seed: int = 0, budget_s: float | None = None,
             progress: bool = True, units=None, y_units=None, task: str | None = None):
    """Find a closed-form formula y = f(X).

    X (n, d) and y (n,) as arrays, tensors or pandas objects (DataFrame columns name the
    variables, else ``names``, else x_1 .. x_d). 20% of the samples (chosen with ``seed``)
    are held out to score the candidates. ``budget_s`` bounds the time spent: training stops
    at 75% of it and no route starts after that; reading off, refitting and snapping the
    formulas found take it to 95%, and a formula read off after that is kept as it is (no
    refit, no snapping), so the call ends by about ``budget_s``.

    Constants are decided against the noise: a fitted constant becomes an exact number only
    within 2 standard errors (and only a number that simple is unlikely to be met by chance,
    ``snap_constant``); else it keeps its decimals, rounded to its standard error
    (``constants`` lists value and error). The pick minimises n ln(NMSE) + complexity ln(n)
    on the n held-out samples (BIC, each node a parameter): on noisy data a simpler law the
    data cannot tell apart wins.

    ``equations`` (a pandas DataFrame, one row per distinct formula, least complex first):
    ``complexity`` (expression nodes; a function 3, a fitted float 2, an exact number 1),
    ``n_constants`` (fitted floats), ``nmse`` (held-out mean squared error over var(y)),
    ``r2`` (1 - nmse), ``score`` (PySR's: -d log(nmse) / d complexity against the previous
    formula of the Pareto front; NaN off the front), ``formula``, ``constants`` (value +- se
    of each float), ``source`` (the route) and ``picked``.

    Classes: ``task="classification"`` treats y as class labels and returns a
    ``ClassDiscovery`` instead: one logit formula per class (the class is their argmax), with
    the held-out accuracy of the formulas and of the network (``kansci._classify``). Without
    ``task``, a y of a few integer values warns that it is regressed as numbers
    (``task="regression"`` says it is meant).

    Units: ``units`` maps every column to its unit and ``y_units`` gives y's, as pint unit
    strings ("kg*m/s**2", "V", "K", "m**-1 * s", "dimensionless") or pint Units/Quantities.
    The problem is then reduced as the Buckingham pi theorem allows (``_units.buckingham``):
    y = s(x) F(Pi_1, .., Pi_k), with s a product of powers of the inputs carrying y's units and
    Pi_g dimensionless groups; F (fewer variables, dimensionless constants) is found by the
    routes and the answer put back together. Every formula returned is checked to be
    dimensionally consistent; a candidate that is not is dropped."""
    if task not in (None, "regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification'; got {task!r}.")
    classes = None
    if task == "classification":  # any labels (strings too): their codes 0..k-1 go on
        values = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(f"y must hold one class label per sample; got shape {values.shape}.")
        classes, codes = np.unique(values, return_inverse=True)
        y = codes.astype(float)
    x, y, names = _check_xy(X, y, names)
    symbols = [sympy.Symbol(n) for n in names]
    start = time.monotonic()
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds or None; "
                         f"got {budget_s!r}.")
    if task == "classification":
        if units is not None or y_units is not None:
            raise ValueError("units apply to regression: class labels have no unit.")
        from ._classify import discover_classes
        return discover_classes(x, y.long(), classes, symbols, seed, budget_s, progress)
    if task is None:
        _warn_if_classes(y)
    dims = None
    if units is not None or y_units is not None:
        if units is None:
            raise ValueError("y_units was given without units: give units={column: unit} for "
                             "every column too.")
        dims = unit_table(names, units, y_units)
        reductions = buckingham(*dims, avoid=_crossing(x))
    # training stops at 75% of the budget, reading and refitting formulas at 95%: what runs
    # on (a training step, a simplification) and the model after the pick fit in the rest
    deadline = math.inf if budget_s is None else start + 0.75 * float(budget_s)
    end = math.inf if budget_s is None else start + 0.95 * float(budget_s)
    if dims is None:
        search = _solve(x, y, symbols, seed, deadline, 0, progress, end=end, measured=True)
    else:
        search = _solve_with_units(x, y, symbols, names, reductions, dims, seed, deadline, end,
                                   progress)
    pick = search.choice()
    if pick is None:
        cand = search.fitted(sympy.Float(float(search.y_fit.mean())))
        search._record(cand, "mean", None)
        pick = search.rows[-1]
    formula, nmse, model = pick["formula"], pick["nmse"], pick["model"]
    r2 = 1.0 - nmse
    if x.shape[0] < _FEW:
        r2 = _loo_r2(formula, symbols, x, y)
    if model is None:
        model = _compiled(formula, symbols, search.rows, x, y)
    noise = min(noise_level(x, y), math.sqrt(max(nmse, 0.0)))  # two upper estimates
    return Discovery(formula, r2, model, _table(search.rows, pick), symbols,
                     _constants(pick["candidate"]), noise)


_CLASSES_MAX = 10  # at most this many distinct integer targets look like class labels


def _warn_if_classes(y: Tensor) -> None:
    """Warn when y (n,) holds a few integer values only (class labels, most likely): discover
    fits a regression formula to them."""
    values = torch.unique(y)
    if y.shape[0] >= 4 * len(values) and len(values) <= _CLASSES_MAX and \
            bool((values == values.round()).all()):
        warnings.warn(
            f"y takes only {len(values)} integer values ({', '.join(f'{v:g}' for v in values[:5].tolist())}"
            f"{', ...' if len(values) > 5 else ''}): if these are classes, discover treats them "
            "as numbers to regress. discover(..., task='classification') finds a logit formula "
            "per class instead; task='regression' says the numbers are meant.",
            UserWarning, stacklevel=3)


def _solve_with_units(x, y, symbols, names, reductions, dims, seed, deadline, end,
                      progress) -> _Search:
    """The reductions solved (``_through``; the pick is made on y), keeping the formulas that
    are dimensionally consistent."""
    top = _search_for(x, y, symbols, seed, end, measured=True)
    _through(top, x, y, symbols, names, reductions, seed, deadline, end, progress, "units")
    kept = []
    for r in top.rows:
        f = r["formula"]
        if not consistent(f, symbols, *dims) and f.has(sympy.log):
            # log(K) - log(L) of one unit, as log(K / L): the same values, consistent
            f = rewrite(top.seconds(), lambda f=f: sympy.logcombine(f, force=True), f)
            if consistent(f, symbols, *dims):
                r = dict(r, formula=f, complexity=complexity(f),
                         candidate=replace(r["candidate"], formula=f))
        if consistent(r["formula"], symbols, *dims):
            kept.append(r)
    top.rows = kept
    return top


def _through(top: _Search, x, y, symbols, names, reductions, seed, deadline, end,
             progress=False, label: str = "units", depth: int = 0,
             check: float | None = None) -> None:
    """Solve y / s = F(Pi) for each reduction in turn (each but the last gets half the time
    left; an exact row of ``top`` ends it) and add to ``top`` the proposals of each
    sub-problem's Pareto front (the six most accurate) and its pick, put back together as
    s F(Pi) (``top`` refits and snaps them against y). With ``check``, a reduction is
    solved only if y / s looks like a function of the groups: its noise level over them
    (``_measured_noise``, a fraction of std) at most ``check``; a wrong one leaves the other
    variables' effect as noise (10% to 70% of std where right ones gave 1e-7). Where y / s
    is noisy (level above ``_NOISY``) it carries y's noise over |s|: the sub-problem is
    solved on the samples where that is small (``_precise``)."""
    for k, red in enumerate(reductions):
        now = time.monotonic()
        if now > deadline or top.exact():
            break
        share = 1.0 if k == len(reductions) - 1 else 0.5
        sub_deadline = now + share * (deadline - now)
        sub_end = now + share * _SUB_SHARE * (end - now)  # the rest: putting answers back
        try:
            pis, scale = red.apply(x, names)
        except ValueError:  # a fractional power of a negative column: not this reduction
            continue
        t = y / scale
        source = f"{label}: {red.scale_expr(symbols)}"
        # y / s a constant: the plainest consistent law, and the whole answer without groups
        top.add(sympy.Float(float(t.mean())) * red.scale_expr(symbols), source)
        if pis.shape[1] == 0:
            continue
        level = _measured_noise(pis, t)
        if level > _NOISY and bool((scale != scale[0]).any()):
            # y's noise over |s|: solved where it is smallest
            keep = _precise(scale)
            pis, t = pis[keep], t[keep]
            level = _measured_noise(pis, t)
        if check is not None and not level <= check:
            continue
        pi_symbols = [sympy.Dummy(f"Pi_{g + 1}") for g in range(pis.shape[1])]
        sub = _solve(pis, t, pi_symbols, seed, sub_deadline, depth, progress, end=sub_end,
                     measured=True)
        pick = sub.choice()
        picks = _front(sub.rows)[-6:] + ([pick] if pick else [])
        seen = set()
        for r in picks:
            if str(r["formula"]) in seen:  # past the end, add() records it as it is
                continue
            seen.add(str(r["formula"]))
            full = red.formula(r["formula"], pi_symbols, symbols)
            top.add(full, f"{source}, {r['source']}", r["model"])


def _crossing(x: Tensor) -> list[int]:
    """The columns of x (n, d) that reach or cross zero: y over a power of one has a pole."""
    return [i for i in range(x.shape[1]) if not routes.one_sign(x[:, i])]


def _precise(scale: Tensor, least: float = 0.25) -> Tensor:
    """Indices of the samples on which y / s is most precise, for noise of one size in y:
    that over s has variance 1/s^2, so of the k samples of largest |s| (k at least ``least``
    of them) the k at which a mean over them is most precise, sum(1/s^2) / k^2 smallest.
    A scale spanning 1 to 30 in v gives 1/v^4 (v^2 / g): without the slow samples the
    groups' noise falls from 200% to about 2% of std (projectile height). scale (n,)."""
    n = scale.shape[0]
    order = scale.abs().argsort(descending=True)
    inv = scale[order].abs().clamp_min(1e-300) ** -2
    k = torch.arange(1, n + 1, dtype=inv.dtype)
    cost = inv.cumsum(0) / k ** 2
    first = min(n, max(int(least * n), 1)) - 1
    best = first + int(cost[first:].argmin())
    return order[:best + 1]


def _front(rows) -> list[dict]:
    """The Pareto front of rows: each more accurate than every less complex one, least
    complex first."""
    out = []
    for r in sorted(rows, key=lambda r: (r["complexity"], r["nmse"])):
        if not out or r["nmse"] < out[-1]["nmse"]:
            out.append(r)
    return out


def _loo_r2(formula, symbols, x, y) -> float:
    """Leave-one-out R^2 of ``formula``'s structure: its floats refitted without each sample
    in turn, that sample predicted."""
    preds = []
    for i in range(x.shape[0]):
        keep = torch.arange(x.shape[0]) != i
        refit, _ = refit_constants(formula, symbols, x[keep], y[keep])
        try:
            preds.append(float(Formula(refit, symbols).torch()(x[i:i + 1])[0]))
        except Exception:  # noqa: BLE001 - not evaluable there
            preds.append(math.nan)
    pred = torch.tensor(preds, dtype=torch.float64)
    var = float(y.var())
    return 1.0 - float((pred - y).square().mean()) / var if var > 0 else math.nan


def _compiled(formula, symbols, rows, x, y) -> MultKAN:
    """A MultKAN for ``formula``: compiled from it (``kanpiler``); for a constant, a [d, 1]
    network with every edge off and the constant as its output bias. Where kanpiler cannot
    lay the formula out, the most accurate network the search trained, or else a [d, 1] KAN
    fitted to (x, y) briefly (the network is then an approximation of the data, not of the
    formula)."""
    d, dtype = len(symbols), x.dtype
    names = [str(s) for s in symbols]
    if formula.is_number:
        model = MultKAN([d, 1], seed=0, dtype=dtype, in_vars=names)
        with torch.no_grad():
            model.layers[0].mask.zero_()
            model.node_bias[0].fill_(float(formula))
        return model
    try:
        return kanpiler(symbols, formula, dtype=dtype)
    except Exception:  # noqa: BLE001 - a formula kanpiler cannot lay out
        pass
    trained = [r for r in rows if r["model"] is not None]
    if trained:
        return min(trained, key=lambda r: r["nmse"])["model"]
    model = MultKAN([d, 1], seed=0, dtype=dtype, in_vars=names)
    model.fit({"train_input": x, "train_label": y[:, None]}, steps=20, progress=False)
    return model


def noise_level(x: Tensor, y: Tensor, queries: int = 2000, k: int = 10) -> float:
    """The noise of y as a fraction of std(y), by the Gamma test (nearest neighbours): for
    the j-th nearest neighbour (j = 1..k; columns standardised) of up to ``queries`` samples,
    delta_j = mean squared distance and gamma_j = half the mean squared difference of y; as
    delta -> 0 the function's own change vanishes, so the intercept of the straight line
    through (delta_j, gamma_j) estimates the noise variance. x (n, d), y (n,)."""
    ok = torch.isfinite(x).all(1) & torch.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.shape[0]
    sd = float(y.std()) if n > 1 else 0.0
    if n < k + 2 or not sd > 0 or not math.isfinite(sd):
        return 0.0
    z = (x - x.mean(0)) / x.std(0).clamp_min(1e-300)
    q = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:queries]
    deltas, gammas = [], []
    for chunk in q.split(500):
        dist = torch.cdist(z[chunk], z)
        dist[torch.arange(len(chunk)), chunk] = math.inf
        near = dist.topk(k, dim=1, largest=False)
        deltas.append(near.values.square())
        gammas.append((y[chunk, None] - y[near.indices]).square() / 2)
    delta, gamma = torch.cat(deltas).mean(0), torch.cat(gammas).mean(0)  # (k,)
    if not bool(torch.isfinite(delta).all() and torch.isfinite(gamma).all()):
        return 0.0  # columns too far apart for their distances (1e300 and 1e-300)
    a = torch.stack([torch.ones_like(delta), delta], 1)
    intercept = float(torch.linalg.lstsq(a, gamma[:, None]).solution[0, 0])
    return math.sqrt(max(intercept, 0.0)) / sd


def _noise_1d(x: Tensor, y: Tensor) -> float:
    """The noise of y over one variable as a fraction of std(y), from each sample's distance
    to the straight line through its two neighbours in x (exact data: its curvature, a tiny
    amount at dense samples): the median of these, over the noise they would have alone,
    is robust to the few places where y turns fast between sparse samples, which lift the
    Gamma test's mean (exp(x) - 1 on [0, 12.5]: 6% of std(y) for exact data). x (n, 1)."""
    order = x[:, 0].argsort()
    u, v = x[order, 0], y[order]
    keep = torch.cat([torch.tensor([True]), u[1:] > u[:-1]])
    u, v = u[keep], v[keep]
    sd = float(y.std())
    if len(u) < 5 or sd == 0:
        return 0.0
    w = (u[2:] - u[1:-1]) / (u[2:] - u[:-2])  # (m - 2,) weight of the left neighbour
    r = (v[1:-1] - w * v[:-2] - (1 - w) * v[2:]) / (1 + w ** 2 + (1 - w) ** 2).sqrt()
    return 1.4826 * float(r.abs().median()) / sd


def _explained(x: Tensor, y: Tensor) -> float:
    """The noise level (``noise_level``) that y may keep over new variables made of x
    (groups, a wave) for them to explain it as well as x does: twice its level over x, plus
    1e-3. x (n, d), y (n,)."""
    return 2 * noise_level(x, y) + 1e-3


def _measured_noise(x: Tensor, y: Tensor) -> float:
    """The noise of measured y (the data, or the data over an exact scale) as a fraction of
    std(y): the Gamma test's (``noise_level``), for one variable the lower of it and the
    neighbours' median (``_noise_1d``), or the latter where the Gamma test's line has no
    positive intercept (z / a over [0, 500], whose few far samples set the line). x (n, d),
    y (n,)."""
    level = noise_level(x, y)
    if x.shape[1] != 1:
        return level
    local = _noise_1d(x, y)
    return local if level == 0 else min(level, local)


def _search_for(x, y, symbols, seed, end=math.inf, exact=_EXACT, measured: bool = False
                ) -> _Search:
    """An empty search over (x, y): 20% of the samples (at least 4, chosen by ``seed``) held
    out to score, at most ``_MAX_TRAIN`` of the rest to fit. A held-out NMSE below ``exact``
    ends the search (for one variable: also one within sampling error of the noise level).
    ``measured``: y are the data's own values (or over an exact scale), not values that carry
    a smooth error of their own (a peeled part: the data over an approximate other part)."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(x.shape[0], generator=gen)
    n_val = max(4, x.shape[0] // 5)
    val, fit = order[:n_val], order[n_val:][:_MAX_TRAIN]
    level = 0.0
    if x.shape[1] <= 2 and x.shape[0] >= 100:
        # one variable: the Gamma test's noise level is sharp, and a formula whose held-out
        # error is within sampling error of it leaves nothing to explain (ends the search);
        # below 0.1% of std(y) the data may be exact and only an exact formula ends it. For
        # measured y the neighbours' median (``_noise_1d``) where lower: the Gamma test reads
        # fast turns between sparse samples as noise; a smooth error it reads as noise too,
        # rightly for a peeled part, which is then as exact as it can be. Two variables:
        # the level only says whether the data are noisy (``_Search.noisy``)
        level = _measured_noise(x, y) if measured else noise_level(x, y)
    at_noise = level > _NOISY and x.shape[1] == 1
    if at_noise:
        exact = max(exact, level ** 2 * (1 + 3 * math.sqrt(2 / n_val)))
    search = _Search(symbols, x[fit], y[fit], x[val], y[val], exact, end)
    # the data's own noise (not a part's smooth error): few floats for the search to end
    search.at_noise = measured and at_noise
    # targets the caller knows to be only so exact (a part of a split, read off polynomials)
    # are noisy too: the noisy routes (ratios by reweighting, transforms by elimination) run
    search.noisy = level > _NOISY or exact > _NOISY ** 2
    return search


def _solve(x, y, symbols, seed, deadline, depth: int, progress: bool = False,
           exact: float = _EXACT, end: float = math.inf, measured: bool = False,
           waves: bool = True) -> _Search:
    """Run the routes on (x, y) until one is exact (held-out NMSE below ``exact``) or the
    deadline passes; ``depth`` counts the reductions that led to this problem; ``measured``
    as for ``_search_for`` (the data themselves, or over an exact scale); ``waves=False``
    skips the wave route (for a problem it made: a wave's amplitude is no wave)."""
    search = _search_for(x, y, symbols, seed, end, exact, measured)
    xf, yf = search.x_fit, search.y_fit
    d = x.shape[1]
    net = lambda *args, **kw: routes.network(xf, yf, symbols, seed, *args,  # noqa: E731
                                             deadline=deadline, **kw)
    sep = lambda mode: routes.wrap(routes.separable(xf, yf, symbols, seed, mode,  # noqa: E731
                                                    deadline))
    steps = [
        ("power law", lambda: (routes.power_law(xf, yf, symbols), None)),
        ("polynomial", lambda: (routes.polynomial_of_target(xf, yf, symbols, search.noisy),
                                None)),
        ("rational", lambda: (routes.rational_of_target(xf, yf, symbols, search.noisy),
                              None)),
        ("log-linear", lambda: (routes.log_linear(xf, yf, symbols, noisy=True), None)),
        ("periodic", lambda: (routes.periodic(xf, yf, symbols), None)),
        ("additive", lambda: sep("add")),
        ("multiplicative", lambda: sep("mul")),
        ("split", lambda: _factored(xf, yf, symbols, seed, deadline, depth, end,
                                      search.exact_level)),
        ("scaling", lambda: _scaled(search, seed, deadline, depth, end)),
        ("wave", lambda: _waved(xf, yf, symbols, seed, deadline, depth, end) if waves
         else ([], None)),
        # on noisy data (one variable: the Gamma test's level) a fit as close as the noise
        # (the five simplest: within the noise, several fit alike and the search's refit
        # on held-out data tells them apart)
        ("composition", lambda: (routes.composition(
            xf, yf, symbols, r2_min=1 - max(1e-6, 2 * search.exact_level),
            top=5 if search.noisy else 3), None)),
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
    if d <= 2:  # small networks are cheaper than a surrogate: try them first (the product
        # first: two edges, where 2 sin(x) cos(y) on [-1, 1]^2 starved after an outer function)
        for route in ("product", "outer function"):
            names = [n for n, _ in steps]
            steps.insert(names.index("reduced"), steps.pop(names.index(route)))
    # on noisy data (one variable) a formula within the noise ends the search only once the
    # library's compositions were tried: a cubic fits sin(x)^2 / 2 on [0.2, 1.4] as well at 2%
    wait = search.exact_level > _EXACT
    if wait:
        names = [n for n, _ in steps]
        steps.insert(names.index("additive"), steps.pop(names.index("composition")))
    bar = tqdm(steps, disable=not progress, desc="discover")
    for name, route in bar:
        if time.monotonic() > deadline:
            break
        bar.set_postfix_str(name, refresh=False)
        try:
            exprs, model = route()
        except RuntimeError:  # linear algebra on degenerate columns (LAPACK refuses NaNs):
            exprs, model = [], None  # this route has nothing to say, the others go on
        for e in exprs:
            search.add(e, name, model)
        done: list[set] = []  # the variables of the parts peeled so far
        while (name in _PEELED and exprs and search.rows
               and search.rows[-1]["nmse"] < _PEEL_BELOW and not search.exact()
               and depth < _MAX_DEPTH and time.monotonic() < deadline):
            # a separated formula close to the data: its least clean part solved again on
            # the data, then the next one while the formula improves
            def solve(xs, t, syms):
                now = time.monotonic()
                return _solve(xs, t, syms, seed, now + 0.3 * (deadline - now), depth + 1,
                              end=end).choice()

            last = search.rows[-1]
            peeled, part = _peel(last["formula"], xf, yf, symbols, solve, done)
            if peeled is None:
                break
            done.append(part)
            search.add(peeled, name, model)
            if search.rows[-1] is last or search.rows[-1]["nmse"] >= last["nmse"]:
                break
        wait = wait and name != "composition"
        if search.exact() and not wait:
            break
    bar.close()
    return search


def _scaled(search: _Search, seed, deadline, depth, end=math.inf):
    """Proposals from the scaling symmetries of the data, added to ``search``: a surrogate
    KAN of log|y| (of y where y changes sign) over log|x_i| (x_i where x_i changes sign) is
    differentiated, and the symmetries it shows (``_reduce.scalings``) serve as the
    dimensions of the variables would: the problem is reduced by Buckingham's theorem and
    solved as with units (``_through``, checked: the surrogate's symmetries are only near
    ones where a small term breaks them), in at most ``_SCALING_SHARE`` of the time left. The
    units of a law give it such symmetries whether or not they are known: t / (R C), E / (R T)
    and the like are found without them. Returns ([], the surrogate)."""
    x, y, symbols = search.x_fit, search.y_fit, search.symbols
    d = x.shape[1]
    if d < 2 or depth > 0 or x.shape[0] < 10 * (d + 1):
        return [], None
    logs = [routes.one_sign(c) for c in x.t()]
    if not any(logs):  # every variable crosses zero: a scaling of them is a rare symmetry
        return [], None
    u = torch.stack([c.abs().log() if lg else c for c, lg in zip(x.t(), logs)], 1)
    log_y = routes.one_sign(y)
    t = y.abs().log() if log_y else y
    mu, sd = float(t.mean()), float(t.std()) or 1.0
    # smooth and cheap: cubic edges on 3 intervals, 1000 samples (the gradients' quality
    # decides; a finer grid fits the values closer but differentiates worse)
    model = routes.train([d, 2 * d + 1, 1], u[:_SCALING_FIT], ((t - mu) / sd)[:_SCALING_FIT],
                         seed, tries=1, grid=3, fine=0, steps=200, deadline=deadline)

    def f(z):
        return model(z)[:, 0] * sd + mu

    g = reduce.gradient(f, u)  # d f / d u_i: x_i d f / d x_i for the log columns
    g = torch.where(torch.tensor(logs), g, g * x)
    with torch.no_grad():
        rhs = torch.ones_like(t) if log_y else f(u)
    bases = reduce.scalings(torch.cat([g, -rhs[:, None]], 1))
    if not bases:
        return [], model
    names = [str(s) for s in symbols]
    check = _explained(x, y)  # a reduction's groups must explain y as well
    now = time.monotonic()
    sub_deadline = now + _SCALING_SHARE * (deadline - now)
    sub_end = now + _SCALING_SHARE * (end - now)
    for k, basis in enumerate(bases):
        now = time.monotonic()
        if now > sub_deadline or search.exact():
            break
        share = 1.0 if k == len(bases) - 1 else 0.5  # the next basis: the rest
        until, until_end = now + share * (sub_deadline - now), now + share * (sub_end - now)
        tags = [f"[scaling {j + 1}]" for j in range(len(basis))]
        dims = [{b: v[i] for b, v in zip(tags, basis)} for i in range(d)]
        try:
            reductions = buckingham(dims, {b: v[d] for b, v in zip(tags, basis)},
                                    avoid=_crossing(x))
        except ValueError:  # y's scaling is none of the inputs': no reduction
            continue
        _through(search, x, y, symbols, names, reductions, seed, until, until_end,
                 label="scaling", depth=depth + 1, check=check)
    return [], model


def _waved(x, y, symbols, seed, deadline, depth, end=math.inf):
    """Proposals where y depends on one variable x_i through a wave u = sin(w x_i + phi),
    in one of two ways, each solved (in at most 30% of the time left; at the same depth, so
    that the scaling route may see y / u, but without waves) and sin(w x_i + phi) put back
    for u:

    * y depends on x_i only through u, whose shape the other variables set: x_i replaced
      by u (Fabry-Perot's 1 / (1 + F sin(delta / 2)^2) = 2 / (2 + F - F cos(delta)));
    * y = u A(x), an amplitude that may depend on x_i too: A solved on the samples where
      |u| >= 1/2 (a damped wave exp(-Pi_1 Pi_2 / 2) cos(Pi_1) in the groups w t and
      b / (m w), whose amplitude decays along the wave's own variable).

    The frequency comes from the periodogram (``routes.frequency``, what the other variables
    do read as noise, at least ``_WAVE_SHARE`` of y's variance about its trend), refined
    where the other variables hardly change (``_wave``). Each way is taken only if its
    target looks like a function of its variables (noise level at most twice y's over x,
    plus 1e-3). Only for the data themselves (depth 0). Returns (formulas, None)."""
    d = x.shape[1]
    if depth > 0 or x.shape[0] < 100:
        return [], None
    out, check = [], None
    u = sympy.Dummy("u")
    for i in range(d):
        if time.monotonic() > deadline:
            break
        found = routes.frequency(x[:, i], y, degree=0, share=_WAVE_SHARE)
        if found is None:
            continue
        wave = _wave(x, y, i, found[0], deadline)
        if wave is None:  # out of time
            break
        w, shape, zero = wave  # sympy numbers
        if check is None:
            check = _explained(x, y)
        problems = []
        if d > 1:
            xs = x.clone()
            xs[:, i] = torch.sin(float(w) * x[:, i] + float(shape))
            if noise_level(xs, y) <= check:
                syms = list(symbols)
                syms[i] = u
                back = sympy.sin(w * symbols[i] + shape)
                problems.append((xs, y, syms, lambda f, b=back: f.xreplace({u: b})))
        ui = torch.sin(float(w) * x[:, i] + float(zero))
        far = ui.abs() >= 0.5  # (a wave of less than a period may have no such samples)
        amplitude = y[far] / ui[far]
        if int(far.sum()) >= 100 and noise_level(x[far], amplitude) <= check:
            back = sympy.sin(w * symbols[i] + zero)
            problems.append((x[far], amplitude, list(symbols), lambda f, b=back: b * f))
        for xs, t, syms, back in problems:
            now = time.monotonic()
            if now > deadline:
                break
            pick = _solve(xs, t, syms, seed, now + 0.3 * (deadline - now), depth, end=end,
                          waves=False).choice()
            if pick is not None:
                out.append(back(pick["formula"]))
    return out, None


def _wave(x: Tensor, y: Tensor, i: int, w0: float, deadline: float, queries: int = 300,
          k: int = 40):
    """(w, phi_shape, phi_zero) of the wave along x_i near the periodogram's w0, read where
    the other variables hardly change: in the neighbourhoods of ``queries`` samples (their
    ``k`` nearest in the other variables, standardised; at most ``_WAVE_SAMPLES`` samples),
    each sorted by x_i.

    w, two ways, each over 0.9 w0 .. 1.1 w0 then finer grids (the periodogram's peak moves
    with what the other variables do to the wave: 5% on a Fabry-Perot etalon's peaks, 0.4%
    on a damped wave, a phase error of 0.2 rad over its 8 periods):

    * string length: y ordered by the phase w x_i mod 2 pi in each neighbourhood, the
      summed squared steps between neighbours in phase (any shape of wave: the etalon's
      sharp peaks);
    * zero crossings, where y changes sign (a wave A sin(w x_i + phi) crosses zero at
      w x_i + phi = 0 mod pi whatever its amplitude A does: a damped wave): the crossings
      x0 (linear interpolation between neighbours in x_i) make |sum s exp(2 i w x0)| largest,
      s the slope there (a crossing made by noise is flat).

    The first within 2e-3 of a simple number (1, 2 pi, ...) is taken as that number, else
    the crossings' (where y changes sign at 20 places or more), else the string length's.
    phi_shape makes y most nearly a function of (the others, sin(w x_i + phi)) (Gamma
    test); phi_zero puts the crossings at sin(w x0 + phi) = 0 (within 0.02 of the truth on
    a damped wave, whose decay shifts the interpolated crossings; the final refit corrects
    it). Phases within 1e-2 (1e-3) of a rational multiple of pi are taken as that. Returns
    sympy numbers, or None once the deadline passes."""
    x, y = x[:_WAVE_SAMPLES], y[:_WAVE_SAMPLES]  # in random order already
    rest = [j for j in range(x.shape[1]) if j != i]
    z = x[:, rest]  # (n, d - 1); with no other variable every sample is a neighbour
    if rest:
        z = (z - z.mean(0)) / z.std(0).clamp_min(1e-300)
    k = min(k, x.shape[0])
    near = torch.cdist(z[:queries], z).topk(k, dim=1, largest=False).indices  # (q, k)
    mid = float(x[:, i].mean())
    v, t = x[:, i][near] - mid, y[near]  # (q, k); centred: the phases stay well conditioned
    order = v.argsort(1)
    v, t = v.gather(1, order), t.gather(1, order)
    a, b, va, vb = t[:, :-1], t[:, 1:], v[:, :-1], v[:, 1:]
    cross = (a * b < 0) & (vb > va)
    x0 = (va - a * (vb - va) / (b - a))[cross]  # (crossings,)
    slope = ((b - a).abs() / (vb - va))[cross]
    slope = slope / slope.max() if len(slope) else slope

    def string(w):
        by_phase = torch.remainder(w * v, 2 * math.pi).argsort(1)
        ts = t.gather(1, by_phase)
        return float((ts.roll(-1, 1) - ts).square().sum())

    def crossings(w):  # a complex sum: its size says how well w lines the crossings up
        arg = 2 * w * x0
        return complex(float((slope * torch.cos(arg)).sum()), float((slope * torch.sin(arg)).sum()))

    costs = [string] + ([lambda w: -abs(crossings(w))] if len(x0) >= 20 else [])
    found = []
    for cost in costs:
        best, width = w0, 0.1 * w0
        for _ in range(4):
            if time.monotonic() > deadline:
                return None
            best = min((best + width * j / 10 for j in range(-10, 11)), key=cost)
            width /= 10
        found.append(snap_constant(best, 2e-3))
    w = next((f for f in found if not isinstance(f, sympy.Float)), found[-1])
    wf = float(w)
    zero = -cmath.phase(crossings(wf)) / 2 - wf * mid if len(x0) else 0.0

    def spread(phase):  # how far y is from a function of (the others, sin(w x_i + phase))
        u = torch.sin(wf * x[:, i] + phase)[:, None]
        return noise_level(torch.cat([x[:, rest], u], 1), y, queries=500)

    shape, width = 0.0, math.pi
    for steps in (18, 5, 5):
        if time.monotonic() > deadline:
            return None
        shape = min((shape + width * j / steps for j in range(-steps, steps + 1)), key=spread)
        width /= steps
    return w, _phase(shape, 2 * math.pi, 1e-2), _phase(zero, math.pi, 1e-3)


def _phase(value: float, period: float, tol: float):
    """A phase reduced to (-period / 2, period / 2], as a rational multiple of pi (q <= 12)
    where one lies within ``tol`` relative (sympy), else as a Float."""
    value = math.remainder(value, period)
    s = snap_constant(value, tol)
    return s if s == 0 or (s / sympy.pi).is_Rational else sympy.Float(value)


def _chebyshev(v: Tensor, degree: int) -> Tensor:
    """Chebyshev polynomials T_0 .. T_degree of v (n,) mapped onto [-1, 1]: (n, degree + 1)."""
    lo, hi = float(v.min()), float(v.max())
    u = (2 * v - (lo + hi)) / max(hi - lo, 1e-300)
    cols = [torch.ones_like(u), u]
    for _ in range(degree - 1):
        cols.append(2 * u * cols[-1] - cols[-2])
    return torch.stack(cols[:degree + 1], 1)


def _group_basis(x: Tensor, group: list[int]) -> Tensor:
    """Products of Chebyshev polynomials of the variables in ``group`` (of x (n, d)) of
    total degree at most ``_GROUP_DEGREE[len(group)]``, the constant first: (n, terms)."""
    degree = _GROUP_DEGREE[len(group)]
    cheb = [_chebyshev(x[:, i], degree) for i in group]
    cols = []
    for powers in itertools.product(range(degree + 1), repeat=len(group)):
        if sum(powers) <= degree:
            col = cheb[0][:, powers[0]]
            for c, p in zip(cheb[1:], powers[1:]):
                col = col * c[:, p]
            cols.append(col)
    return torch.stack(cols, 1)


def _split_fit(bases: list[Tensor], y: Tensor, mode: str, sweeps: int = 15):
    """y as a sum ("add") or a product ("mul") of one smooth function per group of variables,
    each a polynomial in its group's basis (``_group_basis``, (n, terms) each): for a sum
    one least squares; for a product alternating least squares, each factor fitted with the
    others held (a linear problem; factors may change sign, unlike a fit of log|y|).
    Returns (each group's function's values (n, groups), NMSE of the sum or product)."""
    n, k = y.shape[0], len(bases)
    var = float(y.var()) or 1.0
    if mode == "add":
        a = torch.cat([bases[0]] + [b[:, 1:] for b in bases[1:]], 1)  # one constant
        coef = torch.linalg.lstsq(a, y[:, None]).solution[:, 0]
        sizes = [bases[0].shape[1]] + [b.shape[1] - 1 for b in bases[1:]]
        parts = torch.split(coef, sizes)
        g = torch.stack([bases[0] @ parts[0]] + [b[:, 1:] @ c for b, c in zip(bases[1:], parts[1:])], 1)
        return g, float((g.sum(1) - y).square().mean()) / var
    g = torch.ones(n, k, dtype=y.dtype)
    err = math.inf
    for _ in range(sweeps):
        for i in range(k):
            others = torch.prod(torch.cat([g[:, :i], g[:, i + 1:]], 1), 1)
            coef = torch.linalg.lstsq(bases[i] * others[:, None], y[:, None]).solution[:, 0]
            gi = bases[i] @ coef
            size = float(gi.abs().max())
            if not size > 0 or not math.isfinite(size):
                return g, math.inf
            g[:, i] = gi / size if i < k - 1 else gi  # the scale rides on the last factor
        new = float((g.prod(1) - y).square().mean()) / var
        if not new < 0.999 * err:
            err = min(err, new)
            break
        err = new
    return g, err


def _splits(d: int) -> list[list[list[int]]]:
    """The ways ``_factored`` tries to split d variables: each alone, then in two groups
    of at most three variables each (each unordered pair of groups once)."""
    out = [[[i] for i in range(d)]]
    for size in range(1, d // 2 + 1):
        for A in itertools.combinations(range(d), size):
            B = [i for i in range(d) if i not in A]
            if len(B) <= 3 and (2 * size < d or 0 in A) and (size, len(B)) != (1, 1):
                out.append([list(A), B])
    return out


def _factored(x, y, symbols, seed, deadline, depth, end=math.inf, level: float = 0.0):
    """y as a sum or product of functions of disjoint groups of variables, factors that may
    change sign included (2 sin(x) cos(y) on [-1, 1]^2, cos(theta) (v - 1 / v), or
    (1 - Pi^4) e1 e2 / (e1 + e2 - e1 e2)): of the splits (``_splits``) whose polynomial fit
    (``_split_fit``) comes within y's noise (``level``, an NMSE) plus 1e-7, the one with
    the most groups (then the closest) is taken. Each group's function is then solved as a
    smaller problem: y less the other parts, or y over them where they are largest (the
    upper half of |their product|), time shared by number of variables (``_SPLIT_SHARE`` of
    the time left in all; up to four variables); the sum or product of the answers is
    proposed (``discover`` refits its constants, and solves its least clean part again on
    the data, ``_peel``: the parts' targets are only as exact as the polynomials). Returns
    (formulas, None)."""
    d = x.shape[1]
    if d < 2 or d > 4 or depth >= _MAX_DEPTH:
        return [], None
    deadline = time.monotonic() + _SPLIT_SHARE * (deadline - time.monotonic())
    best = None
    for groups in _splits(d):
        if time.monotonic() > deadline:
            return [], None
        bases = [_group_basis(x, G) for G in groups]
        for mode in ("add", "mul"):
            g, err = _split_fit(bases, y, mode)
            if err < level + 1e-7 and (best is None or (-len(groups), err) < best[0]):
                best = ((-len(groups), err), groups, mode, g)
    if best is None:
        return [], None
    (_, err), groups, mode, g = best
    parts = []
    for k, G in enumerate(groups):
        now = time.monotonic()
        if now > deadline:
            return [], None
        rest = torch.cat([g[:, :k], g[:, k + 1:]], 1)
        if mode == "add":
            keep, t = torch.ones_like(y, dtype=torch.bool), y - rest.sum(1)
        else:
            others = rest.prod(1)
            keep = others.abs() >= others.abs().median()
            t = y[keep] / others[keep]
            if int(keep.sum()) < _MIN_SAMPLES or not bool(torch.isfinite(t).all()):
                return [], None  # the other parts vanish (or overflow) on the data
        share = len(G) / sum(len(H) for H in groups[k:])
        pick = _solve(x[keep][:, G], t, [symbols[i] for i in G], seed,
                      now + share * (deadline - now), depth + 1, end=end,
                      exact=100 * err + 1e-9).choice()
        if pick is None:
            return [], None
        parts.append(pick["formula"])
    return [sympy.Add(*parts) if mode == "add" else sympy.Mul(*parts)], None


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

    # an unused variable's measured effect is a few times the surrogate's held-out error
    drop = reduce.unused(g, x, min(max(4 * err, 3e-3), 0.03))
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


def _groups(formula, symbols) -> tuple[str, list[tuple[sympy.Expr, set]]] | None:
    """A formula as a sum ("add") or a product ("mul") of parts over disjoint sets of
    variables: (mode, [(part, its variables)]) with at least two parts, else None. Numbers
    go with the first part."""
    index = {s: i for i, s in enumerate(symbols)}
    for mode, op in (("mul", sympy.Mul), ("add", sympy.Add)):
        args = op.make_args(formula)
        own = [sorted(index[v] for v in a.free_symbols if v in index) for a in args]
        # arguments that share a variable belong to one part
        linked = [(vs[0], v) for vs in own for v in vs[1:]]
        parts = [g for g in connected_groups(len(symbols), linked)
                 if any(g[0] in vs for vs in own)]
        if len(parts) < 2:
            continue
        numbers = [a for a, vs in zip(args, own) if not vs]
        out = []
        for g in parts:
            members = [a for a, vs in zip(args, own) if vs and vs[0] in g]
            out.append((op(*members), {symbols[i] for i in g}))
        if numbers:
            out[0] = (op(out[0][0], *numbers), out[0][1])
        return mode, out
    return None


def _peel(formula, x, y, symbols, solve, done=()):
    """``formula``, a sum or product of parts over disjoint variables (``_groups``), with its
    most complex part (and the variables it lacks) solved again on the data: y minus the other
    parts, or y divided by them, depends on those variables alone, as exactly as the other
    parts are right (e.g. the factor sqrt(cos(theta)) of 2 pi sqrt(L cos(theta) / g), which a
    separable fit read off as an approximation). ``solve(xs, t, syms)`` returns the choice of
    the smaller problem. Parts over the variable sets in ``done`` (solved on the data
    already) are left as they are. Returns (the new formula, the variables of the part solved
    again), or (None, None)."""
    split = _groups(formula, symbols)
    if split is None:
        return None, None
    mode, parts = split
    open_ = [k for k in range(len(parts)) if parts[k][1] not in done]
    if not open_:
        return None, None
    j = max(open_, key=lambda k: complexity(parts[k][0]))
    unused = set(symbols) - formula.free_symbols
    G = [i for i, s in enumerate(symbols) if s in parts[j][1] or s in unused]
    if len(G) == len(symbols):
        return None, None
    op = sympy.Mul if mode == "mul" else sympy.Add
    rest = op(*(p for k, (p, _) in enumerate(parts) if k != j))
    r = routes.values(rest, symbols, x)
    if r is None:  # parts that cannot be evaluated: nothing to peel
        return None, None
    if mode == "add":
        keep, t = torch.ones_like(y, dtype=torch.bool), y - r
    else:  # away from the other parts' zeros, where dividing by them amplifies their error
        keep = r.abs() > r.abs().quantile(0.1)
        t = y[keep] / r[keep]
    if int(keep.sum()) < 8 or float(t.std()) == 0.0:
        return None, None
    pick = solve(x[keep][:, G], t, [symbols[i] for i in G])
    if pick is None:
        return None, None
    new = rest + pick["formula"] if mode == "add" else rest * pick["formula"]
    return new, {symbols[i] for i in G}


def _constants(cand: _Candidate):
    """The fitted numbers of the pick: floats with their errors, then the snapped ones."""
    import pandas as pd

    rows = [{"constant": f, "value": float(f), "se": se, "snapped": False}
            for f, se in sorted(cand.errors.items(), key=lambda fe: str(fe[0]))
            if f in cand.formula.atoms(sympy.Float)]
    rows += [{"constant": s, "value": v, "se": se, "snapped": True} for s, v, se in cand.snaps]
    return pd.DataFrame(rows, columns=["constant", "value", "se", "snapped"])


def _uncertainties(cand: _Candidate) -> str:
    floats = sorted(cand.formula.atoms(sympy.Float), key=lambda f: str(f))
    return "; ".join(f"{float(f):.6g} ± {cand.errors.get(f, math.inf):.2g}" for f in floats)


def _table(rows, pick):
    """One row per distinct formula (the lowest error of its duplicates), least complex first;
    the Pareto front's rows get PySR's score."""
    import pandas as pd

    best: dict[str, dict] = {}
    for r in rows:
        key = str(r["formula"])
        if key not in best or r["nmse"] < best[key]["nmse"]:
            best[key] = r
    ordered = sorted(best.values(), key=lambda r: (r["complexity"], r["nmse"]))
    front = _front(ordered)
    scores = {id(front[0]): 0.0} if front else {}
    for prev, r in zip(front, front[1:]):
        if r["complexity"] > prev["complexity"]:
            drop = math.log(max(r["nmse"], 1e-32)) - math.log(max(prev["nmse"], 1e-32))
            scores[id(r)] = -drop / (r["complexity"] - prev["complexity"])
    out = []
    for r in ordered:
        score = scores.get(id(r), math.nan)
        cand = r["candidate"]
        out.append({"complexity": r["complexity"], "n_constants": _n_floats(r["formula"]),
                    "nmse": r["nmse"], "r2": 1.0 - r["nmse"], "score": score,
                    "formula": r["formula"], "constants": _uncertainties(cand),
                    "source": r["source"], "picked": str(r["formula"]) == str(pick["formula"])})
    columns = ["complexity", "n_constants", "nmse", "r2", "score", "formula", "constants",
               "source", "picked"]
    return pd.DataFrame(out, columns=columns)
