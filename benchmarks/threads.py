"""Fit time with the default CPU threads against 1 and 2 threads, in one process.

For three models (the hellokan [2, 5, 1] at grid 5; [4, 2, 1, 1] at grid 20, as in pykan's
special-functions tutorial; [100, 10, 10, 1] from its feature-attribution tutorial), each fit
runs with ``threads=None`` (kansci's choice; the process setting is the machine's default),
``threads=1`` and ``threads=2``, in rotation, and the median of the repeats is printed with
the ratio of the default to the best. The target: the default within 10% of the best.

    python benchmarks/threads.py [--repeats 5] [--steps 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def cases():
    """(name, width, grid, data) of each model: 1000 training samples."""
    gen = torch.Generator().manual_seed(0)

    def data(n_in, fn):
        x = torch.rand(1000, n_in, generator=gen) * 2 - 1
        return {"train_input": x, "train_label": fn(x)}

    hello = data(2, lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2))
    four = data(4, lambda x: torch.exp(torch.sin(x[:, [0]] ** 2 + x[:, [1]] ** 2)
                                       + torch.sin(x[:, [2]] ** 2 + x[:, [3]] ** 2)))
    wide = data(100, lambda x: (x[:, :3] ** 2).sum(1, keepdim=True) + x[:, [3]])
    return [("hellokan [2,5,1] grid 5", [2, 5, 1], 5, hello),
            ("[4,2,1,1] grid 20", [4, 2, 1, 1], 20, four),
            ("[100,10,10,1] grid 3", [100, 10, 10, 1], 3, wide)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    import kansci as ks

    setting = torch.get_num_threads()
    print(f"process setting: {setting} threads; {args.steps} LBFGS steps, median of "
          f"{args.repeats}")
    print(f"{'model':26s} {'default':>9s} {'1 thread':>9s} {'2 threads':>9s}  default/best")
    for name, width, grid, ds in cases():
        times = {None: [], 1: [], 2: []}
        for _ in range(args.repeats):
            for threads in times:
                model = ks.MultKAN(width=width, grid=grid, k=3, seed=0)
                start = time.perf_counter()
                model.fit(ds, steps=args.steps, threads=threads, progress=False)
                times[threads].append(time.perf_counter() - start)
                assert torch.get_num_threads() == setting, "fit left the thread count changed"
        med = {t: statistics.median(v) for t, v in times.items()}
        best = min(med.values())
        print(f"{name:26s} {med[None]:8.3f}s {med[1]:8.3f}s {med[2]:8.3f}s  {med[None] / best:.2f}")


if __name__ == "__main__":
    main()
