"""The core on a CUDA device (skipped without one): same results as on the CPU."""
import pytest
import torch

import kansci as ks
from conftest import hellokan_f, rmse

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_forward_update_grid_and_prune_match_cpu():
    cpu = ks.MultKAN([3, [2, 2], 1], grid=5, seed=0, dtype=torch.float64)
    gpu = ks.MultKAN([3, [2, 2], 1], grid=5, seed=0, dtype=torch.float64, device="cuda")
    x = torch.rand(500, 3, dtype=torch.float64) * 2 - 1
    assert torch.allclose(cpu(x), gpu(x.cuda()).cpu(), atol=1e-12)
    cpu.update_grid(x ** 3)
    gpu.update_grid((x ** 3).cuda())
    assert torch.allclose(cpu(x), gpu(x.cuda()).cpu(), atol=1e-10)
    assert torch.allclose(cpu.prune(x=x)(x), gpu.prune(x=x.cuda())(x.cuda()).cpu(), atol=1e-10)


def test_hellokan_fit_on_cuda(tmp_path):
    ds = ks.create_dataset(hellokan_f, n_var=2, dtype=torch.float64, device="cuda")
    model = ks.MultKAN([2, 5, 1], grid=3, seed=1, dtype=torch.float64, device="cuda")
    model.fit(ds, steps=50, lamb=1e-3, progress=False)
    model = model.prune()
    model.fit(ds, steps=50, progress=False)
    model = model.refine(10)
    model.fit(ds, steps=50, progress=False)
    assert model.device.type == "cuda"
    assert rmse(model, ds) <= 1e-3
    model.save(tmp_path / "m.kan")
    back = ks.MultKAN.load(tmp_path / "m.kan", map_location="cuda")
    assert torch.equal(back(ds["test_input"]), model(ds["test_input"]))
