"""``kansci discover a.csv b.csv --target y1,y2 --seeds 0,1,2 --jobs 4 --out results.jsonl``:
one task per (file, target, seed) where the file has that column, run through
``kansci._sweep``; each result is printed and appended to ``--out`` as it finishes, and a
rerun skips the tasks already there with a result (an interrupted sweep resumes)."""
from __future__ import annotations

import json
import os
import sys

from ._sweep import SweepResult, Task, run


def _key(source: str, target: str, seed: int) -> tuple:
    return (os.path.abspath(source), target, int(seed))


def done_keys(path: str) -> set:
    """(file, target, seed) of the records in the JSON lines file ``path`` that have a result
    (a line cut short by an interruption, or a failed task, is not done)."""
    keys = set()
    if not os.path.exists(path):
        return keys
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("error") is None and record.get("source"):
                keys.add(_key(record["source"], record["target"], record["seed"]))
    return keys


def _columns(path: str):
    """The header of a CSV file, or None where it cannot be read (its tasks then fail with
    the reason, as tasks)."""
    import pandas as pd

    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (OSError, ValueError):
        return None


def plan(files, targets, seeds, options) -> list[Task]:
    """One task per (file, target, seed) where the file has the target column (a file that
    cannot be read gets a task per target, which reports why). The other targets named are
    not inputs. A target that no file has, or a file with none of them, is an error."""
    headers = {f: _columns(f) for f in files}
    for t in targets:
        if all(h is not None and t not in h for h in headers.values()):
            raise ValueError(f"--target {t!r} is a column of none of the files "
                             f"({', '.join(files)}).")
    tasks = []
    for f, header in headers.items():
        mine = [t for t in targets if header is None or t in header]
        if not mine:
            raise ValueError(f"{f} has none of the target columns {targets}; its columns: "
                             f"{', '.join(header)}")
        for t in mine:
            for seed in seeds:
                name = f"{os.path.basename(f)}:{t}"
                tasks.append(Task(len(tasks), name, source=f, target=t,
                                   drop=tuple(x for x in targets if x != t),
                                   options={**options, "seed": seed}))
    return tasks


def _line(r: SweepResult, n: int, total: int) -> str:
    head = f"[{n}/{total}] {r.name} seed {r.seed}:"
    if r.error is not None:
        return f"{head} failed: {r.error}"
    if r.formulas:
        return (f"{head} {len(r.formulas)} logit formulas, held-out accuracy "
                f"{r.accuracy:.4f} ({r.seconds:.1f} s)")
    r2 = "nan" if r.r2 is None else f"{r.r2:.6f}"
    return f"{head} {r.target} = {r.formula}  (R^2 {r2}, {r.seconds:.1f} s)"


def sweep(args, targets, seeds, units) -> int:
    """Run the sweep the command line asks for; 0 if every task gave a result, 1 if some
    failed, 2 for a sweep that cannot start."""
    options = {"budget_s": args.budget, "units": units, "y_units": args.y_units,
               "task": args.task}
    options = {k: v for k, v in options.items() if v is not None}
    try:
        if args.jobs == 0:
            raise ValueError("--jobs must be a number of workers (-1: every core); got 0.")
        tasks = plan(args.csv, targets, seeds, options)
    except ValueError as e:
        print(f"kansci: {e}", file=sys.stderr)
        return 2
    done = done_keys(args.out) if args.out else set()
    todo = [t for t in tasks if _key(t.source, t.target, t.options["seed"]) not in done]
    if len(todo) < len(tasks):
        print(f"{len(tasks) - len(todo)} of {len(tasks)} tasks already in {args.out}: skipped",
              file=sys.stderr)
    if args.out and os.path.exists(args.out) and os.path.getsize(args.out):
        with open(args.out, "rb") as f:  # a line cut short by an interruption: start anew
            f.seek(-1, os.SEEK_END)
            cut = f.read(1) != b"\n"
        if cut:
            with open(args.out, "a", encoding="utf-8") as f:
                f.write("\n")
    failed = n = 0
    try:
        for n, r in enumerate(run(todo, n_jobs=args.jobs, progress=False), 1):
            failed += r.error is not None
            if args.json:
                print(json.dumps(r.to_json()), flush=True)
            else:
                print(_line(r, n, len(todo)), flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(r.to_json()) + "\n")
    except KeyboardInterrupt:
        where = f"; rerun the same command to go on ({args.out} keeps them)" if args.out else ""
        print(f"kansci: interrupted after {n} of {len(todo)} tasks{where}", file=sys.stderr)
        return 130
    if failed:
        print(f"kansci: {failed} of {len(todo)} tasks failed", file=sys.stderr)
    return 1 if failed else 0
