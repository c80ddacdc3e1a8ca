from fractions import Fraction as Fr

import pint
import pytest
import sympy
import torch

from kansci._units import (
    DimensionError,
    Reduction,
    buckingham,
    consistent,
    dimension_of,
    format_dims,
    parse_units,
    unit_table,
)

M, L, T, I, K = "[mass]", "[length]", "[time]", "[current]", "[temperature]"
JOULE = {M: Fr(1), L: Fr(2), T: Fr(-2)}


def units(*strings):
    return [parse_units(s, f"units[{i}]") for i, s in enumerate(strings)]


def fr(*xs):
    return tuple(Fr(x) for x in xs)


# ---------------------------------------------------------------- parsing


def test_parse_units_strings():
    assert parse_units("kg*m/s**2", "a") == parse_units("N", "b") == {M: 1, L: 1, T: -2}
    assert parse_units("J", "a") == JOULE
    assert parse_units("V", "a") == {M: 1, L: 2, T: -3, I: -1}
    assert parse_units("K", "a") == parse_units("degC", "b") == {K: 1}
    assert parse_units("m**-1 * s", "a") == {L: -1, T: 1}
    assert parse_units("dimensionless", "a") == parse_units("1", "b") == parse_units("", "c") == {}
    assert parse_units("m**0.5", "a") == {L: Fr(1, 2)}
    assert all(isinstance(e, Fr) for e in parse_units("V", "a").values())


def test_parse_units_pint_objects_from_another_registry():
    ureg = pint.UnitRegistry()
    assert parse_units(ureg.Unit("N"), "a") == {M: 1, L: 1, T: -2}
    assert parse_units(ureg.Quantity(3.0, "m/s"), "a") == {L: 1, T: -1}
    assert parse_units(ureg.Quantity(20.0, "degC"), "a") == {K: 1}


def test_parse_units_errors_name_the_value():
    with pytest.raises(ValueError, match=r"units\['m'\]: unknown unit 'kgg'"):
        parse_units("kgg", "units['m']")
    with pytest.raises(ValueError, match=r"y_units: cannot parse unit 'm/'"):
        parse_units("m/", "y_units")
    for bad in (3, None, ["m"]):
        with pytest.raises(TypeError, match=r"y_units must be a unit string"):
            parse_units(bad, "y_units")


def test_format_dims():
    assert format_dims(JOULE) == "[mass] * [length] ** 2 / [time] ** 2"
    assert format_dims({T: -1}) == "1 / [time]"
    assert format_dims({L: Fr(1, 2), T: 0}) == "[length] ** (1/2)"
    assert format_dims({}) == "dimensionless"


# ---------------------------------------------------------------- unit_table


def test_unit_table():
    dims, y = unit_table(["m", "v"], {"v": "m/s", "m": "kg"}, "J")
    assert dims == [{M: 1}, {L: 1, T: -1}] and y == JOULE
    with pytest.raises(ValueError, match=r"no unit for the columns \['v'\].*'dimensionless'"):
        unit_table(["m", "v"], {"m": "kg"}, "J")
    with pytest.raises(ValueError, match=r"units\['vv'\]: 'vv' is not a column. The columns are \['m', 'v'\]"):
        unit_table(["m", "v"], {"m": "kg", "v": "m/s", "vv": "m"}, "J")
    with pytest.raises(ValueError, match="y_units is required"):
        unit_table(["m", "v"], {"m": "kg", "v": "m/s"}, None)
    with pytest.raises(ValueError, match=r"units\['v'\]: unknown unit 'metres_per_sec'"):
        unit_table(["m", "v"], {"m": "kg", "v": "metres_per_sec"}, "J")
    with pytest.raises(ValueError, match=r"y_units: unknown unit 'joule2'"):
        unit_table(["m", "v"], {"m": "kg", "v": "m/s"}, "joule2")


# ---------------------------------------------------------------- Buckingham pi


def _check_dimensions(reductions, dims, y_dims):
    """Every group is dimensionless and every scale has the dimension of y."""
    for red in reductions:
        for g in red.groups:
            assert _product_dims(dims, g) == {}
        assert _product_dims(dims, red.scale) == {b: e for b, e in y_dims.items() if e}


def _product_dims(dims, exponents):
    out = {}
    for d, e in zip(dims, exponents):
        for b, x in d.items():
            out[b] = out.get(b, 0) + x * e
    return {b: x for b, x in out.items() if x}


def test_pendulum_has_no_group_and_scale_sqrt_l_over_g():
    dims, y = units("m", "m/s**2"), parse_units("s", "y")
    reds = buckingham(dims, y)
    assert len(reds) == 1
    assert reds[0].groups == () and reds[0].scale == (Fr(1, 2), Fr(-1, 2))


def test_relativistic_energy_offers_both_scales():
    dims, y = units("kg", "m/s", "m/s"), parse_units("J", "y")  # m, v, c
    reds = buckingham(dims, y)
    assert 2 <= len(reds) <= 4
    assert all(r.groups == (fr(0, 1, -1),) for r in reds)  # v / c
    assert {reds[0].scale, reds[1].scale} == {fr(1, 2, 0), fr(1, 0, 2)}  # m v^2, m c^2
    assert reds == buckingham(dims, y)  # deterministic
    _check_dimensions(reds, dims, y)


def test_coulomb_force():
    dims, y = units("C", "C", "C**2/(N*m**2)", "m"), parse_units("N", "y")  # q1, q2, eps, r
    reds = buckingham(dims, y)
    # q1 and q2 share a unit, so q1 / q2 is a group; the scale q1 q2 / (eps r^2) is offered
    assert all(r.groups == (fr(1, -1, 0, 0),) for r in reds)
    assert fr(1, 1, -1, -2) in [r.scale for r in reds]
    assert reds[0].scale == fr(2, 0, -1, -2)  # fewest variables first
    _check_dimensions(reds, dims, y)


def test_dimensionless_input_is_its_own_group():
    dims, y = units("m", "dimensionless", "m/s**2", "kg"), parse_units("s", "y")  # L, theta, g, mass
    reds = buckingham(dims, y)
    assert len(reds) == 1
    assert reds[0].groups == (fr(0, 1, 0, 0),)
    assert reds[0].scale == fr(Fr(1, 2), 0, Fr(-1, 2), 0)  # mass cannot enter


def test_drag_has_the_reynolds_group():
    dims, y = units("kg/m**3", "m/s", "m", "Pa*s"), parse_units("N", "y")  # rho, v, L, mu
    reds = buckingham(dims, y)
    assert all(r.groups == (fr(1, 1, 1, -1),) for r in reds)
    assert fr(1, 2, 2, 0) in [r.scale for r in reds]  # rho v^2 L^2
    _check_dimensions(reds, dims, y)


def test_sparse_groups_for_many_lengths():
    dims, y = units("m", "m", "m", "s", "s"), parse_units("m/s", "y")
    reds = buckingham(dims, y)
    assert reds[0].groups == (fr(1, -1, 0, 0, 0), fr(1, 0, -1, 0, 0), fr(0, 0, 0, 1, -1))
    assert reds[0].scale == fr(1, 0, 0, -1, 0)
    _check_dimensions(reds, dims, y)


def test_a_column_that_crosses_zero_enters_a_scale_last():
    # Nernst: E = E_0 + R T / (z F) log(C_out / C_in) with E_0 in [-0.5, 0.5] V: y / E_0 has a pole
    dims = units("V", "J/(mol*K)", "K", "dimensionless", "C/mol", "mM", "mM")
    y = parse_units("V", "y")
    plain = buckingham(dims, y)
    assert plain[0].scale == fr(1, 0, 0, 0, 0, 0, 0)  # E_0: fewest variables
    reds = buckingham(dims, y, avoid=[0])
    assert reds[0].scale == fr(0, 1, 1, 0, -1, 0, 0)  # R T / F
    assert fr(1, 0, 0, 0, 0, 0, 0) in [r.scale for r in reds]  # still offered, later
    assert all(r.groups == plain[0].groups for r in reds)
    _check_dimensions(reds, dims, y)


def test_inconsistent_y_units():
    with pytest.raises(ValueError, match=r"y_units \(\[mass\]\) cannot be made.*no input carries \[mass\]"):
        buckingham(units("m", "s"), parse_units("kg", "y"))
    with pytest.raises(ValueError, match=r"y_units \(\[length\]\) cannot be made"):
        buckingham(units("m*s"), parse_units("m", "y"))


# ---------------------------------------------------------------- apply and formula


def _round_trip(red: Reduction, F, pis_symbols, symbols, x):
    pis, s = red.apply(x)
    assert pis.shape == (x.shape[0], len(red.groups)) and s.shape == (x.shape[0],)
    f = sympy.lambdify(pis_symbols, F, "math")
    expected = s * torch.tensor([f(*row) for row in pis.tolist()], dtype=torch.float64)
    law = sympy.lambdify(symbols, red.formula(F, pis_symbols, symbols), "math")
    got = torch.tensor([law(*row) for row in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


def test_apply_and_formula_agree():
    gen = torch.Generator().manual_seed(0)
    m, v, c, P = sympy.symbols("m v c P")
    x = torch.rand(50, 3, generator=gen, dtype=torch.float64) + torch.tensor([0.5, 0.1, 2.0], dtype=torch.float64)
    for red in buckingham(units("kg", "m/s", "m/s"), parse_units("J", "y")):
        _round_trip(red, 1 / sympy.sqrt(1 - P**2) + P, [P], [m, v, c], x)
    L, g = sympy.symbols("L g")
    (red,) = buckingham(units("m", "m/s**2"), parse_units("s", "y"))
    _round_trip(red, 2 * sympy.pi, [], [L, g], x[:, :2] + 0.1)
    assert red.formula(2 * sympy.pi, [], [L, g]) == 2 * sympy.pi * sympy.sqrt(L) / sympy.sqrt(g)


def test_apply_negative_values():
    (red,) = buckingham(units("m", "m/s**2"), parse_units("s", "y"))
    x = torch.tensor([[1.0, 9.8], [2.0, -9.8]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"g has negative values .* fractional power -1/2"):
        red.apply(x, names=["L", "g"])
    with pytest.raises(ValueError, match=r"x\[:, 1\] has negative values"):
        red.apply(x)
    red = buckingham(units("kg", "m/s", "m/s"), parse_units("J", "y"))[0]  # integer powers
    pis, s = red.apply(torch.tensor([[2.0, -3.0, 6.0]], dtype=torch.float64))
    assert pis.tolist() == [[-0.5]] and s.tolist() == [18.0]
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        red.apply(torch.ones(4, 2, dtype=torch.float64))


# ---------------------------------------------------------------- dimension_of


def test_dimension_of():
    m, v, c, E, k, Tk = sympy.symbols("m v c E k T")
    syms = [m, v, c, E, k, Tk]
    dims = [{M: 1}, {L: 1, T: -1}, {L: 1, T: -1}, JOULE, parse_units("J/K", "k"), {K: 1}]
    assert dimension_of(m * v**2 / 2, syms, dims) == JOULE
    assert dimension_of(sympy.sin(v / c), syms, dims) == {}
    assert dimension_of(sympy.exp(-E / (k * Tk)), syms, dims) == {}
    assert dimension_of(m * c**2 / sympy.sqrt(1 - v**2 / c**2), syms, dims) == JOULE
    assert dimension_of(sympy.Abs(v) * m, syms, dims) == {M: 1, L: 1, T: -1}
    assert dimension_of(sympy.sign(v) * E, syms, dims) == JOULE
    assert dimension_of(v**0.5, syms, dims) == {L: Fr(1, 2), T: Fr(-1, 2)}
    assert dimension_of(sympy.Integer(3), syms, dims) == {}
    assert consistent(m * c**2, syms, dims, JOULE)
    assert not consistent(m * c, syms, dims, JOULE)
    assert not consistent(m + v, syms, dims, JOULE)


def test_dimension_errors():
    m, v, c = sympy.symbols("m v c")
    syms, dims = [m, v, c], [{M: 1}, {L: 1, T: -1}, {L: 1, T: -1}]
    with pytest.raises(DimensionError, match=r"\[mass\].*\[length\] / \[time\]"):
        dimension_of(m + v, syms, dims)
    with pytest.raises(DimensionError, match=r"in sin\(v\): the argument v has dimension \[length\] / \[time\]"):
        dimension_of(sympy.sin(v), syms, dims)
    with pytest.raises(DimensionError, match=r"dimensionless.*\[length\] / \[time\]"):
        dimension_of(1 + v, syms, dims)
    with pytest.raises(DimensionError, match=r"variable exponent"):
        dimension_of(v ** (v / c), syms, dims)
    with pytest.raises(ValueError, match="not one of the variables"):
        dimension_of(sympy.Symbol("z"), syms, dims)
