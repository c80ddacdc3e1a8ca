"""Tree converter hypothesis tests on functions with known structure (pykan tutorial cases)."""
import pytest
import sympy
import torch

import kansci as ks
from kansci._hypothesis import interaction_matrix

GEN = torch.Generator().manual_seed(0)
X6 = torch.rand(400, 6, generator=GEN, dtype=torch.float64) * 2 - 1
POS6 = 0.5 + torch.rand(400, 6, generator=GEN, dtype=torch.float64)


def test_additive_groups():
    f = lambda x: x[:, 0] * x[:, 1] + x[:, 2] * x[:, 3] + x[:, 4] * x[:, 5]  # noqa: E731
    assert ks.detect_separability(f, X6, mode="add") == [[0, 1], [2, 3], [4, 5]]


def test_multiplicative_groups():
    f = lambda x: (x[:, 0] + x[:, 1]) * (x[:, 2] + x[:, 3]) * (x[:, 4] + x[:, 5])  # noqa: E731
    assert ks.detect_separability(f, POS6, mode="mul") == [[0, 1], [2, 3], [4, 5]]
    assert ks.detect_separability(f, POS6, mode="add") == [[0, 1, 2, 3, 4, 5]]


def _product3(x):
    return (x[:, 0] + x[:, 1]) * (x[:, 2] + x[:, 3]) * (x[:, 4] + x[:, 5])


@pytest.mark.parametrize("seed", range(5))
def test_multiplicative_groups_where_f_changes_sign(seed):
    # f crosses zero inside the box: log|f| and its Hessian blow up there, f f_ij - f_i f_j not
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(300, 6, generator=gen, dtype=torch.float64) * 2 - 1
    assert ks.detect_separability(_product3, x, mode="mul") == [[0, 1], [2, 3], [4, 5]]
    # sin(P) is nearly a product where |P| is small, but not where it is large
    sin_p = lambda z: torch.sin(_product3(z))  # noqa: E731
    assert ks.detect_separability(sin_p, x, mode="mul") == [[0, 1, 2, 3, 4, 5]]
    s = interaction_matrix(sin_p, x, mode="mul")
    assert s[0, 2] > 0.1 and s[1, 4] > 0.1


def test_multiplicative_strengths_are_finite_at_zeros_of_f():
    x = X6[:, :3].clone()
    x[0, 0] = 0.0  # f = 0 on a sample
    s = interaction_matrix(lambda z: z[:, 0] * z[:, 1] * z[:, 2], x, mode="mul")
    assert torch.isfinite(s).all() and float(s.max()) < 1e-9  # rounding, not scaled up to 1
    assert ks.detect_separability(lambda z: z[:, 0] * z[:, 1] * z[:, 2], x, mode="mul") == \
        [[0], [1], [2]]


def test_a_coupling_in_part_of_the_domain_counts():
    def f(x):  # (x0 x1 x2)^3 is tiny for most samples: a median would call f additive
        return torch.sin(x[:, 0]) + x[:, 1] + 0.5 * (x[:, 0] * x[:, 1] * x[:, 2]) ** 3

    assert ks.detect_separability(f, X6[:, :3], mode="add") == [[0, 1, 2]]


def test_general_separability():
    f = lambda x: torch.sin((x[:, 0] + x[:, 1]) * (x[:, 2] + x[:, 3]))  # noqa: E731
    x = X6[:, :4]
    assert ks.test_general_separability(f, x, [0, 1])
    assert not ks.test_general_separability(f, x, [0, 2])


def test_symmetry_of_a_ratio():
    f = lambda x: x[:, 0] * torch.sqrt(1 + (x[:, 1] / x[:, 2]) ** 2)  # noqa: E731  a sqrt(1+(b/c)^2)
    x = POS6[:, :3]
    assert ks.test_symmetry(f, x, [1, 2])
    assert not ks.test_symmetry(f, x, [0, 1])


def test_tree_of_nested_sums():
    f = lambda x: (x[:, 0] ** 2 + x[:, 1] ** 2) ** 2 + (x[:, 2] ** 2 + x[:, 3] ** 2) ** 2  # noqa: E731
    tree = ks.plot_tree(f, X6[:, :4], in_vars=["a", "b", "c", "d"])
    root = (0, 1, 2, 3)
    assert set(tree.successors(root)) == {(0, 1), (2, 3)}
    assert set(tree.successors((0, 1))) == {(0,), (1,)}
    assert tree.nodes[(0, 1)]["label"] == "a, b"


def test_tests_run_on_a_model():
    a, b, c = sympy.symbols("a b c")
    model = ks.kanpiler([a, b, c], a * b + sympy.sin(c))
    x = X6[:, :3]
    assert ks.detect_separability(model, x) == [[0, 1], [2]]
    assert ks.test_symmetry(model, x, [0, 1])
