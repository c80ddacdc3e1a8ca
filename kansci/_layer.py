"""One KAN layer: a B-spline edge per (input, output) pair plus an optional symbolic branch.

Edge (i, o):  phi(x) = mask * (scale_base * base(x) + scale_sp * sum_m coef_m B_m(x))
                      + sym_mask * (c * f(a x + b) + d)
The spline part of the whole layer is one matmul of the input features (see ``_spline``) with a
weight matrix built from the parameters, so no (batch, out, in) tensor is formed in training.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._batchlast import column_table
from ._edges import edge_table
from ._fused import SplineLayer
from ._spline import basis_table, features, fit_coef, grid_from_samples, refit_coef, uniform_grid
from ._symbolic_lib import SYMBOLIC_LIB, get_function


_CACHES = ("_groups", "_table", "_dense", "_columns", "_edges")  # per-layer caches (see KANLayer)


def _ordinary(build):
    """``build()`` with autograd off and inference mode off: a table that may be used later
    in and out of inference mode."""
    with torch.inference_mode(False), torch.no_grad():
        return build()


def feature_cov(a: Tensor) -> Tensor:
    """Per-input covariance over the batch of features a (batch, in, F) -> (in, F, F)."""
    ac = (a - a.mean(0)).permute(1, 0, 2)  # (in, batch, F)
    return torch.bmm(ac.transpose(1, 2), ac).div_(max(a.shape[0] - 1, 1))


class KANLayer(nn.Module):
    """A layer of ``in_dim * out_dim`` learnable edges.

    Parameters: coef (in, out, G+k), scale_base (in, out), scale_sp (in, out),
    sym_affine (in, out, 4) = (a, b, c, d). Buffers: grid (in, G+2k+1), mask (in, out),
    sym_mask (in, out). ``sym_names[i][o]`` names the symbolic function of edge (i, o), an
    entry of ``library`` (the model's: ``SYMBOLIC_LIB`` unless the model was given another).
    """

    def __init__(self, in_dim: int, out_dim: int, grid: int = 5, k: int = 3, *,
                 noise_scale: float = 0.3, scale_base_mu: float = 0.0,
                 scale_base_sigma: float = 1.0, base_fun: str = "silu", grid_eps: float = 0.02,
                 grid_range=(-1.0, 1.0), sp_trainable: bool = True, sb_trainable: bool = True,
                 generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        self.in_dim, self.out_dim, self.k = in_dim, out_dim, k
        self.base_fun, self.grid_eps = base_fun, grid_eps
        dtype = dtype or torch.get_default_dtype()
        g = uniform_grid(in_dim, grid, k, grid_range, dtype=dtype, device=device)
        self.register_buffer("grid", g)
        rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=dtype).to(device)  # noqa: E731
        noise = (rand(grid + 1, in_dim, out_dim) - 0.5) * noise_scale / grid
        coef = fit_coef(g[:, k:-k].t(), noise, g, k)
        self.coef = nn.Parameter(coef)
        sb = (scale_base_mu + scale_base_sigma * (rand(in_dim, out_dim) * 2 - 1)) / math.sqrt(in_dim)
        self.scale_base = nn.Parameter(sb, requires_grad=sb_trainable)
        sp = torch.full((in_dim, out_dim), 1 / math.sqrt(in_dim), dtype=dtype, device=device)
        self.scale_sp = nn.Parameter(sp, requires_grad=sp_trainable)
        self.register_buffer("mask", torch.ones(in_dim, out_dim, dtype=dtype, device=device))
        self.register_buffer("sym_mask", torch.zeros(in_dim, out_dim, dtype=dtype, device=device))
        self.sym_affine = nn.Parameter(torch.zeros(in_dim, out_dim, 4, dtype=dtype, device=device))
        self.sym_names = [["0"] * out_dim for _ in range(in_dim)]
        self.library = SYMBOLIC_LIB
        # caches: _groups (sym_mask version, {name: (i_idx, o_idx)}); _table, _dense,
        # _columns and _edges (grid version, table): basis_table(grid, k), its dense layout for
        # the kernels, its columns and its edge form for the training step
        self.clear_caches()

    def __setattr__(self, name: str, value) -> None:
        """k, grid and coef are checked against each other whenever one is assigned (grid
        (in, G + 2k + 1) and coef (in, out, G + k) for a spline order k >= 1)."""
        if name in ("k", "grid", "coef"):
            parts = {n: value if n == name else self.__dict__.get(n, self._buffers.get(
                n, self._parameters.get(n))) for n in ("k", "grid", "coef")}
            k, grid, coef = parts["k"], parts["grid"], parts["coef"]
            if name == "k" and (not isinstance(k, int) or k < 1):
                raise ValueError(f"k (the spline order) must be an int >= 1; got {k!r}.")
            if k is not None and grid is not None and grid.shape[-1] - 2 * k - 1 < 1:
                raise ValueError(f"a grid of {grid.shape[-1]} knots has no interval at spline "
                                 f"order k={k} (it needs G + 2k + 1 knots, G >= 1).")
            if None not in (k, grid, coef) and coef.shape[-1] != grid.shape[-1] - k - 1:
                raise ValueError(f"coef has {coef.shape[-1]} basis coefficients per edge; a grid "
                                 f"of {grid.shape[-1]} knots at k={k} needs "
                                 f"{grid.shape[-1] - k - 1}.")
        super().__setattr__(name, value)

    # ---- shape helpers -------------------------------------------------------------------
    @property
    def num(self) -> int:
        """Number of grid intervals G."""
        return self.grid.shape[1] - 1 - 2 * self.k

    @property
    def n_basis(self) -> int:
        return self.grid.shape[1] - self.k - 1

    @property
    def active(self) -> Tensor:
        """(in, out) bool: the edges present, as a spline or as a symbolic function (a pruned
        edge is neither)."""
        return (self.mask != 0) | (self.sym_mask != 0)

    def extra_repr(self) -> str:
        return f"in={self.in_dim}, out={self.out_dim}, grid={self.num}, k={self.k}"

    # ---- forward -------------------------------------------------------------------------
    def weight(self) -> Tensor:
        """Weight matrix of the spline branch: (in, G+k+1, out); row 0 is the base branch."""
        wb = (self.mask * self.scale_base).unsqueeze(1)  # (in, 1, out)
        ws = (self.mask * self.scale_sp).unsqueeze(-1) * self.coef  # (in, out, nb)
        return torch.cat([wb, ws.transpose(1, 2)], dim=1)

    def table(self) -> Tensor:
        """``basis_table`` of the current grid (cached until the grid changes; built as an
        ordinary tensor even when first asked for in inference mode)."""
        return self._cached_table("_table", lambda: basis_table(self.grid, self.k))

    def dense_table(self):
        """The basis table in the dense layout the kernels read (cached like ``table``)."""
        table = self.table()
        if not table.local:
            return table
        return self._cached_table("_dense", lambda: basis_table(self.grid, self.k, False))

    def column_table(self):
        """``table()`` as columns, for the batch-last training step (cached like ``table``)."""
        return self._cached_table("_columns", lambda: column_table(self.table()))

    def edge_table(self):
        """``table()`` in the edge form of the training step, or None where too large (cached
        like ``table``)."""
        return self._cached_table("_edges", lambda: edge_table(self.table(), self.grid))

    def _grid_key(self) -> tuple:
        """Identifies the grid's current values (in-place writes bump its version)."""
        return (self.grid._version, self.grid.data_ptr(), self.grid.dtype)

    def _cached_table(self, slot: str, build):
        """``build()`` (a table of the grid) kept in attribute ``slot`` until the grid changes;
        built as an ordinary tensor even in inference mode."""
        key = self._grid_key()
        cached = getattr(self, slot)
        if cached is None or cached[0] != key:
            cached = (key, _ordinary(build))
            setattr(self, slot, cached)
        return cached[1]

    def clear_caches(self) -> None:
        """Forget the cached symbolic groups and basis tables (rebuilt on demand)."""
        for slot in _CACHES:
            setattr(self, slot, None)

    def features(self, x: Tensor) -> Tensor:
        """x (batch, in) -> features (batch, in, G+k+1)."""
        return features(x, self.grid, self.table(), self.base_fun)

    def forward(self, x: Tensor, with_scale: bool = False, feats: Tensor | None = None,
                kernel=None):
        """x (batch, in) -> y (batch, out); with ``with_scale`` also the regulariser's edge
        scale (in, out) (see ``edge_scale``). ``feats`` may pass precomputed
        ``self.features(x)`` (e.g. of fixed training inputs). Differentiable to any order on
        the PyTorch path; ``kernel`` (the Triton kernels' ``SplineLayer``, see
        ``kansci._backend``) computes the spline part without features instead
        (differentiable once; features are built only for the edge scale)."""
        w = self.weight()  # (in, F, out)
        if kernel is not None:
            y = kernel.apply(x, w, self.grid, self.dense_table())
            a = feats  # edge_scale builds the features if it needs them
        else:
            a = self.features(x) if feats is None else feats  # (batch, in, F)
            y = a.view(a.shape[0], -1) @ w.view(-1, self.out_dim)
        if self.has_symbolic():
            y = y + self._symbolic(x)
        return y, (self.edge_scale(x, a, w) if with_scale else None)

    def edge_scale(self, x: Tensor, a: Tensor, w: Tensor | None = None,
                   cov: Tensor | None = None) -> Tensor:
        """pykan's edge scale std_b(spline edge) / (std_b(x) + 0.1), shape (in, out), from the
        features' covariance: var_io = w_io^T Cov(a_i) w_io (no (batch, in, out) tensor).
        x (batch, in); a = features(x) (batch, in, F) (None: built here unless ``cov`` is
        passed)."""
        w = self.weight() if w is None else w
        if cov is None:
            cov = feature_cov(self.features(x) if a is None else a)
        var = ((cov @ w) * w).sum(1).clamp_min(0)  # (in, out)
        in_range = x.std(0).unsqueeze(1) + 0.1 if x.shape[0] > 1 else 0.1
        return (var + 1e-20).sqrt() / in_range

    def fused(self, x: Tensor, scale: Tensor, bias: Tensor, feats: Tensor | None = None,
              kernel=None):
        """Training path: ``scale * layer(x) + bias`` (batch, out) as one autograd node
        (differentiable once; see ``_fused``), and the features it used (batch, in, F); with
        ``kernel`` (see ``forward``) the Triton kernels compute it and no features are made."""
        if kernel is not None:
            return torch.addcmul(bias, self.forward(x, kernel=kernel)[0], scale), None
        y, a = SplineLayer.apply(x, self.coef, self.scale_base, self.scale_sp, self.mask, scale,
                                 bias, self.grid, self.table(), feats, self.base_fun)
        return (torch.addcmul(y, self._symbolic(x), scale) if self.has_symbolic() else y), a

    # ---- symbolic branch -----------------------------------------------------------------
    def _symbolic_groups(self) -> dict:
        """{function name: (i_idx, o_idx)} of the active symbolic edges (cached)."""
        key = (self.sym_mask._version, self.sym_mask.data_ptr())
        if self._groups is None or self._groups[0] != key:
            groups: dict[str, list] = {}
            for i, o in self.sym_mask.nonzero().tolist():
                groups.setdefault(self.sym_names[i][o], []).append((i, o))
            dev = self.sym_mask.device
            self._groups = (key, {n: torch.tensor(e, device=dev).t() for n, e in groups.items()})
        return self._groups[1]

    def has_symbolic(self) -> bool:
        return bool(self._symbolic_groups())

    def _symbolic(self, x: Tensor) -> Tensor:
        """Sum of the symbolic edges: (batch, in) -> (batch, out); one pass per function."""
        y = x.new_zeros(x.shape[0], self.out_dim)
        for name, (i, o) in self._symbolic_groups().items():
            a, b, c, d = self.sym_affine[i, o].unbind(-1)  # (E,)
            v = c * get_function(name, self.library).torch_fn(a * x[:, i] + b) + d  # (batch, E)
            y = y.index_add(1, o, v * self.sym_mask[i, o])
        return y

    def set_symbolic(self, i: int, o: int, name: str, affine=(1.0, 0.0, 1.0, 0.0),
                     numeric: float = 0.0) -> None:
        """Make edge (i, o) symbolic: c f(a x + b) + d with ``affine = (a, b, c, d)``; the
        spline branch keeps weight ``numeric`` (0: purely symbolic)."""
        get_function(name, self.library)
        with torch.no_grad():
            self.sym_names[i][o] = name
            self.sym_affine[i, o] = torch.as_tensor(affine, dtype=self.sym_affine.dtype)
            self.sym_mask[i, o] = 1.0
            self.mask[i, o] = numeric
        self._groups = None

    def unset_symbolic(self, i: int, o: int) -> None:
        """Return edge (i, o) to its spline."""
        with torch.no_grad():
            self.sym_names[i][o] = "0"
            self.sym_mask[i, o] = 0.0
            self.mask[i, o] = 1.0
        self._groups = None

    # ---- per-edge views (only when asked) ------------------------------------------------
    def edge_activations(self, x: Tensor, out_ids: Tensor | None = None) -> Tensor:
        """phi_{i,o}(x_i) for every edge: x (batch, in) -> (batch, in, n_out)."""
        out_ids = torch.arange(self.out_dim, device=x.device) if out_ids is None else out_ids
        a = self.features(x)  # (batch, in, F)
        w = self.weight()[:, :, out_ids]  # (in, F, n)
        y = torch.einsum("bif,ifn->bin", a, w)
        if self.has_symbolic():
            pos = torch.full((self.out_dim,), -1, dtype=torch.long, device=x.device)
            pos[out_ids] = torch.arange(len(out_ids), device=x.device)
            for name, (i, o) in self._symbolic_groups().items():
                keep = pos[o] >= 0
                i, o = i[keep], o[keep]
                a_, b_, c_, d_ = self.sym_affine[i, o].unbind(-1)
                v = c_ * get_function(name, self.library).torch_fn(a_ * x[:, i] + b_) + d_
                y[:, i, pos[o]] += v * self.sym_mask[i, o]
        return y

    def edge_stats(self, x: Tensor, chunk_elems: int = 1 << 24):
        """Mean and std over the batch of every edge: two (in, out) tensors (chunked over out)."""
        step = max(1, chunk_elems // max(1, x.shape[0] * self.in_dim))
        means, stds = [], []
        for s in range(0, self.out_dim, step):
            ids = torch.arange(s, min(s + step, self.out_dim), device=x.device)
            act = self.edge_activations(x, ids)
            means.append(act.mean(0))
            stds.append(act.std(0) if x.shape[0] > 1 else torch.zeros_like(act[0]))
        return torch.cat(means, 1), torch.cat(stds, 1)

    # ---- grids ---------------------------------------------------------------------------
    @torch.no_grad()
    def update_grid(self, x: Tensor) -> None:
        """Re-place the grid on samples x (batch, in), refitting coef so the splines keep their
        shape (pykan's update_grid_from_samples, with a ridge-regularised refit). A grid that
        comes out unchanged (the same samples again) leaves the layer as it is."""
        new = grid_from_samples(x, self.num, self.k, self.grid_eps)
        if torch.equal(new, self.grid):
            return
        table = _ordinary(lambda: basis_table(new, self.k))
        self.coef.copy_(refit_coef(x, self.grid, self.coef, self.k, new, self.k,
                                   tables=(self.table(), table)))
        self.grid.copy_(new)
        self._cached_table("_table", lambda: table)  # the new grid's table is built already

    @torch.no_grad()
    def refined(self, grid: Tensor, k: int, x: Tensor) -> "KANLayer":
        """A copy on ``grid`` (order k) whose splines match this layer's at samples x."""
        coef = refit_coef(x, self.grid, self.coef, self.k, grid, k)
        return self._derived(grid, k, coef, lambda t: t)

    @torch.no_grad()
    def subset(self, in_ids, out_ids) -> "KANLayer":
        """A copy keeping inputs ``in_ids`` and outputs ``out_ids``."""
        in_ids = torch.as_tensor(in_ids, dtype=torch.long, device=self.grid.device)
        out_ids = torch.as_tensor(out_ids, dtype=torch.long, device=self.grid.device)
        pick = lambda t: t[in_ids][:, out_ids]  # noqa: E731
        new = self._derived(self.grid[in_ids], self.k, pick(self.coef), pick)
        new.sym_names = [[self.sym_names[i][o] for o in out_ids.tolist()] for i in in_ids.tolist()]
        return new

    def _derived(self, grid: Tensor, k: int, coef: Tensor, pick) -> "KANLayer":
        """A new layer with this one's settings: ``grid``, ``k`` and ``coef`` as given, every
        other per-edge tensor passed through ``pick`` (all copied)."""
        new = KANLayer.__new__(KANLayer)
        nn.Module.__init__(new)
        new.in_dim, new.out_dim, new.k = coef.shape[0], coef.shape[1], k
        new.base_fun, new.grid_eps = self.base_fun, self.grid_eps
        new.register_buffer("grid", grid.clone())
        new.coef = nn.Parameter(coef.clone(), requires_grad=self.coef.requires_grad)
        for name in ("scale_base", "scale_sp", "sym_affine"):
            p = getattr(self, name)
            setattr(new, name, nn.Parameter(pick(p).clone(), requires_grad=p.requires_grad))
        new.register_buffer("mask", pick(self.mask).clone())
        new.register_buffer("sym_mask", pick(self.sym_mask).clone())
        new.sym_names = [row[:] for row in self.sym_names]
        new.library = self.library
        new.clear_caches()
        return new

    # deepcopy/pickle: the group cache holds tensors keyed by data_ptr; drop it
    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(dict.fromkeys(_CACHES))
        return state
