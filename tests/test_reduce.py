"""Reductions of a regression problem (kansci._reduce), tested on exact functions."""
import sympy
import torch

from kansci import _reduce as reduce


def _samples(d, lo=-1.0, hi=1.0, n=500, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(n, d, generator=gen, dtype=torch.float64)


def test_gradient_matches_the_analytic_one():
    x = _samples(2)
    g = reduce.gradient(lambda z: torch.sin(z[:, 0]) * z[:, 1], x)
    want = torch.stack([torch.cos(x[:, 0]) * x[:, 1], torch.sin(x[:, 0])], 1)
    assert torch.allclose(g, want, atol=1e-12)


def test_unused_finds_the_variable_f_ignores():
    x = _samples(4)
    f = lambda z: z[:, 0] ** 2 + 0.3 * z[:, 1] + 0.1 * z[:, 2] ** 3  # noqa: E731
    assert reduce.unused(reduce.gradient(f, x), x, 3e-3) == [3]


def _best_symmetry(f, x):
    found = reduce.symmetries(reduce.gradient(f, x), x, 1e-6)
    return (found[0].i, found[0].j, found[0].kind) if found else None


def test_symmetries_of_each_kind():
    x = _samples(3)
    dist = lambda z: torch.sqrt((z[:, 0] - z[:, 1]) ** 2 + z[:, 2] ** 2)  # noqa: E731
    assert _best_symmetry(dist, x) == (0, 1, "minus")
    assert _best_symmetry(lambda z: torch.sin(z[:, 0] + z[:, 2]) * z[:, 1], x) == (0, 2, "plus")
    assert _best_symmetry(lambda z: torch.sin(z[:, 1] * z[:, 2]) + z[:, 0], x) == (1, 2, "product")
    pos = _samples(3, 0.5, 2.0)
    assert _best_symmetry(lambda z: torch.exp(z[:, 0] / z[:, 2]) + z[:, 1], pos) == (0, 2, "ratio")


def test_no_symmetry_when_there_is_none():
    x = _samples(2)
    assert _best_symmetry(lambda z: z[:, 0] + z[:, 1] ** 2, x) is None
    # a ratio needs a denominator of one sign: x_j crossing zero is never proposed
    found = reduce.symmetries(reduce.gradient(lambda z: z[:, 0] / (z[:, 1] + 3), x), x, 1.0)
    assert all(s.kind != "ratio" for s in found)


def _scaling_rows(f, x, log: bool):
    """[x_i d_i f, -f] or, for f of one sign, [d log f / d log x_i, -1]: (N, d + 1)."""
    g = reduce.gradient(f, x) * x
    with torch.no_grad():
        v = f(x)
    if log:
        return torch.cat([g / v[:, None], -torch.ones(len(x), 1, dtype=x.dtype)], 1)
    return torch.cat([g, -v[:, None]], 1)


def _span(rows, m):
    """The row space of Fraction vectors as a sympy Matrix in reduced echelon form."""
    return sympy.Matrix([[sympy.Rational(v.numerator, v.denominator) for v in r]
                         for r in rows]).rref()[0][:len(rows), :m]


def test_scalings_of_arrhenius_are_its_units():
    # A exp(-E / (R T)): A alone (f scales with it), E with R, E with T (f scales with T^0)
    x = _samples(4, 0.5, 2.0, n=2000)
    f = lambda z: z[:, 0] * torch.exp(-3 * z[:, 1] / (z[:, 2] * z[:, 3]))  # noqa: E731
    want = [[1, 0, 0, 0, 1], [0, 1, 1, 0, 0], [0, 1, 0, 1, 0]]
    for log in (True, False):
        bases = reduce.scalings(_scaling_rows(f, x, log), largest=1e-6)  # exact gradients
        assert bases, log
        assert len(bases[0]) == 3
        assert _span(bases[0], 5) == sympy.Matrix(want).rref()[0]
        # the simplest members: sparse, small integers
        assert all(sum(1 for v in r[:-1] if v) <= 2 for r in bases[0])


def test_scalings_with_a_half_power_and_a_sign_change():
    # V sqrt(L / C) sin(t / sqrt(L C)): f changes sign, exponents are halves
    x = _samples(4, 0.5, 2.0, n=2000)
    f = lambda z: z[:, 0] * torch.sqrt(z[:, 1] / z[:, 2]) * torch.sin(  # noqa: E731
        3 * z[:, 3] / torch.sqrt(z[:, 1] * z[:, 2]))
    bases = reduce.scalings(_scaling_rows(f, x, log=False), largest=1e-6)
    want = [[1, 0, 0, 0, 1], [0, 2, 0, 1, 1], [0, 0, 2, 1, -1]]
    assert _span(bases[0], 5) == sympy.Matrix(want).rref()[0]


def test_no_scalings_without_a_symmetry():
    x = _samples(2, 0.5, 2.0, n=2000)
    for f, log in ((lambda z: z[:, 0] + z[:, 1] ** 2 + 1, False),
                   (lambda z: torch.exp(z[:, 0]) * (z[:, 1] + 1), True)):
        assert reduce.scalings(_scaling_rows(f, x, log), largest=1e-6) == []
    # three positive columns are never far from dependent: what counts as zero must come
    # from the gradients' error (here 6% of the columns' rms passes for a symmetry)
    a = _scaling_rows(lambda z: z[:, 0] + z[:, 1] ** 2 + 1, x, False)
    assert reduce.scalings(a, largest=0.3) != []


def test_combine_on_tensors_and_symbols():
    a, b = sympy.symbols("a b")
    assert reduce.combine("ratio", a, b) == a / b
    assert reduce.combine("minus", a, b) == a - b
    t = torch.tensor([3.0])
    assert float(reduce.combine("product", t, t)) == 9.0
    assert float(reduce.combine("plus", t, t)) == 6.0


def test_additive_separation_groups():
    x = _samples(3)
    f = lambda z: z[:, 0] * z[:, 1] + torch.sin(z[:, 2])  # noqa: E731
    assert reduce.split_with_margin(f, x, 1e-6, "add")[0] == [[0, 1], [2]]
    assert reduce.split_with_margin(f, x, 1e-6, "mul")[0] == [[0, 1, 2]]


def test_multiplicative_separation_with_and_without_sign_changes():
    x = _samples(4)
    signed = lambda z: (z[:, 0] + z[:, 1]) * (z[:, 2] + z[:, 3])  # noqa: E731
    assert reduce.split_with_margin(signed, x, 1e-6, "mul")[0] == [[0, 1], [2, 3]]
    def positive(z):
        return torch.exp(z[:, 0] * z[:, 1]) * (z[:, 2] + 2) * (z[:, 3] ** 2 + 1)

    assert reduce.split_with_margin(positive, x, 1e-6, "mul")[0] == [[0, 1], [2], [3]]
    assert reduce.split_with_margin(positive, x, 1e-6, "add")[0] == [[0, 1, 2, 3]]


def _product3(z):
    return (z[:, 0] + z[:, 1]) * (z[:, 2] + z[:, 3]) * (z[:, 4] + z[:, 5])


def test_multiplicative_separation_when_f_crosses_zero_with_noise():
    for seed in range(3):
        x = _samples(6, seed=seed)
        # sin(P) is nearly a product wherever |P| is small: still one group
        groups = reduce.split_with_margin(lambda z: torch.sin(_product3(z)), x, 0.01, "mul",
                                          seed=seed)[0]
        assert groups == [[0, 1, 2, 3, 4, 5]]
        gen = torch.Generator().manual_seed(seed)
        sd = float(_product3(x).std())

        def noisy(z):  # 1% Gaussian noise on every evaluation
            return _product3(z) + 0.01 * sd * torch.randn(z.shape[0], generator=gen,
                                                          dtype=z.dtype)

        groups, margin = reduce.split_with_margin(noisy, x, 0.03, "mul", seed=seed)
        assert groups == [[0, 1], [2, 3], [4, 5]] and margin < 0.1


def test_cut_lifts_one_noise_level_but_keeps_spread_weak_couplings():
    # separable pairs under one surrogate error come out alike
    assert reduce._cut([0.028, 0.031, 0.033, 0.036, 0.5, 0.6], 0.03) == 0.036
    # weak real couplings: spread, and not far enough below the strong ones
    assert reduce._cut([0.026, 0.04, 0.06, 0.08, 0.6, 0.65], 0.01) == 0.01
    # a jump from below the threshold leaves it where it is
    assert reduce._cut([0.001, 0.002, 0.5], 0.01) == 0.01


def test_anchored_part_of_an_additive_function():
    x = _samples(2)
    anchors = _samples(2, n=8, seed=1)
    f = lambda z: torch.sin(z[:, 0]) + z[:, 1] ** 2  # noqa: E731
    part = reduce.anchored(f, x, [0], anchors)
    assert torch.allclose(part, torch.sin(x[:, 0]) + (anchors[:, 1] ** 2).mean(), atol=1e-12)
