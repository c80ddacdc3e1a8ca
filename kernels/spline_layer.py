"""A KAN layer's spline part as Triton kernels: features computed in the matmul tile.

y[b, o] = sum_i sum_f A[b, i, f] W[i, f, o] with A[b, i, 0] = silu(x[b, i]) and A[b, i, 1 + m] =
B_m(x[b, i]); W (in, F, out) is ``KANLayer.weight()`` (masks and scales folded in). The features
come from the layer's dense ``basis_table`` (per knot interval, the polynomial pieces of every
feature and of its x-derivative in u = (x - t_j) / h_j: any grid, uniform or not, any order k),
built in registers and never written to global memory:

* forward: one program per (batch tile, out tile), input by input: features, then ``tl.dot``;
* dW = A^T dy: one program per (input, out tile), looping over the batch (no atomics);
* dx = sum_f (dy W^T) dA/dx: one program per batch tile, the derivative features rebuilt.

``SplineLayer`` wraps them as an autograd function of (x, weight). Accumulation is
fp32. ``MultKAN(backend=...)`` dispatches here (``kansci._backend``).

``INTERPRETED``: the kernels run in Triton's interpreter (on CPU tensors): asked for
(TRITON_INTERPRET=1), or on a machine without CUDA (see ``kansci.kernels``).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import LIBRARY_INTERPRETED

_KNOBS = getattr(triton, "knobs", None)  # Triton >= 3.4: its settings, besides the environment


def _asked() -> bool:
    """Whether Triton interprets every kernel anyway (TRITON_INTERPRET=1, or its setting)."""
    if _KNOBS is not None:
        return bool(_KNOBS.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


# interpreted when asked for, or where kansci.kernels imported Triton for its interpreter (on a
# machine without CUDA)
INTERPRETED = _asked() or LIBRARY_INTERPRETED


@contextmanager
def interpreting():
    """Triton's interpreter switched on for the block where these kernels are defined or
    launched and nobody asked for it (Triton's own setting, restored after: the process
    environment is not written, and other Triton code runs as it would)."""
    if not INTERPRETED or _asked():
        yield
        return
    with _KNOBS.runtime.scope():
        _KNOBS.runtime.interpret = True
        yield


def _jit(fn):
    """``triton.jit``, for the interpreter where the kernels are interpreted."""
    with interpreting():
        return triton.jit(fn)


@_jit
def _features(xb, i, grid_ptr, tab_ptr, n_in, n_knots, n_cols, in_b, fcol, knot,
              F: tl.constexpr, K: tl.constexpr, DERIV: tl.constexpr):
    """The (BLOCK_B, F_PAD) features of input i at xb (or, with DERIV, their x-derivatives)."""
    g = tl.load(grid_ptr + i * n_knots + knot, mask=knot < n_knots, other=float("inf"))
    count = tl.sum((xb[:, None] >= g[None, :]).to(tl.int32), 1)
    row = (count + i * (n_knots + 1)) * n_cols
    u = xb * tl.load(tab_ptr + row + n_cols - 2, mask=in_b, other=0.0) \
        + tl.load(tab_ptr + row + n_cols - 1, mask=in_b, other=0.0)
    where = row[:, None] + fcol[None, :]
    ok = in_b[:, None] & (fcol < F)[None, :]
    sig = tl.sigmoid(xb)
    if DERIV:  # pieces (K+1) F .. (2K) F - 1 hold u^0 .. u^(K-1) of the derivatives
        vals = tl.load(tab_ptr + where + (2 * K) * F, mask=ok, other=0.0)
        for p in tl.static_range(K - 1, 0, -1):
            vals = tl.load(tab_ptr + where + (K + p) * F, mask=ok, other=0.0) + vals * u[:, None]
        base = sig * (1 + xb * (1 - sig))
    else:
        vals = tl.load(tab_ptr + where + K * F, mask=ok, other=0.0)
        for p in tl.static_range(K - 1, -1, -1):
            vals = tl.load(tab_ptr + where + p * F, mask=ok, other=0.0) + vals * u[:, None]
        base = xb * sig
    return tl.where(fcol[None, :] == 0, base[:, None], vals)


@_jit
def _forward_kernel(x_ptr, grid_ptr, tab_ptr, w_ptr, y_ptr, n_batch, n_in, n_out, n_knots,
                    n_cols, F: tl.constexpr, K: tl.constexpr, F_PAD: tl.constexpr,
                    KNOTS_PAD: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_O: tl.constexpr):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    ro = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)
    fcol = tl.arange(0, F_PAD)
    knot = tl.arange(0, KNOTS_PAD)
    in_b, in_o, in_f = rb < n_batch, ro < n_out, fcol < F
    acc = tl.zeros((BLOCK_B, BLOCK_O), dtype=tl.float32)
    for i in range(0, n_in):
        xb = tl.load(x_ptr + rb * n_in + i, mask=in_b, other=0.0).to(tl.float32)
        vals = _features(xb, i, grid_ptr, tab_ptr, n_in, n_knots, n_cols, in_b, fcol, knot, F, K,
                         False)
        w = tl.load(w_ptr + i * F * n_out + fcol[:, None] * n_out + ro[None, :],
                    mask=in_f[:, None] & in_o[None, :], other=0.0)
        acc += tl.dot(vals, w.to(tl.float32))
    tl.store(y_ptr + rb[:, None] * n_out + ro[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=in_b[:, None] & in_o[None, :])


def spline_layer_forward(x: Tensor, grid: Tensor, table, weight: Tensor,
                         block_b: int = 32, block_o: int = 32) -> Tensor:
    """The spline (and silu base) part of a KAN layer: x (batch, in) -> (batch, out).

    grid (in, G+2k+1); table: a dense ``basis_table(grid, k, local=False)``; weight
    (in, G+k+1, out) as ``KANLayer.weight()``. All on one device (on CPU tensors the kernels
    run in Triton's interpreter: ``INTERPRETED``)."""
    x, grid, rows, weight, meta = _launch(x, grid, table, weight, block_b, block_o)
    n_batch, n_in = x.shape
    n_out = weight.shape[2]
    y = torch.empty(n_batch, n_out, dtype=x.dtype, device=x.device)
    tiles = (triton.cdiv(n_batch, block_b), triton.cdiv(n_out, block_o))
    with interpreting():
        _forward_kernel[tiles](x, grid, rows, weight, y, n_batch, n_in, n_out, grid.shape[1],
                               rows.shape[1], **meta)
    return y


def _launch(x: Tensor, grid: Tensor, table, weight: Tensor, block_b: int, block_o: int):
    """Checked, contiguous kernel arguments (grid and table in float32) and the kernels'
    compile-time sizes."""
    if table.local:
        raise ValueError("the layer kernels need the dense table layout (local=False).")
    n_in, n_feat = x.shape[1], weight.shape[1]
    if grid.shape[0] != n_in or weight.shape[0] != n_in or table.n_feat != n_feat:
        raise ValueError(f"shapes do not match: x {tuple(x.shape)}, grid {tuple(grid.shape)}, "
                         f"weight {tuple(weight.shape)}, table features {table.n_feat}.")
    meta = dict(F=n_feat, K=table.k, F_PAD=max(16, triton.next_power_of_2(n_feat)),
                KNOTS_PAD=triton.next_power_of_2(grid.shape[1]), BLOCK_B=block_b, BLOCK_O=block_o)
    return (x.contiguous(), grid.contiguous().to(torch.float32),
            table.rows.contiguous().to(torch.float32), weight.contiguous(), meta)


@_jit
def _grad_weight_kernel(x_ptr, grid_ptr, tab_ptr, dy_ptr, dw_ptr, n_batch, n_in, n_out, n_knots,
                        n_cols, F: tl.constexpr, K: tl.constexpr, F_PAD: tl.constexpr,
                        KNOTS_PAD: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_O: tl.constexpr):
    """dW[i, :, o-tile] = sum_b A[b, i, :]^T dy[b, o-tile]: one program per (input, out tile),
    looping over the batch (each program owns its block of dW: no atomics)."""
    i = tl.program_id(0)
    ro = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)
    fcol = tl.arange(0, F_PAD)
    knot = tl.arange(0, KNOTS_PAD)
    in_o = ro < n_out
    acc = tl.zeros((F_PAD, BLOCK_O), dtype=tl.float32)
    for start in range(0, n_batch, BLOCK_B):
        rb = start + tl.arange(0, BLOCK_B)
        in_b = rb < n_batch
        xb = tl.load(x_ptr + rb * n_in + i, mask=in_b, other=0.0).to(tl.float32)
        a = _features(xb, i, grid_ptr, tab_ptr, n_in, n_knots, n_cols, in_b, fcol, knot, F, K,
                      False)
        a = tl.where(in_b[:, None], a, 0.0)
        dy = tl.load(dy_ptr + rb[:, None] * n_out + ro[None, :], mask=in_b[:, None] & in_o[None, :],
                     other=0.0).to(tl.float32)
        acc += tl.dot(tl.trans(a), dy)
    tl.store(dw_ptr + i * F * n_out + fcol[:, None] * n_out + ro[None, :], acc,
             mask=(fcol < F)[:, None] & in_o[None, :])


@_jit
def _grad_x_kernel(x_ptr, grid_ptr, tab_ptr, w_ptr, dy_ptr, dx_ptr, n_batch, n_in, n_out,
                   n_knots, n_cols, F: tl.constexpr, K: tl.constexpr, F_PAD: tl.constexpr,
                   KNOTS_PAD: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_O: tl.constexpr):
    """dx[b, i] = sum_f (sum_o dy[b, o] W[i, f, o]) dA[b, i, f]/dx: one program per batch tile."""
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    fcol = tl.arange(0, F_PAD)
    knot = tl.arange(0, KNOTS_PAD)
    in_b = rb < n_batch
    for i in range(0, n_in):
        ga = tl.zeros((BLOCK_B, F_PAD), dtype=tl.float32)
        for start in range(0, n_out, BLOCK_O):
            ro = start + tl.arange(0, BLOCK_O)
            in_o = ro < n_out
            dy = tl.load(dy_ptr + rb[:, None] * n_out + ro[None, :],
                         mask=in_b[:, None] & in_o[None, :], other=0.0).to(tl.float32)
            w = tl.load(w_ptr + i * F * n_out + fcol[:, None] * n_out + ro[None, :],
                        mask=(fcol < F)[:, None] & in_o[None, :], other=0.0).to(tl.float32)
            ga += tl.dot(dy, tl.trans(w))
        xb = tl.load(x_ptr + rb * n_in + i, mask=in_b, other=0.0).to(tl.float32)
        da = _features(xb, i, grid_ptr, tab_ptr, n_in, n_knots, n_cols, in_b, fcol, knot, F, K,
                       True)
        tl.store(dx_ptr + rb * n_in + i, tl.sum(ga * da, 1), mask=in_b)


def spline_layer_backward(x: Tensor, grid: Tensor, table, weight: Tensor, dy: Tensor,
                          block_b: int = 32, block_o: int = 32) -> tuple[Tensor, Tensor]:
    """Gradients of ``spline_layer_forward`` for dy (batch, out): (dx (batch, in),
    dW (in, F, out)). The features and their derivatives are rebuilt from x, not stored."""
    x, grid, rows, weight, meta = _launch(x, grid, table, weight, block_b, block_o)
    dy = dy.contiguous()
    n_batch, n_in = x.shape
    n_feat, n_out = weight.shape[1], weight.shape[2]
    dw = torch.empty(n_in, n_feat, n_out, dtype=torch.float32, device=x.device)
    dx = torch.empty(n_batch, n_in, dtype=torch.float32, device=x.device)
    with interpreting():
        _grad_weight_kernel[(n_in, triton.cdiv(n_out, block_o))](
            x, grid, rows, dy, dw, n_batch, n_in, n_out, grid.shape[1], rows.shape[1], **meta)
        _grad_x_kernel[(triton.cdiv(n_batch, block_b),)](
            x, grid, rows, weight, dy, dx, n_batch, n_in, n_out, grid.shape[1], rows.shape[1],
            **meta)
    return dx.to(x.dtype), dw.to(weight.dtype)


class SplineLayer(torch.autograd.Function):
    """The spline part of a KAN layer on the kernels, differentiable once:
    apply(x, weight, grid, table) -> (batch, out), with weight (in, F, out) as
    ``KANLayer.weight()``; autograd carries dW on to the layer's parameters. The backward
    rebuilds the features from x instead of storing them."""

    @staticmethod
    def forward(ctx, x, weight, grid, table):
        ctx.save_for_backward(x, weight, grid)
        ctx.table = table
        return spline_layer_forward(x, grid, table, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x, weight, grid = ctx.saved_tensors
        dx, dw = spline_layer_backward(x, grid, ctx.table, weight, dy)
        return (dx if ctx.needs_input_grad[0] else None,
                dw if ctx.needs_input_grad[1] else None, None, None)
