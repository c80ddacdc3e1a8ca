"""auto_symbolic on the same trained hellokan model: pykan 0.2.8 vs kansci, one process.

pykan trains the hellokan recipe (width [2,5,1], grid 3, fit 50 with lamb 1e-3, prune, fit 50,
refine(10), fit 50); kansci gets the identical model through MultKAN.from_pykan. Both then snap
every edge with the same function library and the times are compared.

    python benchmarks/symbolic_speed.py [--lib small|full]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time

import torch

SMALL = ["x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default="small", choices=["small", "full"],
                    help="small: the 10 functions of pykan's tutorials; full: all 29")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.chdir(tempfile.mkdtemp(prefix="kansci-bench-"))  # pykan writes checkpoints to the cwd
    import kan
    import kansci as ks

    def f(x):
        return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)

    ds = ks.create_dataset(f, n_var=2, seed=0)
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet, contextlib.redirect_stderr(io.StringIO()):
        pk = kan.MultKAN(width=[2, 5, 1], grid=3, k=3, seed=1)
        pk.fit(ds, opt="LBFGS", steps=50, lamb=1e-3)
        pk = pk.prune()
        pk.fit(ds, opt="LBFGS", steps=50)
        pk = pk.refine(10)
        pk.fit(ds, opt="LBFGS", steps=50)
        pk(ds["train_input"])  # pykan reads the edges' data from its last forward
    km = ks.MultKAN.from_pykan(pk)
    km.cache_data = ds["train_input"]
    lib = SMALL if args.lib == "small" else None
    n_edges = int(sum(((layer.mask != 0) & (layer.sym_mask == 0)).sum() for layer in km.layers))
    pk_lib = lib if lib is not None else list(kan.utils.SYMBOLIC_LIB)
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pk.auto_symbolic(lib=pk_lib, verbose=0)
    t_pk = time.perf_counter() - t
    t = time.perf_counter()
    snapped = km.auto_symbolic(lib=lib, progress=False)
    t_ks = time.perf_counter() - t
    print(f"\nauto_symbolic on the trained hellokan model ({n_edges} edges, "
          f"{len(pk_lib)} functions), 2 threads")
    print(f"{'':10s} {'seconds':>8s}")
    print(f"{'pykan':10s} {t_pk:8.2f}")
    print(f"{'kansci':10s} {t_ks:8.2f}")
    print(f"speed-up: {t_pk / t_ks:.1f}x")
    print("kansci picked:", {k: v.name for k, v in snapped.items()})


if __name__ == "__main__":
    main()
