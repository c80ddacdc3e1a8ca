"""Sweeps: many ``discover`` calls, run through joblib.

A sweep is a list of tasks, each a table and a target with its own options (seed, budget,
units). The tasks run in joblib's ``Parallel`` without a backend of our own, so the engine
is the caller's choice: joblib's process pool by default, or any backend set with
``joblib.parallel_config`` (``"dask"`` with a ``dask.distributed.Client``, local or a
cluster from dask-jobqueue; Ray through ``ray.util.joblib.register_ray()``). Each task ends
as a ``SweepResult``, a plain picklable record (strings, numbers, lists of dicts, one SymPy
expression) that turns into a JSON line and back; a task that fails returns its error.
"""
from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sympy

# the keyword arguments of discover a task may set (progress is the sweep's)
OPTIONS = ("names", "seed", "budget_s", "units", "y_units", "task")


@dataclass
class SweepResult:
    """One task's outcome.

    index: the task's place in the sweep; name: what it was ("a.csv:y" for a file, else
    "task <index>"); source, target: the CSV file and column, where the task named them;
    seed, options: what ``discover`` was given (units as text); formula: the law found
    (text; None for a classification task or a failure) and ``expr`` the same as SymPy;
    formulas: a classification task's logit formulas, one per class in ``classes``;
    r2 (regression) or accuracy (classification) on the held-out samples; noise: the data's
    estimated noise level (a fraction of std(y)); constants and equations: ``Discovery``'s
    tables as lists of dicts (floats as floats, formulas as text); seconds: the call's wall
    time; error: "TypeName: message" where the task failed (its other results are empty);
    versions: kansci, torch, sympy and Python where it ran, and the worker (host:pid)."""

    index: int
    name: str
    seed: int = 0
    options: dict = field(default_factory=dict)
    source: str | None = None
    target: str | None = None
    formula: str | None = None
    r2: float | None = None
    noise: float | None = None
    formulas: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    accuracy: float | None = None
    constants: list = field(default_factory=list)
    equations: list = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    versions: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def expr(self) -> sympy.Expr | None:
        """The formula as a SymPy expression (its variables as plain symbols)."""
        return None if self.formula is None else sympy.sympify(self.formula)

    def to_json(self) -> dict:
        """A dict of JSON types (``json.dumps`` takes it; ``from_json`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> "SweepResult":
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in record.items() if k in names})


def _number(value) -> float | None:
    """A float for JSON (NaN and inf as None)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def outcome(res) -> dict:
    """The fields of a ``Discovery`` (or ``ClassDiscovery``) as JSON types."""
    if hasattr(res, "formulas"):  # classification
        return {"formulas": [str(f) for f in res.formulas],
                "classes": [c.item() if hasattr(c, "item") else c for c in res.classes],
                "accuracy": _number(res.accuracy)}
    constants = [] if res.constants is None else [
        {"constant": str(r.constant), "value": _number(r.value), "se": _number(r.se),
         "snapped": bool(r.snapped)} for r in res.constants.itertuples()]
    equations = [{"complexity": int(r.complexity), "n_constants": int(r.n_constants),
                  "nmse": _number(r.nmse), "r2": _number(r.r2), "score": _number(r.score),
                  "source": str(r.source), "formula": str(r.formula),
                  "constants": _text(r.constants), "picked": bool(r.picked)}
                 for r in res.equations.itertuples()]
    return {"formula": str(res.formula), "r2": _number(res.r2), "noise": _number(res.noise),
            "constants": constants, "equations": equations}


def versions() -> dict:
    import torch

    from . import __version__

    return {"kansci": __version__, "torch": torch.__version__, "sympy": sympy.__version__,
            "python": platform.python_version(), "worker": f"{platform.node()}:{os.getpid()}"}


def _units_text(units):
    if units is None or isinstance(units, str):
        return units
    if isinstance(units, dict):
        return {str(k): str(v) for k, v in units.items()}
    return str(units)


@dataclass
class Task:
    """A task as the workers get it: data (or a CSV path, read in the worker) and options."""

    index: int
    name: str
    X: object = None
    y: object = None
    source: str | None = None
    target: str | None = None
    drop: tuple = ()  # columns of the CSV that are not inputs (other targets of the sweep)
    options: dict = field(default_factory=dict)

    def record(self, **fields) -> SweepResult:
        options = {k: (_units_text(v) if k in ("units", "y_units") else v)
                   for k, v in self.options.items() if k != "seed"}
        return SweepResult(index=self.index, name=self.name, seed=self.options.get("seed", 0),
                           options=options, source=self.source, target=self.target,
                           versions=versions(), **fields)


def _run(task: Task) -> SweepResult:
    """One task in a worker: never raises for what the task's data or options do wrong."""
    from ._discover import discover

    start = time.perf_counter()
    try:
        if task.source is not None:
            X, y = read_table(task.source, task.target, task.drop)
        else:
            X, y = task.X, task.y
        res = discover(X, y, progress=False, **task.options)
        return task.record(seconds=time.perf_counter() - start, **outcome(res))
    except Exception as e:  # noqa: BLE001 - a failed task is reported, the sweep goes on
        return task.record(seconds=time.perf_counter() - start,
                           error=f"{type(e).__name__}: {e}")


def read_table(path, target: str, drop=()):
    """Inputs (a DataFrame: every column but ``target`` and ``drop``) and target column of a
    CSV file with a header row; a clear error for a missing file or column."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    if target not in frame.columns:
        raise ValueError(f"no column {target!r} in {path}; columns: "
                         f"{', '.join(map(str, frame.columns))}")
    inputs = frame.drop(columns=[target] + [c for c in drop if c in frame.columns and c != target])
    return inputs, frame[target]


def _task(index: int, spec, defaults: dict) -> Task:
    """A task from what the caller wrote: (X, y), (X, y, options), (path, target[, options])
    or a dict with X and y (or csv and target) and options."""
    if isinstance(spec, dict):
        spec = dict(spec)
        if "csv" in spec:
            data = (spec.pop("csv"), spec.pop("target", None))
        elif "X" in spec and "y" in spec:
            data = (spec.pop("X"), spec.pop("y"))
        else:
            raise ValueError(f"task {index}: a dict task needs 'X' and 'y', or 'csv' and "
                             f"'target'; got keys {sorted(spec)}.")
        options = spec
    elif isinstance(spec, (tuple, list)) and len(spec) in (2, 3):
        data, options = tuple(spec[:2]), (spec[2] if len(spec) == 3 else {})
        if not isinstance(options, dict):
            raise ValueError(f"task {index}: the third item must be a dict of discover's "
                             f"options; got {type(options).__name__}.")
    else:
        raise ValueError(f"task {index}: a task is (X, y), (X, y, options), (csv_path, target) "
                         f"or a dict; got {type(spec).__name__}.")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"task {index}: unknown option(s) {unknown}; discover_many passes "
                         f"{', '.join(OPTIONS)} to discover.")
    options = {**defaults, **options}
    first, second = data
    if isinstance(first, (str, os.PathLike)):
        if not isinstance(second, str):
            raise ValueError(f"task {index}: a CSV task needs the target column's name as its "
                             f"second item; got {type(second).__name__}.")
        source = str(first)
        return Task(index, f"{Path(source).name}:{second}", source=source, target=second,
                     options=options)
    return Task(index, f"task {index}", X=first, y=second, options=options)


def tasks_of(tasks, options: dict) -> list[Task]:
    """The tasks checked, with ``options`` as every task's defaults."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; discover_many passes "
                         f"{', '.join(OPTIONS)} to discover.")
    return [_task(i, spec, options) for i, spec in enumerate(tasks)]


def run(tasks: list[Task], n_jobs=None, progress: bool = True):
    """Yield each task's ``SweepResult`` as it finishes (in no fixed order), through joblib
    (its current backend; ``n_jobs`` as joblib reads it)."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    if not tasks:
        return
    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    with tqdm(total=len(tasks), desc="tasks", unit="task", disable=not progress) as bar:
        for result in parallel(delayed(_run)(t) for t in tasks):
            bar.update(1)
            yield result


def discover_many(tasks, n_jobs=None, progress: bool = True, **options) -> list[SweepResult]:
    """Run ``discover`` on many tasks, in parallel through joblib.

    tasks: a list of (X, y), (X, y, options), (csv_path, target[, options]) or dicts with
    ``X`` and ``y`` (or ``csv`` and ``target``) and options; options are discover's
    ``names``, ``seed``, ``budget_s``, ``units``, ``y_units`` and ``task``, and the keyword
    arguments given here are every task's defaults (``discover_many(tasks, budget_s=30)``).
    A CSV is read in the worker: every column but the target is an input.

    n_jobs: joblib's (None: 1, or what ``joblib.parallel_config`` says; -1: every core). The
    backend is joblib's: its process pool unless the caller set another, e.g.

        with joblib.parallel_config(backend="dask"):  # with a dask.distributed.Client
            results = ks.discover_many(tasks, n_jobs=-1)

    Returns one ``SweepResult`` per task, in the tasks' order. A task that fails (bad data, a
    missing column) returns its error in ``error``; the others finish. The same tasks and
    seeds give the same formulas wherever they run (up to searches cut short by a budget).
    Progress over the tasks is shown with tqdm; Ctrl-C stops the sweep."""
    checked = tasks_of(list(tasks), options)
    results = sorted(run(checked, n_jobs, progress), key=lambda r: r.index)
    return results
