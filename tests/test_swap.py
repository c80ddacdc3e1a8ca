"""Reordering hidden nodes (swap, permute_nodes, auto_swap): the function never changes."""
import pytest
import torch

import kansci as ks


def _model(width, seed=0, **kw):
    model = ks.MultKAN(width, grid=4, seed=seed, dtype=torch.float64, **kw)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # distinct affines, so a misplaced one would show
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    return model


def _x(n_in, seed=3):
    return torch.rand(200, n_in, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("width,arity", [
    ([2, 5, 3, 1], 2), ([3, [2, 3], [1, 2], 2], [[], [2, 3, 2], [3, 2], []])])
def test_permuting_hidden_nodes_keeps_the_function(width, arity):
    model = _model(width, mult_arity=arity)
    x = _x(width[0])
    model.fix_symbolic(0, 1, 1, "sin", fit_params=False, affine=(1.3, 0.2, 0.7, -0.1))
    model.layers[1].mask[0, 1] = 0.0  # a switched-off edge moves with its node
    before = model(x)
    gen = torch.Generator().manual_seed(5)
    for l in range(1, model.depth):
        n_sum, n = model.width[l][0], model.width_in[l]
        order = torch.randperm(n_sum, generator=gen).tolist() + \
            (n_sum + torch.randperm(n - n_sum, generator=gen)).tolist()
        model.permute_nodes(l, order)
    assert torch.allclose(model(x), before, atol=1e-12)
    assert model.layers[0].sym_names[1].count("sin") == 1


def test_swap_moves_edges_and_scores_and_twice_is_identity():
    model = _model([2, 4, 1])
    x = _x(2)
    model.attribute(x)
    scores = [e.clone() for e in model.edge_scores]
    coef = model.layers[0].coef.clone()
    model.swap(1, 0, 3)
    assert torch.equal(model.layers[0].coef[:, 0], coef[:, 3])
    assert torch.equal(model.edge_scores[0][:, 3], scores[0][:, 0])
    assert torch.equal(model.edge_scores[1][0], scores[1][3])
    model.attribute(x)  # recomputed scores agree with the moved ones
    assert torch.allclose(model.edge_scores[0][:, 3], scores[0][:, 0])
    model.swap(1, 3, 0)
    assert torch.equal(model.layers[0].coef, coef)


def test_swap_and_permute_reject_bad_layers_nodes_and_kinds():
    model = _model([2, [2, 1], 1])
    with pytest.raises(ValueError, match="layer 0"):
        model.swap(0, 0, 1)
    with pytest.raises(ValueError, match="layer 2"):
        model.permute_nodes(2, [0])
    with pytest.raises(ValueError, match="nodes 0 and 5"):
        model.swap(1, 0, 5)
    with pytest.raises(ValueError, match="cannot trade places"):
        model.swap(1, 0, 2)  # a sum node and a multiplication node
    with pytest.raises(ValueError, match="permutation"):
        model.permute_nodes(1, [0, 0, 2])


def test_auto_swap_puts_two_modules_side_by_side():
    """Two independent blocks wired in an interleaved order come out as contiguous blocks."""
    model = _model([4, 4, 2])
    with torch.no_grad():  # hidden nodes 0, 2 read x0, x1 and feed output 0; 1, 3: x2, x3 -> 1
        m0, m1 = model.layers[0].mask, model.layers[1].mask
        m0.zero_()
        m0[0:2, [0, 2]] = 1.0
        m0[2:4, [1, 3]] = 1.0
        m1.zero_()
        m1[[0, 2], 0] = 1.0
        m1[[1, 3], 1] = 1.0
    x = _x(4)
    before = model(x)
    start = model.connection_cost(x)
    reached = model.auto_swap(x)
    assert reached < start and reached == pytest.approx(model.connection_cost())
    assert torch.allclose(model(x), before, atol=1e-12)
    on = model.layers[0].mask.bool()
    first = on[:, :2].any(0), on[:, 2:].any(0)
    assert bool(first[0].all() and first[1].all())
    feeds = [set(on[:, j].nonzero()[:, 0].tolist()) for j in range(4)]
    assert feeds[0] == feeds[1] and feeds[2] == feeds[3] and feeds[0] != feeds[2]
