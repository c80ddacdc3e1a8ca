import pytest
import torch

from kansci._spline import (basis_table, dense_basis, extend_grid, features, features_reference,
                            fit_coef, grid_from_samples, interpolate_grid, local_basis,
                            uniform_grid)



def _grid(in_dim, g, k, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inner = torch.sort(torch.rand(in_dim, g + 1, generator=gen, dtype=torch.float64) * 4 - 2)[0]
    return extend_grid(inner, k)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_local_basis_matches_pykan_recursion(k):
    kan_spline = pytest.importorskip("kan.spline")
    grid = _grid(3, 6, k)
    x = torch.rand(500, 3, dtype=torch.float64) * 8 - 4  # inside, in the extension and outside
    ours = dense_basis(x, grid, k)
    ref = kan_spline.B_batch(x, grid, k=k)
    assert ours.shape == ref.shape == (500, 3, 6 + k)
    assert torch.allclose(ours, ref, atol=1e-12)


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_table_features_match_recursion_and_sum_to_one(k, local):
    grid = _grid(4, 7, k, seed=1)
    x = torch.rand(300, 4, dtype=torch.float64) * 6 - 3
    a = features(x, grid, basis_table(grid, k, local), "silu")
    ref = features_reference(x, grid, k, "silu")
    assert torch.allclose(a, ref, atol=1e-10)
    inner = (x > grid[:, k]) & (x < grid[:, -k - 1])
    assert torch.allclose(a[..., 1:].sum(-1)[inner], torch.ones(int(inner.sum()), dtype=x.dtype))


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_feature_gradients_first_and_second_order(k, local):
    grid = _grid(2, 5, k, seed=2)
    table = basis_table(grid, k, local)
    x = (torch.rand(20, 2, dtype=torch.float64) * 3 - 1.5).requires_grad_()
    w = torch.randn(20, 2, 6 + k, dtype=torch.float64)
    f = lambda x: (features(x, grid, table, "silu") * w).sum(-1)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_local_basis_derivative_matches_finite_difference():
    grid = _grid(2, 5, 3, seed=3)
    x = torch.rand(2, 50, dtype=torch.float64) - 0.5
    h = 1e-6
    _, v1, d = local_basis(x, grid, 3, deriv=True)
    _, v2, _ = local_basis(x + h, grid, 3)
    assert torch.allclose((v2 - v1) / h, d, atol=1e-4)


def test_fit_coef_rank_deficient_is_finite_and_exact_when_full_rank():
    grid = uniform_grid(2, 5, 3, (-1, 1), dtype=torch.float64)
    x = torch.zeros(40, 2, dtype=torch.float64)  # every sample at one point: rank 1
    y = torch.randn(40, 2, 3, dtype=torch.float64)
    c = fit_coef(x, y, grid, 3)
    assert torch.isfinite(c).all()
    xs = torch.rand(400, 2, dtype=torch.float64) * 2 - 1
    coef = torch.randn(2, 3, 8, dtype=torch.float64)
    ys = torch.einsum("bim,iom->bio", dense_basis(xs, grid, 3), coef)
    assert torch.allclose(fit_coef(xs, ys, grid, 3), coef, atol=1e-9)


def test_grid_from_samples_and_interpolation():
    x = torch.rand(1000, 2, dtype=torch.float64) ** 3
    g = grid_from_samples(x, 5, 3, grid_eps=0.0)
    assert g.shape == (2, 12)
    assert torch.all(g[:, 1:] > g[:, :-1])
    assert torch.allclose(g[:, 3], x.min(0).values) and torch.allclose(g[:, -4], x.max(0).values)
    fine = interpolate_grid(g, 3, 10, 3)
    assert fine.shape == (2, 17)
    assert torch.allclose(fine[:, 3], g[:, 3]) and torch.allclose(fine[:, -4], g[:, -4])


@pytest.mark.parametrize("local", [False, True])
def test_chunked_features_match_and_stay_differentiable(monkeypatch, local):
    import kansci._spline as sp

    grid = _grid(3, 5, 3, seed=4)
    table = basis_table(grid, 3, local)
    x = (torch.rand(50, 3, dtype=torch.float64) * 3 - 1.5).requires_grad_()
    whole = features(x, grid, table, "silu")
    monkeypatch.setattr(sp, "_CHUNK", 3 * table.rows.shape[1] * 7)  # chunks of 7 samples
    parts = features(x, grid, table, "silu")
    assert torch.equal(whole, parts)
    f = lambda x: features(x, grid, table, "silu").sum(-1)  # noqa: E731
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("chunk", [False, True])
@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_batch_last_features_match_the_table_features(k, local, chunk, monkeypatch):
    """The training step's (F, in, batch) features and x-derivatives equal the (batch, in, F)
    ones, on a non-uniform grid, inside, in the extension and outside it."""
    import kansci._batchlast as bl
    from kansci._spline import spline_features

    grid = _grid(4, 7, k, seed=5)
    table = basis_table(grid, k, local)
    x = torch.rand(300, 4, dtype=torch.float64) * 6 - 3
    vals, dvals = spline_features(x, grid, table, "silu", True)
    if chunk:
        monkeypatch.setattr(bl, "_CHUNK", 4 * bl.column_table(table).cols.shape[0] * 7)
    vals_t, dvals_t = bl.features_t(x.t().contiguous(), grid, bl.column_table(table), "silu", True)
    assert vals_t.shape == (7 + k + 1, 4, 300)
    assert torch.allclose(vals_t.permute(2, 1, 0), vals, atol=1e-12)
    assert torch.allclose(dvals_t.permute(2, 1, 0), dvals, atol=1e-9)
    only, none = bl.features_t(x.t().contiguous(), grid, bl.column_table(table), "silu", False)
    assert none is None and torch.equal(only, vals_t)
