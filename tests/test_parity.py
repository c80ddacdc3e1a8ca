"""pykan 0.2.8 as the oracle: identical parameters must give identical outputs and grids."""
import pytest
import torch

import kansci as ks

kan = pytest.importorskip("kan")

CASES = [([2, 5, 1], 2), ([3, [2, 2], 1], 2), ([3, [2, 2], 1], 3), ([2, [0, 1], 1], 2),
         ([3, [1, 2], [1, 1]], [[], [2, 3], [3]])]


@pytest.fixture
def float64(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # pykan may write checkpoints into the working directory
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _pair(width, arity, seed=0):
    pk = kan.MultKAN(width=[w if isinstance(w, int) else list(w) for w in width],
                     mult_arity=arity, grid=5, k=3, seed=seed, auto_save=False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # non-trivial node affines so they are checked too
        for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"):
            for p in getattr(pk, name):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5 + (1.0 if "scale" in name else 0.0))
    return pk, ks.MultKAN.from_pykan(pk)


@pytest.mark.parametrize("width,arity", CASES)
def test_forward_parity(float64, width, arity):
    pk, model = _pair(width, arity)
    x = torch.rand(300, model.n_in) * 2 - 1
    assert model.width_in == pk.width_in and model.width_out == pk.width_out
    assert torch.allclose(model(x), pk(x), atol=1e-6, rtol=0)
    assert (model(x) - pk(x)).abs().max() < 1e-12


@pytest.mark.parametrize("width,arity", CASES)
def test_update_grid_parity_on_skewed_data(float64, width, arity):
    pk, model = _pair(width, arity, seed=1)
    gen = torch.Generator().manual_seed(1)
    x = torch.exp(torch.randn(1000, model.n_in, generator=gen)) - 1  # log-normal: skewed
    pk.update_grid(x)
    model.update_grid(x)
    for a, b in zip(pk.act_fun, model.layers):
        assert (a.grid - b.grid).abs().max() < 1e-10
    assert (model(x) - pk(x)).abs().max() < 1e-4


def test_from_pykan_keeps_symbolic_edges(float64):
    pk, _ = _pair([2, 3, 1], 2)
    pk.fix_symbolic(0, 1, 2, "sin", fit_params_bool=False, log_history=False)
    with torch.no_grad():
        pk.symbolic_fun[0].affine[2, 1] = torch.tensor([2.0, 0.5, 1.5, -0.3])
    model = ks.MultKAN.from_pykan(pk)
    assert model.layers[0].sym_names[1][2] == "sin"
    x = torch.rand(200, 2) * 2 - 1
    assert (model(x) - pk(x)).abs().max() < 1e-12
