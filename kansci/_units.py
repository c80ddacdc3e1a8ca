"""Units of the variables, and what they say about the formula (dimensional analysis).

The dimension of a quantity is a product of powers of base dimensions ([mass], [length],
[time], [current], [temperature], [substance], [luminosity]), held as ``Dims``: a dict
base -> exponent (a Fraction), with {} for a pure number. Unit strings are parsed by pint.

Buckingham pi. Put the dimensions of the d inputs in the columns of D (b bases x d variables).
A product prod_i x_i^a_i is dimensionless iff D a = 0, so an integer basis n_1 .. n_k of the
null space of D, k = d - rank(D), gives the dimensionless groups Pi_g = prod_i x_i^(n_g)_i.
A scale s = prod_i x_i^p_i with D p = dim(y) (solvable iff dim(y) lies in the column span of
D) makes y / s dimensionless, so every dimensionally consistent law reads
y = s F(Pi_1, .., Pi_k): a regressor fits F, a function of k < d variables.
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy
import torch
from torch import Tensor

Dims = dict[str, Fraction]

BASES = ("[mass]", "[length]", "[time]", "[current]", "[temperature]", "[substance]", "[luminosity]")
MAX_ALTERNATIVES = 4
_BUDGET = 20_000  # subsets one search examines before it settles for an echelon basis
_SHIFTS = tuple(Fraction(c) for c in ("-2", "-1", "-1/2", "1/2", "1", "2"))


class DimensionError(ValueError):
    """An expression whose parts have dimensions that do not fit (a length plus a time)."""


# ---------------------------------------------------------------- parsing and printing


@functools.cache
def _registry():
    """This module's own pint registry, made on first use (pint's application registry is left
    alone, and importing kansci does not import pint)."""
    import pint

    return pint.UnitRegistry()


def _fraction(x) -> Fraction:
    """An exponent from pint (int, float) or sympy (Rational, Float) as an exact Fraction; a float
    within 1e-9 of a fraction with denominator <= 1000 is taken as that fraction."""
    if isinstance(x, sympy.Rational):
        return Fraction(int(x.p), int(x.q))
    exact = Fraction(float(x)) if isinstance(x, sympy.Basic) else Fraction(x)
    near = exact.limit_denominator(1000)
    return near if abs(near - exact) <= 1e-9 * max(1, abs(exact)) else exact


def _order(base: str) -> tuple[int, str]:
    return (BASES.index(base) if base in BASES else len(BASES), base)


def _clean(d: Mapping) -> Dims:
    """Exponents as Fractions, zeros dropped, bases in the order of ``BASES``."""
    return {b: _fraction(d[b]) for b in sorted(d, key=_order) if d[b] != 0}


def format_dims(d: Mapping) -> str:
    """Readable dimension, e.g. '[mass] * [length] ** 2 / [time] ** 2', '1 / [time]',
    '[length] ** (1/2)' or 'dimensionless'."""
    d = _clean(d)
    if not d:
        return "dimensionless"

    def power(base, e):
        e = abs(e)
        return base if e == 1 else f"{base} ** {e}" if e.denominator == 1 else f"{base} ** ({e})"

    text = " * ".join(power(b, e) for b, e in d.items() if e > 0) or "1"
    return text + "".join(f" / {power(b, e)}" for b, e in d.items() if e < 0)


def parse_units(value, what: str) -> Dims:
    """Dimension of a unit given as a pint-syntax string ('kg*m/s**2', 'V', 'm**-1 * s',
    'dimensionless', '1' or '' for a pure number) or a pint Unit or Quantity of any registry.
    Offset units (degC) count as their dimension. ``what`` names the value in errors."""
    import pint

    if isinstance(value, str):
        try:
            unit = _registry().parse_units(value.strip())
        except Exception as err:  # pint raises several types (undefined, syntax, scaling factor)
            kind = "unknown unit" if isinstance(err, pint.UndefinedUnitError) else "cannot parse unit"
            raise ValueError(
                f"{what}: {kind} {value!r} (pint: {err}). Write units in pint's syntax, e.g. "
                "'kg*m/s**2', 'V', 'm**-1 * s', or 'dimensionless' for a pure number."
            ) from err
        dimensionality = unit.dimensionality
    elif isinstance(value, (pint.Unit, pint.Quantity)):
        dimensionality = value.dimensionality
    else:
        raise TypeError(
            f"{what} must be a unit string such as 'kg*m/s**2' or a pint Unit or Quantity. "
            f"Got {type(value).__name__} {value!r} instead."
        )
    return _clean(dict(dimensionality.items()))


def unit_table(names: Sequence[str], units, y_units) -> tuple[list[Dims], Dims]:
    """Dimensions of the columns ``names`` (in order) from ``units`` ({column: unit}, every
    column given) and of the target from ``y_units``."""
    if not isinstance(units, Mapping):
        raise TypeError(f"units must be a dict {{column: unit}}. Got {type(units).__name__} instead.")
    names = list(names)
    unknown = [key for key in units if key not in names]
    if unknown:
        raise ValueError(f"units[{unknown[0]!r}]: {unknown[0]!r} is not a column. The columns are {names}.")
    missing = [name for name in names if name not in units]
    if missing:
        raise ValueError(
            f"units has no unit for the columns {missing}; give every column a unit "
            "(use 'dimensionless' for pure numbers such as angles or ratios)."
        )
    if y_units is None:
        raise ValueError("y_units is required when units is given (use 'dimensionless' for a pure number).")
    dims = [parse_units(units[name], f"units[{name!r}]") for name in names]
    return dims, parse_units(y_units, "y_units")


# ---------------------------------------------------------------- exact linear algebra

Vector = tuple[Fraction, ...]


def _rref(rows: list[list[Fraction]], ncols: int) -> tuple[list[list[Fraction]], list[int]]:
    """Reduced row echelon form (pivots searched in the first ``ncols`` columns) and the pivot
    columns; the rows past the pivots are zero in those columns."""
    m = [list(row) for row in rows]
    pivots: list[int] = []
    for c in range(ncols):
        r = len(pivots)
        p = next((i for i in range(r, len(m)) if m[i][c] != 0), None)
        if p is None:
            continue
        m[r], m[p] = m[p], m[r]
        m[r] = [v / m[r][c] for v in m[r]]
        for i in range(len(m)):
            if i != r and m[i][c] != 0:
                f = m[i][c]
                m[i] = [a - f * b for a, b in zip(m[i], m[r])]
        pivots.append(c)
    return m, pivots


def _rank(rows: list, ncols: int) -> int:
    return len(_rref([list(r) for r in rows], ncols)[1])


def _nullspace(rows: list[list[Fraction]], ncols: int) -> list[list[Fraction]]:
    """A basis of {a : rows a = 0}, one vector per free column."""
    m, pivots = _rref(rows, ncols)
    basis = []
    for f in (c for c in range(ncols) if c not in pivots):
        v = [Fraction(0)] * ncols
        v[f] = Fraction(1)
        for row, c in zip(m, pivots):
            v[c] = -row[f]
        basis.append(v)
    return basis


def _solve(rows: list[list[Fraction]], b: list[Fraction], ncols: int) -> list[Fraction] | None:
    """A solution of rows p = b (free variables 0), or None when there is none."""
    m, pivots = _rref([row + [bi] for row, bi in zip(rows, b)], ncols)
    if any(row[ncols] != 0 for row in m[len(pivots):]):
        return None
    p = [Fraction(0)] * ncols
    for row, c in zip(m, pivots):
        p[c] = row[ncols]
    return p


def _integer(v) -> Vector:
    """v scaled to coprime integers with its first nonzero entry positive."""
    den = math.lcm(*(x.denominator for x in v))
    ints = [int(x * den) for x in v]
    g = math.gcd(*ints) or 1
    sign = -1 if next(x for x in ints if x) < 0 else 1
    return tuple(Fraction(sign * x // g) for x in ints)


def _columns(D: list[list[Fraction]], cols) -> list[list[Fraction]]:
    return [[row[j] for j in cols] for row in D]


def _spread(v, cols, d: int) -> Vector:
    """A vector over the variables ``cols`` as one over all d variables."""
    out = [Fraction(0)] * d
    for j, x in zip(cols, v):
        out[j] = x
    return tuple(out)


# ---------------------------------------------------------------- Buckingham pi


def _monomial_expr(exponents: Vector, symbols) -> sympy.Expr:
    return sympy.Mul(*(s ** sympy.Rational(e.numerator, e.denominator) for s, e in zip(symbols, exponents) if e))


@dataclass(frozen=True)
class Reduction:
    """y = s(x) F(Pi_1, .., Pi_k) with Pi_g = prod_i x_i ** groups[g][i] dimensionless and
    s = prod_i x_i ** scale[i] carrying the dimension of y (d variables, k groups)."""

    groups: tuple[Vector, ...]  # (k, d)
    scale: Vector  # (d,)

    def group_exprs(self, symbols) -> list[sympy.Expr]:
        """The k groups in the d ``symbols``."""
        self._check_len(symbols, len(self.scale), "symbols")
        return [_monomial_expr(g, symbols) for g in self.groups]

    def scale_expr(self, symbols) -> sympy.Expr:
        """The scale s in the d ``symbols``."""
        self._check_len(symbols, len(self.scale), "symbols")
        return _monomial_expr(self.scale, symbols)

    def formula(self, F: sympy.Expr, pi_symbols, symbols) -> sympy.Expr:
        """s * F with pi_symbols[g] replaced by group g: the law in the original variables."""
        self._check_len(pi_symbols, len(self.groups), "pi_symbols")
        mapping = dict(zip(pi_symbols, self.group_exprs(symbols)))
        return self.scale_expr(symbols) * sympy.sympify(F).xreplace(mapping)

    def apply(self, x: Tensor, names: Sequence[str] | None = None) -> tuple[Tensor, Tensor]:
        """Groups and scale at samples x (n, d) -> (pis (n, k), s (n,)). ``names`` (d) name the
        columns in errors: a fractional power of a negative value, or a negative power of 0."""
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != len(self.scale) or not x.is_floating_point():
            got = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a floating tensor of shape (n, {len(self.scale)}). Got {got} instead.")
        names = list(names) if names is not None else [f"x[:, {i}]" for i in range(x.shape[1])]
        pis = [self._power_product(x, g, f"group {g_i}", names) for g_i, g in enumerate(self.groups)]
        pis = torch.stack(pis, dim=1) if pis else x.new_empty((x.shape[0], 0))  # (n, k)
        return pis, self._power_product(x, self.scale, "scale", names)  # (n,)

    @staticmethod
    def _power_product(x: Tensor, exponents: Vector, where: str, names: list[str]) -> Tensor:
        out = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)  # (n,)
        for i, e in enumerate(exponents):
            if e == 0:
                continue
            col = x[:, i]  # (n,)
            if e.denominator != 1 and bool((col < 0).any()):
                raise ValueError(
                    f"{names[i]} has negative values (min {float(col.min()):.3g}) but enters the {where} "
                    f"with the fractional power {e}; give it as a positive quantity (e.g. its magnitude)."
                )
            if e < 0 and bool((col == 0).any()):
                raise ValueError(f"{names[i]} is 0 in some rows but enters the {where} with the power {e}.")
            out = out * (col ** e.numerator if e.denominator == 1 else col ** float(e))
        return out

    @staticmethod
    def _check_len(seq, n: int, what: str) -> None:
        if len(seq) != n:
            raise ValueError(f"{what} must have {n} entries. Got {len(seq)} instead.")


def _group_key(v: Vector):
    support = tuple(i for i, e in enumerate(v) if e)
    return (len(support), max(abs(e) for e in v), sum(abs(e) for e in v), support, v)


def _scale_key(p: Vector):
    support = tuple(i for i, e in enumerate(p) if e)
    bad = sum(e.denominator > 2 for e in p)
    half = sum(e.denominator == 2 for e in p)
    return (bad, len(support), half, max((abs(e) for e in p), default=0), sum(abs(e) for e in p), support, p)


def _circuits(D: list[list[Fraction]], m: int, k: int) -> list[Vector]:
    """An integer basis (k vectors over m variables) of the null space of D built greedily from
    its sparsest members: supports S on which D has a one-dimensional null space using every
    variable of S, visited by size, then by exponent size. Falls back to the echelon basis when
    more than _BUDGET supports would be needed."""
    chosen: list[Vector] = []
    seen = 0
    for size in range(2, m + 1):
        if len(chosen) == k or seen > _BUDGET:
            break
        level = []
        for S in itertools.combinations(range(m), size):
            seen += 1
            if seen > _BUDGET:
                break
            null = _nullspace(_columns(D, S), size)
            if len(null) == 1 and all(null[0]):
                level.append(_spread(_integer(null[0]), S, m))
        for v in sorted(level, key=_group_key):
            if len(chosen) < k and _rank(chosen + [v], m) > len(chosen):
                chosen.append(v)
    for v in map(_integer, _nullspace(D, m)):
        if len(chosen) < k and _rank(chosen + [v], m) > len(chosen):
            chosen.append(v)
    return chosen


def _scales(D: list[list[Fraction]], m: int, y: list[Fraction], groups: list[Vector],
            avoid: frozenset = frozenset()) -> list[Vector]:
    """Solutions p of D p = y over m variables, best first (fewest columns of ``avoid``,
    then ``_scale_key``): those on the fewest independent columns (and one column more),
    each also moved by c * group for c in _SHIFTS; only those using at most one variable
    more than the best are kept."""
    found: set[Vector] = set()
    least = None
    seen = 0
    for size in range(0, m + 1):
        if (least is not None and size > least + 1) or seen > _BUDGET:
            break
        for T in itertools.combinations(range(m), size):
            seen += 1
            if seen > _BUDGET:
                break
            sub = _columns(D, T)
            if _rank(sub, size) < size:
                continue
            p = _solve(sub, y, size)
            if p is not None:
                found.add(_spread(p, T, m))
                least = size if least is None else least
    if not found:
        found.add(tuple(_solve(D, y, m)))
    found |= {tuple(a + c * b for a, b in zip(p, g)) for p in found for g in groups for c in _SHIFTS}
    def key(p):
        return (sum(1 for i in avoid if p[i]),) + _scale_key(p)

    ranked = sorted(found, key=key)
    fewest = _scale_key(ranked[0])[1]
    return [p for p in ranked if _scale_key(p)[1] <= fewest + 1]


def buckingham(dims: Sequence[Mapping], y_dims: Mapping, avoid: Sequence[int] = ()
               ) -> list[Reduction]:
    """Reductions y = s F(Pi) of a problem whose d inputs have dimensions ``dims`` and whose
    target has ``y_dims``: at most MAX_ALTERNATIVES, best first, all with the same groups.

    "Best" means easiest for a symbolic regressor:

    * a dimensionless input is its own group (exponent 1) and never enters the scale;
    * the other groups are an integer basis of the null space of D chosen greedily from the
      sparsest dimensionless products (ratios v/c of like-dimensioned variables first), then
      the smallest exponents, then the earliest variables; each has coprime exponents and a
      positive first one; groups are listed sparsest first;
    * scales are ranked by: no exponent outside the integers and half-integers, fewest
      variables, fewest half-integers, smallest largest exponent, smallest exponent sum,
      earliest variables. Alternatives keep at most one variable more than the best.
      For E = m c^2 / sqrt(1 - v^2 / c^2) with inputs (m, v, c) the group is v / c and the
      scales are m v^2, m c^2, then m v c: which one makes F simplest depends on the law.
    * inputs listed in ``avoid`` (indices; those whose values cross zero, over which y / s
      has a pole) enter a scale only where no other scale exists: for the Nernst potential
      E_0 + R T / (z F) log(C_out / C_in) the scale R T / F, not E_0.

    An input whose dimension no other input or y can balance (the mass of a pendulum) appears
    in no group and no scale: dimensional analysis says the law does not depend on it.
    Deterministic. Raises ValueError when y_dims is not a product of powers of the inputs'
    dimensions."""
    dims = [_clean(d) for d in dims]
    y = _clean(y_dims)
    d = len(dims)
    cols = [i for i in range(d) if dims[i]]  # dimensioned inputs
    bases = sorted({b for dd in dims for b in dd} | set(y), key=_order)
    D = [[dims[i].get(b, Fraction(0)) for i in cols] for b in bases]  # (bases, len(cols))
    target = [y.get(b, Fraction(0)) for b in bases]
    m = len(cols)
    if _solve(D, target, m) is None:
        carried = {b for dd in dims for b in dd}
        lacking = [b for b in y if b not in carried]
        inputs = sorted({format_dims(dd) for dd in dims}) or ["none"]
        why = (
            f"no input carries {', '.join(lacking)}"
            if lacking
            else "no product of powers of the inputs' dimensions gives it"
        )
        raise ValueError(
            f"y_units ({format_dims(y)}) cannot be made from the units of the inputs "
            f"({'; '.join(inputs)}): {why}. Check the units, or add the missing quantity "
            "(e.g. a physical constant) as a column."
        )
    own = [tuple(Fraction(int(j == i)) for j in range(d)) for i in range(d) if not dims[i]]
    local = _circuits(D, m, m - _rank(D, m))
    groups = tuple(own + [_spread(v, cols, d) for v in local])
    shunned = frozenset(k for k, i in enumerate(cols) if i in set(avoid))
    scales = _scales(D, m, target, local, shunned)[:MAX_ALTERNATIVES]
    return [Reduction(groups=groups, scale=_spread(p, cols, d)) for p in scales]


# ---------------------------------------------------------------- checking a formula

_KEEPS = (sympy.Abs, sympy.re, sympy.im, sympy.conjugate, sympy.Max, sympy.Min)  # args agree, result alike
_ANY = (sympy.sign, sympy.Heaviside)  # any argument, dimensionless result


def dimension_of(expr: sympy.Expr, symbols, dims: Sequence[Mapping]) -> Dims:
    """Dimension of ``expr`` when symbols[i] has dims[i]. Numbers are dimensionless; the terms
    of a sum must agree; exponents and the arguments of functions (sin, exp, log, ..) must be
    dimensionless, and so must the base of a symbolic power; Abs, re, Max, Min keep their
    arguments' dimension, sign gives a pure number. Raises DimensionError naming the
    sub-expression and the dimensions that clash; ValueError for a symbol not in ``symbols``."""
    if len(symbols) != len(dims):
        raise ValueError(f"symbols and dims must have the same length. Got {len(symbols)} and {len(dims)}.")
    table = {s: _clean(dd) for s, dd in zip(symbols, dims)}
    return _dim(sympy.sympify(expr), table)


def _agree(e: sympy.Expr, parts, table, what: str) -> Dims:
    first, first_d = None, None
    for part in parts:
        if part.is_number and part == 0:
            continue
        part_d = _dim(part, table)
        if first is None:
            first, first_d = part, part_d
        elif part_d != first_d:
            raise DimensionError(
                f"in {e}: the {what} {first} ({format_dims(first_d)}) and {part} ({format_dims(part_d)}) "
                "have different dimensions"
            )
    return first_d or {}


def _dim(e: sympy.Expr, table: dict) -> Dims:
    if isinstance(e, sympy.Symbol):
        if e not in table:
            raise ValueError(f"symbol {e} is not one of the variables {list(table)}.")
        return table[e]
    if not e.free_symbols:
        return {}
    if isinstance(e, sympy.Add):
        return _agree(e, e.args, table, "terms")
    if isinstance(e, sympy.Mul):
        total: dict = {}
        for factor in e.args:
            for b, x in _dim(factor, table).items():
                total[b] = total.get(b, 0) + x
        return _clean(total)
    if isinstance(e, sympy.Pow):
        base, exponent = e.args
        base_d = _dim(base, table)
        if exponent.free_symbols:
            exponent_d = _dim(exponent, table)
            if exponent_d or base_d:
                bad, bad_d = (exponent, exponent_d) if exponent_d else (base, base_d)
                raise DimensionError(
                    f"in {e}: {bad} has dimension {format_dims(bad_d)}, but a power with a variable "
                    "exponent needs base and exponent dimensionless"
                )
            return {}
        if not base_d:
            return {}
        if not isinstance(exponent, (sympy.Rational, sympy.Float)):
            raise DimensionError(f"in {e}: {base} ({format_dims(base_d)}) is raised to the non-rational power {exponent}")
        f = _fraction(exponent)
        return _clean({b: x * f for b, x in base_d.items()})
    if isinstance(e, _KEEPS):
        return _agree(e, e.args, table, "arguments")
    if isinstance(e, _ANY):
        return {}
    if isinstance(e, sympy.Function):
        for arg in e.args:
            arg_d = _dim(arg, table)
            if arg_d:
                raise DimensionError(
                    f"in {e}: the argument {arg} has dimension {format_dims(arg_d)}, but "
                    f"{e.func.__name__} needs a dimensionless argument (dimensionless)"
                )
        return {}
    raise DimensionError(f"in {e}: cannot find the dimension of a {type(e).__name__}")


def consistent(expr: sympy.Expr, symbols, dims: Sequence[Mapping], y_dims: Mapping) -> bool:
    """Whether ``expr`` (symbols[i] with dims[i]) has the dimension ``y_dims``."""
    try:
        return dimension_of(expr, symbols, dims) == _clean(y_dims)
    except DimensionError:
        return False
