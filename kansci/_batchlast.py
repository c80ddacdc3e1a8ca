"""Spline features in the batch-last layout (F, in, batch), for the hand-written training step.

On a CPU, element-wise operations on tensors whose innermost dimension is short (the F ~ 7
feature columns of the (batch, in, F) layout) run several times slower than on the same number
of elements laid out with the batch innermost. The hand-written step (``_closure``) therefore
keeps every per-sample tensor batch-last: inputs (in, batch), features (F, in, batch).

The pieces are those of ``_spline.basis_table`` (one polynomial per knot interval, in the local
coordinate u = x/h - t/h), stored as columns: ``cols`` (C, in * R) holds, for table row r, the
coefficients of u^0..u^k of the W feature values (W = F in the dense layout, k+1 in the local
one), then 1/h and -t/h. The x-derivative is the u-derivative of the same pieces times 1/h.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ._spline import BasisTable, _base

_CHUNK = 1 << 24  # gathered table values per chunk of samples (bounds peak memory)


class ColumnTable(NamedTuple):
    """A ``BasisTable`` with its value pieces as columns (see the module docstring)."""

    cols: Tensor  # (C, in * R)
    row0: Tensor  # (in, 1) long: first table row of each input
    k: int
    n_feat: int
    local: bool


def column_table(table: BasisTable) -> ColumnTable:
    """The value pieces and knot transform of ``table`` as columns (derivative pieces dropped)."""
    k = table.k
    width = k + 1 if table.local else table.n_feat
    rows = table.rows
    cols = torch.cat([rows[:, :(k + 1) * width], rows[:, -2:]], 1).t().contiguous()
    return ColumnTable(cols, table.row0, k, table.n_feat, table.local)


def features_t(x_t: Tensor, grid: Tensor, table: ColumnTable, base_fun: str, deriv: bool):
    """Features [base(x), B_0(x), ..., B_{G+k-1}(x)] batch-last, and their x-derivatives.

    x_t (in, batch) -> (vals (F, in, batch), d vals / dx (F, in, batch) or None).
    """
    if table.cols.dtype != x_t.dtype:  # half precision: computed in float32, then rounded
        vals, dvals = features_t(x_t.float(), grid.float(), table, base_fun, deriv)
        return vals.to(x_t.dtype), (dvals.to(x_t.dtype) if dvals is not None else None)
    in_dim, batch = x_t.shape
    step = max(1, _CHUNK // max(1, in_dim * table.cols.shape[0]))
    if batch <= step:
        vals, dvals = _splines_t(x_t, grid, table, deriv)
    else:
        vals = x_t.new_empty(table.n_feat, in_dim, batch)
        dvals = torch.empty_like(vals) if deriv else None
        for i in range(0, batch, step):
            v, d = _splines_t(x_t[:, i:i + step].contiguous(), grid, table, deriv)
            vals[..., i:i + step] = v
            if deriv:
                dvals[..., i:i + step] = d
    base, dbase = _base(x_t, base_fun, deriv)
    vals[0] = base
    if deriv:
        dvals[0] = dbase
    return vals, dvals


def _splines_t(x_t: Tensor, grid: Tensor, table: ColumnTable, deriv: bool):
    """The B-spline rows of ``features_t`` for one chunk (row 0 zero; new tensors, k >= 1)."""
    in_dim, batch = x_t.shape
    k, n_feat = table.k, table.n_feat
    width = k + 1 if table.local else n_feat
    count = torch.searchsorted(grid, x_t, right=True)  # (in, batch): knots <= x
    g = table.cols.index_select(1, (count + table.row0).view(-1)).view(-1, in_dim, batch)
    inv_h = g[-2]
    u = torch.addcmul(g[-1], x_t, inv_h)  # local coordinate (in, batch)
    piece = lambda p: g[p * width:(p + 1) * width]  # noqa: E731  (W, in, batch)
    vals = piece(k)
    for p in range(k - 1, -1, -1):  # Horner: sum_p u^p piece(p)
        vals = torch.addcmul(piece(p), vals, u)
    dvals = None
    if deriv:  # d/du = sum_p p u^(p-1) piece(p): e_p = piece(p) + (p+1)/p u e_(p+1), d/du = e_1
        dvals = piece(k)
        for p in range(k - 1, 0, -1):
            dvals = torch.addcmul(piece(p), dvals, u, value=(p + 1) / p)
        dvals = dvals * inv_h
    if table.local:  # scatter the k+1 values of bases j-k+r (j = count - 1) into their rows
        r = torch.arange(k + 1, device=x_t.device).view(-1, 1, 1)
        rows = (count - k + r).clamp_(1, n_feat - 1)
        vals = x_t.new_zeros(n_feat, in_dim, batch).scatter_add_(0, rows, vals)
        if deriv:
            dvals = x_t.new_zeros(n_feat, in_dim, batch).scatter_add_(0, rows, dvals)
    return vals, dvals
