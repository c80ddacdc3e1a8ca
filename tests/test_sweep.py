"""discover_many (joblib; a local Dask cluster) and the command line's sweeps."""
import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import sympy

import kansci as ks
from kansci._cli import main as cli


def _table(f, d, n=400, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, size=(n, d))
    y = f(X)
    return X, y + noise * y.std() * rng.standard_normal(n)


LAWS = [  # four small tasks that end well before their budget (exact data)
    (lambda X: X[:, 0] * X[:, 1], 2),
    (lambda X: X[:, 0] + X[:, 1] ** 2, 2),
    (lambda X: np.sin(X[:, 0]), 1),
    (lambda X: X[:, 0] / X[:, 1], 2),
]


@pytest.fixture(scope="module")
def tasks():
    return [_table(f, d, seed=i) for i, (f, d) in enumerate(LAWS)]


@pytest.fixture(scope="module")
def serial(tasks):
    return ks.discover_many(tasks, budget_s=20, progress=False)


def test_discover_many_serial_gives_discover_s_formulas(tasks, serial):
    assert [r.index for r in serial] == [0, 1, 2, 3]
    x1, x2 = sympy.symbols("x_1 x_2")
    truths = [x1 * x2, x1 + x2 ** 2, sympy.sin(x1), x1 / x2]
    for r, truth in zip(serial, truths):
        assert r.ok and r.r2 > 1 - 1e-9
        assert sympy.simplify(r.expr - truth) == 0, r.formula
        assert r.equations and sum(e["picked"] for e in r.equations) == 1
        assert r.versions["kansci"] == ks.__version__ and r.seconds > 0
    # plain records: pickled and through JSON they come back the same
    assert pickle.loads(pickle.dumps(serial)) == serial
    back = [ks.SweepResult.from_json(json.loads(json.dumps(r.to_json()))) for r in serial]
    assert back == serial


def test_discover_many_on_a_local_dask_cluster_matches_serial(tasks, serial):
    distributed = pytest.importorskip("distributed")
    import joblib

    bad = (np.ones((50, 2)), np.full(50, np.nan))  # bad data: the task fails, the rest finish
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            results = ks.discover_many(tasks + [bad], n_jobs=2, budget_s=20, progress=False)
    assert [r.formula for r in results[:4]] == [r.formula for r in serial]
    failed = results[4]
    assert not failed.ok and failed.formula is None
    assert "y" in failed.error and "ValueError" in failed.error
    workers = {r.versions["worker"] for r in results}
    assert os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in workers}  # ran elsewhere


def test_discover_many_checks_its_tasks():
    X, y = _table(LAWS[0][0], 2)
    with pytest.raises(ValueError, match="unknown option.*bugdet"):
        ks.discover_many([(X, y, {"bugdet": 3})])
    with pytest.raises(ValueError, match="task 1: a task is"):
        ks.discover_many([(X, y), X])
    with pytest.raises(ValueError, match="target column's name"):
        ks.discover_many([("data.csv", 3)])


def test_csv_task_reads_in_the_worker_and_reports_a_missing_column(tmp_path):
    X, y = _table(LAWS[0][0], 2)
    path = tmp_path / "law.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(path, index=False)
    good, missing = ks.discover_many([(path, "y"), (str(path), "z")], budget_s=20,
                                     progress=False)
    assert good.ok and sympy.simplify(good.expr - sympy.Symbol("a") * sympy.Symbol("b")) == 0
    assert good.name == "law.csv:y" and good.source == str(path) and good.target == "y"
    assert not missing.ok and "no column 'z'" in missing.error


def _write_targets(path, n=300):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, n)
    noise = lambda: 0.05 * rng.standard_normal(n)  # noisy: each task runs to its budget
    pd.DataFrame({"a": a, "b": b, "y1": a * b + noise(), "y2": a + b + noise(),
                  "y3": a / b + noise()}).to_csv(path, index=False)


def test_cli_sweep_resumes_after_an_interruption(tmp_path):
    data, out = tmp_path / "t.csv", tmp_path / "results.jsonl"
    _write_targets(data)
    cmd = [sys.executable, "-m", "kansci._cli", "discover", str(data), "--target", "y1,y2,y3",
           "--budget", "4", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 1:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # Ctrl-C after the first result
    proc.communicate(timeout=60)
    first = out.read_text().splitlines()
    assert 1 <= len(first) < 3, "the sweep should have been cut short"
    with open(out, "a") as f:
        f.write('{"index": 7, "name": "t.csv:y')  # a line cut short by a kill
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(first)} of 3 tasks already in" in rerun.stderr
    lines = out.read_text().splitlines()
    assert lines[:len(first)] == first  # nothing written is lost
    records = [json.loads(line) for line in lines if line.endswith("}")]
    done = [r for r in records if r.get("formula")]
    assert sorted(r["target"] for r in done) == ["y1", "y2", "y3"]  # each once
    assert all(r["seed"] == 0 and r["options"]["budget_s"] == 4 for r in done)


def test_cli_sweep_pairs_files_targets_and_seeds(tmp_path, capsys):
    data, other = tmp_path / "t.csv", tmp_path / "u.csv"
    _write_targets(data)
    pd.read_csv(data)[["a", "b", "y1"]].to_csv(other, index=False)
    out = tmp_path / "r.jsonl"
    code = cli(["discover", str(data), str(other), "--target", "y1,y2", "--seeds", "0,1",
                "--budget", "1", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # t.csv has y1 and y2, u.csv only y1: 3 pairs, 2 seeds each
    keys = sorted((os.path.basename(r["source"]), r["target"], r["seed"]) for r in records)
    assert keys == [("t.csv", "y1", 0), ("t.csv", "y1", 1), ("t.csv", "y2", 0),
                    ("t.csv", "y2", 1), ("u.csv", "y1", 0), ("u.csv", "y1", 1)]
    # the other target is not an input
    assert all("y2" not in r["formula"] and "y1" not in r["formula"] for r in records)
    assert printed.out.count("[") >= 6
    assert cli(["discover", str(data), "--target", "y1,nope", "--out", str(out)]) == 2
    assert "'nope' is a column of none" in capsys.readouterr().err
