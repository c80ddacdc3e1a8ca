"""The routes of ``discover``: each trains a small KAN of one shape (or none) on (x, y) and
reads formulas off it. x (n, d) and y (n,) are float64; formulas are sympy over ``symbols``.
"""
from __future__ import annotations

import itertools
import math
import time

import sympy
import torch
from torch import Tensor

from ._formula import Formula
from ._model import MultKAN
from ._symbolic import edge_data, rank_functions, snap_constant
from ._symbolic_lib import SYMBOLIC_LIB, get_function


def one_sign(t: Tensor) -> bool:
    """Whether t has no zeros and a single sign (so log|t| exists and keeps the sign)."""
    return not (t == 0).any() and bool((torch.sign(t) == torch.sign(t[0])).all())


def power_law(x: Tensor, y: Tensor, symbols):
    """y = C prod x_i^p_i, if every x_i keeps one sign: log|y| fitted linear in log|x_i| by
    least squares, then each p_i rounded to halves (the caller refits C). Where noise makes a
    few y cross zero, the fit uses the samples of the main sign in the top 30% of |y| (there
    the noise is small next to y), and the exponents are also returned unrounded, for the
    refit and its standard errors to decide (only if at least 70% of y share one sign).
    Returns a list of formulas."""
    if (x == 0).any() or not bool((x > 0).all(0).logical_or((x < 0).all(0)).all()):
        return []
    share = float((y > 0).double().mean())
    sign = 1.0 if share >= 0.5 else -1.0
    clean = one_sign(y)
    if not clean and max(share, 1 - share) < 0.7:  # y itself changes sign: not a power law
        return []
    # with noise, the largest 30% of |y| (of the main sign), where y stands above the noise
    use = (sign * y > 0) if clean else (sign * y > (sign * y).quantile(0.7).clamp_min(0))
    if int(use.sum()) <= x.shape[1] + 1:
        return []
    a = torch.cat([torch.ones(int(use.sum()), 1, dtype=x.dtype), torch.log(x[use].abs())], 1)
    sol = torch.linalg.lstsq(a, torch.log((sign * y[use]).abs())[:, None]).solution[:, 0]
    scale = sympy.Float(sign * math.exp(float(sol[0])))
    halves = scale * sympy.Mul(*[s ** sympy.Rational(round(2 * p), 2)
                                 for s, p in zip(symbols, sol[1:].tolist())])
    if clean:
        return [halves]
    loose = scale * sympy.Mul(*[s ** sympy.Float(p) for s, p in zip(symbols, sol[1:].tolist())
                                if abs(p) > 1e-3])
    return [halves, loose]


def log_linear(x: Tensor, y: Tensor, symbols, noisy: bool = False, max_features: int = 60):
    """y = C prod x_i^p_i exp(sum of terms in x_i, 1/x_i, x_i^2, 1/x_i^2, x_i x_j, x_i / x_j)
    and, for a few variables, with exponents linear in another variable (x_i^(a x_j)): for y
    of one sign, log|y| is a sparse linear combination of log|x_i|, x_i, 1/x_i, x_i^2,
    1/x_i^2, x_i x_j, x_i / x_j and x_j log|x_i| (``polynomial`` of degree 1 in these
    features, at most ``max_features`` of them: an exact fit, else, with ``noisy``, backward
    elimination on the samples of larger |y|). E.g. x^2 exp(-x^2 / 2), r^2 exp(-2 r),
    a S exp(-b S), p (V1/V2)^gamma, x^y; and for 0 < y < 1, 1/(1 + that) exactly (Hill's
    (L/K)^n / (1 + (L/K)^n)); where log|y| has no such form, log(1 + y) or log(1 - y)
    (y = exp(that) - 1, 1 - exp(that)). With ``noisy``, where no fit is exact, also weighted
    least squares, each row times the inverse of the noise the transform carries (|y| for
    log|y|, 1 +- y for log(1 +- y), y (1 - y) for log(1/y - 1)), on the samples of y's usual
    sign (of y in (0, 1)), so y may cross 0 (or 1) by a little noise. Returns a list of
    formulas."""
    signed = one_sign(y)
    # noisy values of a function of one sign that comes near 0, or into (0, 1): noise
    # takes some across 0 (or 1)
    top = float(y.abs().max())
    sign = float(torch.sign(y.sum()))
    positive = (sign * y > 0) if noisy and float((sign * y).min()) > -0.05 * top else None
    if positive is not None and float(positive.double().mean()) < 0.8:
        positive = None
    logistic = noisy and float(y.min()) > -0.05 and float(y.max()) < 1.05 and \
        float(((y > 0) & (y < 1)).double().mean()) > 0.8
    if not (signed or logistic or positive is not None) or x.shape[0] < 3 * max_features:
        return []
    cols, feats = [], []
    logs = {}  # variable of one sign: (log|x_i| (n,), as sympy)
    for i, s in enumerate(symbols):
        v = x[:, i]
        cols += [v, v ** 2]
        feats += [s, s ** 2]
        if not bool((v == 0).any()):
            cols += [1 / v, v ** -2]
            feats += [1 / s, s ** -2]
            if one_sign(v):
                logs[i] = (torch.log(v.abs()), sympy.log(s if float(v[0]) > 0 else -s))
                cols.append(logs[i][0])
                feats.append(logs[i][1])
    for i, j in itertools.permutations(range(len(symbols)), 2):
        if len(cols) + 3 > max_features:
            break
        if i < j:
            cols.append(x[:, i] * x[:, j])
            feats.append(symbols[i] * symbols[j])
        if not bool((x[:, j] == 0).any()):
            cols.append(x[:, i] / x[:, j])
            feats.append(symbols[i] / symbols[j])
        if j in logs:
            cols.append(x[:, i] * logs[j][0])
            feats.append(symbols[i] * logs[j][1])
    a, found = torch.stack(cols, 1), []
    t = torch.log(y.abs())  # (-inf where y = 0: such rows are left out below)
    p = polynomial(a, t, feats, max_degree=1, noisy=False) if signed else None
    if p is None and noisy and (signed or positive is not None):
        # where |y| is small its log is mostly noise: the upper 70%; and, weighted, every
        # row (of y's usual sign) times |y| (log|y| carries y's noise over |y|)
        tries = [(y.abs() >= y.abs().quantile(0.3), None)] if signed else []
        if positive is not None:
            tries.insert(0, (positive, y[positive].abs()))
        for rows, w in tries:
            q = polynomial(a[rows], t[rows], feats, max_degree=1, max_noisy=6, weights=w)
            found += [sign * sympy.exp(e) for e in _and_dominant(q, a[rows], t[rows], feats, w)]
    elif p is not None:
        return [sign * sympy.exp(p)]
    if not found:
        # y = +-(exp(that) - 1) (Shockley's exp(V / (n V_T)) - 1, a charging 1 - exp(-t/tau)):
        # log(1 + y) or log(1 - y) of that form; at noise weighted by 1 +- y, its noise there
        for s_ in (1.0, -1.0):
            u = 1 + s_ * y
            inside = u > 0
            if not bool(inside.all()) and not (noisy and float(inside.double().mean()) > 0.9):
                continue
            t = torch.log(u[inside])
            p = polynomial(a, t, feats, max_degree=1, noisy=False) if bool(inside.all()) \
                else None
            if p is not None:
                return [s_ * (sympy.exp(p) - 1)]
            if noisy:
                q = polynomial(a[inside], t, feats, max_degree=1, max_noisy=6, weights=u[inside])
                found += [s_ * (sympy.exp(e) - 1)
                          for e in _and_dominant(q, a[inside], t, feats, u[inside])]
    if bool(((y > 0) & (y < 1)).all()):  # logistic: 1/y - 1 of that form (exact)
        p = polynomial(a, torch.log(1 / y - 1), feats, max_degree=1, noisy=False)
        if p is not None:
            return found + [1 / (1 + sympy.exp(p))]
    if logistic:
        # noisy y in (0, 1): log(1/y - 1) carries y's noise over y (1 - y), its rows
        # weighted so, on the samples where that noise is small against y and 1 - y (the
        # transform bends it elsewhere, and a sample pushed out of (0, 1) has no log). With
        # thousands of samples the bending still makes small terms significant: more are
        # let through, the refit on y itself (``_Search``) then sets them to 0
        inside = (y > 0.05) & (y < 0.95)
        v = y[inside]
        t, w = torch.log(1 / v - 1), v * (1 - v)
        q = polynomial(a[inside], t, feats, max_degree=1, max_noisy=10, weights=w) \
            if len(v) >= 3 * a.shape[1] else None
        found += [1 / (1 + sympy.exp(e)) for e in _and_dominant(q, a[inside], t, feats, w)]
    return found


def _and_dominant(q, a: Tensor, t: Tensor, feats, w: Tensor | None, share: float = 0.1):
    """[q] and, where some of its terms are small, q's dominant terms refitted: those whose
    effect |c| rms(feature) over the rows of ``a`` (n, features) is at least ``share`` of the
    largest (a fit of a transformed noisy target keeps small terms the transform's bending
    makes significant: Hill's log(1/y - 1) = -n log p came with six more). [] for q None."""
    if q is None:
        return []
    index = {f: k for k, f in enumerate(feats)}
    effects = {}
    for term in sympy.Add.make_args(q):
        c, rest = term.as_coeff_Mul()
        if rest in index:
            k = index[rest]
            effects[k] = abs(float(c)) * float(a[:, k].square().mean().sqrt())
    if not effects:
        return [q]
    top = max(effects.values())
    keep = sorted(k for k, e in effects.items() if e >= share * top)
    if len(keep) == len(effects):
        return [q]
    small = polynomial(a[:, keep], t, [feats[k] for k in keep], max_degree=1,
                       max_noisy=len(keep) + 1, weights=w)
    return [q] if small is None else [q, small]


def _term(xs: Tensor, curve: Tensor, symbol, weight_simple: float):
    """The best library fit c f(a x + b) + d of one curve, as sympy."""
    names = [n for n in SYMBOLIC_LIB if n != "0"]
    best = rank_functions(xs, curve, names, weight_simple)[0]
    a, b, c, d = (sympy.Float(v) for v in best.params)
    return c * get_function(best.name).sympy_fn(a * symbol + b) + d


def train_once(width, x, t, seed, lamb=0.0, grid=5, fine=20, steps=50, arity=2, mask=None,
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


def train(width, x, t, seed, tries: int = 3, deadline=math.inf, **kw):
    """The best of up to ``tries`` seeds (training can stall in a poor minimum); stops at the
    first that fits t (standardised) to MSE 1e-6, or when the deadline has passed."""
    best, best_err = None, math.inf
    for k in range(tries):
        if k > 0 and time.monotonic() > deadline:
            break
        model = train_once(width, x, t, seed + k, deadline=deadline, **kw)
        with torch.no_grad():
            err = float(((model(x)[:, 0] - t) ** 2).mean())
        if err < best_err:
            best, best_err = model, err
        if best_err < 1e-6:
            break
    return best


def separable(x, y, symbols, seed, mode: str, deadline=math.inf):
    """Additive (y = sum g_i) or multiplicative (y = prod g_i) proposal from a [d, 1] KAN."""
    if mode == "mul":
        if not one_sign(y):
            return None, None
        t = torch.log(y.abs())
    else:
        t = y
    mu, sd = float(t.mean()), float(t.std()) or 1.0
    model = train([x.shape[1], 1], x, (t - mu) / sd, seed, deadline=deadline)
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


_SNAP_SAMPLES = 500  # samples each edge's curve is matched to library functions on


def network(x, y, symbols, seed, width, lamb, weight_simple, log=False, deadline=math.inf,
            **kw):
    """Proposals read off a whole network (auto_symbolic on ``_SNAP_SAMPLES`` samples,
    constants trained, formula), one per ``weight_simple`` (after the deadline only the
    first: matching the 66 edges of a [5, 11, 1] network to the library takes seconds);
    with ``log`` the network fits log|y| (y of one sign) and the proposals are
    sign(y) exp(formula)."""
    target = torch.log(y.abs()) if log else y
    mu, sd = float(target.mean()), float(target.std()) or 1.0
    t = (target - mu) / sd
    model = train(width, x, t, seed, lamb=lamb, deadline=deadline, **kw)
    exprs = []
    for k, w in enumerate(weight_simple):
        if k > 0 and time.monotonic() > deadline:
            break
        snapped = model.like()
        snapped.load_state_dict(model.state_dict())
        snapped.auto_symbolic(weight_simple=w, progress=False, x=x[:_SNAP_SAMPLES])
        snapped.fit({"train_input": x, "train_label": t[:, None]}, steps=20, update_grid=False,
                    progress=False)
        try:
            f = snapped.symbolic_formula(var=symbols, simplify=False, snap_tol=None)[0][0]
        except ValueError:
            continue
        e = sd * f + mu
        exprs.append(float(torch.sign(y[0])) * sympy.exp(e) if log else e)
    return exprs, model


def wrap(pair):
    expr, model = pair
    return [expr], model


def polynomial_of_target(x: Tensor, y: Tensor, symbols, noisy: bool = False):
    """y, or for y of one sign y^2, 1/y, 1/y^2, |y|^(+-2/3) or log|y|, as a sparse
    polynomial (``polynomial``) in the variables, else in the variables and their reciprocals
    (degree <= 4), returned as a formula for y: e.g. sqrt(x1^2 + x2^2), 1/sqrt(1 - v^2),
    1/(1/R1 + 1/R2 + 1/R3), 1/(2 (1 + z^2)^(3/2)) (a loop's field on its axis). Where no fit
    is exact: y by backward elimination; for ``noisy`` data of at most two variables each
    transform so, weighted by the noise it carries, on the samples of y's usual sign (the
    noise crosses zero where y nears it), and exp(y) and sinh(y) for |y| < 30:
    sqrt(1 + z^2 / pi^2) at 1% noise; the best ``_NOISY_TOP`` (``_ranked``)."""
    out = []
    # Laurent polynomials too (monomials in x_i and 1/x_i): 1/(1/R1 + 1/R2), p + q/r ...
    laurent = not bool((x == 0).any())
    sl = list(symbols) + [1 / s for s in symbols]
    for target, back, _ in _transforms(y) if one_sign(y) else _transforms(y)[:1]:
        # one variable: up to degree 12 (4 (s/r)^12 - 4 (s/r)^6; exact to 1e-26 above 6)
        p = polynomial(x, target, symbols, noisy=False, max_degree=12 if x.shape[1] == 1 else 6)
        if p is None and laurent:  # of one variable: 9 powers, near fits are likely
            p = polynomial(torch.cat([x, 1 / x], 1), target, sl, max_terms=300, max_degree=4,
                           noisy=False, exact=1e-20 if x.shape[1] == 1 else 1e-10)
        if p is not None:
            out.append(back(p))
    if not out and noisy and x.shape[1] <= 2:  # each transform by backward elimination,
        # weighted by the noise it carries (degree 2 in x_i and 1/x_i: 1 + a/z^2 ...)
        usual = torch.sign(y) == (1.0 if float(y.sum()) >= 0 else -1.0)
        sets = [(x, _transforms(y)[:1])]  # y itself on every sample, the rest on y's sign
        if float(usual.double().mean()) > 0.8:
            sets.append((x[usual], _transforms(y[usual])[1:]))
        if float(y.abs().max()) < 30:  # the log of a polynomial, log((x + 1)(x^2 + 1)),
            # and asinh of one
            sets.append((x, [(torch.exp(y), sympy.log, torch.exp(y)),
                             (torch.sinh(y), _asinh, torch.cosh(y))]))
        fits = []
        for xs, transforms in sets:
            for target, back, slope in transforms:
                if not bool(torch.isfinite(target).all() and torch.isfinite(slope).all()):
                    continue
                for cols, syms, deg in [(xs, symbols, 4)] + (
                        [(torch.cat([xs, 1 / xs], 1), sl, 2)] if laurent else []):
                    p = polynomial(cols, target, syms, max_degree=deg, max_noisy=_SPARSE,
                                   weights=1 / slope.clamp_min(1e-300))
                    if p is not None:  # ranked on the samples of y's sign
                        f = back(p)
                        fits.append((values(f, symbols, x[usual]), f))
        out = _ranked(fits, y[usual])
    if not out:  # nothing exact: y itself by backward elimination (noisy data)
        p = polynomial(x, y, symbols)
        if p is not None:
            out.append(p)
    return out


def _asinh(p):
    """asinh(p) written as a logarithm, the form sympy relates to others."""
    return sympy.log(p + sympy.sqrt(p ** 2 + 1))


def _transforms(y: Tensor) -> list:
    """(target, its inverse on a sympy formula, |d target / d y| (n,)) for y itself and, by
    the sign of y's sum, y^2, 1/y, 1/y^2, |y|^(+-2/3), log|y| (for y of that sign: a noise s in
    y is one of s |t'(y)| in the target)."""
    a = y.abs()
    out = [(y, lambda p: p, torch.ones_like(y))]
    s = 1.0 if float(y.sum()) >= 0 else -1.0
    return out + [(y ** 2, lambda p: s * sympy.sqrt(p), 2 * a),
                  (1 / y, lambda p: 1 / p, a ** -2),
                  (y ** -2, lambda p: s / sympy.sqrt(p), 2 * a ** -3),
                  (a ** (2 / 3), lambda p: s * p ** sympy.Rational(3, 2), a ** (-1 / 3)),
                  (a ** (-2 / 3), lambda p: s * p ** sympy.Rational(-3, 2), a ** (-5 / 3)),
                  (torch.log(a), lambda p: s * sympy.exp(p), 1 / a)]


_NOISY_TOP = 2  # proposals a route makes on noisy data (``_ranked``)


def values(expr, symbols, x: Tensor) -> Tensor | None:
    """``expr`` evaluated on x (n, d): (n,), or None where it cannot be evaluated there or is
    complex or not finite somewhere."""
    try:
        with torch.no_grad():
            v = Formula(expr, symbols).torch()(x)
    except Exception:  # noqa: BLE001 - a formula that cannot be evaluated here
        return None
    if v.is_complex() or not bool(torch.isfinite(v).all()):
        return None
    return v


def _ranked(pairs, y: Tensor, top: int = _NOISY_TOP) -> list:
    """Of (values (n,) or None, formula) pairs, the ``top`` formulas of least
    n ln(NMSE) + floats ln(n) on y (n,): a route's ranking of its noisy proposals (the
    search refits and ranks them again on held-out data)."""
    n, var = y.shape[0], float(y.var()) or 1.0

    def bic(pair):
        v, e = pair
        nmse = math.inf if v is None else float((v - y).square().mean()) / var
        if not math.isfinite(nmse):
            return math.inf
        return n * math.log(max(nmse, 1e-300)) + len(e.atoms(sympy.Float)) * math.log(n)

    scored = sorted(((bic(p), k) for k, p in enumerate(pairs)), key=lambda bk: bk[0])
    return [pairs[k][1] for b, k in scored[:top] if math.isfinite(b)]


_SPARSE = 6  # coefficients a ratio of a transform or of two features may have


def rational_of_target(x: Tensor, y: Tensor, symbols, noisy: bool = False):
    """y, or a transform of it, as a ratio of polynomials (``rational``), returned as a
    formula for y. Transforms: y^2, y^4 (y of one sign), exp(y) (y spanning less than 30),
    sinh(y), log(1 + y), log(1 - y), and 1/y - 1 and log(1/y - 1) (0 < y < 1: logistic
    forms). For one or two variables, also y or log|y| as a ratio of polynomials in the
    variables and one function of each (exp(x), exp(-x), log x, sqrt x, or none; for one
    variable also exp(1/x), exp(-1/x)). E.g.
    1/(exp(x) + 1), (x - 1)/log(x), x^2 exp(x)/(exp(x) - 1)^2, log((x + 1)(x^2 + 1)),
    sqrt(1 + B/(1 - C)), exp(u/n) - 1, (1 - exp(-(u - v)))^2, u exp(v)/(1 + u (exp(v) - 1)).
    Only sparse fits (at most ``_SPARSE`` coefficients) exact to 1e-20 count, except for a
    ratio of y itself in the variables alone. For ``noisy`` data where none is exact, the
    ratios of y in the variables (at most three) and, for one variable, with a function of
    it are fitted as closely as they can be (``_sparse_ratios``), the best ``_NOISY_TOP``
    proposed (``_ranked``): ((m1 - m2) v1 + 2 m2 v2) / (m1 + m2) at 1% noise."""
    out = []
    transforms = [(y, lambda p: p)]
    if bool(torch.isfinite(y).all()):
        if one_sign(y):
            s = float(torch.sign(y[0]))
            transforms += [(y ** 2, lambda p: s * sympy.sqrt(p)),
                           (y ** 4, lambda p: s * p ** sympy.Rational(1, 4))]
        if float(y.max() - y.min()) < 30:
            transforms.append((torch.exp(y - float(y.mean())),
                               lambda p, c=float(y.mean()): sympy.log(p) + sympy.Float(c)))
        transforms.append((torch.sinh(y), _asinh))
        if bool((y > -1).all()):
            transforms.append((torch.log1p(y), lambda p: sympy.exp(p) - 1))
        if bool((y < 1).all()):
            transforms.append((torch.log1p(-y), lambda p: 1 - sympy.exp(p)))
        if bool((y > 0).all() and (y < 1).all()):  # logistic forms, 1/(1 + exp(p))
            transforms += [(1 / y - 1, lambda p: 1 / (1 + p)),
                           (torch.log(1 / y - 1), lambda p: 1 / (1 + sympy.exp(p)))]
    for target, back in transforms:
        if not bool(torch.isfinite(target).all()):
            continue
        # a transform or a second feature makes near fits of smooth data likely: only
        # fits as exact as a true ratio (about 1e-28) count
        p = (rational(x, y, symbols) if target is y
             else rational(x, target, symbols, exact=1e-20, max_terms=_SPARSE))
        if p is not None:
            out.append(back(p))
    p = quadratic(x, y, symbols)
    if p is not None:
        out.append(p)
    m = min(x.shape[0], 800)  # an identity shows on a few hundred samples (discover
    # scores the result on the held-out ones)
    near = []  # noisy data: the closest sparse ratios, in the variables and (below) with
    # a function of each
    if noisy and not out and x.shape[1] <= 3:
        near += _sparse_ratios(x[:m], y[:m], symbols)
    if x.shape[1] <= 2:  # each variable with one function of it (or none) as a feature
        def kinds(v, s):
            out = [(torch.exp(v), sympy.exp(s)), (torch.exp(-v), sympy.exp(-s))]
            if bool((v > 0).all()):
                out += [(torch.log(v), sympy.log(s)), (torch.sqrt(v), sympy.sqrt(s))]
            if x.shape[1] == 1 and not bool((v == 0).any()):  # exp(1/T): T_E/T or T/T_E
                out += [(torch.exp(1 / v), sympy.exp(1 / s)), (torch.exp(-1 / v), sympy.exp(-1 / s))]
            return [(f, fs) for f, fs in out if bool(torch.isfinite(f).all())] + [None]

        targets = [(y, lambda p: p, lambda t: t)]
        if one_sign(y):  # e.g. log(y) = exp(-v) log(u) (Gompertz)
            sign = float(torch.sign(y[0]))
            targets.append((torch.log(y.abs()), lambda p, s=sign: s * sympy.exp(p),
                            lambda t, s=sign: s * torch.exp(t)))
        found = 0
        for combo in itertools.product(*(kinds(x[:m, i], symbols[i])
                                         for i in range(x.shape[1]))):
            extra = [c for c in combo if c is not None]
            if not extra or found:
                continue
            cols = torch.cat([x[:m], torch.stack([f for f, _ in extra], 1)], 1)
            syms = list(symbols) + [fs for _, fs in extra]
            for target, back, t_back in targets:
                p = rational(cols, target[:m], syms, exact=1e-20, max_terms=_SPARSE,
                             max_unknowns=80)
                if p is not None:
                    out.append(back(p))
                    found += 1
                elif noisy and not out and x.shape[1] == 1:  # (with an exact fit in
                    # hand the near ones would be dropped)
                    near += [(t_back(pred), back(q))
                             for pred, q in _sparse_ratios(cols, target[:m], syms)]
    if not out and near:
        out = _ranked(near, y[:m])
    return out


def _sparse_ratios(x: Tensor, y: Tensor, symbols, max_terms: int = _SPARSE,
                   max_unknowns: int = 40, reweights: int = 3) -> list:
    """Noisy y as P(x) / Q(x): for each pair of degrees (as ``rational``), the smallest
    singular vector of the scaled columns [P, -y Q] with each sample's row over |Q| of the
    last solution (``reweights`` times, Sanathanan-Koerner: P - y Q is then the error of
    P / Q itself, not that error times Q, which lets the samples of large Q decide), then
    the coefficient of least effect dropped and the vector solved again while two are left;
    returns (values (n,), ratio) for the ratios of at most ``max_terms`` coefficients met on
    the way (the caller ranks them)."""
    out = []
    if float(y.var()) == 0 or not bool(torch.isfinite(y).all()):
        return out
    for dp, dq in ((1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (2, 3)):
        pp, pc = _monomials(x, dp)
        qp, qc = _monomials(x, dq)
        k = pc.shape[1]
        m = k + qc.shape[1]
        if m > max_unknowns or 3 * m > x.shape[0]:
            continue
        a = torch.cat([pc, -y[:, None] * qc], 1)
        keep = torch.arange(m)
        while len(keep) >= 2:
            rows = torch.ones_like(y)
            try:
                for _ in range(reweights + 1):
                    aw = a[:, keep] * rows[:, None]
                    scale = aw.norm(dim=0).clamp_min(1e-300)
                    u = torch.linalg.svd(aw / scale, full_matrices=False)[2][-1]
                    coef = torch.zeros(m, dtype=a.dtype)
                    coef[keep] = u / scale
                    den_v = qc @ coef[k:]
                    if not bool((den_v != 0).all()):
                        break
                    rows = 1 / den_v.abs()
                    rows = rows / rows.max()
            except RuntimeError:
                break
            p_c, q_c = coef[:k], coef[k:]
            if (len(keep) <= max_terms and bool((q_c != 0).any()) and bool((p_c != 0).any())
                    and bool((den_v != 0).all())):
                norm = q_c[q_c != 0][0]
                out.append(((pc @ p_c) / den_v,
                            _poly(symbols, pp, p_c / norm, exact_one=False)
                            / _poly(symbols, qp, q_c / norm, exact_one=False)))
            keep = keep[torch.arange(len(keep)) != int(u.abs().argmin())]
    return out


def _sparse_null(a: Tensor, scale: Tensor, max_terms: int, u: Tensor | None = None,
                 cuts=(1e-6, 1e-4)) -> Tensor | None:
    """The null vector of the columns a (n, m) (scaled by ``scale``; ``u`` if it is known)
    with at most ``max_terms`` non-zero entries, or None: ill-conditioned columns (x and
    exp(x)) blur a sparse null vector, so while it has too many entries, those below each
    relative ``cut`` in turn are dropped and the vector solved again on the rest."""
    m = a.shape[1]
    keep = torch.arange(m)
    try:
        if u is None:
            u = torch.linalg.svd(a / scale, full_matrices=False)[2][-1]
        for cut in cuts:
            if len(keep) <= max_terms:
                break
            keep = keep[u.abs() >= cut * u.abs().max()]
            u = torch.linalg.svd(a[:, keep] / scale[keep], full_matrices=False)[2][-1]
    except RuntimeError:
        return None
    if len(keep) > max_terms:
        return None
    coef = torch.zeros(m, dtype=a.dtype)
    coef[keep] = u / scale[keep]
    return coef


def quadratic(x: Tensor, y: Tensor, symbols, max_terms: int = 8, exact: float = 1e-20):
    """y as a root of A(x) y^2 + B(x) y + C(x) = 0 with A, B, C polynomials of degree 1, then
    2 (for at most 3 variables): the coefficients are the null vector of the columns
    [x^k y^2, x^k y, x^k], made sparse as in ``rational``; the root (of either sign of the
    square root) that fits every sample exactly is returned, else None. E.g.
    1/sqrt(1 - x) - 1, whose (y + 1)^2 (1 - x) = 1."""
    n, d = x.shape
    var = float(y.var())
    if d > 3 or var == 0 or not bool(torch.isfinite(y).all()):
        return None
    for degree in (1, 2):
        powers, mono = _monomials(x, degree)
        k = len(powers)
        a = torch.cat([mono * y[:, None] ** 2, mono * y[:, None], mono], 1)
        if 3 * a.shape[1] > n:
            return None
        coef = _sparse_null(a, a.norm(dim=0).clamp_min(1e-300), max_terms,
                            cuts=(1e-9, 1e-6, 1e-4))
        if coef is None:
            continue
        ca = coef[:k]
        if not bool((ca != 0).any()):  # rational: the rational route's
            continue
        coef = coef / ca[ca != 0][0]  # A's first coefficient becomes 1
        ca, cb, cc = coef[:k], coef[k:2 * k], coef[2 * k:]
        qa, qb, qc = mono @ ca, mono @ cb, mono @ cc
        disc = qb ** 2 - 4 * qa * qc
        if bool((disc < 0).any()) or bool((qa == 0).any()):
            continue

        for sign in (1, -1):
            root = (-qb + sign * disc.sqrt()) / (2 * qa)
            if float((root - y).square().mean()) / var < exact:
                # written with the three polynomials once each, the formula's floats would
                # be tied in ways a refit cannot see: exact coefficients (small rationals
                # that fit as well) are written exactly
                snapped = [snap_constant(float(c), tol=1e-9) for c in coef.tolist()]
                if all(not isinstance(c, sympy.Float) for c in snapped):
                    sc = torch.tensor([float(c) for c in snapped], dtype=a.dtype)
                    sa, sb, s_c = mono @ sc[:k], mono @ sc[k:2 * k], mono @ sc[2 * k:]
                    sroot = (-sb + sign * (sb ** 2 - 4 * sa * s_c).sqrt()) / (2 * sa)
                    if float((sroot - y).square().mean()) / var < exact:
                        pa, pb, pc = (sympy.Add(*[c * sympy.Mul(*[symbols[i] for i in pw])
                                                  for pw, c in zip(powers, snapped[j:j + k])])
                                      for j in (0, k, 2 * k))
                        return sympy.factor_terms(
                            (-pb + sign * sympy.sqrt(sympy.expand(pb ** 2 - 4 * pa * pc)))
                            / (2 * pa))
                # A's leading 1 stays exact (else the scale of A, B, C is free)
                pa, pb, pc = (_poly(symbols, powers, c) for c in (ca, cb, cc))
                return (-pb + sign * sympy.sqrt(pb ** 2 - 4 * pa * pc)) / (2 * pa)
    return None


def polynomial(x: Tensor, y: Tensor, symbols, max_terms: int = 500, exact: float = 1e-10,
               t_min: float = 3.0, max_noisy: int = 8, max_degree: int = 6,
               noisy: bool = True, weights: Tensor | None = None):
    """y as a sparse polynomial in the variables: least squares on every monomial up to the
    highest degree (at most ``max_degree``) that keeps ``max_terms`` monomials, then monomials
    dropped (above degree 4, where a smooth function on a narrow range comes close to a
    polynomial, an exact fit must reach 1e-20, above degree 6 1e-26: a true polynomial fits
    to about 1e-28).
    Exact data (relative mean squared error below ``exact``): monomials of negligible effect
    are dropped and the rest refitted (sequential thresholding). Otherwise backward
    elimination by t-statistic: while some coefficient is within ``t_min`` standard errors of
    zero, the weakest (all below t_min / 2 at once while more than 20 terms remain) is dropped
    and the rest refitted (only with ``noisy``; each sample's row times ``weights`` (n,),
    the inverse of its noise, if given); None if nothing significant is left or more
    than ``max_noisy`` terms are (a polynomial that long is an approximation, not a law).
    Least squares by SVD: monomials of x_i and 1/x_i repeat (x_i / x_i = 1)."""
    n, d = x.shape
    degree = max_degree
    while degree > 1 and math.comb(d + degree, degree) > max_terms:
        degree -= 1
    if degree > 4 or (degree == 4 and d > 4):  # a smooth function is close to a polynomial
        exact = min(exact, 1e-20 if degree <= 6 else 1e-26)  # of high degree (or of many
        # monomials): exact only
    powers, columns = _monomials(x, degree)  # columns (n, terms)
    if columns.shape[1] >= n:
        return None
    scale = columns.abs().amax(0).clamp_min(1e-300)
    a = columns / scale
    # a power past the float range (x^12 of x = 1e30) or a target that is (1/y^2 of
    # y = 1e-200): LAPACK refuses them, loudly
    if not bool(torch.isfinite(a).all() and torch.isfinite(y).all()):
        return None
    var = float(y.var()) or 1.0
    keep = torch.arange(len(powers))
    for k in range(5):
        sol = torch.linalg.lstsq(a[:, keep], y[:, None], driver="gelsd").solution[:, 0]
        if k == 0 and not noisy:  # every monomial in: dropping some cannot make it exact
            if not float((a @ sol - y).square().mean()) / var < exact:
                return None
        effect = sol.abs() * a[:, keep].square().mean(0).sqrt()
        small = effect < 1e-7 * math.sqrt(var)
        if not bool(small.any()):
            break
        keep = keep[~small]
        if len(keep) == 0:
            return None
    else:  # still dropping after five rounds: solve on what is left
        sol = torch.linalg.lstsq(a[:, keep], y[:, None], driver="gelsd").solution[:, 0]
    err = float((a[:, keep] @ sol - y).square().mean()) / var
    if not err < exact:
        if not noisy:
            return None
        w = torch.ones_like(y) if weights is None else weights / weights.max()
        keep, sol = _significant(a * w[:, None], y * w, t_min)
        if keep is None or len(keep) > max_noisy:  # not a sparse polynomial law
            return None
        # as close as exact (discover would stop at it) where no polynomial fits exactly:
        # exact data that a few terms only approximate (2 cos(x) on [0, 1.4])
        if float((a[:, keep] @ sol - y).square().mean()) / var < 1e-11:
            return None
    coef = sol / scale[keep]
    return sympy.Add(*[sympy.Float(float(c)) * sympy.Mul(*[symbols[i] for i in powers[k]])
                       for c, k in zip(coef.tolist(), keep.tolist())])


def _poly(symbols, powers, coef: Tensor, exact_one: bool = True) -> sympy.Expr:
    """sum_k coef_k prod_{i in powers_k} symbols_i, zero coefficients left out; with
    ``exact_one`` a coefficient of exactly 1.0 written as the integer 1 (a normalised
    leading coefficient, which a refit must not take as free)."""
    return sympy.Add(*[(sympy.Integer(1) if exact_one and v == 1.0 else sympy.Float(float(v)))
                       * sympy.Mul(*[symbols[i] for i in pw])
                       for pw, v in zip(powers, coef.tolist()) if v != 0])


def _monomials(x: Tensor, degree: int):
    """Every monomial of the columns of x (n, d) up to ``degree``: (powers, columns (n, m))."""
    n, d = x.shape
    powers = [p for k in range(degree + 1)
              for p in itertools.combinations_with_replacement(range(d), k)]
    cols = torch.stack([x[:, list(p)].prod(1) if p else torch.ones(n, dtype=x.dtype)
                        for p in powers], 1)
    return powers, cols


def rational(x: Tensor, y: Tensor, symbols, max_unknowns: int = 200, exact: float = 1e-10,
             max_terms: int | None = None):
    """y = P(x) / Q(x) exactly, for polynomials P, Q of low degree: P - y Q = 0 is linear in
    their coefficients, so the coefficients are the singular vector of [P columns, -y Q
    columns] with the smallest singular value (columns scaled). Degrees (P, Q) are tried in
    the order (1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (2, 3) while the unknowns fit in
    ``max_unknowns`` and a third of the samples; the first exact fit (relative mean squared
    error below ``exact``) is returned with negligible coefficients dropped (a fit with more
    than ``max_terms`` coefficients left is passed over: near fits are dense), else None.
    E.g. ((m1 - m2) v1 + 2 m2 v2) / (m1 + m2)."""
    n = x.shape[0]
    var = float(y.var())
    if var == 0 or not bool(torch.isfinite(y).all()):
        return None
    for dp, dq in ((1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (2, 3)):
        pp, pc = _monomials(x, dp)
        qp, qc = _monomials(x, dq)
        m = pc.shape[1] + qc.shape[1]
        if m > max_unknowns or 3 * m > n:
            continue
        a = torch.cat([pc, -y[:, None] * qc], 1)
        scale = a.norm(dim=0).clamp_min(1e-300)
        try:
            _, _, vh = torch.linalg.svd(a / scale, full_matrices=False)
        except RuntimeError:
            continue
        coef = vh[-1] / scale
        big = coef.abs().max()
        coef = torch.where(coef.abs() < 1e-9 * big, torch.zeros_like(coef), coef)
        if max_terms is not None and int((coef != 0).sum()) > max_terms:
            coef = _sparse_null(a, scale, max_terms, vh[-1])
            if coef is None:
                continue
        p_c, q_c = coef[:pc.shape[1]], coef[pc.shape[1]:]
        den = qc @ q_c
        if bool((den == 0).any()):
            continue
        err = float(((pc @ p_c) / den - y).square().mean()) / var
        if not err < exact:
            continue
        norm = q_c[q_c != 0][0]  # the first denominator coefficient becomes 1
        p_c, q_c = p_c / norm, q_c / norm

        # the denominator's leading 1 stays exact (else the scale of P and Q is a free
        # direction for the refit)
        return _poly(symbols, pp, p_c) / _poly(symbols, qp, q_c)
    return None


def _significant(a: Tensor, y: Tensor, t_min: float):
    """Backward elimination on the columns of a (n, terms): (kept column indices, their
    least-squares coefficients), or (None, None) when no column is significant."""
    n = a.shape[0]
    keep = torch.arange(a.shape[1])
    while len(keep) > 0:
        cols = a[:, keep]
        sol = torch.linalg.lstsq(cols, y[:, None], driver="gelsd").solution[:, 0]
        res = y - cols @ sol
        s2 = float(res.square().sum()) / max(n - len(keep), 1)
        try:
            cov_diag = torch.linalg.pinv(cols.T @ cols).diagonal().clamp_min(0)
        except RuntimeError:
            return None, None
        t = sol.abs() / (cov_diag * s2).sqrt().clamp_min(1e-300)
        if bool((t >= t_min).all()):
            return keep, sol
        if len(keep) > 20 and bool((t < t_min / 2).any()):
            keep = keep[t >= t_min / 2]
        else:
            keep = keep[torch.arange(len(keep)) != int(t.argmin())]
    return None, None


def composition(x: Tensor, y: Tensor, symbols, weight_simple: float = 0.8, top: int = 3,
                samples: int = 200, r2_min: float = 1 - 1e-6):
    """One variable: y = c f(a h(x) + b) + d for library functions f and h, the best ``top``
    pairs whose R^2 reaches ``r2_min`` (e.g. 1/sqrt(1 - v^2): h = x^2, f = 1/sqrt; on noisy
    data the caller lowers ``r2_min`` to what the noise allows). Fitted on ``samples`` evenly
    spaced points of the sorted data; the caller refits the constants on all of it."""
    if x.shape[1] != 1:
        return []
    order = x[:, 0].argsort()
    pick = order[torch.linspace(0, len(order) - 1, min(samples, len(order))).long()]
    v, t = x[pick, 0], y[pick]
    outer = [n for n in SYMBOLIC_LIB if n != "0"]
    # (torch function, sympy function, complexity) of every inner function h, x itself
    # included (else cos(x) came back as sin(|x| + pi / 2), a fit as exact); exp(a x) needs
    # its sign inside (1 - exp(-x)), so exp(-x) is one too
    inners = [(SYMBOLIC_LIB[n].torch_fn, get_function(n).sympy_fn, SYMBOLIC_LIB[n].complexity)
              for n in ["x"] + [n for n in outer if n != "x"]]
    inners.append((lambda u: torch.exp(-u), lambda u: sympy.exp(-u),
                   SYMBOLIC_LIB["exp"].complexity))
    found = []
    for k, (h, _, size) in enumerate(inners):
        hv = h(v)
        flat = float(hv.std()) < 1e-8 * (1 + float(hv.abs().max()))
        if not bool(torch.isfinite(hv).all()) or flat:
            continue
        s = rank_functions(hv, t, outer, weight_simple)[0]
        if s.r2 > r2_min:
            found.append((s.loss + weight_simple * size, k, s))
            if inners[k][0] is SYMBOLIC_LIB["x"].torch_fn:  # f(a x + b) fits: no inner
                break  # function is simpler (the other 30 take 3 s)
    found.sort(key=lambda f: f[0])
    exprs = []
    for _, k, s in found[:top]:
        a, b, c, d = (sympy.Float(p) for p in s.params)
        hx = inners[k][1](symbols[0])
        exprs.append(c * get_function(s.name).sympy_fn(a * hx + b) + d)
    return exprs


def frequency(v: Tensor, y: Tensor, max_periods: int = 200, degree: int = 2,
              share: float = 0.5):
    """The angular frequency w at which y oscillates over v (both (n,)) at least 1.5 times
    (and at most ``max_periods`` times) as P(v) + A(v) sin(w v + phi), P and A polynomials
    of degree at most ``degree``: the periodogram of y less its quadratic trend (least
    squares on cos(w v), sin(w v) over a grid of w, 4 points per 2 pi / range), refined on
    finer grids by the least-squares error of the full basis v^j, v^j cos(w v), v^j sin(w v)
    (v centred). Returns (w, basis(w) (n, 3 (degree + 1)), least-squares coefficients,
    error), or None where that explains no more than ``share`` of what the trend leaves."""
    n = v.shape[0]
    span = float(v.max() - v.min())
    if n < 50 or not span > 0 or not float(y.var()) > 0:
        return None
    v = v - float(v.mean())  # centred: the basis stays well conditioned
    powers = torch.stack([v ** j for j in range(degree + 1)], 1)  # (n, degree + 1)
    trend = y - powers @ torch.linalg.lstsq(powers, y[:, None]).solution[:, 0]
    left = float(trend.square().mean())
    if not left > 1e-12 * float(y.var()):
        return None
    step = 2 * math.pi / span / 4
    w = step * torch.arange(6, 4 * max_periods + 1, dtype=v.dtype)  # >= 1.5 periods
    power = torch.zeros_like(w)
    for k in range(0, len(w), 256):  # (n, 256) blocks
        arg = v[:, None] * w[None, k:k + 256]
        c, s = torch.cos(arg), torch.sin(arg)
        power[k:k + 256] = ((trend @ c) ** 2 / c.square().sum(0)
                            + (trend @ s) ** 2 / s.square().sum(0))

    def basis(freq):
        arg = (freq * v)[:, None]
        return torch.cat([powers, powers * torch.cos(arg), powers * torch.sin(arg)], 1)

    def error(freq):
        a = basis(freq)
        sol = torch.linalg.lstsq(a, y[:, None]).solution[:, 0]
        return float((a @ sol - y).square().mean()), sol

    # the modulation moves the periodogram's peak: the full basis decides among its
    # 8 highest local maxima and the frequencies of at most 10 periods over the range
    peak = (power[1:-1] >= power[:-2]) & (power[1:-1] >= power[2:])
    tops = (torch.nonzero(peak)[:, 0] + 1)[power[1:-1][peak].argsort(descending=True)[:8]]
    shortlist = set(tops.tolist()) | set(range(min(35, len(w))))
    best = min((float(w[k]) for k in shortlist), key=lambda g: error(g)[0])
    width = step
    for _ in range(4):  # finer grids around the best frequency
        grid = [best + width * (k - 10) / 10 for k in range(21)]
        best = min((g for g in grid if g > 0), key=lambda g: error(g)[0])
        width /= 10
    err, sol = error(best)
    if not err < (1 - share) * left or best * span < 3 * math.pi:  # 1.5 periods
        return None
    return best, basis(best), sol, err


def periodic(x: Tensor, y: Tensor, symbols, max_periods: int = 200, degree: int = 2,
             share: float = 0.5):
    """y = P(x_i) + A(x_i) sin(w x_i + phi) with P and A polynomials of degree at most
    ``degree``, for one variable x_i over which y oscillates at least 1.5 times (and at most
    ``max_periods`` times; ``frequency``): e.g. 0.3 x sin(2 pi x), -2.3 + 0.13 sin(x) on
    [-50, 50], which a spline grid too coarse for the oscillation cannot show. A variable
    qualifies where this explains more than ``share`` of what the trend leaves.
    Monomials of negligible effect are dropped, and the modulation is written with one phase
    (that of its largest term); ``discover`` refits every constant. Returns a list of
    formulas (at most one per variable)."""
    n, d = x.shape
    var = float(y.var())
    out = []
    for i in range(d):
        found = frequency(x[:, i], y, max_periods, degree, share)
        if found is None:
            continue
        best, a, sol, err = found
        effect = sol.abs() * a.square().mean(0).sqrt()
        keep = effect > 1e-4 * math.sqrt(var) * max(1e-4, math.sqrt(err / var))
        m = degree + 1
        off, cos_c, sin_c = sol[:m] * keep[:m], sol[m:2 * m] * keep[m:2 * m], sol[2 * m:] * keep[2 * m:]
        sym = symbols[i] - sympy.Float(float(x[:, i].mean()))
        amp = torch.hypot(cos_c, sin_c)
        j = int(amp.argmax())
        phase = math.atan2(float(cos_c[j]), float(sin_c[j]))  # a cos + b sin = A sin(. + phase)
        # each term's amplitude, signed by how its phase agrees with the largest's
        signed = [float(amp[k]) * (1 if math.cos(math.atan2(float(cos_c[k]), float(sin_c[k]))
                                                 - phase) >= 0 else -1) for k in range(m)]
        poly = lambda cs: sympy.Add(*[sympy.Float(c) * sym ** k  # noqa: E731
                                      for k, c in enumerate(cs) if c != 0])
        wave = sympy.sin(sympy.Float(best) * symbols[i] + sympy.Float(
            phase - best * float(x[:, i].mean())))
        out.append(sympy.expand(poly(off.tolist())) + sympy.expand(poly(signed)) * wave)
    return out
