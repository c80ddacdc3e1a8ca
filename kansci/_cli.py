"""The ``kansci`` command line: ``kansci discover data.csv --target y [--budget S]
[--units "m=kg,v=m/s" --y-units J] [--task classification] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys
import time


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kansci", description="Symbolic discovery with KANs.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("discover", help="find a closed-form formula for one column of a CSV file")
    d.add_argument("csv", help="CSV file with a header row; every other column is an input")
    d.add_argument("--target", required=True, help="name of the column to explain")
    d.add_argument("--budget", type=float, default=60.0, help="seconds to spend (default 60)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--units", default=None,
                   help='units of the input columns, pint syntax: "m=kg,v=m/s" (every column)')
    d.add_argument("--y-units", default=None, help="units of the target column, e.g. J")
    d.add_argument("--task", choices=("regression", "classification"), default=None,
                   help="classification: the target holds class labels; one logit formula "
                        "per class")
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
    import pandas as pd

    from ._discover import discover

    try:
        frame = pd.read_csv(args.csv)
    except (OSError, ValueError) as e:
        print(f"kansci: cannot read {args.csv}: {e}", file=sys.stderr)
        return 2
    if args.target not in frame.columns:
        print(f"kansci: no column {args.target!r} in {args.csv}; columns: "
              f"{', '.join(map(str, frame.columns))}", file=sys.stderr)
        return 2
    X, y = frame.drop(columns=[args.target]), frame[args.target]
    start = time.perf_counter()
    try:
        units = parse_units_option(args.units) if args.units is not None else None
        res = discover(X, y, seed=args.seed, budget_s=args.budget, progress=not args.json,
                       units=units, y_units=args.y_units, task=args.task)
    except (ValueError, TypeError) as e:
        print(f"kansci: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - start
    if args.task == "classification":
        _print_classes(res, args, took)
    elif args.json:
        out = {"target": args.target, "formula": str(res.formula), "latex": res.latex(),
               "r2": res.r2, "variables": [str(v) for v in res.variables], "seconds": took,
               "noise": res.noise,
               "constants": [{"constant": str(r.constant), "value": r.value, "se": r.se,
                              "snapped": bool(r.snapped)} for r in res.constants.itertuples()],
               "equations": [{"complexity": int(r.complexity), "n_constants": int(r.n_constants),
                              "nmse": float(r.nmse), "r2": float(r.r2), "score": float(r.score),
                              "source": r.source, "formula": str(r.formula),
                              "constants": r.constants, "picked": bool(r.picked)}
                             for r in res.equations.itertuples()]}
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
