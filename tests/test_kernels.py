"""Triton kernels for the KAN layer, run in the Triton interpreter (no GPU needed), and their
dispatch from MultKAN (backend="triton" on CPU tensors).

TRITON_INTERPRET is set at the top of this module so these tests interpret on a GPU machine
as well; without it, on a machine without CUDA, kansci.kernels interprets its own kernels
without writing the environment (the last test, in a fresh process)."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from kansci._layer import KANLayer  # noqa: E402
from kansci._spline import basis_table  # noqa: E402

import kansci as ks  # noqa: E402
from kansci._train import regularizer  # noqa: E402

triton = pytest.importorskip("triton")
from kansci.kernels.spline_layer import INTERPRETED  # noqa: E402

needs_interpreter = pytest.mark.skipif(not INTERPRETED,
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


def _twins(width, **kw):
    """The same float32 model on the PyTorch path and on the kernels."""
    torch_model = ks.MultKAN(width, grid=4, k=3, seed=3, dtype=torch.float32, backend="torch",
                             **kw)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for layer in torch_model.layers:
            layer.coef.normal_(generator=gen)
    torch_model.update_grid(torch.rand(300, width[0], generator=gen) ** 2 * 2 - 1)
    kernel_model = ks.MultKAN(width, grid=4, k=3, seed=3, dtype=torch.float32,
                              backend="triton", **kw)
    kernel_model.load_state_dict(torch_model.state_dict())
    return torch_model, kernel_model


@needs_interpreter
def test_multkan_dispatches_to_the_kernels_and_matches_the_pytorch_path():
    torch_model, kernel_model = _twins([3, [2, 1], 1], affine_trainable=True)
    x = torch.rand(40, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert torch_model.kernel_for(x) is None
    assert kernel_model.kernel_for(x) is not None
    # "auto" keeps CPU tensors on the PyTorch path
    assert ks.MultKAN([3, 2, 1], backend="auto").kernel_for(x) is None
    assert torch.allclose(kernel_model(x), torch_model(x), atol=1e-5, rtol=1e-5)
    # the training objective (with the regulariser) and every parameter gradient
    y = torch.rand(40, 1, generator=torch.Generator().manual_seed(2))
    grads = []
    for model in (torch_model, kernel_model):
        pred, scales = model._run_fused(x, with_scale=True)
        obj = ((pred - y) ** 2).mean() + 1e-2 * regularizer(model, scales, 1.0, 2.0)
        params = [p for p in model.parameters() if p.requires_grad]
        grads.append((obj.detach(), torch.autograd.grad(obj, params, allow_unused=True)))
    assert torch.allclose(grads[0][0], grads[1][0], rtol=1e-5)
    for want, got in zip(*(g[1] for g in grads)):
        assert (got is None) == (want is None)
        assert got is None or torch.allclose(got, want, atol=1e-5, rtol=1e-4)


@needs_interpreter
def test_fit_on_the_kernels_follows_the_pytorch_path():
    torch_model, kernel_model = _twins([2, 3, 1])
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(48, 2, generator=gen) * 2 - 1
    ds = {"train_input": x, "train_label": torch.sin(3 * x[:, :1]) * x[:, 1:]}
    kw = dict(opt="Adam", lr=0.02, steps=4, lamb=1e-3, update_grid=False, progress=False)
    want = torch_model.fit(ds, **kw)["train_loss"]
    got = kernel_model.fit(ds, **kw)["train_loss"]
    assert got[-1] < got[0]
    assert max(abs(a - b) / b for a, b in zip(got, want)) < 1e-4
    kernel_model.fix_symbolic(0, 0, 0, "sin")  # a symbolic edge next to the spline kernels
    torch_model.fix_symbolic(0, 0, 0, "sin")
    assert torch.allclose(kernel_model(x), torch_model(x), atol=1e-5, rtol=1e-5)


@needs_interpreter
def test_kernel_path_refuses_second_derivatives_and_other_base_functions():
    _, kernel_model = _twins([2, 2, 1])
    x = (torch.rand(8, 2) * 2 - 1).requires_grad_()
    (g,) = torch.autograd.grad(kernel_model(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="grad"):  # not silently zero
        torch.autograd.grad(g.sum(), x)
    with pytest.raises(ValueError, match="silu"):
        ks.MultKAN([2, 2, 1], base_fun="identity", backend="triton")


_FRESH = """
import os, torch
import kansci as ks
from kansci.kernels.spline_layer import INTERPRETED
import triton
x = torch.rand(64, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
ref = ks.MultKAN([3, 4, 2], grid=5, seed=0, backend="torch")
tri = ks.MultKAN([3, 4, 2], grid=5, seed=0, backend="triton")
y_ref, y_tri = ref(x), tri(x)
y_tri.square().sum().backward()
diff = float((y_ref - y_tri).abs().max())
knob = bool(triton.knobs.runtime.interpret) if hasattr(triton, "knobs") else None
print(INTERPRETED, "TRITON_INTERPRET" in os.environ, knob, diff < 1e-4,
      tri.layers[0].coef.grad is not None)
"""


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the kernels are compiled")
def test_kernels_interpret_on_cpu_without_writing_the_environment():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run([sys.executable, "-c", _FRESH], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    interpreted, env_written, knob, close, grad = run.stdout.split()
    assert (interpreted, close, grad) == ("True", "True", "True")
    if knob != "None":  # Triton >= 3.4: its own setting, restored after each use; no env
        assert (knob, env_written) == ("False", "False")
