"""Narrow inner layers of the hand-written training step, evaluated edge by edge (NumPy).

On knot interval c of input i each edge's spline is one polynomial in the local coordinate u,
sum_p Q[p, o, i, c] u^p, with Q = pieces . w formed once per evaluation from the basis table
(a few hundred numbers). A sample then gathers (k+1) out + 2 numbers per input instead of the
(k+1) W + 2 of its features' pieces (W = F in the dense table layout, k+1 in the local one),
and no feature tensor is formed. The edge values phi (out, in, batch) this keeps are used only
where out <= W, so they are never larger than the features (F, in, batch) they replace.

Backward: dL/dQ[p, o, i, c] = sum over the samples on interval c of u^p dL/dphi (one
index_add), mapped to the weights through the same pieces; dphi/dx comes from Q's u-derivative.
The regulariser's edge variance is var_b(phi), whose gradient is 2 (phi - mean) / (N - 1).
Gathers, searches, scatters and matrix products run in PyTorch on views of the same memory;
the rest in NumPy.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

from ._spline import BasisTable, _base

_GATHER_LIMIT = 1 << 24  # gathered values per evaluation above which the feature form is used
_PIECES_LIMIT = 1 << 22  # largest (in, R, k+1, F) piece array kept per layer
_SPREAD = 8  # copies of the interval sums that consecutive samples alternate between


_SMALL_PRODUCT = 1 << 16  # multiply-adds below which NumPy's BLAS runs on one thread


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for NumPy arrays: small products in NumPy (half PyTorch's dispatch cost), larger
    ones by PyTorch on views of them. On those, NumPy's own BLAS starts a second pool of
    threads that spin while PyTorch's work: on two cores the two pools slowed a training run
    about fourfold."""
    if a.size * b.shape[-1] < _SMALL_PRODUCT:
        return np.matmul(a, b)
    return torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()


class EdgeTable(NamedTuple):
    """A ``BasisTable`` arranged for the edge form (R = rows per input = knots + 1).

    Sums over the samples of each interval (the backward) run into ``_SPREAD`` copies that
    consecutive samples alternate between: adds into one number run one after another, and
    consecutive samples often share an interval. The gather reads the same copies."""

    pieces: np.ndarray  # (in, R (k+1), F): u^p coefficient of every feature on every row
    pieces_t: np.ndarray  # (in, F, R (k+1)): the same, transposed
    knots: np.ndarray  # (2, 1, in * R): 1/h and -t/h of each row (u = x/h - t/h)
    grid: torch.Tensor  # (in, knots) the grid (searched for each sample's row)
    n_rows: int  # R
    k: int


def edge_table(table: BasisTable, grid: torch.Tensor) -> EdgeTable | None:
    """The value pieces of ``table`` on every feature column, or None when too large."""
    k, n_feat = table.k, table.n_feat
    width = k + 1 if table.local else n_feat
    in_dim = table.row0.shape[0]
    rows = table.rows
    n_rows = rows.shape[0] // in_dim
    if in_dim * n_rows * (k + 1) * n_feat > _PIECES_LIMIT or rows.dtype != grid.dtype:
        return None
    pieces = rows[:, :(k + 1) * width].reshape(in_dim, n_rows, k + 1, width)
    if table.local:  # row c holds bases c-1-k+r, i.e. feature columns c-k+r (out of range: zero)
        c = torch.arange(n_rows, device=rows.device).unsqueeze(1)
        col = (c - k + torch.arange(k + 1, device=rows.device)).clamp_(1, n_feat - 1)
        dense = pieces.new_zeros(in_dim, n_rows, k + 1, n_feat)
        dense.scatter_add_(-1, col[None, :, None, :].expand_as(pieces), pieces)
        pieces = dense
    pieces = pieces.reshape(in_dim, -1, n_feat).cpu().numpy()
    knots = rows[:, -2:].t().cpu().numpy()[:, None].copy()
    return EdgeTable(pieces.copy(), np.ascontiguousarray(pieces.transpose(0, 2, 1)), knots,
                     grid.detach().clone(), n_rows, k)


def applies(table: EdgeTable | None, x_t: np.ndarray, out_dim: int, width: int) -> bool:
    """Whether a layer of ``out_dim`` outputs whose basis rows are ``width`` wide runs in edge
    form on inputs x_t (in, batch): the edge values are no larger than the features and the
    gather fits one pass."""
    return (table is not None and out_dim <= width
            and ((table.k + 1) * out_dim + 2) * x_t.size <= _GATHER_LIMIT)


@lru_cache(maxsize=8)
def _offsets(in_dim: int, n_rows: int, batch: int) -> torch.Tensor:
    """(in, batch) long: first row of input i in the copy that sample b uses."""
    i = torch.arange(in_dim).unsqueeze(1) * n_rows
    return i + (torch.arange(batch) % _SPREAD) * (in_dim * n_rows)


def rows_of(table: EdgeTable, x_t: np.ndarray) -> torch.Tensor:
    """The table row (in its sample's copy) of every input value: x_t (in, batch) ->
    (in * batch,) long."""
    count = torch.searchsorted(table.grid, torch.from_numpy(x_t), right=True)
    return (count + _offsets(x_t.shape[0], table.n_rows, x_t.shape[1])).view(-1)


def gather(cols: np.ndarray, rows: torch.Tensor) -> np.ndarray:
    """cols[:, rows] (one PyTorch gather on views of the arrays)."""
    return torch.from_numpy(cols).index_select(1, rows).numpy()


def base(x: np.ndarray, base_fun: str, deriv: bool):
    """base(x) and, when asked, base'(x), for x (in, batch) (``_spline._base`` on a view)."""
    y, dy = _base(torch.from_numpy(x), base_fun, deriv)
    return y.numpy(), (dy.numpy() if deriv else None)


class EdgeSaved(NamedTuple):
    """What the backward of an edge-form layer needs."""

    rows: torch.Tensor  # (in * batch,) table row of every sample
    u: np.ndarray  # (in, batch) local coordinate
    spline: np.ndarray  # (out, in, batch) spline part of every edge
    slope: np.ndarray  # (out, in, batch) its x-derivative
    base: np.ndarray  # (in, batch) base(x)
    dbase: np.ndarray  # (in, batch) base'(x)
    wb: np.ndarray  # (in, out) base weights


def forward(x_t: np.ndarray, table: EdgeTable, w: np.ndarray, base_fun: str, keep: bool):
    """sum_i phi_io(x_i) for inputs x_t (in, batch) and weights w (in, F, out) (row 0: base
    weights) -> (out, batch); with ``keep`` also what the backward needs (``EdgeSaved``)."""
    in_dim, batch = x_t.shape
    k, out = table.k, w.shape[-1]
    q = matmul(table.pieces, w).reshape(in_dim, -1, k + 1, out).transpose(2, 3, 0, 1)
    cols = np.empty(((k + 1) * out + 2, _SPREAD, in_dim * table.n_rows), dtype=w.dtype)
    cols[:-2] = q.reshape((k + 1) * out, 1, -1)
    cols[-2:] = table.knots
    cols = cols.reshape(len(cols), -1)
    rows = rows_of(table, x_t)
    g = gather(cols, rows).reshape(-1, in_dim, batch)
    inv_h = g[-2]
    u = x_t * inv_h
    u += g[-1]
    qg = g[:-2].reshape(k + 1, out, in_dim, batch)
    spline = qg[k]
    for p in range(k - 1, -1, -1):  # Horner
        spline = spline * u
        spline += qg[p]
    b, db = base(x_t, base_fun, keep)
    wb = w[:, 0]
    z = np.add.reduce(spline, 1)
    z += matmul(wb.T, b)
    if not keep:
        return z, None
    slope = qg[k]  # d/du: e_p = Q_p + (p+1)/p u e_(p+1), d/du = e_1
    for p in range(k - 1, 0, -1):
        slope = slope * ((p + 1) / p * u)
        slope += qg[p]
    slope *= inv_h
    return z, EdgeSaved(rows, u, spline, slope, b, db, wb)


def edge_values(saved: EdgeSaved) -> np.ndarray:
    """phi (out, in, batch): every edge's value on every sample."""
    return saved.spline + saved.wb.T[:, :, None] * saved.base


def backward(saved: EdgeSaved, table: EdgeTable, g_z: np.ndarray, g_phi: np.ndarray | None):
    """Gradients of an edge-form layer from g_z (out, batch) = dL/d(sum_i phi_io) and, from the
    regulariser, g_phi (out, in, batch) = dL/dphi or None.

    Returns (d w (in, F, out), dL/dx (in, batch))."""
    u, b, wb = saved.u, saved.base, saved.wb
    in_dim, batch = u.shape
    k, out = table.k, g_z.shape[0]
    if g_phi is None:
        grad = g_z[:, None]  # (out, 1, batch)
        g_wb = matmul(b, g_z.T)
        g_x = (grad * saved.slope).sum(0)
        g_x += saved.dbase * matmul(wb, g_z)
    else:
        grad = g_phi + g_z[:, None]  # (out, in, batch)
        g_wb = (grad * b).sum(-1).T
        g_x = (grad * saved.slope).sum(0)
        g_x += saved.dbase * (grad * wb.T[:, :, None]).sum(0)
    src = np.empty((k + 1, out, in_dim, batch), dtype=u.dtype)
    src[0] = grad
    for p in range(1, k + 1):
        np.multiply(src[p - 1], u, out=src[p])
    n_rows = table.n_rows
    g_q = np.zeros(((k + 1) * out, _SPREAD * in_dim * n_rows), dtype=u.dtype)
    src = torch.from_numpy(src.reshape((k + 1) * out, -1))
    torch.from_numpy(g_q).index_add_(1, saved.rows, src)  # sums over each interval's samples
    g_q = np.add.reduce(g_q.reshape(k + 1, out, _SPREAD, in_dim, n_rows), 2)
    g_w = matmul(table.pieces_t, g_q.transpose(2, 3, 0, 1).reshape(in_dim, -1, out))
    g_w[:, 0] = g_wb
    return g_w, g_x
