"""B-spline bases on per-input grids, evaluated locally (only the k+1 non-zero bases).

Conventions (the same as pykan 0.2.8, so parameters port one to one):

* ``grid`` has shape (in, G + 2k + 1): G intervals plus k extension cells on each side.
* There are ``G + k`` basis functions per input; basis m lives on knots ``grid[:, m : m + k + 2]``.
* Outside ``[grid[:, 0], grid[:, -1])`` every basis is zero.

The layer's "features" of an input x are ``[base(x), B_0(x), ..., B_{G+k-1}(x)]``; a KAN layer is
then a single matmul of the features with a weight matrix (see ``_layer``).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

BASE_FUNCTIONS = ("silu", "identity", "zero")
RIDGE = 1e-8  # relative ridge of rank-deficient spline refits (see _ridge_lstsq)


def extend_grid(grid: Tensor, k_extend: int) -> Tensor:
    """Add ``k_extend`` knots on each side with the grid's mean spacing.

    grid: (in, n) -> (in, n + 2 k_extend).
    """
    h = (grid[:, -1:] - grid[:, :1]) / (grid.shape[1] - 1)  # (in, 1)
    steps = torch.arange(1, k_extend + 1, device=grid.device, dtype=grid.dtype)
    left = grid[:, :1] - h * steps.flip(0)
    right = grid[:, -1:] + h * steps
    return torch.cat([left, grid, right], dim=1)


def uniform_grid(in_dim: int, n_intervals: int, k: int, grid_range, dtype=None, device=None) -> Tensor:
    """Uniform grid on ``grid_range`` with k extension cells: (in, G + 2k + 1)."""
    g = torch.linspace(grid_range[0], grid_range[1], n_intervals + 1, dtype=dtype, device=device)
    return extend_grid(g.expand(in_dim, -1), k)


def _base(x: Tensor, base_fun: str, deriv: bool):
    """base(x) and, when asked, base'(x)."""
    if base_fun == "silu":
        s = torch.sigmoid(x)
        y = x * s
        return y, (torch.addcmul(s + y, y, s, value=-1) if deriv else None)  # s (1 + x (1 - s))
    if base_fun == "identity":
        return x, (torch.ones_like(x) if deriv else None)
    return torch.zeros_like(x), (torch.zeros_like(x) if deriv else None)


def local_basis(x_t: Tensor, grid: Tensor, k: int, deriv: bool = False):
    """The k+1 non-zero B-spline values of every sample, and their derivatives.

    Parameters
    ----------
    x_t : Tensor of shape (in, batch)
    grid : Tensor of shape (in, G + 2k + 1)

    Returns
    -------
    idx : LongTensor of shape (in, k+1, batch), the basis index of each value, clamped into
        [0, G+k-1]; values whose true index falls outside are zero.
    vals : Tensor of shape (in, k+1, batch)
    dvals : Tensor of shape (in, k+1, batch) (d vals / dx) or None
    """
    in_dim, n_knots = grid.shape
    n_basis = n_knots - k - 1
    # pad k more knots on each side so the local recursion never indexes outside; bases that use
    # the padding are dropped below, so its values do not matter (only that it is increasing).
    pad = extend_grid(grid, k)  # (in, G + 4k + 1)
    j = torch.searchsorted(pad, x_t.contiguous(), right=True) - 1  # (in, batch) interval in pad
    inside = (x_t >= grid[:, :1]) & (x_t < grid[:, -1:])  # (in, batch)
    j = j.clamp(k, n_knots - 1 + k - 1)
    # knots t_{j-k} .. t_{j+k+1} of every sample: (in, 2k+2, batch)
    offs = torch.arange(-k, k + 2, device=x_t.device)
    t = torch.gather(pad, 1, (j.unsqueeze(1) + offs[:, None]).reshape(in_dim, -1))
    t = t.reshape(in_dim, 2 * k + 2, -1)
    x = x_t.unsqueeze(1)  # (in, 1, batch)
    tiny = torch.finfo(x_t.dtype).tiny
    vals = inside.unsqueeze(1).to(x_t.dtype)  # level 0: B_{j,0} = 1 on the sample's interval
    prev = vals
    for p in range(1, k + 1):
        # bases m = j-p .. j; column r <-> m = j-p+r; t[:, c] <-> t_{j-k+c}
        z = torch.zeros_like(vals[:, :1])
        padded = torch.cat([z, vals, z], dim=1)  # B_{m,p-1} for m = j-p .. j+1
        c0 = k - p  # column of t_{j-p}
        tm = t[:, c0 : c0 + p + 1]
        tmp = t[:, c0 + p : c0 + 2 * p + 1]
        tm1 = t[:, c0 + 1 : c0 + p + 2]
        tmp1 = t[:, c0 + p + 1 : c0 + 2 * p + 2]
        # clamp: a zero-length knot span carries a zero basis, so 0 / tiny = 0 (no NaN)
        left = padded[:, :-1] / (tmp - tm).clamp_min(tiny)
        right = padded[:, 1:] / (tmp1 - tm1).clamp_min(tiny)
        prev = (left, right)
        vals = (x - tm) * left + (tmp1 - x) * right
    dvals = k * (prev[0] - prev[1]) if deriv else None
    # real basis index m = j_real - k + r with j_real = j - k
    idx = (j - 2 * k).unsqueeze(1) + torch.arange(k + 1, device=x_t.device)[:, None]
    valid = (idx >= 0) & (idx < n_basis)
    vals = vals * valid
    if dvals is not None:
        dvals = dvals * valid
    return idx.clamp(0, n_basis - 1), vals, dvals


def dense_basis(x: Tensor, grid: Tensor, k: int) -> Tensor:
    """All G+k basis values: x (batch, in) -> (batch, in, G+k). For fitting, not the hot path."""
    n_basis = grid.shape[1] - k - 1
    idx, vals, _ = local_basis(x.t(), grid, k)
    out = torch.zeros(grid.shape[0], n_basis, x.shape[0], dtype=x.dtype, device=x.device)
    out.scatter_add_(1, idx, vals)
    return out.permute(2, 0, 1)


class BasisTable(NamedTuple):
    """Per-interval polynomial pieces of a grid's features (see ``basis_table``).

    ``rows`` (n_rows, (2k+1) W + 2) holds, per row: the coefficients of u^0..u^k of W values
    (each piece), those of their x-derivatives (u^0..u^{k-1}, including 1/h_j), then
    [1/h_j, -t_j/h_j] so that u = x/h_j - t_j/h_j. One gather fetches a sample's row. In the
    dense layout W = F (every feature column; most are zero); in the local layout W = k+1
    (only the non-zero bases, scattered into place afterwards).
    """

    rows: Tensor
    row0: Tensor  # (in, 1) long: first row of each input
    k: int
    n_feat: int
    local: bool


_LOCAL_FROM = 3  # the local layout once F > _LOCAL_FROM * (k+1) (gathers F-wide rows otherwise)


def basis_table(grid: Tensor, k: int, local: bool | None = None) -> BasisTable:
    """Polynomial pieces of the B-spline features on every knot interval.

    On interval j (t_j <= x < t_{j+1}) with u = (x - t_j) / h_j, only B_{j-k} .. B_j are
    non-zero and B_{j-k+r}(x) = sum_p u^p M_j[p, r]. The dense layout stores these k+1 pieces
    at their feature columns 1 + m (column 0, the base function, and all other columns are
    zero), so a sample's features are k multiply-adds of contiguous rows: for small grids this
    beats computing and scattering the k+1 values. The local layout (``local``; by default once
    F > 3 (k+1)) stores only the k+1 pieces, which are scattered into place. Row c of input i (table row
    i*(n_knots+1) + c) serves samples with c = #{knots <= x}; rows 0 and n_knots (outside the
    grid) and rows of zero-length intervals are zero. Fitted exactly (k+1 points per interval,
    recursion values) in float64.
    """
    dtype = grid.dtype
    g = grid.double()
    in_dim, n_knots = g.shape
    n_int, n_basis = n_knots - 1, n_knots - k - 1
    left, h = g[:, :-1], g[:, 1:] - g[:, :-1]  # (in, j)
    uq = (torch.arange(k + 1, dtype=g.dtype, device=g.device) + 0.5) / (k + 1)  # (q,)
    xq = (left.unsqueeze(-1) + h.unsqueeze(-1) * uq).reshape(in_dim, -1)  # (in, j*q)
    _, vals, _ = local_basis(xq, g, k)  # (in, r, j*q)
    vals = vals.reshape(in_dim, k + 1, n_int, k + 1).permute(0, 2, 3, 1)  # (in, j, q, r)
    pw = torch.arange(k + 1, dtype=g.dtype, device=g.device)
    pieces = torch.linalg.solve(uq.unsqueeze(-1) ** pw, vals) * (h > 0)[..., None, None]
    inv_h = torch.where(h > 0, 1 / h.clamp_min(1e-300), torch.zeros_like(h))  # (in, j)
    dpieces = pieces[:, :, 1:] * (pw[1:, None] * inv_h[..., None, None])  # (in, j, k, r)
    # feature column of piece r on interval j: 1 + (j - k + r), dropped when out of range
    col = 1 + torch.arange(n_int, device=g.device)[:, None] - k + torch.arange(k + 1, device=g.device)
    col = col.clamp(0, n_basis + 1)  # out-of-range pieces are zero; park them in spare columns

    def dense(p):  # (in, j, P, r) -> (P, rows, F) with a zero row before and after each input
        out = p.new_zeros(in_dim, n_int + 2, p.shape[2], n_basis + 2)
        idx = col[None, :, None, :].expand(in_dim, -1, p.shape[2], -1)
        out[:, 1:-1].scatter_add_(-1, idx, p)
        return out[..., : n_basis + 1].permute(2, 0, 1, 3).flatten(1, 2)  # (P, rows, F)

    knots = torch.stack([inv_h, -left * inv_h], -1)  # (in, j, 2)
    z = torch.zeros_like(knots[:, :1])
    knots = torch.cat([z, knots, z], 1).flatten(0, 1)  # (rows, 2)
    if local is None:
        local = n_basis + 1 > _LOCAL_FROM * (k + 1)
    if local:  # (in, j, P, r) -> (rows, P*r) with a zero row before and after each input
        flat = lambda p: torch.cat([torch.zeros_like(p[:, :1]), p, torch.zeros_like(p[:, :1])],  # noqa: E731
                                   1).flatten(2).flatten(0, 1)
        parts = [flat(pieces), flat(dpieces)]
    else:
        flat = lambda t: t.permute(1, 0, 2).flatten(1)  # noqa: E731  (P, rows, F) -> (rows, P*F)
        parts = [flat(dense(pieces)), flat(dense(dpieces))]
    # half-precision grids keep their pieces in float32 (bf16 would round the knot shift -t/h
    # of the local coordinate by up to ~1% of an interval)
    rows = torch.cat(parts + [knots], 1).to(dtype if dtype.itemsize >= 4 else torch.float32)
    rows = rows.contiguous()
    row0 = torch.arange(in_dim, device=g.device).unsqueeze(1) * (n_knots + 1)
    return BasisTable(rows, row0, k, n_basis + 1, local)


_EXPAND_LIMIT = 1 << 22  # above this many feature values, broadcast u instead of expanding it


def _table_basis(x: Tensor, grid: Tensor, table: BasisTable, deriv: bool):
    """Spline features (column 0 zero) by Horner's rule on the table's pieces.

    x (batch, in) -> (vals (batch, in, F), d vals / dx or None).
    """
    batch, in_dim = x.shape
    k = table.k
    width = k + 1 if table.local else table.n_feat
    count = torch.searchsorted(grid, x.t().contiguous(), right=True)  # (in, batch)
    row = (count + table.row0).t().reshape(-1)  # (batch * in,)
    g = table.rows.index_select(0, row).view(batch, in_dim, -1)  # (batch, in, C)
    u = torch.addcmul(g[..., -1], x, g[..., -2]).unsqueeze(-1)  # (batch, in, 1)
    if u.numel() * width <= _EXPAND_LIMIT:  # same-shape operands take the fast kernels
        u = u.expand(-1, -1, width).contiguous()
    piece = lambda p: g[..., p * width:(p + 1) * width]  # noqa: E731
    vals = piece(k)
    for p in range(k - 1, -1, -1):
        vals = torch.addcmul(piece(p), vals, u)
    dvals = None
    if deriv:
        dvals = piece(2 * k)
        for p in range(2 * k - 1, k, -1):
            dvals = torch.addcmul(piece(p), dvals, u)
    if table.local:  # scatter the k+1 values of basis j-k+r (j = count-1) into their columns
        idx = (count.t().unsqueeze(-1) - k + torch.arange(k + 1, device=x.device)).clamp_(
            1, table.n_feat - 1)  # column 1 + m; out-of-range pieces are zero
        vals = x.new_zeros(batch, in_dim, table.n_feat).scatter_add_(-1, idx, vals)
        if deriv:
            dvals = x.new_zeros(batch, in_dim, table.n_feat).scatter_add_(-1, idx, dvals)
    return vals, dvals


def features_reference(x: Tensor, grid: Tensor, k: int, base_fun: str) -> Tensor:
    """Differentiable (any order) features by the recursion: x (batch, in) -> (batch, in, G+k+1)."""
    n_basis = grid.shape[1] - k - 1
    basis = dense_basis(x, grid, k)  # (batch, in, nb)
    assert basis.shape[-1] == n_basis
    return torch.cat([_base(x, base_fun, False)[0].unsqueeze(-1), basis], -1)


class _Features(torch.autograd.Function):
    """Fast features with a hand-written backward.

    forward:  A[b, i, 0] = base(x[b, i]);  A[b, i, 1 + m] = B_m(x[b, i])
    backward: dL/dx[b, i] = sum_f dL/dA[b, i, f] dA[b, i, f]/dx[b, i], with dA/dx from the
              table's derivative pieces (zero outside each sample's k+1 bases).
    When the backward itself is differentiated (create_graph=True), the derivatives are
    recomputed from x with differentiable ops, so higher derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, x, grid, table, base_fun):
        need = ctx.needs_input_grad[0]
        out, dout = spline_features(x, grid, table, base_fun, need)
        if need:
            ctx.save_for_backward(x, grid, dout)
        ctx.base_fun, ctx.table = base_fun, table
        return out

    @staticmethod
    def backward(ctx, g):
        x, grid, dout = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: recompute derivatives differentiably
            _, dout = spline_features(x, grid, ctx.table, ctx.base_fun, True)
        return features_backward(g, dout), None, None, None


_CHUNK = 1 << 24  # gathered table values per chunk of samples (bounds peak memory)


def spline_features(x: Tensor, grid: Tensor, table: BasisTable, base_fun: str, deriv: bool):
    """Features (batch, in, G+k+1) and, when asked, their x-derivatives (same shape).

    Large inputs are processed in chunks of samples so the gathered table pieces never take
    more than ``_CHUNK`` values at once."""
    if table.rows.dtype != x.dtype:  # half-precision inputs: computed in float32, then rounded
        vals, dvals = spline_features(x.float(), grid.float(), table, base_fun, deriv)
        return vals.to(x.dtype), (dvals.to(x.dtype) if dvals is not None else None)
    step = max(1, _CHUNK // max(1, x.shape[1] * table.rows.shape[1]))
    if x.shape[0] <= step:
        vals, dvals = _table_basis(x, grid, table, deriv)
    else:  # fill preallocated outputs chunk by chunk (differentiable: slice assignment)
        vals = x.new_empty(*x.shape, table.n_feat)
        dvals = torch.empty_like(vals) if deriv else None
        for i in range(0, x.shape[0], step):
            v, d = _table_basis(x[i:i + step], grid, table, deriv)
            vals[i:i + step] = v
            if deriv:
                dvals[i:i + step] = d
    base, dbase = _base(x, base_fun, deriv)
    vals[..., 0] = base
    if deriv:
        dvals[..., 0] = dbase
    return vals, dvals


def features_backward(g: Tensor, dfeats: Tensor) -> Tensor:
    """dL/dx (batch, in) from dL/dfeatures g and dfeatures/dx, both (batch, in, F)."""
    return (g * dfeats).sum(-1)


def features(x: Tensor, grid: Tensor, table: BasisTable, base_fun: str = "silu") -> Tensor:
    """Layer features [base(x), B_0(x), ..., B_{G+k-1}(x)]: x (batch, in) -> (batch, in, G+k+1).

    ``table`` is ``basis_table(grid, k)`` (cached by the layer)."""
    return _Features.apply(x, grid, table, base_fun)


def _ridge_lstsq(basis: Tensor, project, ridge: float) -> Tensor:
    """Least squares by QR (no squared condition number), ridge-regularised where needed.

    basis: (in, batch, nb) design matrices; ``project(q)`` maps q (in, batch, nb) to
    q^T y (in, nb, out) for the targets y. Returns coef (in, out, nb), computed in float64.
    Inputs whose design is (numerically) rank-deficient, e.g. samples that miss some bases,
    are solved as [basis; sqrt(lam) I] c = [y; 0] with lam = ``ridge`` times the mean squared
    basis column: those coefficients go to 0 instead of NaN. Full-rank inputs get the plain
    least-squares solution (so refits agree with pykan's lstsq to rounding).
    """
    dtype = basis.dtype
    basis = basis.double()
    in_dim, batch, nb = basis.shape
    q, r = torch.linalg.qr(basis)  # reduced: q (in, batch, nb), r (in, nb, nb)
    diag = r.diagonal(dim1=1, dim2=2).abs()
    deficient = (batch < nb) | (diag.min(1).values <= 1e-10 * diag.max(1).values.clamp_min(1e-300))
    if bool(deficient.any()):
        lam = ridge * basis.square().sum((1, 2)) / nb + 1e-300  # (in,)
        eye = torch.eye(nb, dtype=basis.dtype, device=basis.device)
        aug = torch.cat([basis, lam.sqrt()[:, None, None] * eye], dim=1)  # (in, batch+nb, nb)
        qa, ra = torch.linalg.qr(aug)
        pick = deficient[:, None, None]
        q = torch.where(pick, qa[:, :batch], q) if batch >= nb else qa[:, :batch]
        r = torch.where(pick, ra, r) if batch >= nb else ra
    rhs = project(q)  # (in, nb, out)
    sol = torch.linalg.solve_triangular(r, rhs.double(), upper=True)
    return sol.transpose(1, 2).to(dtype).contiguous()


def _chunks(in_dim: int, batch: int, nb: int, elems: int = 1 << 24):
    step = max(1, elems // max(1, batch * nb))
    return [slice(s, min(s + step, in_dim)) for s in range(0, in_dim, step)]


def fit_coef(x: Tensor, y: Tensor, grid: Tensor, k: int, ridge: float = RIDGE) -> Tensor:
    """Coefficients whose spline best reproduces y (ridge-regularised least squares).

    x: (batch, in); y: (batch, in, out); grid: (in, G+2k+1) -> coef (in, out, G+k).
    """
    nb = grid.shape[1] - k - 1
    parts = []
    for c in _chunks(x.shape[1], x.shape[0], nb):
        basis = dense_basis(x[:, c], grid[c], k).permute(1, 0, 2)  # (in, batch, nb)
        yc = y[:, c].permute(1, 0, 2).double()  # (in, batch, out)
        parts.append(_ridge_lstsq(basis, lambda q: q.transpose(1, 2) @ yc, ridge))
    return torch.cat(parts)


def refit_coef(x: Tensor, old_grid: Tensor, old_coef: Tensor, old_k: int, grid: Tensor, k: int,
               ridge: float = RIDGE, tables: tuple | None = None) -> Tensor:
    """Coefficients on ``grid`` reproducing the old spline at samples x, without building the
    (batch, in, out) curve: q^T y = (q^T B_old) coef_old^T per input.

    x: (batch, in); old_coef: (in, out, G'+k') -> (in, out, G+k). ``tables`` may pass
    (basis_table(old_grid, old_k), basis_table(grid, k)) to evaluate the bases from (cheaper
    than the recursion when they are at hand).
    """
    nb = grid.shape[1] - k - 1
    parts = []
    chunks = _chunks(x.shape[1], x.shape[0], nb)
    old_table, table = tables if tables is not None and len(chunks) == 1 else (None, None)
    for c in chunks:
        basis = _basis(x[:, c], grid[c], k, table).permute(1, 0, 2)  # (in, batch, nb)
        old = _basis(x[:, c], old_grid[c], old_k, old_table).permute(1, 0, 2).double()
        coef_t = old_coef[c].transpose(1, 2).double()  # (in, nb', out)
        parts.append(_ridge_lstsq(basis, lambda q: (q.transpose(1, 2) @ old) @ coef_t, ridge))
    return torch.cat(parts)


def _basis(x: Tensor, grid: Tensor, k: int, table: BasisTable | None) -> Tensor:
    """All G+k basis values (batch, in, G+k): from ``table`` (basis_table(grid, k)) when
    given, else by the recursion."""
    if table is None:
        return dense_basis(x, grid, k)
    return spline_features(x, grid, table, "zero", False)[0][..., 1:]


def grid_from_samples(x: Tensor, n_intervals: int, k: int, grid_eps: float) -> Tensor:
    """pykan's adaptive grid: sorted-sample knots mixed with a uniform grid, then extended.

    x: (batch, in) -> grid (in, G+2k+1). grid_eps = 1 gives a uniform grid over the sample range,
    0 a grid of sample quantiles.
    """
    batch = x.shape[0]
    x_sorted = torch.sort(x, dim=0)[0]
    ids = [int(batch / n_intervals * i) for i in range(n_intervals)] + [batch - 1]
    adaptive = x_sorted[ids, :].t()  # (in, G+1)
    h = (adaptive[:, -1:] - adaptive[:, :1]) / n_intervals
    steps = torch.arange(n_intervals + 1, device=x.device, dtype=x.dtype)
    uniform = adaptive[:, :1] + h * steps
    inner = grid_eps * uniform + (1 - grid_eps) * adaptive
    return extend_grid(inner, k)


def interpolate_grid(parent_grid: Tensor, parent_k: int, n_intervals: int, k: int) -> Tensor:
    """A grid of ``n_intervals`` cells whose knots interpolate the parent's inner knots linearly.

    The parent's G+1 inner knots are taken as a piecewise-linear function of u in [-1, 1]
    (uniformly spaced), sampled at ``n_intervals + 1`` uniform u (pykan's grid extension).
    parent_grid: (in, G+2k'+1) -> (in, n_intervals + 2k + 1).
    """
    inner = parent_grid[:, parent_k : parent_grid.shape[1] - parent_k]  # (in, G+1)
    g = inner.shape[1] - 1
    u = torch.linspace(0, g, n_intervals + 1, dtype=inner.dtype, device=inner.device)
    lo = u.floor().long().clamp(max=max(g - 1, 0))
    w = u - lo
    hi = (lo + 1).clamp(max=g)
    new = inner[:, lo] * (1 - w) + inner[:, hi] * w
    return extend_grid(new, k)
