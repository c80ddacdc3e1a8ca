"""pykan's tutorial recipes on pykan 0.2.8 and on kansci.pykan, in one process: the same
calls (only the module differs), results side by side, and the time ratio.

Recipes: hellokan (Example_1 / Interp_1: sparse fit, prune, refine, auto_symbolic, formula),
in-place prune_edge (API_7), two-moons classification with integer labels, cross-entropy and
metrics (Example_4), feature attribution (Interp_4).

    .venv/bin/python benchmarks/pykan_recipes.py     # needs the dev extras (pykan, sklearn)

pykan writes checkpoints into the working directory: the script runs in a temporary one.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

import numpy as np
import sympy
import torch


def recipes(mod) -> dict:
    """Run the recipes with module ``mod`` (``kan`` or ``kansci.pykan``); their results."""
    KAN, create_dataset, ex_round = mod.KAN, mod.create_dataset, mod.ex_round
    out = {}
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)  # noqa: E731
    ds = create_dataset(f, n_var=2)
    m = KAN(width=[2, 5, 1], grid=3, k=3, seed=1)
    m.fit(ds, opt="LBFGS", steps=50, lamb=0.001)
    m = m.prune()
    out["hellokan: width after prune"] = [w[0] if isinstance(w, list) else w for w in m.width]
    m = m.refine(10)
    out["hellokan: test RMSE, grid 10"] = float(m.fit(ds, steps=50)["test_loss"][-1])
    m.auto_symbolic(lib=["x^2", "sin", "exp", "x"])
    r = m.fit(ds, steps=50, update_grid=False)
    out["hellokan: test RMSE, symbolic"] = float(r["test_loss"][-1])
    out["hellokan: formula"] = str(ex_round(m.symbolic_formula()[0][0], 3))

    m = KAN(width=[2, 5, 1], grid=5, k=3, seed=1)
    m.fit(ds, opt="LBFGS", steps=6, lamb=0.01)
    m(ds["train_input"])
    m.attribute()
    m.prune_edge()
    layers = m.layers if hasattr(m, "layers") else m.act_fun
    out["prune_edge: edges left"] = int(sum(int((layer.mask != 0).sum()) for layer in layers))

    from sklearn.datasets import make_moons
    a, b = make_moons(n_samples=1000, noise=0.1, random_state=0)
    c, d = make_moons(n_samples=1000, noise=0.1, random_state=1)
    dt = torch.get_default_dtype()
    cds = {"train_input": torch.from_numpy(a).type(dt), "test_input": torch.from_numpy(c).type(dt),
           "train_label": torch.from_numpy(b).long(), "test_label": torch.from_numpy(d).long()}
    m = KAN(width=[2, 2], grid=3, k=3, seed=2024)

    def test_acc():
        return torch.mean((torch.argmax(m(cds["test_input"]), 1) == cds["test_label"]).type(dt))

    r = m.fit(cds, steps=20, metrics=(test_acc,), loss_fn=torch.nn.CrossEntropyLoss())
    out["moons: network test accuracy"] = float(r["test_acc"][-1])
    m.auto_symbolic(lib=["x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs"])
    f1, f2 = m.symbolic_formula()[0]
    g1, g2 = (sympy.lambdify(sympy.symbols("x_1 x_2"), q, "numpy") for q in (f1, f2))
    with np.errstate(all="ignore"):
        acc = np.mean((g2(c[:, 0], c[:, 1]) > g1(c[:, 0], c[:, 1])) == d)
    out["moons: formula test accuracy"] = float(acc)

    f = lambda x: x[:, 0] ** 2 + 0.3 * x[:, 1] + 0.1 * x[:, 2] ** 3 + 0.0 * x[:, 3]  # noqa: E731
    m = KAN(width=[4, 5, 1], seed=1)
    m.fit(create_dataset(f, n_var=4), steps=40, lamb=0.001)
    out["attribution: feature scores"] = [round(float(v), 3) for v in m.feature_score]
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    import matplotlib
    matplotlib.use("Agg")
    torch.set_num_threads(1)  # equal threads for both
    import kan
    import kansci.pykan as ours
    results, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        here = os.getcwd()
        os.chdir(tmp)
        try:
            for name, mod in (("pykan 0.2.8", kan), ("kansci.pykan", ours)):
                start = time.perf_counter()
                with open(os.devnull, "w") as null:  # pykan prints per snapped edge
                    stdout, sys.stdout = sys.stdout, null
                    try:
                        results[name] = recipes(mod)
                    finally:
                        sys.stdout = stdout
                seconds[name] = time.perf_counter() - start
        finally:
            os.chdir(here)
    for key in results["pykan 0.2.8"]:
        print(f"{key}\n  pykan:  {results['pykan 0.2.8'][key]}\n  kansci: {results['kansci.pykan'][key]}")
    print(f"time: pykan {seconds['pykan 0.2.8']:.1f} s, kansci {seconds['kansci.pykan']:.1f} s, "
          f"{seconds['pykan 0.2.8'] / seconds['kansci.pykan']:.1f}x (1 thread each)")


if __name__ == "__main__":
    main()
