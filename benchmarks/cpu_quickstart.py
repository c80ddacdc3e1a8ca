"""hellokan fit stages, kansci vs pykan 0.2.8, in one process on 2 CPU threads.

Recipe (pykan's): f = exp(sin(pi x) + y^2), width [2,5,1], grid 3, k 3; fit 50 LBFGS steps with
lamb 1e-3, prune, fit 50, refine(10), fit 50. Each stage is run for pykan then kansci, and the
whole recipe is repeated; the table shows the median seconds per stage and the ratio, and
the objective evaluations each optimizer made (L-BFGS line-search trials; their number differs
between the two by rounding) with the median time per evaluation.

    python benchmarks/cpu_quickstart.py [--dtype float64] [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import statistics
import tempfile
import time

import torch


def f(x):
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


def rmse(model, ds):
    with torch.no_grad():
        return float(((model(ds["test_input"]) - ds["test_label"]) ** 2).mean().sqrt())


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-num", type=int, default=1000, help="training samples (pykan's 1000)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    dtype = getattr(torch, args.dtype)
    os.chdir(tempfile.mkdtemp(prefix="kansci-bench-"))  # pykan writes checkpoints to the cwd
    import kan  # noqa: E402  (pykan, the peer)
    pykan_module = importlib.import_module("kan.MultKAN")  # the module (kan.MultKAN is the class)
    import kansci as ks

    pykan_evals = [0]
    pykan_step = pykan_module.LBFGS.step

    def counted_step(self, closure):  # counts pykan's objective evaluations
        def counted():
            pykan_evals[0] += 1
            return closure()
        return pykan_step(self, counted)

    pykan_module.LBFGS.step = counted_step

    torch.set_default_dtype(dtype)  # pykan builds (and rebuilds on prune/refine) in the default
    ds = ks.create_dataset(f, n_var=2, dtype=dtype, seed=0, train_num=args.train_num)
    stages = ["fit 1 (lamb 1e-3)", "fit 2 (pruned)", "fit 3 (grid 10)"]
    times = {("pykan", s): [] for s in stages} | {("kansci", s): [] for s in stages}
    evals = {key: [] for key in times}
    final = {}
    early = []  # a stage that stops early would look fast: report it
    for _ in range(args.repeats):
        pk = kan.MultKAN(width=[2, 5, 1], grid=3, k=3, seed=1)  # defaults (auto_save on)
        km = ks.MultKAN(width=[2, 5, 1], grid=3, k=3, seed=1, dtype=dtype)
        quiet = dict(log=10**9)
        for i, stage in enumerate(stages):
            kw = dict(opt="LBFGS", steps=50, lamb=1e-3 if i == 0 else 0.0)
            pykan_evals[0] = 0
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                _, t = timed(lambda: pk.fit(ds, **kw, **quiet))
            times[("pykan", stage)].append(t)
            evals[("pykan", stage)].append(pykan_evals[0])
            hist, t = timed(lambda: km.fit(ds, **kw, progress=False))
            times[("kansci", stage)].append(t)
            evals[("kansci", stage)].append(hist["evaluations"])
            if hist["stop_reason"] is not None or len(hist["train_loss"]) != kw["steps"]:
                early.append(f"kansci {stage}: stopped after {len(hist['train_loss'])} steps "
                             f"({hist['stop_reason']})")
            if i == 0:
                with contextlib.redirect_stdout(io.StringIO()):
                    pk = pk.prune()
                km = km.prune()
            elif i == 1:
                with contextlib.redirect_stdout(io.StringIO()):
                    pk = pk.refine(10)
                km = km.refine(10)
        final = {"pykan": rmse(pk, ds), "kansci": rmse(km, ds)}
    print(f"\nhellokan fit stages, {args.dtype}, {args.train_num} training samples, 2 threads, "
          f"median of {args.repeats}")
    print(f"{'stage':22s} {'pykan s':>9s} {'kansci s':>9s} {'speed-up':>9s}   "
          f"{'evaluations':>13s} {'ms/eval':>13s} {'per eval':>9s}")
    tot = {"pykan": 0.0, "kansci": 0.0}
    for stage in stages:
        p = statistics.median(times[("pykan", stage)])
        k = statistics.median(times[("kansci", stage)])
        tot["pykan"] += p
        tot["kansci"] += k
        ne = {who: statistics.median(evals[(who, stage)]) for who in tot}
        per = {who: statistics.median(t / n * 1e3 for t, n in zip(times[(who, stage)], evals[(who, stage)]))
               for who in tot}
        print(f"{stage:22s} {p:9.3f} {k:9.3f} {p / k:8.1f}x   {ne['pykan']:6.0f} {ne['kansci']:6.0f} "
              f"{per['pykan']:6.2f} {per['kansci']:6.2f} {per['pykan'] / per['kansci']:8.1f}x")
    print(f"{'all fit stages':22s} {tot['pykan']:9.3f} {tot['kansci']:9.3f} "
          f"{tot['pykan'] / tot['kansci']:8.1f}x")
    print(f"final test RMSE: pykan {final['pykan']:.2e}, kansci {final['kansci']:.2e}")
    for line in early:
        print("WARNING:", line)
    if not early:
        print("every kansci stage ran all its steps")


if __name__ == "__main__":
    main()
