"""fit under torchrun (gloo, 2 processes on CPU) against one process; DataLoader minibatches;
shard."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import kansci as ks

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "torchrun_fit.py"


def _run(tmp_path, args, processes: int) -> dict:
    out = tmp_path / f"{processes}-{'-'.join(args).replace('-', '')}.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    if processes == 1:
        cmd = [sys.executable, str(EXAMPLE)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", str(EXAMPLE)]
    done = subprocess.run(cmd + args + ["--json", str(out)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("args, per_rank", [
    (["--opt", "LBFGS"], []),  # hellokan's recipe: 50 steps, lamb 0.001
    (["--opt", "Adam", "--lr", "0.02", "--steps", "100"], []),
    # Adam on DataLoader minibatches: 500 a step in all (250 per rank, DistributedSampler)
    (["--lr", "0.02", "--steps", "200"], [["--loader", "500"], ["--loader", "250"]]),
])
def test_torchrun_trains_like_one_process(tmp_path, args, per_rank):
    one_extra, two_extra = per_rank or ([], [])
    one = _run(tmp_path, args + one_extra, 1)
    two = _run(tmp_path, args + two_extra, 2)
    assert two["test_rmse"] == pytest.approx(one["test_rmse"], rel=0.1)
    assert one["test_rmse"] < 0.1  # trained (the untrained model: about 1)


def test_torchrun_grid_update_uses_every_rank_s_samples(tmp_path):
    # one step: the grids are those of the update at step 0 (on all 1000 samples)
    one = _run(tmp_path, ["--steps", "1"], 1)
    two = _run(tmp_path, ["--steps", "1"], 2)
    for a, b in zip(one["grids"], two["grids"]):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=0, atol=1e-6)


def test_shard_and_a_clear_error_without_a_process_group():
    ds = ks.create_dataset(lambda x: x[:, [0]] * x[:, [1]], n_var=2, train_num=10, test_num=5)
    parts = [ks.shard(ds, rank=r, world=3) for r in range(3)]
    assert sum(p["train_input"].shape[0] for p in parts) == 10
    assert torch.equal(torch.cat([p["test_label"] for p in parts]).sort(0)[0],
                       ds["test_label"].sort(0)[0])
    with pytest.raises(ValueError, match="rank must lie in 0..1"):
        ks.shard(ds, rank=2, world=2)
    env = {k: os.environ.pop(k) for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
           if k in os.environ}
    try:
        with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
            ks.MultKAN([2, 1]).fit(ds, steps=1, distributed=True, progress=False)
    finally:
        os.environ.update(env)


def test_fit_takes_minibatches_from_a_dataloader():
    ds = ks.create_dataset(lambda x: torch.sin(x[:, [0]]) + x[:, [1]] ** 2, n_var=2,
                           train_num=600, seed=0)
    loader = DataLoader(TensorDataset(ds["train_input"], ds["train_label"]), batch_size=100,
                        shuffle=True, generator=torch.Generator().manual_seed(0))
    model = ks.MultKAN([2, 3, 1], grid=5, seed=0)

    def rmse():
        with torch.no_grad():
            return float((model(ds["test_input"]) - ds["test_label"]).square().mean().sqrt())

    start = rmse()
    hist = model.fit(loader, opt="Adam", lr=0.02, steps=150, progress=False)
    end = rmse()
    assert len(hist["train_loss"]) == 150 and hist["test_loss"] == []
    assert end < 0.2 * start  # 150 steps of 100 samples: 25 epochs
    with pytest.raises(ValueError, match=r"\(inputs, labels\) batches"):
        model.fit(DataLoader(TensorDataset(ds["train_input"]), batch_size=10), steps=1,
                  progress=False)
    with pytest.raises(ValueError, match="train_input must have 2 columns"):
        model.fit(DataLoader(TensorDataset(ds["train_input"][:, :1], ds["train_label"]),
                             batch_size=10), steps=1, progress=False)
