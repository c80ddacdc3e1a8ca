"""Forward pass of a KAN layer as one Triton kernel: features computed in the matmul tile.

y[b, o] = sum_i sum_f A[b, i, f] W[i, f, o] with A[b, i, 0] = silu(x[b, i]) and A[b, i, 1 + m] =
B_m(x[b, i]); W (in, F, out) is ``KANLayer.weight()`` (masks and scales folded in). Each program
owns a (BLOCK_B, BLOCK_O) tile of y and, input by input, builds the (BLOCK_B, F) features in
registers from the layer's dense ``basis_table`` (per knot interval, the polynomial pieces of
every feature in u = (x - t_j) / h_j; any grid, uniform or not, any order k) and multiplies
them into the tile: the basis never reaches global memory.

First step of the GPU kernels: forward only, silu base, fp32 accumulation. The backward and
the dispatch from ``MultKAN`` follow.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor


@triton.jit
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
        g = tl.load(grid_ptr + i * n_knots + knot, mask=knot < n_knots, other=float("inf"))
        count = tl.sum((xb[:, None] >= g[None, :]).to(tl.int32), 1)  # knots <= x
        row = (count + i * (n_knots + 1)) * n_cols  # the sample's table row
        scale = tl.load(tab_ptr + row + n_cols - 2, mask=in_b, other=0.0)
        shift = tl.load(tab_ptr + row + n_cols - 1, mask=in_b, other=0.0)
        u = xb * scale + shift
        where = row[:, None] + fcol[None, :]
        ok = in_b[:, None] & in_f[None, :]
        vals = tl.load(tab_ptr + where + K * F, mask=ok, other=0.0)
        for p in tl.static_range(K - 1, -1, -1):  # Horner in u
            vals = tl.load(tab_ptr + where + p * F, mask=ok, other=0.0) + vals * u[:, None]
        base = xb * tl.sigmoid(xb)
        vals = tl.where(fcol[None, :] == 0, base[:, None], vals)
        w = tl.load(w_ptr + i * F * n_out + fcol[:, None] * n_out + ro[None, :],
                    mask=in_f[:, None] & in_o[None, :], other=0.0)
        acc += tl.dot(vals, w.to(tl.float32))
    tl.store(y_ptr + rb[:, None] * n_out + ro[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=in_b[:, None] & in_o[None, :])


def spline_layer_forward(x: Tensor, grid: Tensor, table, weight: Tensor,
                         block_b: int = 32, block_o: int = 32) -> Tensor:
    """The spline (and silu base) part of a KAN layer: x (batch, in) -> (batch, out).

    grid (in, G+2k+1); table: a dense ``basis_table(grid, k, local=False)``; weight
    (in, G+k+1, out) as ``KANLayer.weight()``. All on one device (CPU runs in the Triton
    interpreter, which must be switched on with TRITON_INTERPRET=1 before Triton is imported)."""
    if table.local:
        raise ValueError("spline_layer_forward needs the dense table layout (local=False).")
    n_batch, n_in = x.shape
    n_feat, n_out = weight.shape[1], weight.shape[2]
    if grid.shape[0] != n_in or weight.shape[0] != n_in or table.n_feat != n_feat:
        raise ValueError(f"shapes do not match: x {tuple(x.shape)}, grid {tuple(grid.shape)}, "
                         f"weight {tuple(weight.shape)}, table features {table.n_feat}.")
    x, grid = x.contiguous(), grid.contiguous().to(torch.float32)
    rows = table.rows.contiguous().to(torch.float32)
    weight = weight.contiguous()
    y = torch.empty(n_batch, n_out, dtype=x.dtype, device=x.device)
    tiles = (triton.cdiv(n_batch, block_b), triton.cdiv(n_out, block_o))
    _forward_kernel[tiles](x, grid, rows, weight, y, n_batch, n_in, n_out, grid.shape[1],
                           rows.shape[1], F=n_feat, K=table.k,
                           F_PAD=max(16, triton.next_power_of_2(n_feat)),
                           KNOTS_PAD=triton.next_power_of_2(grid.shape[1]),
                           BLOCK_B=block_b, BLOCK_O=block_o)
    return y
