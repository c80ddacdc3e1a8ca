"""The fused Triton KAN layer (kansci.kernels) against other ways to compute a KAN layer, on a GPU.

One process, one GPU; per shape and dtype all methods run back to back (interleaved), each timed
by ``triton.testing.do_bench`` (warm-up, then the median of >= 50 calls, L2 flushed before each):
forward (under no_grad) and forward + backward (gradients of x and the layer's parameters).

  ours     SplineLayer.apply(x, layer.weight(), layer.grid, layer.dense_table()) for a kansci
           KANLayer(in, out, grid=G, k=3): the features are built inside the matmul tiles
  eager    our PyTorch path: features(x) (batch, in*F) @ layer.weight() (in*F, out), F = G+k+1
  compile  the same function under torch.compile (compile seconds reported apart)
  pykan    pykan 0.2.8 KANLayer(in, out, num=G, k=3); skipped ("mem") where its (batch, out, in)
           tensors cannot fit, or ("init") where its least-squares init would take minutes
  inkan    inkan 0.5.2 KANLayer(in, out, grid_size=G) (local cubic B-splines), eager
  inkan-c  the same inkan layer under torch.compile
  linear   torch.nn.Linear(in, out);  mm: the equal-FLOP matmul (batch, in*F) @ (in*F, out)

Columns: ms forward/forward+backward per method; eta = mm time / ours time (forward, forward +
backward); ours' forward+backward speed-up over compile, pykan and inkan-c; peak memory (MiB) of a
forward+backward above what was held before (ours/eager, gradients included); ours' max abs error,
relative to max |ref|, of the output (err) and of the gradients of x, coef, scale_base and scale_sp
(gerr), ref being the PyTorch path in float64 on the same inputs (the first 2048 samples); seconds
of torch.compile's first calls (compile/inkan-c); seconds the row took. dtypes: fp32 (TF32 off in
PyTorch matmuls; Triton's tl.dot chooses its own), tf32 (fp32 tensors, matmul precision "high"),
bf16.

    python benchmarks/kernels.py [--batch 1024 4096 16384] [--width 64 256 1024]
        [--grid 5 20 100] [--dtype fp32 tf32 bf16] [--skip pykan,inkan,compile]
    python benchmarks/kernels.py --smoke   # batch 64, in = out 8, G 5: without CUDA on the CPU
                                           # (Triton interpreter), failing on large errors
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import itertools
import os
import statistics
import sys
import tempfile
import time
from functools import lru_cache
from types import SimpleNamespace

import torch

# first, before anything imports Triton: without CUDA, kansci.kernels switches its interpreter on
import kansci.kernels.spline_layer as kernels  # isort: skip
from kansci._layer import KANLayer
from kansci._spline import features

K = 3
REF_ROWS = 2048  # samples checked against the float64 reference (rows are independent)
DTYPES = {"fp32": (torch.float32, "highest"), "tf32": (torch.float32, "high"),
          "bf16": (torch.bfloat16, "highest")}
SMOKE_TOL = {"fp32": 1e-4, "tf32": 1e-4, "bf16": 3e-2}
METHODS = ("ours", "eager", "compile", "pykan", "inkan", "inkan-c", "linear", "mm")
SKIP_TAGS = {"ours": set(), "eager": {"eager"}, "compile": {"compile"}, "pykan": {"pykan"},
             "inkan": {"inkan"}, "inkan-c": {"inkan", "compile"}, "linear": {"linear"},
             "mm": {"mm"}}


class Skip(Exception):
    """A method that does not run at this shape (the message says why)."""


def make_setup(batch, width, grid, dtype, dev, seed=0) -> SimpleNamespace:
    """One shape and dtype: the kansci layer, inputs x (batch, in), output gradient gy."""
    gen = torch.Generator(device=dev).manual_seed(seed)
    layer = KANLayer(width, width, grid=grid, k=K, generator=torch.Generator().manual_seed(seed),
                     dtype=dtype, device=dev)
    with torch.no_grad():
        layer.coef.normal_(generator=gen)  # splines of size ~1, not the initial small noise
    x = torch.rand(batch, width, generator=gen, device=dev, dtype=dtype) * 2 - 1
    gy = torch.randn(batch, width, generator=gen, device=dev, dtype=dtype)
    return SimpleNamespace(batch=batch, width=width, grid=grid, dtype=dtype, dev=dev, gen=gen,
                           layer=layer, x=x, gy=gy, compile_s={})


def layer_params(layer: KANLayer) -> list:
    return [layer.coef, layer.scale_base, layer.scale_sp]


# ---- timing and memory -------------------------------------------------------------------
def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def wall_ms(fn, dev=torch.device("cpu")) -> float:
    t = time.perf_counter()
    fn()
    sync(dev)
    return (time.perf_counter() - t) * 1e3


def time_ms(fn, dev, grads=()) -> float:
    """Median milliseconds of fn(): do_bench on CUDA (>= ~50 timed calls), else perf_counter."""
    fn()  # the first call compiles what compiles
    estimate = wall_ms(fn, dev)
    if dev.type != "cuda":
        return statistics.median(wall_ms(fn) for _ in range(5))
    from triton.testing import do_bench

    return do_bench(fn, warmup=max(25, 3 * estimate), rep=max(100, 60 * estimate),
                    grad_to_none=list(grads), return_mode="median")


def peak_mib(fn, dev, grads) -> float:
    """Peak memory of fn() above what was allocated before (MiB; nan off CUDA)."""
    if dev.type != "cuda":
        return float("nan")
    for t in grads:
        t.grad = None
    sync(dev)
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    sync(dev)
    return (torch.cuda.max_memory_allocated() - before) / 2**20


# ---- the methods: each builder returns (forward, forward+backward, tensors given gradients) ----
def pair(f, inp, gy, params):
    """fwd() under no_grad and fwd_bwd() (gradients of inp and params) of y = f(inp)."""
    grad_in = inp.detach().clone().requires_grad_()

    def fwd():
        with torch.no_grad():
            return f(inp)

    def fwd_bwd():
        f(grad_in).backward(gy)

    return fwd, fwd_bwd, [grad_in, *params]


def compiled_pair(s, name, f, params):
    """pair() of torch.compile(f); the seconds of its first calls (compiling) go to s.compile_s."""
    fwd, fwd_bwd, grads = pair(torch.compile(f), s.x, s.gy, params)
    t = time.perf_counter()
    fwd()
    fwd_bwd()
    sync(s.dev)
    s.compile_s[name] = time.perf_counter() - t
    return fwd, fwd_bwd, grads


def ours_fn(layer, table):
    return lambda x: kernels.SplineLayer.apply(x, layer.weight(), layer.grid, table)


def dense_fn(layer, table, x):
    """KANLayer's PyTorch path (the table passed in, so torch.compile does not trace its cache)."""
    a = features(x, layer.grid, table, layer.base_fun)
    return a.reshape(x.shape[0], -1) @ layer.weight().reshape(-1, layer.out_dim)


def build_ours(s):
    return pair(ours_fn(s.layer, s.layer.dense_table()), s.x, s.gy, layer_params(s.layer))


def build_eager(s):
    table = s.layer.table()
    return pair(lambda x: dense_fn(s.layer, table, x), s.x, s.gy, layer_params(s.layer))


def build_compile(s):
    table = s.layer.table()
    return compiled_pair(s, "compile", lambda x: dense_fn(s.layer, table, x),
                         layer_params(s.layer))


@contextlib.contextmanager
def scratch_cwd():
    """Run in an empty temporary directory (pykan may write to the cwd)."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="kansci-bench-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


PYKAN_INIT_LIMIT = 10**8  # in*out*(G+1)*(G+k): 256 x 256, G = 100 takes minutes on a CPU


@lru_cache(maxsize=None)
def pykan_layer(width, grid):
    """pykan's layer, built on the CPU (its init solves one least-squares problem per edge)."""
    with scratch_cwd():
        import kan

        torch.manual_seed(0)
        return kan.KANLayer(in_dim=width, out_dim=width, num=grid, k=K)


def build_pykan(s):
    if s.width**2 * (s.grid + 1) * (s.grid + K) > PYKAN_INIT_LIMIT:
        raise Skip("init")
    # forward + backward keeps ~8 (batch, out, in) tensors and ~20 (batch, in, G+2k+1) ones of
    # the basis recursion (4 bytes: the layer is built in float32)
    need = 4 * s.batch * s.width * (8 * s.width + 20 * (s.grid + 2 * K + 1))
    if s.dev.type == "cuda" and need > torch.cuda.mem_get_info()[0]:
        raise Skip("mem")
    layer = copy.deepcopy(pykan_layer(s.width, s.grid))
    torch.nn.Module.to(layer, s.dev, s.dtype)  # pykan's own .to takes a device only
    params = [p for p in layer.parameters() if p.requires_grad]
    return pair(lambda x: layer(x)[0], s.x, s.gy, params)


def inkan_layer(s):
    import inkan

    torch.manual_seed(0)
    return inkan.KANLayer(s.width, s.width, grid_size=s.grid, spline_order=K,
                          compile_basis=False).to(s.dev, s.dtype)


def build_inkan(s):
    layer = inkan_layer(s)
    return pair(layer, s.x, s.gy, list(layer.parameters()))


def build_inkan_c(s):
    layer = inkan_layer(s)
    return compiled_pair(s, "inkan-c", layer, list(layer.parameters()))


def build_linear(s):
    torch.manual_seed(0)
    lin = torch.nn.Linear(s.width, s.width, device=s.dev, dtype=s.dtype)
    return pair(lin, s.x, s.gy, list(lin.parameters()))


def build_mm(s):
    n = s.width * (s.grid + K + 1)
    a = torch.rand(s.batch, n, generator=s.gen, device=s.dev, dtype=s.dtype)
    w = (torch.rand(n, s.width, generator=s.gen, device=s.dev, dtype=s.dtype) - 0.5) / n**0.5
    return pair(lambda inp: inp @ w, a, s.gy, [w.requires_grad_()])


BUILDERS = {"ours": build_ours, "eager": build_eager, "compile": build_compile,
            "pykan": build_pykan, "inkan": build_inkan, "inkan-c": build_inkan_c,
            "linear": build_linear, "mm": build_mm}


# ---- one shape and dtype -------------------------------------------------------------------
def outputs_and_grads(f, layer, x, gy) -> list:
    """[y, dx, dcoef, dscale_base, dscale_sp] of y = f(x) for output gradient gy."""
    x = x.detach().clone().requires_grad_()
    y = f(x)
    y.backward(gy)
    out = [y.detach(), x.grad] + [p.grad for p in layer_params(layer)]
    for p in layer_params(layer):
        p.grad = None
    return out


def ours_errors(s) -> tuple[float, float]:
    """Max abs error of ours' output and (the worst of) its gradients against the float64
    PyTorch path, each relative to the reference's max |.|."""
    ref = copy.deepcopy(s.layer).double()
    x, gy = s.x[:REF_ROWS], s.gy[:REF_ROWS]
    got = outputs_and_grads(ours_fn(s.layer, s.layer.dense_table()), s.layer, x, gy)
    want = outputs_and_grads(lambda z: dense_fn(ref, ref.table(), z), ref, x.double(),
                             gy.double())
    rel = [float((g.double() - w).abs().max() / w.abs().max().clamp_min(1e-300))
           for g, w in zip(got, want)]
    return rel[0], max(rel[1:])


def measure(name, s, mem, strict):
    """(ms forward, ms forward+backward) of one method, or why it did not run."""
    try:
        fwd, fwd_bwd, grads = BUILDERS[name](s)
        if name in ("ours", "eager"):
            mem[name] = peak_mib(fwd_bwd, s.dev, grads)
        return time_ms(fwd, s.dev), time_ms(fwd_bwd, s.dev, grads)
    except Skip as why:
        return str(why)
    except Exception as err:  # out of memory, or a failure: a long run goes on (not --smoke)
        if strict:
            raise
        if isinstance(err, torch.cuda.OutOfMemoryError):
            return "OOM"
        print(f"  {name}: {type(err).__name__}: {str(err)[:300]}", file=sys.stderr)
        return "error"
    finally:
        if s.dev.type == "cuda":
            torch.cuda.empty_cache()


def run_config(batch, width, grid, dtype_name, dev, skip, strict) -> dict:
    dtype, precision = DTYPES[dtype_name]
    torch.set_float32_matmul_precision(precision)
    torch._dynamo.reset()  # each shape compiles afresh (and stays under the recompile limit)
    start = time.perf_counter()
    s = make_setup(batch, width, grid, dtype, dev)
    err, gerr = ours_errors(s)
    mem, times = {}, {}
    for name in METHODS:
        times[name] = "-" if SKIP_TAGS[name] & skip else measure(name, s, mem, strict)
    return dict(dtype=dtype_name, batch=batch, width=width, grid=grid, times=times, mem=mem,
                err=err, gerr=gerr, compile_s=s.compile_s,
                seconds=time.perf_counter() - start)


# ---- printing --------------------------------------------------------------------------------
def num(v, digits=4) -> str:
    return v if isinstance(v, str) else f"{v:.{digits}g}" if v < 1e4 else f"{v:.0f}"


def both(t) -> str:
    """'forward/forward+backward' ms, or why the method did not run."""
    return t if isinstance(t, str) else f"{num(t[0])}/{num(t[1])}"


def ratio(a, b, i) -> str:
    return f"{a[i] / b[i]:.2f}" if isinstance(a, tuple) and isinstance(b, tuple) else "-"


HEAD = (f"{'dtype':5s} {'batch':>6s} {'width':>5s} {'G':>4s} "
        + " ".join(f"{m:>15s}" for m in METHODS)
        + f" {'eta f':>6s} {'eta fb':>6s} {'x comp':>6s} {'x pykan':>7s} {'x ink-c':>7s}"
        + f" {'MiB ours/eager':>15s} {'err':>8s} {'gerr':>8s} {'compile s':>11s} {'s':>5s}")


def row(r) -> str:
    t, mem, cs = r["times"], r["mem"], r["compile_s"]
    mib = "/".join(f"{mem[m]:.0f}" if m in mem else "-" for m in ("ours", "eager"))
    comp = "/".join(f"{cs[m]:.1f}" if m in cs else "-" for m in ("compile", "inkan-c"))
    return (f"{r['dtype']:5s} {r['batch']:6d} {r['width']:5d} {r['grid']:4d} "
            + " ".join(f"{both(t[m]):>15s}" for m in METHODS)
            + f" {ratio(t['mm'], t['ours'], 0):>6s} {ratio(t['mm'], t['ours'], 1):>6s}"
            + f" {ratio(t['compile'], t['ours'], 1):>6s} {ratio(t['pykan'], t['ours'], 1):>7s}"
            + f" {ratio(t['inkan-c'], t['ours'], 1):>7s} {mib:>15s} {r['err']:8.1e}"
            + f" {r['gerr']:8.1e} {comp:>11s} {r['seconds']:5.0f}")


# ---- main ------------------------------------------------------------------------------------
def values(groups, cast) -> list:
    """Flag values given as separate words and/or comma-separated."""
    return [cast(v) for g in groups for v in g.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", nargs="+", help="batch sizes (default 1024 4096 16384)")
    ap.add_argument("--width", nargs="+", help="in = out (default 64 256 1024)")
    ap.add_argument("--grid", nargs="+", help="grid intervals G (default 5 20 100)")
    ap.add_argument("--dtype", nargs="+", help="fp32, tf32, bf16 (default all)")
    ap.add_argument("--skip", default="",
                    help="comma-separated: pykan, inkan, compile, eager, linear, mm")
    ap.add_argument("--smoke", action="store_true",
                    help="batch 64, in = out 8, G 5, fp32 unless given; on the CPU without CUDA")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        print("benchmarks/kernels.py times the Triton kernels on a CUDA GPU, and none is "
              "available; run it with --smoke to check it on the CPU.")
        return
    small = args.smoke
    batches = values(args.batch or ["64" if small else "1024,4096,16384"], int)
    widths = values(args.width or ["8" if small else "64,256,1024"], int)
    grids = values(args.grid or ["5" if small else "5,20,100"], int)
    dtypes = values(args.dtype or ["fp32" if small else "fp32,tf32,bf16"], str)
    skip = set(values([args.skip], str))
    unknown = (set(dtypes) - set(DTYPES)) | (skip - set().union(*SKIP_TAGS.values()))
    if unknown:
        ap.error(f"unknown dtype or skip name(s): {sorted(unknown)}")
    if "inkan" not in skip and importlib.util.find_spec("inkan") is None:
        print("inkan is not importable (pip install inkan==0.5.2): skipped")
        skip.add("inkan")
    dev = torch.device("cuda" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(1)  # steadier CPU timings
    import triton

    name = torch.cuda.get_device_name() if cuda else "CPU"
    name += " (Triton interpreter)" if kernels.INTERPRETED else ""
    print(f"{name}; torch {torch.__version__}, triton {triton.__version__}; k = {K}; "
          "ms forward/forward+backward (median)", flush=True)
    print(HEAD, flush=True)
    start, failed = time.perf_counter(), []
    for dtype_name, grid, width, batch in itertools.product(dtypes, grids, widths, batches):
        r = run_config(batch, width, grid, dtype_name, dev, skip, strict=small)
        print(row(r), flush=True)
        if small and max(r["err"], r["gerr"]) > SMOKE_TOL[dtype_name]:
            failed.append(f"{dtype_name} {batch} {width} {grid}")
    print(f"total {time.perf_counter() - start:.1f} s")
    if failed:
        sys.exit(f"smoke: ours' error above tolerance at {failed}")


if __name__ == "__main__":
    main()
