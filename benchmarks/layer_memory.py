"""Peak memory of one KAN layer's forward + backward on the CPU.

Batch 16384, in = out = 1024, G = 5, k = 3, float32 (pykan 0.2.8 asks for 64 GiB on a GPU at
this shape: it forms (batch, out, in) tensors). Prints the peak resident set size of the
process (which includes the Python and torch runtime, measured before the layer exists) and
the time of the step, for the differentiable path (``KANLayer.forward``) and the training path
(``KANLayer.fused``). Each path runs in a fresh subprocess so the peaks do not mix.

    python benchmarks/layer_memory.py [--batch 16384] [--width 1024] [--grid 5]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_one(path: str, batch: int, width: int, grid: int) -> dict:
    import torch

    from kansci._layer import KANLayer

    torch.set_num_threads(2)
    base = peak_mib()
    gen = torch.Generator().manual_seed(0)
    layer = KANLayer(width, width, grid, 3, generator=gen)
    x = (torch.rand(batch, width, generator=gen) * 2 - 1).requires_grad_()
    t = time.perf_counter()
    if path == "forward":
        y, _ = layer(x)
    else:
        y, _ = layer.fused(x, torch.ones(width), torch.zeros(width))
    y.square().mean().backward()
    elapsed = time.perf_counter() - t
    assert x.grad is not None and layer.coef.grad is not None
    assert torch.isfinite(x.grad).all()
    return {"path": path, "runtime_mib": base, "peak_mib": peak_mib(), "seconds": elapsed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--grid", type=int, default=5)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.batch, args.width, args.grid)))
        return
    print(f"one layer, batch {args.batch}, in = out = {args.width}, G = {args.grid}, k = 3, "
          "float32, CPU, forward + backward")
    print(f"{'path':10s} {'runtime MiB':>12s} {'peak MiB':>10s} {'layer MiB':>10s} {'seconds':>8s}")
    for path in ("forward", "fused"):
        out = subprocess.run([sys.executable, __file__, "--child", path, "--batch", str(args.batch),
                              "--width", str(args.width), "--grid", str(args.grid)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['path']:10s} {r['runtime_mib']:12.0f} {r['peak_mib']:10.0f} "
              f"{r['peak_mib'] - r['runtime_mib']:10.0f} {r['seconds']:8.1f}")
    print("target: peak RSS < 4096 MiB")


if __name__ == "__main__":
    main()
