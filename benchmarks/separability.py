"""How often ``kansci.detect_separability`` finds the right groups, next to pykan's.

Each case is sampled 20 times (seeds 0..19, x uniform in [-1, 1]^d) and both libraries run
with their default thresholds; a run counts when the groups are exactly right. pykan is
optional (``pip install pykan``); its prints are silenced.

    python benchmarks/separability.py [--samples 300] [--seeds 20]
"""
from __future__ import annotations

import argparse
import contextlib
import io

import torch

import kansci as ks


def _mul3(x):
    return (x[:, 0] + x[:, 1]) * (x[:, 2] + x[:, 3]) * (x[:, 4] + x[:, 5])


# name, mode, f (N, d) -> (N,), d, right groups
CASES = [
    ("(x0+x1)(x2+x3)(x4+x5)", "mul", _mul3, 6, [[0, 1], [2, 3], [4, 5]]),
    ("sin((x0+x1)(x2+x3)(x4+x5))", "mul", lambda x: torch.sin(_mul3(x)), 6,
     [[0, 1, 2, 3, 4, 5]]),
    ("sin(x0) + x1 x2", "add", lambda x: torch.sin(x[:, 0]) + x[:, 1] * x[:, 2], 3,
     [[0], [1, 2]]),
    ("sin(x0) + x1 x2", "mul", lambda x: torch.sin(x[:, 0]) + x[:, 1] * x[:, 2], 3,
     [[0, 1, 2]]),
    ("exp(x0 x1) + x2 (x0+x3)", "add", lambda x: torch.exp(x[:, 0] * x[:, 1])
     + x[:, 2] * (x[:, 0] + x[:, 3]), 4, [[0, 1, 2, 3]]),
    # a coupling that lives where |x0 x1 x2| is large: a median over samples misses it
    ("sin(x0) + x1 + (x0 x1 x2)^3 / 2", "add", lambda x: torch.sin(x[:, 0]) + x[:, 1]
     + 0.5 * (x[:, 0] * x[:, 1] * x[:, 2]) ** 3, 3, [[0, 1, 2]]),
]


def _pykan_groups(f, x, mode):
    from kan.hypothesis import detect_separability

    with contextlib.redirect_stdout(io.StringIO()):
        out = detect_separability(lambda z: f(z)[:, None], x, mode=mode)
    return sorted(sorted(int(i) for i in g) for g in out["groups"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    try:
        import kan.hypothesis  # noqa: F401
        have_pykan = True
    except ImportError:
        have_pykan = False
    print(f"{'case':32s} {'mode':4s} {'kansci':>7s} {'pykan':>7s}")
    for name, mode, f, d, want in CASES:
        ours = theirs = 0
        for seed in range(args.seeds):
            gen = torch.Generator().manual_seed(seed)
            x = torch.rand(args.samples, d, generator=gen, dtype=torch.float64) * 2 - 1
            ours += ks.detect_separability(f, x, mode=mode) == want
            if have_pykan:
                theirs += _pykan_groups(f, x, mode) == want
        pk = f"{theirs}/{args.seeds}" if have_pykan else "-"
        print(f"{name:32s} {mode:4s} {f'{ours}/{args.seeds}':>7s} {pk:>7s}")


if __name__ == "__main__":
    main()
