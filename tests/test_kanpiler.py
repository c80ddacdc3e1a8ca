"""kanpiler round trip: formula -> network -> formula, exactly, on a corpus of 45 formulas."""
import pytest
import sympy
import torch

import kansci as ks

CORPUS = [
    # pykan's failing cases: several functions of one variable (#557), and friends
    "sin(5*a) + cos(3*a)", "sin(a) + sin(2*a) + sin(3*a)", "exp(a) + a**2 + a",
    "a*b + a", "a**2 + a*b + b**2",
    # products of 3 and 4 factors, quotients
    "a*b*c", "a*b*c*d", "2*a*b*c - c", "a/b", "a*b/c", "(a + b)/(c + d)", "a/(b*c*d)",
    "1/a + 1/b", "a*b/(a + b)",
    # powers and roots
    "a**2", "a**3 - 2*a", "sqrt(a**2 + b**2)", "sqrt(a*b)", "a**1.5", "1/sqrt(a)", "a**(-2)",
    "(a + b)**2", "(a - 2*b)**3",
    # nested functions and constants
    "exp(sin(pi*a) + b**2)", "sin(cos(a))", "exp(-a**2)", "log(1 + a**2)", "tanh(a*b)",
    "sin(a*b) + a", "cos(pi*a)*exp(b)", "exp(-a/b)", "atan(a/b)", "log(a*b*c)",
    "3*a + 2", "a - b", "a + b + c + d", "sin(a + b)", "exp(a + b + c)",
    # physics laws
    "a*b**2/2", "a*b/c**2", "sqrt(1 - a**2/4)", "a*(1 - b)**2", "exp(-a*b)*c",
    "a*sin(b)*cos(c)", "(a**2 + b**2)*exp(-c)",
]


@pytest.mark.parametrize("text", CORPUS)
def test_kanpiler_round_trip_is_exact(text):
    names = ["a", "b", "c", "d"]
    variables = sympy.symbols(names)
    expr = ks._kanpiler.parse_formula(text, variables)
    used = [v for v in variables if v in expr.free_symbols]
    model = ks.kanpiler(used, text)
    gen = torch.Generator().manual_seed(0)
    x = 0.3 + torch.rand(300, len(used), generator=gen, dtype=torch.float64)  # in (0.3, 1.3)
    fn = sympy.lambdify(used, expr, "numpy")
    expected = torch.as_tensor(fn(*x.t().numpy()), dtype=torch.float64).reshape(-1)
    with torch.no_grad():
        assert torch.allclose(model(x)[:, 0], expected.expand(len(x)), atol=1e-6, rtol=1e-9)
    (back,), _ = model.symbolic_formula()
    assert sympy.simplify(back - expr) == 0


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


def test_compiled_network_trains_further():
    a, b = sympy.symbols("a b")
    model = ks.kanpiler([a, b], a * b + sympy.sin(a))
    x = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    y = (x[:, 0] * x[:, 1] + torch.sin(x[:, 0]) + 0.1 * x[:, 1] ** 2).unsqueeze(1)  # a deviation
    with torch.no_grad():
        before = float(((model(x) - y) ** 2).mean().sqrt())
    model.fit(x, y, steps=20, progress=False)
    with torch.no_grad():
        after = float(((model(x) - y) ** 2).mean().sqrt())
    assert after < before


@pytest.mark.parametrize("text,match", [
    ("__import__('os').system('true')", "neither a variable"),
    ("a.real", "only arithmetic"),
    ("sin(a", "cannot parse"),
    ("besselj(0, a)", "neither a variable"),
    ("a + q", "neither a variable"),
])
def test_bad_formula_strings_are_clear_errors(text, match):
    with pytest.raises(ValueError, match=match):
        ks.kanpiler(["a"], text)


def test_functions_outside_the_library_are_clear_errors():
    a = sympy.Symbol("a")
    with pytest.raises(ValueError, match="not a library function"):
        ks.kanpiler([a], sympy.besselj(0, a))
    with pytest.raises(ValueError, match="exponent"):
        ks.kanpiler([a], a**7)
    with pytest.raises(ValueError, match="constant"):
        ks.kanpiler([a], sympy.Integer(3))


@pytest.mark.parametrize("sum_bool", [True, False])
def test_widen_deepen_perturb_keep_the_function_then_learn_a_correction(sum_bool):
    a, b = sympy.symbols("a b")
    model = ks.kanpiler([a, b], a * b + sympy.sin(a))  # layers: [2, [1, 1], 1]
    x = torch.rand(300, 2, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        y0 = model(x)
    grown = model.expand_width(1, 2, sum_bool=sum_bool).expand_depth().perturb()
    assert grown.depth == model.depth + 1
    assert grown.width[1] == ([3, 1] if sum_bool else [1, 3])
    with torch.no_grad():
        assert torch.allclose(grown(x), y0, atol=1e-12)
    target = y0 + 0.2 * x[:, [1]] ** 2  # the law plus a correction the compiled net lacks
    with torch.no_grad():
        before = float(((grown(x) - target) ** 2).mean().sqrt())
    grown.fit(x, target, steps=30, progress=False)
    with torch.no_grad():
        after = float(((grown(x) - target) ** 2).mean().sqrt())
    assert after < 0.2 * before


def test_round_trip_keeps_exact_constants_exact():
    # each edge's parameters snap before the edges compose: exp(-a/10 - 1/10) stays exact
    # instead of folding into 0.0951625819640405*exp(-a/10)
    a, b = sympy.symbols("a b")
    law = b - sympy.exp(-a / 10 - sympy.Rational(1, 10)) + sympy.exp(-a / 10)
    (back,), _ = ks.kanpiler([a, b], law).symbolic_formula()
    assert not back.atoms(sympy.Float), back
    assert sympy.simplify(back - law) == 0
