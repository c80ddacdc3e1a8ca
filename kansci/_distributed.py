"""Training on several processes (``torchrun``): each rank holds a shard of the data.

``fit(..., distributed=True)`` makes every rank compute the objective and its gradient on its
own shard, then sums them weighted by shard size with one all-reduce, so every rank holds the
mean over all samples and takes the same optimiser step: L-BFGS stays in lock-step (every
rank evaluates the same sequence of points, hence the same number of times; ranks that
disagreed on that number would wait on each other for ever). Grid updates place the grid on
the samples of all ranks (gathered: every rank builds the same grid). The regulariser's edge
scales (standard deviations of the activations) are each shard's; their weighted mean is
what is minimised.

Works with the gloo backend (CPU) and NCCL (GPU tensors); the process group is the caller's
(``torch.distributed.init_process_group``) or, where none is initialised, made here from
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``).
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

GATHER_MAX = 1 << 20  # samples gathered for a grid update at most (more: a subsample)


class Ranks:
    """The process group a fit runs on, and the weight of this rank's samples."""

    def __init__(self, device: torch.device):
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.device = device
        self.weight = 1.0  # n_local / n_total of the current training batch
        self._count = None

    def reweigh(self, n_local: int) -> None:
        """This rank's share of the samples, for a batch of ``n_local`` here."""
        if n_local == self._count:
            return
        total = torch.tensor([float(n_local)], dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        self.weight, self._count = n_local / float(total), n_local

    def mean(self, grad: Tensor | None, *values: float) -> list[float]:
        """The weighted sums over ranks of ``grad`` (in place) and of ``values``: with each
        rank's mean over its samples, the mean over all samples."""
        if grad is not None:
            grad.mul_(self.weight)
            dist.all_reduce(grad)
        v = torch.tensor(values, dtype=torch.float64, device=self.device) * self.weight
        dist.all_reduce(v)
        return v.tolist()

    def share_weighted(self, value: float, n_local: int) -> float:
        """The mean of per-rank means ``value`` over all samples (``n_local`` here)."""
        v = torch.tensor([value * n_local, float(n_local)], dtype=torch.float64,
                         device=self.device)
        dist.all_reduce(v)
        return float(v[0] / v[1])

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on some rank (so that every rank stops together)."""
        v = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(v, op=dist.ReduceOp.MAX)
        return bool(v.item() > 0)

    def rows(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Every rank's rows of x (batch, d) stacked in rank order, the same on every rank
        (at most about ``GATHER_MAX`` in all: beyond that a random share of each rank's)."""
        n = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
        counts = [torch.zeros_like(n) for _ in range(self.world)]
        dist.all_gather(counts, n)
        counts = [int(c) for c in counts]
        total = sum(counts)
        if total > GATHER_MAX:
            keep = -(-x.shape[0] * GATHER_MAX // total)
            x = x[torch.randperm(x.shape[0], generator=generator)[:keep].to(x.device)]
            counts = [-(-c * GATHER_MAX // total) for c in counts]
        most = max(counts)
        padded = x.new_zeros((most,) + tuple(x.shape[1:]))
        padded[:x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[:c] for p, c in zip(parts, counts)])

    def same_model(self, model) -> None:
        """Rank 0's parameters and buffers on every rank (the starting point of lock-step)."""
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src=0)


def ranks(distributed: bool, device: torch.device) -> Ranks | None:
    """The ``Ranks`` of a distributed fit (the process group initialised from torchrun's
    environment if the caller did not), or None for a fit in one process."""
    if not distributed:
        return None
    if not dist.is_available():
        raise RuntimeError("fit(distributed=True) needs torch.distributed, which this PyTorch "
                           "build lacks.")
    if not dist.is_initialized():
        import os

        missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
                   if v not in os.environ]
        if missing:
            raise RuntimeError(f"fit(distributed=True): no process group is initialised and "
                               f"{', '.join(missing)} are not set; launch the script with "
                               f"torchrun --nproc-per-node N, or call "
                               f"torch.distributed.init_process_group first.")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(device)


def shard(dataset: dict, rank: int | None = None, world: int | None = None) -> dict:
    """This rank's share of a dataset dict: rows rank, rank + world, ... of every
    ``*_input``/``*_label`` tensor (all ranks together hold every row once). rank and world
    default to the initialised process group's."""
    if rank is None or world is None:
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("shard: pass rank and world, or initialise torch.distributed "
                               "first.")
        rank, world = dist.get_rank(), dist.get_world_size()
    if not 0 <= rank < world:
        raise ValueError(f"shard: rank must lie in 0..{world - 1}; got {rank}.")
    return {k: (v[rank::world] if k.endswith(("_input", "_label")) else v)
            for k, v in dataset.items()}
