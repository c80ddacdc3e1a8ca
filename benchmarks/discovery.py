"""Exact-recovery rate of ``kansci.discover`` on KAN-paper functions and textbook laws.

Each case samples its variables uniformly (2000 points, noiseless), runs ``discover`` with a
time budget on 2 CPU threads, and judges the answer as SRBench does: after rounding the
floats of the found formula to 3 decimals, it is exact when its difference from the truth,
or its ratio to the truth, simplifies to a constant (variables sampled from positive values
count as positive symbols: the law has to hold on the sampled domain).

    python benchmarks/discovery.py [--budget 60] [--only NAME ...] [--samples 2000]
"""
from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path

import sympy
import torch
from sympy.parsing.sympy_parser import parse_expr

import kansci as ks

CASES_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "kan_paper_cases.json"

# from ../shared/data/kan_paper_cases.json (1-6 variables, functions kansci's library covers
# or that a network of them can express)
PAPER_IDS = [
    "kan_toy_exp_sin_sq", "kan_toy_mult", "kan_toy_4d_nested", "kan_interp_div",
    "kan_interp_phase", "kan_interp_dist", "kan_relativistic_addition", "pykan_singularity_log",
    "pykan_sqrt_sum_sq", "pykan_sin_1d", "pykan_feature_attribution", "pykan_sep_add",
    "pykan_sep_mul", "pykan_general_sep", "pykan_tree_4d", "pykan_aux_relativistic_mass",
    "pykan_unsupervised", "kan2_conserved_1d_oscillator", "kan2_lagrangian_harmonic",
    "kan2_lagrangian_pendulum", "kan2_lagrangian_relativistic_mass",
    "kan2_blackhole_pg_time_shift", "kan_pde_poisson_paper", "pykan_pde_poisson",
]

# textbook laws: (name, formula, {variable: (low, high)})
PHYSICS = [
    ("Newton gravity", "m1*m2/r**2", {"m1": (1, 5), "m2": (1, 5), "r": (1, 5)}),
    ("kinetic energy", "m*v**2/2", {"m": (1, 5), "v": (-3, 3)}),
    ("Coulomb", "q1*q2/(4*pi*r**2)", {"q1": (1, 5), "q2": (1, 5), "r": (1, 5)}),
    ("pendulum period", "2*pi*sqrt(L/g)", {"L": (0.5, 3), "g": (5, 15)}),
    ("normal density", "exp(-theta**2/2)/sqrt(2*pi)", {"theta": (-3, 3)}),
    ("Lorentz factor", "1/sqrt(1 - v**2)", {"v": (-0.9, 0.9)}),
    ("projectile range", "v**2*sin(2*theta)/g", {"v": (1, 5), "theta": (0.1, 1.4), "g": (5, 15)}),
    ("Bernoulli", "p + rho*v**2/2 + rho*g*h",
     {"p": (1, 5), "rho": (1, 5), "v": (1, 5), "g": (5, 15), "h": (1, 5)}),
    ("Rydberg", "1/n1**2 - 1/n2**2", {"n1": (1, 2), "n2": (2, 4)}),
    ("Kepler third law", "a**(3/2)", {"a": (0.5, 5)}),
    ("ideal gas", "n*T/V", {"n": (1, 5), "T": (1, 5), "V": (1, 5)}),
    ("spring + gravity energy", "k*x**2/2 + m*g*x", {"k": (1, 5), "x": (-2, 2), "m": (1, 5), "g": (5, 15)}),
    ("Snell", "n*sin(theta)", {"n": (1, 2), "theta": (0, 1.5)}),
    ("Larmor power", "q**2*a**2/(6*pi)", {"q": (1, 5), "a": (1, 5)}),
]


def load_cases():
    cases = []
    paper = {c["id"]: c for c in json.loads(CASES_FILE.read_text())}
    for cid in PAPER_IDS:
        c = paper[cid]
        cases.append((cid, c["formula"], {k: tuple(v) for k, v in c["variables"].items()}))
    return cases + PHYSICS


def _round(expr, digits=3):
    return expr.xreplace({f: sympy.Float(round(float(f), digits)) for f in expr.atoms(sympy.Float)})


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def is_exact(found, truth, seconds=20) -> bool:
    """SRBench's symbolic solution: truth - found or truth / found is a constant."""
    found = _round(found)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        for rel in (truth - found, truth / found):
            if not sympy.simplify(rel).free_symbols:
                return True
        return False
    except _Timeout:
        return False
    finally:
        signal.alarm(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cases = [c for c in load_cases() if args.only is None or c[0] in args.only]
    gen = torch.Generator().manual_seed(0)
    exact = 0
    print(f"{'case':36s} {'vars':>4s} {'time s':>7s} {'R2':>12s}  exact  formula")
    for name, formula, ranges in cases:
        names = list(ranges)
        symbols = {v: sympy.Symbol(v) for v in names}
        truth = parse_expr(formula, local_dict=symbols)
        lo = torch.tensor([ranges[v][0] for v in names], dtype=torch.float64)
        hi = torch.tensor([ranges[v][1] for v in names], dtype=torch.float64)
        X = lo + (hi - lo) * torch.rand(args.samples, len(names), generator=gen, dtype=torch.float64)
        y = ks.Formula(truth, [symbols[v] for v in names]).torch()(X)
        t = time.perf_counter()
        res = ks.discover(X, y, names=names, seed=0, budget_s=args.budget, progress=False)
        took = time.perf_counter() - t
        # the law only has to hold on the sampled domain: a variable sampled from positive
        # (negative) values is a positive (negative) symbol, so sqrt(L/g) = sqrt(L)/sqrt(g)
        sign = {symbols[v]: sympy.Symbol(v, positive=True) if ranges[v][0] > 0 else
                sympy.Symbol(v, negative=True) for v in names
                if ranges[v][0] > 0 or ranges[v][1] < 0}
        ok = res.r2 > 0.999 and is_exact(res.formula.xreplace(sign), truth.xreplace(sign))
        exact += ok
        print(f"{name:36s} {len(names):4d} {took:7.1f} {res.r2:12.9f}  {'yes' if ok else 'no ':3s}   "
              f"{res.formula}", flush=True)
    print(f"\nexact recovery: {exact}/{len(cases)} = {100 * exact / len(cases):.0f}% "
          f"(budget {args.budget:.0f} s per formula, {args.samples} samples, 2 threads)")


if __name__ == "__main__":
    main()
