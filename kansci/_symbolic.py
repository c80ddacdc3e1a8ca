"""From splines to formulas: ranking symbolic candidates for an edge, snapping edges, and
reading the network as a sympy expression.

Ranking follows pykan: loss = w * complexity + (1 - w) * log2(1 + 1e-5 - r2), lower is better.
``symbolic_formula`` composes the snapped edges exactly as the forward pass does (subnode affine,
multiplication nodes of any arity, node affine), then snaps floats close to small rationals or
rational multiples of pi and e, and simplifies.
"""
from __future__ import annotations

from collections.abc import Mapping

import functools
import math
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from tqdm.auto import tqdm

from ._simplify import tidy
from ._symbolic_fit import fit_affine_many
from ._symbolic_lib import SYMBOLIC_LIB, get_function
from ._threads import for_size, threads


@dataclass(frozen=True)
class Suggestion:
    """A candidate function for an edge: its fit and its place in the ranking."""

    name: str
    r2: float
    complexity: float
    params: tuple  # (a, b, c, d): edge ~ c * f(a x + b) + d
    loss: float
    degenerate: bool = False  # f barely varies on the data, or the fit uses a clamp


_DEGENERATE = 1e-2  # relative variation std(f) / (|mean f| + std f) below which a fit is degenerate


@functools.lru_cache(maxsize=256)
def _exact(fn):
    """NumPy's f from the sympy form of a library function (no clamps)."""
    t = sympy.Symbol("t")
    return sympy.lambdify(t, fn.sympy_fn(t), "numpy")


def _clamped(fn, z: torch.Tensor, value: torch.Tensor) -> bool:
    """Whether the library's torch f, evaluated as ``value`` at z, differs on z from f itself:
    the fit leans on a guard (exp capped at 1e6, log and sqrt floored, 1/x kept off 0, arcsin's
    argument clipped), where the formula would read NaN or a far larger number than the
    network computes."""
    try:
        with np.errstate(all="ignore"):
            exact = np.broadcast_to(np.asarray(_exact(fn)(z.detach().double().cpu().numpy()),
                                               dtype=float), z.shape)
    except (NameError, TypeError, ValueError, AttributeError):
        return False  # a user's function NumPy cannot evaluate (add_symbolic("J0", ...))
    got = value.detach().double().cpu().numpy()
    return not np.allclose(got, exact, rtol=1e-6, atol=1e-12, equal_nan=False)


def edge_data(model, l: int, i: int, j: int, x=None, n_max: int = 256):
    """(inputs, curve) of edge (l, i, j) on the data, subsampled evenly to at most n_max."""
    acts = model.activations(x)[l]
    order = torch.argsort(acts[:, i])
    keep = order[torch.linspace(0, len(order) - 1, min(n_max, len(order))).long()]
    with torch.no_grad():
        curve = model.layers[l].edge_activations(acts[keep], torch.tensor([j], device=acts.device))
    return acts[keep, i], curve[:, i, 0]


def suggest_symbolic(model, l: int, i: int, j: int, lib=None, topk: int = 5,
                     weight_simple: float = 0.8, x=None, exclude_zero: bool = False,
                     a_range=(-10.0, 10.0), b_range=(-10.0, 10.0)):
    """Ranked candidates for edge (l, i, j), best first (see ``Suggestion``). ``lib``: names
    of the model's library (default: all of it), or a library of its own (a mapping, e.g.
    what ``kansci.add_symbolic`` returns)."""
    model._check_edge(l, i, j)
    if not 0.0 <= weight_simple <= 1.0:
        raise ValueError(f"weight_simple must be in [0, 1]; got {weight_simple}.")
    library, names = candidates(model, lib)
    if exclude_zero:
        names = [n for n in names if n != "0"]
    xs, ys = edge_data(model, l, i, j, x)
    return rank_functions(xs, ys, names, weight_simple, a_range, b_range, library)[:topk]


def candidates(model, lib) -> tuple:
    """(library, names) to choose from: the model's library (all of it, or the names in
    ``lib``), or ``lib`` itself where it is a mapping."""
    if isinstance(lib, Mapping):
        return lib, list(lib)
    library = model.library
    if lib is None:
        return library, list(library)
    if isinstance(lib, str):
        raise TypeError(f"lib must be a list of function names or a library; got the string "
                        f"{lib!r} (write [{lib!r}]).")
    return library, [get_function(n, library).name for n in lib]


def rank_functions(xs, ys, names, weight_simple: float = 0.8, a_range=(-10.0, 10.0),
                   b_range=(-10.0, 10.0), library=None) -> list[Suggestion]:
    """Every function in ``names`` of ``library`` (default ``SYMBOLIC_LIB``) fitted to the
    curve ys(xs) (both (n,)) as c f(a x + b) + d (a, b searched within the ranges first),
    ranked best first."""
    library = SYMBOLIC_LIB if library is None else library
    out = []
    # a curve of a few hundred points is small work: one thread (see _threads)
    with threads(for_size(xs.numel() * 64, xs.device)):
        fits = fit_affine_many(xs, ys, [library[name].torch_fn for name in names],
                               a_range, b_range)
    for name, (params, r2) in zip(names, fits):
        fn = library[name]
        if name == "x":  # c (a x + b) + d is one line: its four numbers are not determined
            a, b, c, d = params  # (a ~ 1e-15 with c ~ 1e13 was met); write it c' x + d'
            params = (1.0, 0.0, c * a, c * b + d)
        r2_loss = math.log2(1 + 1e-5 - min(r2, 1.0))
        loss = weight_simple * fn.complexity + (1 - weight_simple) * r2_loss
        arg = params[0] * xs.double() + params[1]
        z = fn.torch_fn(arg)
        spread = float(z.std() / (z.mean().abs() + z.std() + 1e-300)) if len(z) > 1 else 1.0
        degenerate = name not in ("x", "0") and (spread < _DEGENERATE or _clamped(fn, arg, z))
        out.append(Suggestion(name, r2, fn.complexity, params, loss, degenerate))
    # a degenerate fit (cos(a x) with tiny a standing in for a parabola, say, or exp past its
    # cap) ranks after every genuine one
    out.sort(key=lambda s: (s.degenerate, s.loss))
    return out


def auto_symbolic(model, lib=None, weight_simple: float = 0.8, r2_threshold: float = 0.0,
                  x=None, progress: bool = True, a_range=(-10.0, 10.0),
                  b_range=(-10.0, 10.0)) -> dict:
    """Snap every active spline edge to its best candidate (never to 0: an active edge carries
    signal; pruned edges stay off). Returns {(l, i, j): Suggestion} of the edges snapped;
    edges whose best r2 is below ``r2_threshold`` are left as splines. ``lib`` as for
    ``suggest_symbolic``; a function of a library of its own that an edge is snapped to joins
    the model's library."""
    library, _ = candidates(model, lib)
    edges = [(l, i, j) for l, layer in enumerate(model.layers)
             for i, j in ((layer.mask != 0) & (layer.sym_mask == 0)).nonzero().tolist()]
    snapped = {}
    for l, i, j in tqdm(edges, disable=not progress, desc="auto_symbolic"):
        best = suggest_symbolic(model, l, i, j, lib, 1, weight_simple, x, True, a_range,
                                b_range)[0]
        if best.r2 >= r2_threshold:
            if model.library.get(best.name) is not library[best.name]:
                model.library = model.library.adding(library[best.name])
            model.layers[l].set_symbolic(i, j, best.name, best.params)
            snapped[(l, i, j)] = best
    return snapped


# constants a snapped number may be a rational multiple p/q of, with the largest |p| allowed
# (None: any). 1/pi and 1/sqrt(2 pi) give the 1/(4 pi) of Coulomb's law and the normal
# density's factor; only small multiples of them, or they would stand in for other numbers
# (63/8 / sqrt(2 pi) is pi to 4e-5); likewise sqrt(2), sqrt(3) (skin depth, 1/sqrt(2) of an
# RMS value, sqrt(3)/2 of hexagons), 1/(pi sqrt(2)) (mean free path) and log 10, log 2 with
# their inverses (decimal and binary logarithms: pH, decibels, bits; 10^x = exp(x log 10)),
# pi^2 and its inverse (buckling, wave guides) and sqrt(pi) (Gaussian integrals).
_SNAP_TO = ((sympy.Integer(1), None), (sympy.pi, None), (sympy.E, None), (1 / sympy.pi, 2),
            (1 / sympy.sqrt(2 * sympy.pi), 1), (sympy.sqrt(2), 4), (sympy.sqrt(3), 4),
            (1 / (sympy.pi * sympy.sqrt(2)), 1), (1 / sympy.log(10), 1), (sympy.log(10), 1),
            (1 / sympy.log(2), 1), (sympy.log(2), 1), (sympy.pi ** 2, None),
            (1 / sympy.pi ** 2, 2), (sympy.sqrt(sympy.pi), 2))


_CHANCE = 0.05  # largest chance that a value lands that near a form by luck (a tolerance)
# ... and for a value with a standard error: there a snap is one of the search's model
# choices (one parameter fewer, checked again on held-out data), and laws are made of simple
# forms (1, 2, 1/2, pi): a form is refused only where a value of that precision lands that
# near one by chance one time in ten (2.049 +- 0.037 reads 2, chance 0.05; 4.07 +- 0.3 stays
# a float: some integer is always that near; of random values known to 1%, 9% snap, nearly
# all to integers)
_CHANCE_SE = 0.1


def _form_bits(p: int, q: int, sym) -> float:
    """Description length of the number p/q K (K = ``sym``) in bits: log2(|p| + 1) + log2(q),
    plus 2 for a constant factor K other than 1 (pi, e, ...); with p = 0, the bits of q and
    K alone."""
    return math.log2(abs(p) + 1) + math.log2(q) + (0.0 if sym == 1 else 2.0)


def _density(value: float, bits: float, max_den: int, const_den: int | None = None) -> float:
    """Forms p/q K (``_SNAP_TO``, q <= max_den; q <= const_den where K is not 1) of at most
    ``bits`` bits per unit length about ``value`` > 0: their count over [value / 2, 2 value]
    (forms equal in value, 2/2 and 1/1, counted apart), over its length."""
    lo, hi = value / 2, 2 * value
    total = 0
    for sym, max_num in _SNAP_TO:
        const = float(sym)
        for q in range(1, _den_limit(sym, max_den, const_den) + 1):
            room = bits - _form_bits(0, q, sym)  # log2(p + 1) <= room
            if room < 1 - 1e-9:
                continue
            top = math.floor(2 ** room - 1 + 1e-9)
            if max_num is not None:
                top = min(top, max_num)
            first, last = math.ceil(lo * q / const), min(math.floor(hi * q / const), top)
            total += max(0, last - max(first, 1) + 1)
    return total / (hi - lo)


def _den_limit(sym, max_den: int, const_den: int | None) -> int:
    """The largest q of the forms p/q K with constant K (``const_den`` where K is not 1)."""
    return max_den if sym == 1 or const_den is None else min(max_den, const_den)


def snap_constant(value: float, tol: float = 1e-4, max_den: int = 12, se: float | None = None,
                  const_den: int | None = None):
    """A sympy number for ``value``, or the Float itself.

    The window: ``tol`` relative to max(1, |value|), or, given a standard error ``se``,
    2 se (at least 1e-10 |value|, the last digits of a float fit). Zero when |value| lies
    within the window. Else, of the small rationals p/q (q <= max_den) times 1, pi, e or the
    other constants of ``_SNAP_TO`` (some only in small multiples) inside the window, the simplest
    (fewest bits, ``_form_bits``; then the closest), so 3.1425 at tol 1e-3 reads pi rather
    than 22/7; but only if a value that precise lands so near a form so simple by chance
    at most ``_CHANCE`` (with ``se``: ``_CHANCE_SE``) of the time (a coincidence test): chance = 2 window * density, where
    the density counts, per unit length near |value|, the forms p/q K of at most as many
    bits. So 150.0034 at tol 1e-4 snaps to 150; 183.2957 stays a float, not 1283/7; a
    constant known to 3% keeps its decimals unless it is within 2 se of a very simple
    number (1, 2, 1/2). ``const_den`` bounds q for the forms with a constant K other than 1
    (4: pi/4 and 3e/2 are forms, 4e/11 is not)."""
    if not math.isfinite(value):
        return sympy.Float(value)
    if se is None:
        window = tol * max(1.0, abs(value))
    else:
        window = max(2.0 * se, 1e-10 * abs(value))
    if abs(value) <= window:
        return sympy.Integer(0)
    best, best_key = None, None
    for sym, max_num in _SNAP_TO:  # every form p/q K in the window (not only the nearest:
        const = float(sym)  # 2.049 +- 0.037 is nearer 25/12 than 2)
        for q in range(1, _den_limit(sym, max_den, const_den) + 1):
            for p in {math.floor(value * q / const), math.ceil(value * q / const)}:
                if p == 0 or (max_num is not None and abs(p) > max_num) or math.gcd(p, q) != 1:
                    continue
                err = abs(p / q * const - value)
                key = (_form_bits(p, q, sym), err)
                if err <= window and (best_key is None or key < best_key):
                    best, best_key = (p, q, sym), key
    # the simplest form in the window; if it is met by chance, so are all the others
    chance = 2.0 * window * _density(abs(value), best_key[0], max_den, const_den) if best else 1.0
    if chance > (_CHANCE if se is None else _CHANCE_SE):
        return sympy.Float(value)
    p, q, sym = best
    return sympy.Rational(p, q) * sym


def expand_numbers(expr):
    """Products and powers of sums expanded (not exp of sums), so that numeric factors
    combine into one float each."""
    return sympy.expand(expr, power_exp=False, log=False)


FORMULA_CONST_DEN = 4  # a trained network's constant reads p/q pi (or e, ...) only with q <= 4


def _snap(expr, tol: float):
    """Expand (``expand_numbers``), then snap every float (a fixed tolerance, no standard
    error: multiples of pi, e, ... only with small denominators, so 0.98847 is not 4 e/11)."""
    expr = expand_numbers(expr)
    return expr.xreplace({f: snap_constant(float(f), tol, const_den=FORMULA_CONST_DEN)
                          for f in expr.atoms(sympy.Float)})


FORMULA_SIMPLIFY_S = 5.0  # seconds sympy's simplify may take per output formula


def input_symbols(model, var=None) -> list:
    """The sympy symbols of the model's n_in inputs: ``var`` (names or symbols), else the model's
    ``in_vars``, else x_1 .. x_n."""
    names = var if var is not None else model.in_vars
    if names is None:
        names = [f"x_{k + 1}" for k in range(model.n_in)]
    if len(names) != model.n_in:
        raise ValueError(f"var must name the model's {model.n_in} inputs; got {len(names)}.")
    return [v if isinstance(v, sympy.Expr) else sympy.Symbol(str(v)) for v in names]


def symbolic_formula(model, var=None, simplify: bool = True, snap_tol: float | None = 1e-4):
    """The network as sympy expressions, one per output. Every active edge must be symbolic.

    var: names or sympy symbols of the model's original inputs (default: ``model.in_vars`` or
    x_1 .. x_n). Floats within ``snap_tol`` of small rationals (or rational multiples of pi, e)
    are snapped (None: no snapping). ``simplify`` runs sympy's simplify for at most
    FORMULA_SIMPLIFY_S seconds per output (in the main thread; elsewhere only on small expressions)."""
    symbols = input_symbols(model, var)
    missing = [(l, i, j) for l, layer in enumerate(model.layers)
               for i, j in ((layer.mask != 0) & (layer.sym_mask == 0)).nonzero().tolist()]
    if missing:
        raise ValueError(f"{len(missing)} edge(s) are still splines, e.g. {missing[:5]}; snap them "
                         "with fix_symbolic or auto_symbolic first.")
    def f(t):
        """A parameter as sympy: where it is a simple number to 1e-10 (set exactly, as
        kanpiler sets them) that number, so that it stays exact when the edges compose
        (exp(-a/10 - 1/10), not 0.905 exp(-a/10)); trained values snap after composing."""
        value = float(t.detach()) if isinstance(t, torch.Tensor) else float(t)
        return sympy.Float(value) if snap_tol is None else snap_constant(value, 1e-10)

    xs = [symbols[k] for k in model.input_id.tolist()]
    for l, layer in enumerate(model.layers):
        sub = []
        for j in range(layer.out_dim):
            total = sympy.Integer(0)
            for i in range(layer.in_dim):
                if layer.sym_mask[i, j] != 0:
                    a, b, c, d = layer.sym_affine[i, j].tolist()
                    fn = get_function(layer.sym_names[i][j], layer.library).sympy_fn
                    term = f(c) * fn(f(a) * xs[i] + f(b)) + f(d)
                    total += f(layer.sym_mask[i, j]) * term
            sub.append(f(model.subnode_scale[l][j]) * total + f(model.subnode_bias[l][j]))
        n_sum, nodes, start = model.width[l + 1][0], [], model.width[l + 1][0]
        nodes = sub[:n_sum]
        for arity in model.mult_arity[l + 1]:
            nodes.append(sympy.Mul(*sub[start:start + arity]))
            start += arity
        xs = [f(model.node_scale[l][k]) * node + f(model.node_bias[l][k])
              for k, node in enumerate(nodes)]
    out = []
    for e in xs:
        if snap_tol is not None:
            e = _snap(e, snap_tol)
        if simplify:  # sympy's simplify, given a few seconds (it can take minutes)
            e = tidy(e, FORMULA_SIMPLIFY_S)
            if snap_tol is not None:
                e = _snap(e, snap_tol)
        out.append(e)
    return out
