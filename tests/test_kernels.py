"""Triton kernels for the KAN layer, run in the Triton interpreter (no GPU needed).

TRITON_INTERPRET must be set before Triton is first imported, so it is set at the top of this
module and Triton is imported only inside the tests."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from kansci._layer import KANLayer  # noqa: E402
from kansci._spline import basis_table  # noqa: E402

triton = pytest.importorskip("triton")
needs_interpreter = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                       reason="Triton was imported before the interpreter was on")


def _layer(n_in, n_out, grid, k, seed=0):
    gen = torch.Generator().manual_seed(seed)
    layer = KANLayer(n_in, n_out, grid=grid, k=k, generator=gen, dtype=torch.float32)
    with torch.no_grad():
        layer.coef.normal_(generator=gen)
        layer.scale_base.normal_(generator=gen)
        layer.scale_sp.uniform_(0.5, 1.5, generator=gen)
        layer.mask[0, 0] = 0.0  # a pruned edge
        # a non-uniform grid: placed on skewed samples
        layer.update_grid((torch.rand(400, n_in, generator=gen) ** 2) * 2 - 1)
    return layer, gen


@needs_interpreter
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_forward_kernel_matches_the_layer_on_non_uniform_grids(k):
    from kansci.kernels.spline_layer import spline_layer_forward

    layer, gen = _layer(3, 20, grid=6, k=k)
    steps = layer.grid[0, 1:] - layer.grid[0, :-1]
    assert not torch.allclose(steps, steps[0].expand_as(steps))  # the grid is not uniform
    x = torch.rand(37, 3, generator=gen) * 2.4 - 1.2  # some samples outside the grid too
    with torch.no_grad():
        want = layer.double()(x.double())[0]  # the PyTorch path in float64
        layer.float()
        got = spline_layer_forward(x, layer.grid, basis_table(layer.grid, k, local=False),
                                   layer.weight())
    assert got.shape == want.shape and got.dtype == torch.float32
    # float32 accumulation: within 1e-5 of the output's scale (k = 5 reaches |y| ~ 100)
    assert float((got.double() - want).abs().max()) < 1e-5 * float(want.abs().max())


@needs_interpreter
def test_forward_kernel_refuses_mismatched_shapes():
    from kansci.kernels.spline_layer import spline_layer_forward

    layer, _ = _layer(2, 4, grid=5, k=3)
    table = basis_table(layer.grid, 3, local=False)
    with pytest.raises(ValueError, match="do not match"):
        spline_layer_forward(torch.zeros(5, 3), layer.grid, table, layer.weight())
    with pytest.raises(ValueError, match="dense table"):
        spline_layer_forward(torch.zeros(5, 2), layer.grid, basis_table(layer.grid, 3, local=True),
                             layer.weight())


@needs_interpreter
@pytest.mark.parametrize("k", [1, 3, 5])
def test_backward_kernels_match_autograd_of_the_layer(k):
    from kansci.kernels.spline_layer import spline_layer_backward

    layer, gen = _layer(3, 20, grid=6, k=k)
    layer.double()
    x = (torch.rand(45, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()
    dy = torch.randn(45, 20, generator=gen, dtype=torch.float64)
    w = layer.weight().detach().requires_grad_()
    feats = layer.features(x)
    y = feats.reshape(45, -1) @ w.reshape(-1, 20)
    want_dx, want_dw = torch.autograd.grad(y, (x, w), dy)
    layer.float()
    dx, dw = spline_layer_backward(x.detach().float(), layer.grid,
                                   basis_table(layer.grid, k, local=False),
                                   layer.weight().detach(), dy.float())
    assert dx.shape == x.shape and dw.shape == w.shape
    for got, want in ((dx, want_dx), (dw, want_dw)):
        assert float((got.double() - want).abs().max()) < 1e-5 * float(want.abs().max())


@needs_interpreter
def test_kernel_layer_gives_every_parameter_gradient_of_the_pytorch_layer():
    from kansci.kernels.spline_layer import SplineLayer

    layer, gen = _layer(4, 18, grid=5, k=3)
    x = (torch.rand(33, 4, generator=gen) * 2 - 1).requires_grad_()
    dy = torch.randn(33, 18, generator=gen)
    params = (layer.coef, layer.scale_base, layer.scale_sp)
    want = torch.autograd.grad(layer(x)[0], (x, *params), dy)
    table = basis_table(layer.grid, 3, local=False)
    y = SplineLayer.apply(x, layer.weight(), layer.grid, table)
    assert torch.allclose(y, layer(x)[0], atol=1e-5, rtol=1e-5)
    got = torch.autograd.grad(y, (x, *params), dy)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-4, rtol=1e-4)
    assert float(got[1][0, 0].abs().max()) == 0.0  # the pruned edge (mask 0) gets no gradient
