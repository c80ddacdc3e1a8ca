"""Throughput of a sweep: 16 ``discover`` tasks through ``kansci.discover_many`` with 1 and
2 joblib workers (processes) on this machine, printed as tasks per hour and as a ratio.

The tasks are the first 16 laws of ``laws.quick()`` (spread over the domains), 2,000
noiseless samples each, without units, each with ``budget_s`` (default 10 s). With 1
worker joblib runs the tasks one after the other in this process (``discover`` chooses its
threads); with 2, two worker processes run a task each at a time, on one thread each
(joblib's process pool limits each worker's threads to cores / workers). On an idle 2-core
machine the run with 2 workers should take about half the time (the tasks are independent;
what is lost is process start-up and imports, and tasks of unequal length at the end).

For a cluster: a task takes at most ``budget_s`` of one core, so a sweep of T tasks needs
about T * (mean seconds per task) / 3600 core-hours; the line "per core" says how many tasks
an hour one core runs here, which is what a cluster worker of one core runs too.

    python benchmarks/sweep.py [--budget 10] [--tasks 16] [--samples 2000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from laws import quick, sample

import kansci as ks


def tasks(n: int, samples: int) -> list:
    out = []
    for law in quick(max(n, 20))[:n]:
        X, y = sample(law, samples)
        out.append((X, y, {"names": law.variables, "seed": 0}))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    work = tasks(args.tasks, args.samples)
    print(f"{len(work)} tasks, budget {args.budget:g} s each, {args.samples} samples; "
          f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    took, formulas = {}, {}
    for jobs in (1, 2):
        start = time.perf_counter()
        results = ks.discover_many(work, n_jobs=jobs, budget_s=args.budget, progress=False)
        took[jobs] = time.perf_counter() - start
        formulas[jobs] = [r.formula for r in results]
        per_task = statistics.mean(r.seconds for r in results)
        failed = sum(not r.ok for r in results)
        print(f"{jobs} worker(s): {took[jobs]:7.1f} s wall, {3600 * len(work) / took[jobs]:7.0f} "
              f"tasks/hour; mean {per_task:.1f} s a task inside its worker; {failed} failed")
    same = sum(a == b for a, b in zip(formulas[1], formulas[2]))
    print(f"speed-up with 2 workers: {took[1] / took[2]:.2f}x; per core "
          f"{3600 * len(work) / took[2] / 2:.0f} tasks/hour; the same formula in "
          f"{same}/{len(work)} tasks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
