"""Train pykan's hellokan KAN, f(x, y) = exp(sin(pi x) + y^2), on several processes.

    torchrun --nproc-per-node 2 examples/torchrun_fit.py              # gloo on CPU
    torchrun --nproc-per-node 4 examples/torchrun_fit.py --device cuda  # NCCL, one GPU a rank
    python examples/torchrun_fit.py                                   # one process

Every rank builds the same dataset and keeps its shard (every N-th row); ``fit(...,
distributed=True)`` averages losses and gradients over all samples, so every rank ends with
the same model. ``--loader`` trains with Adam on minibatches from a DataLoader with a
DistributedSampler instead (the way to data larger than memory). ``--json FILE`` writes
rank 0's results (test RMSE, grids) for comparison with a one-process run.
"""
import argparse
import json
import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import kansci as ks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opt", choices=("LBFGS", "Adam"), default="LBFGS")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--lamb", type=float, default=0.001)
    ap.add_argument("--lr", type=float, default=1.0)
    ap.add_argument("--loader", type=int, default=0,
                    help="minibatch size per rank: Adam on a DataLoader (0: full shards)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    many = "RANK" in os.environ  # launched by torchrun
    if many:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    device = torch.device(args.device, int(os.environ.get("LOCAL_RANK", 0))) \
        if args.device == "cuda" else torch.device("cpu")

    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    dataset = ks.create_dataset(f, n_var=2, train_num=1000, test_num=1000, seed=0,
                                device=device)
    model = ks.MultKAN(width=[2, 5, 1], grid=5, k=3, seed=0, device=device)
    if args.loader:
        train = TensorDataset(dataset["train_input"], dataset["train_label"])
        # each rank its share of every epoch's shuffle (one process: all of it, alike)
        sampler = DistributedSampler(train, num_replicas=dist.get_world_size() if many else 1,
                                     rank=dist.get_rank() if many else 0, shuffle=True, seed=0)
        data = DataLoader(train, batch_size=args.loader, sampler=sampler)
        opt = "Adam"
    else:
        data = ks.shard(dataset) if many else dataset
        opt = args.opt
    history = model.fit(data, opt=opt, steps=args.steps, lamb=args.lamb, lr=args.lr,
                        distributed=many, progress=not many or dist.get_rank() == 0)
    with torch.no_grad():
        rmse = float((model(dataset["test_input"]) - dataset["test_label"]).square().mean()
                     .sqrt())
    if not many or dist.get_rank() == 0:
        print(f"{opt}: train RMSE {history['train_loss'][-1]:.4g}, test RMSE {rmse:.4g} on "
              f"{dist.get_world_size() if many else 1} process(es)")
        if args.json:
            with open(args.json, "w") as out:
                json.dump({"test_rmse": rmse, "evaluations": history["evaluations"],
                           "grids": [layer.grid.tolist() for layer in model.layers]}, out)
    if many:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
