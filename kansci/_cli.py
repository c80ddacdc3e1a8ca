"""The ``kansci`` command line: ``kansci discover data.csv --target y [--budget S]
[--units "m=kg,v=m/s" --y-units J] [--task classification] [--json]``; with several files,
targets (``--target y1,y2``) or seeds (``--seeds 0,1,2``), or with ``--jobs``/``--out``, a
sweep (``kansci._cli_sweep``)."""
from __future__ import annotations

import argparse
import json
import sys
import time


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kansci", description="Symbolic discovery with KANs.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "discover", help="find a closed-form formula for one column of a CSV file (or sweep "
                         "several files, targets and seeds)")
    d.add_argument("csv", nargs="+",
                   help="CSV file(s) with a header row; every column but the targets is an input")
    d.add_argument("--target", required=True,
                   help="name of the column to explain; several, comma-separated, for a sweep")
    d.add_argument("--budget", type=float, default=60.0,
                   help="seconds to spend per task (default 60)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--seeds", default=None,
                   help='a sweep over seeds, comma-separated ("0,1,2"): one task per seed')
    d.add_argument("--units", default=None,
                   help='units of the input columns, pint syntax: "m=kg,v=m/s" (every column)')
    d.add_argument("--y-units", default=None, help="units of the target column, e.g. J")
    d.add_argument("--task", choices=("regression", "classification"), default=None,
                   help="classification: the target holds class labels; one logit formula "
                        "per class")
    d.add_argument("--jobs", type=int, default=None,
                   help="a sweep: tasks run at once (joblib's n_jobs; -1: every core)")
    d.add_argument("--out", default=None,
                   help="a sweep: JSON lines file each result is appended to as it finishes; "
                        "tasks already there with a result are skipped (failed ones rerun)")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    return ap


def parse_units_option(text: str) -> dict:
    """``"m=kg,v=m/s"`` -> {"m": "kg", "v": "m/s"}; a clear error for a malformed entry."""
    units = {}
    for item in text.split(","):
        name, sep, unit = item.partition("=")
        if not sep or not name.strip() or not unit.strip():
            raise ValueError(f"--units: {item.strip()!r} is not column=unit (for example "
                             '"m=kg,v=m/s").')
        units[name.strip()] = unit.strip()
    return units


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        units = parse_units_option(args.units) if args.units is not None else None
        targets = _names(args.target, "--target")
        seeds = ([int(s) for s in _names(args.seeds, "--seeds")] if args.seeds is not None
                 else [args.seed])
    except ValueError as e:
        print(f"kansci: {e}", file=sys.stderr)
        return 2
    if len(args.csv) > 1 or len(targets) > 1 or len(seeds) > 1 or args.out or args.jobs:
        from ._cli_sweep import sweep

        return sweep(args, targets, seeds, units)
    return _single(args, units)


def _names(text: str, option: str) -> list[str]:
    """"a,b" -> ["a", "b"]; a clear error for an empty entry."""
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise ValueError(f"{option}: {text!r} has an empty entry (comma-separated, e.g. y1,y2).")
    return items


def _single(args, units) -> int:
    """One file, one target, one seed: the formula printed (or JSON)."""
    from ._discover import discover
    from ._sweep import outcome, read_table

    start = time.perf_counter()
    try:
        X, y = read_table(args.csv[0], args.target)
        res = discover(X, y, seed=args.seed, budget_s=args.budget, progress=not args.json,
                       units=units, y_units=args.y_units, task=args.task)
    except (ValueError, TypeError) as e:
        print(f"kansci: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - start
    if args.task == "classification":
        _print_classes(res, args, took)
    elif args.json:
        out = {"target": args.target, "latex": res.latex(),
               "variables": [str(v) for v in res.variables], "seconds": took, **outcome(res)}
        print(json.dumps(out, indent=1))
    else:
        print(f"{args.target} = {res.formula}")
        print(f"held-out R^2 = {res.r2:.10f}  ({took:.1f} s)")
        for r in res.constants.itertuples():
            if not r.snapped:
                print(f"  {float(r.constant):.6g} ± {r.se:.2g}")
    return 0


def _print_classes(res, args, took: float) -> None:
    """The logit formulas (one per class) and the held-out accuracies, as text or JSON."""
    classes = [c.item() if hasattr(c, "item") else c for c in res.classes]
    if args.json:
        print(json.dumps({"target": args.target, "task": "classification", "classes": classes,
                          "formulas": [str(f) for f in res.formulas],
                          "accuracy": res.accuracy, "network_accuracy": res.network_accuracy,
                          "variables": [str(v) for v in res.variables], "seconds": took},
                         indent=1))
        return
    for label, f in zip(classes, res.formulas):
        print(f"logit[{label}] = {f}")
    print(f"{args.target} = the class of the largest logit; held-out accuracy "
          f"{res.accuracy:.4f} (network {res.network_accuracy:.4f}; {took:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
