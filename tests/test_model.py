import copy
import math

import numpy as np
import pytest
import torch

import kansci as ks


def test_shapes_and_leading_dims():
    model = ks.MultKAN([3, [2, 2], 2], grid=4, k=2, mult_arity=3, seed=0)
    assert model.width == [[3, 0], [2, 2], [2, 0]]
    assert model.width_out == [3, 8, 2]
    x = torch.rand(4, 5, 3)
    y = model(x)
    assert y.shape == (4, 5, 2)
    assert torch.allclose(y.reshape(-1, 2), model(x.reshape(-1, 3)))


def test_same_seed_same_model_and_no_global_rng_use():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = ks.MultKAN([2, 5, 1], seed=7)
    after = torch.rand(3)
    assert torch.equal(before, after)  # the constructor did not touch the global RNG
    b = ks.MultKAN([2, 5, 1], seed=7)
    c = ks.MultKAN([2, 5, 1], seed=8)
    x = torch.rand(10, 2)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))


@pytest.mark.parametrize("kwargs,match", [
    (dict(width=[2, 0, 1]), "no nodes"),
    (dict(width=[2, [0, 0], 1]), "no nodes"),
    (dict(width=[2]), "at least 2"),
    (dict(width=[2, 5, 1], k=0), "k must be >= 1"),
    (dict(width=[2, 5, 1], grid=0), "grid must be >= 1"),
    (dict(width=[2, [1, 2], 1], mult_arity=[[], [2], []]), "mult_arity"),
    (dict(width=[2, 5, 1], base_fun="relu"), "base_fun"),
    (dict(width=[2, 5, 1], backend="cuda"), "backend"),
])
def test_bad_construction_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ks.MultKAN(**kwargs)


def test_bad_input_is_a_clear_error():
    model = ks.MultKAN([2, 3, 1])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        model(torch.rand(5, 3))
    with pytest.raises(TypeError, match="dtype"):
        model(torch.rand(5, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(np.zeros((5, 2)))


def test_symbolic_edge_is_c_f_ax_plus_b_plus_d():
    model = ks.MultKAN([2, 1], grid=3, seed=0, dtype=torch.float64)
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    spline_only = model.layers[0].edge_activations(x)[:, 1, 0]
    model.fix_symbolic(0, 0, 0, "sin", fit_params=False, affine=(2.0, 0.5, 1.5, -0.25))
    expected = 1.5 * torch.sin(2.0 * x[:, 0] + 0.5) - 0.25 + spline_only
    assert torch.allclose(model(x)[:, 0], expected)
    model.unfix_symbolic(0, 0, 0)
    assert not model.layers[0].has_symbolic()
    with pytest.raises(ValueError, match="Did you mean 'sin'"):
        model.fix_symbolic(0, 0, 0, "sinn", fit_params=False)
    with pytest.raises(ValueError, match="does not exist"):
        model.fix_symbolic(0, 2, 0, "sin", fit_params=False)


def test_symbolic_branch_vectorised_over_edges():
    model = ks.MultKAN([3, 4, 1], seed=0, dtype=torch.float64)
    names = ["sin", "x^2", "exp", "sin"]
    for j, name in enumerate(names):
        for i in range(3):
            model.fix_symbolic(0, i, j, name, fit_params=False, affine=(0.5 + i, 0.1 * j, 1.0, 0.2))
    layer = model.layers[0]
    assert set(layer._symbolic_groups()) == {"sin", "x^2", "exp"}
    x = torch.rand(30, 3, dtype=torch.float64)
    acts = layer.edge_activations(x)  # (batch, in, out)
    y, _ = layer(x)
    assert torch.allclose(acts.sum(1), y)
    assert torch.allclose(acts[:, 2, 2], torch.exp(2.5 * x[:, 2] + 0.2) + 0.2)


@pytest.mark.parametrize("width", [[3, [2, 2], 2], [2, 3, 2, 1]])
def test_fused_training_path_matches_composed_path(width):
    model = ks.MultKAN(width, grid=4, seed=3, dtype=torch.float64, affine_trainable=True)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:  # non-trivial node affines
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    model.fix_symbolic(0, 1, 0, "sin", fit_params=False, affine=(1.5, 0.2, 0.7, 0.1))
    x = torch.rand(64, width[0], dtype=torch.float64) * 2 - 1
    grads = []
    for fused in (False, True):
        model.zero_grad()
        y, scales = model._run_fused(x, with_scale=True) if fused else model._run(x, True)
        ((y ** 2).sum() + sum(s.sum() for s in scales)).backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10)


def test_deepcopy_after_forward_and_model_gradients_wrt_input():
    model = ks.MultKAN([2, 4, 1], seed=0, dtype=torch.float64)
    x = (torch.rand(16, 2, dtype=torch.float64)).requires_grad_()
    y = model(x)
    twin = copy.deepcopy(model)
    assert torch.equal(twin(x), y)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g[:, 0].sum(), x)  # second derivatives through the splines
    assert torch.isfinite(h).all() and h.abs().sum() > 0


def test_n_edge_and_config_round_trip():
    model = ks.MultKAN([2, [3, 1], 1], grid=[3, 4], k=[3, 2], seed=0)
    assert model.n_edge == 2 * 5 + 4 * 1
    again = ks.MultKAN(**model.config())
    assert again.width == model.width and again.grid == [3, 4] and again.k == [3, 2]


@pytest.mark.parametrize("grid", [4, 10])  # dense and local basis tables
@pytest.mark.parametrize("mode", ["trained affines", "fixed affines, masked edge", "identity"])
@pytest.mark.parametrize("width,arity,lamb", [
    ([2, 5, 1], 2, 0.0), ([2, 5, 1], 2, 1e-2), ([3, [2, 2], 2], 3, 1e-2),
    ([2, [1, 2], [1, 1], 1], 2, 1e-2), ([2, 3, 2, 1], 2, 0.0), ([2, 3, 2, 1], 2, 1e-2),
    ([2, 9, 1], 2, 1e-2)])  # [2, 9, 1]: a hidden layer wider than its basis rows
def test_hand_written_gradient_matches_autograd(width, arity, lamb, mode, grid):
    model = ks.MultKAN(width, mult_arity=arity, grid=grid, seed=2, dtype=torch.float64,
                       affine_trainable=mode == "trained affines")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1 and mode != "identity":
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
        if mode == "fixed affines, masked edge":
            model.layers[0].mask[1, 0] = 0.0
    x = torch.rand(80, width[0], generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.rand(80, model.width_in[-1], generator=gen, dtype=torch.float64)
    _assert_hand_written_gradient(model, x, y, lamb)


def _assert_hand_written_gradient(model, x, y, lamb):
    """The hand-written step's objective and gradients equal autograd's on the reference
    forward (``_run`` + ``regularizer``)."""
    from kansci._closure import loss_and_grad, plan, step_data, supports
    from kansci._train import regularizer

    weights = (1.0, 2.0, 0.0, 0.0)
    assert supports(model, None, weights, x)
    params = [p for p in model.parameters() if p.requires_grad]
    pred, scales = model._run(x, with_scale=True)
    ref_obj = ((pred - y) ** 2).mean() + lamb * regularizer(model, scales, *weights)
    ref = torch.autograd.grad(ref_obj, params, allow_unused=True)
    ref = [torch.zeros_like(p) if r is None else r for p, r in zip(params, ref)]
    for p in params:
        p.grad = torch.zeros_like(p)
    mse, reg = loss_and_grad(model, plan(model), step_data(model, x, y, reg=True), lamb, weights)
    assert math.isclose(mse + lamb * reg, float(ref_obj.detach()), rel_tol=1e-12, abs_tol=1e-14)
    for p, r in zip(params, ref):
        assert torch.allclose(p.grad, r, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("k,grid", [(1, 3), (2, 4), (5, 3), (2, 12)])
def test_hand_written_gradient_other_spline_orders(k, grid):
    """The edge form and the feature form for other spline orders (dense and local tables)."""
    model = ks.MultKAN([2, 3, 2, 1], grid=grid, k=k, seed=3, dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(60, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.rand(60, 1, generator=gen, dtype=torch.float64)
    _assert_hand_written_gradient(model, x, y, 1e-2)


def test_fix_symbolic_fits_the_affine_of_a_learned_curve():
    model = ks.MultKAN([1, 1], grid=10, seed=0, dtype=torch.float64)
    x = torch.linspace(-1, 1, 400, dtype=torch.float64).unsqueeze(1)
    target = 0.7 * torch.sin(2.5 * x + 0.3) - 0.2
    model.fit(x, target, steps=30, progress=False)
    r2 = model.fix_symbolic(0, 0, 0, "sin")
    a, b, c, d = model.layers[0].sym_affine[0, 0].tolist()
    assert r2 > 0.999
    with torch.no_grad():
        assert torch.allclose(model(x), target, atol=5e-3)
    assert model.fix_symbolic(0, 0, 0, "x^2") < r2  # a worse candidate scores lower


@pytest.mark.parametrize("ops", ["_NumpyOps", "_TorchOps"])  # CPU and GPU arithmetic
def test_lbfgs_direction_is_the_inverse_hessian_approximation(ops, monkeypatch):
    import kansci._lbfgs as lb
    from kansci._lbfgs import LBFGS

    monkeypatch.setattr(lb, "_ops_for", lambda t: getattr(lb, ops))

    gen = torch.Generator().manual_seed(0)
    n = 25
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    hess = a @ a.t() + n * torch.eye(n, dtype=torch.float64)
    opt = LBFGS(torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64))
    opt.history_size = 5
    for _ in range(7):  # the two oldest pairs are dropped again
        s = torch.randn(n, generator=gen, dtype=torch.float64)
        opt._add_pair(opt.ops.view(s), opt.ops.view(hess @ s), float(s.dot(hess @ s)))
    assert len(opt.pairs()) == 5
    g = torch.randn(n, generator=gen, dtype=torch.float64)
    # the BFGS inverse-Hessian update applied pair by pair (Nocedal & Wright, eq. 6.17)
    h = opt.h_diag * torch.eye(n, dtype=torch.float64)
    for s, y in opt.pairs():
        s, y = torch.as_tensor(s), torch.as_tensor(y)
        rho = 1.0 / float(y.dot(s))
        v = torch.eye(n, dtype=torch.float64) - rho * torch.outer(y, s)
        h = v.t() @ h @ v + rho * torch.outer(s, s)
    direction = torch.as_tensor(opt._direction(opt.ops.view(g.clone())))
    assert torch.allclose(direction, -(h @ g), atol=1e-10)


def test_lbfgs_minimises_a_quadratic():
    from kansci._lbfgs import LBFGS

    gen = torch.Generator().manual_seed(1)
    n = 40
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    hess = a @ a.t() / n + torch.eye(n, dtype=torch.float64)
    target = torch.randn(n, generator=gen, dtype=torch.float64)
    flat, grad = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    opt = LBFGS(flat, grad, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        e = flat - target
        grad.copy_(hess @ e)
        return float(0.5 * e @ hess @ e)

    for _ in range(5):
        opt.step(closure)
    assert torch.allclose(flat, target, atol=1e-8)


def test_lbfgs_recovers_from_an_overflowing_trial_step():
    from kansci._lbfgs import LBFGS

    n = 10
    target = torch.linspace(-1, 1, n, dtype=torch.float64)
    flat, grad = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    opt = LBFGS(flat, grad, tolerance_grad=1e-12, tolerance_change=1e-14)
    calls = {"n": 0}

    def closure():
        calls["n"] += 1
        e = flat - target
        grad.copy_(e)
        return float("inf") if calls["n"] == 3 else float(0.5 * e @ e)  # one trial overflows

    losses = [opt.step(closure) for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert torch.isfinite(flat).all() and torch.allclose(flat, target, atol=1e-8)


def test_lbfgs_follows_torch_lbfgs_step_for_step():
    """Same rules as the L-BFGS pykan trains with (torch's, strong Wolfe): on Rosenbrock the
    iterates agree to rounding, including line searches that bracket and zoom."""
    from kansci._lbfgs import LBFGS

    def rosen(v):
        return ((1 - v[:-1]) ** 2).sum() + 100 * ((v[1:] - v[:-1] ** 2) ** 2).sum()

    start = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64)
    ref = start.clone().requires_grad_(True)
    torch_opt = torch.optim.LBFGS([ref], lr=1, history_size=10, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-32, tolerance_change=1e-32)

    def torch_closure():
        torch_opt.zero_grad()
        loss = rosen(ref)
        loss.backward()
        return loss

    flat, grad = start.clone(), torch.zeros(4, dtype=torch.float64)
    ours = LBFGS(flat, grad, lr=1, tolerance_ys=1e-10)  # torch keeps pairs with y.s > 1e-10
    evals = {"n": 0}

    def closure():
        evals["n"] += 1
        v = flat.clone().requires_grad_(True)
        loss = rosen(v)
        grad.copy_(torch.autograd.grad(loss, v)[0])
        return float(loss.detach())

    for _ in range(3):
        torch_opt.step(torch_closure)
        ours.step(closure)
        assert torch.allclose(flat, ref.detach(), rtol=0, atol=1e-9)
    assert evals["n"] > 40  # several iterations per step, line searches included
    assert float(rosen(flat)) < 1e-6


def test_spline_order_grid_and_coefficients_are_checked_on_every_assignment():
    layer = ks.MultKAN([2, 3, 1], grid=5, k=3).layers[0]
    with pytest.raises(ValueError, match="a grid of 12 knots at k=2 needs 9"):
        layer.k = 2
    with pytest.raises(ValueError, match="needs 7"):
        layer.grid = layer.grid[:, :-1].clone()
    with pytest.raises(ValueError, match="coef has 7 basis coefficients"):
        layer.coef = torch.nn.Parameter(layer.coef[..., :-1].clone())
    with pytest.raises(ValueError, match="k \\(the spline order\\) must be an int >= 1"):
        layer.k = 0
    assert layer.k == 3 and layer.num == 5  # nothing was changed by the refused assignments
