"""MultKAN: a KAN with sum and multiplication nodes (KAN 2.0), built from ``KANLayer``s.

Layer l maps the ``width_in[l]`` nodes to ``width_out[l+1]`` subnodes; subnodes get an affine
(subnode_scale, subnode_bias); the first ``n_sum`` subnodes are sum nodes, the rest are grouped
into multiplication nodes of the given arities and multiplied; nodes then get an affine
(node_scale, node_bias). This is pykan 0.2.8's MultKAN math, so ``from_pykan`` is exact.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from ._backend import check_backend, kernel_for
from ._config import normalize_arity, normalize_width, per_layer
from ._data import as_input
from ._layer import KANLayer
from ._spline import BASE_FUNCTIONS, interpolate_grid
from ._symbolic_lib import Library, SymbolicFunction, add_symbolic, get_function
from ._symbolic_lib import SYMBOLIC_LIB


# pykan's constructor keywords and methods that kansci's MultKAN has not: kansci.pykan.KAN has
# them; here an error says where to look
_PYKAN_INIT = ("auto_save", "ckpt_path", "symbolic_enabled", "sparse_init",
               "first_init", "state_id", "round")
_PYKAN_METHODS = {
    "saveckpt": "save with model.save(path)", "loadckpt": "load with ks.MultKAN.load(path)",
    "rewind": "keep copies (model.copy()) to go back", "checkout": "keep copies (model.copy())",
    "history": "fit() returns the training history", "get_act": "pass x to the method that "
    "needs activations, or call model.activations(x)", "acts": "call model.activations(x)",
    "act_fun": "the layers are model.layers (KANLayer: grid, coef, mask)",
    "symbolic_fun": "the layers are model.layers (KANLayer: sym_mask, sym_names, sym_affine)",
    "get_fun": "kansci.widgets or model.layers[l].edge_activations(x)",
    "tree": "call ks.plot_tree(model, x)", "speed": "kansci has no slow mode",
    "unfix_symbolic_all": "call unfix_symbolic(l, i, j) per edge",
    "remove_edge": "prune_edge / prune return a model without weak edges",
    "remove_node": "prune_node returns a model without weak nodes",
    "node_attribute": "call model.attribute(x), then read model.node_scores",
    "feature_interaction": "call model.attribute(x), then read model.edge_scores",
    "set_mode": "use fix_symbolic / unfix_symbolic", "log_history": "nothing is logged",
}


class MultKAN(nn.Module):
    """Kolmogorov-Arnold network with sum and multiplication nodes.

    Parameters
    ----------
    width : list of int or [n_sum, n_mult], e.g. ``[2, 5, 1]`` or ``[2, [3, 2], 1]``.
    grid : int or list of int, grid intervals G per layer.
    k : int or list of int, spline order per layer.
    mult_arity : int, or one list of arities per layer (``[]`` where a layer has no mult nodes).
    seed : int, seeds a private ``torch.Generator`` for the initial parameters (no global RNG).
    backend : "auto" | "torch" | "triton": the layers' spline part on the PyTorch path or on
        the Triton kernels ("auto": kernels for CUDA tensors in float32/16, bfloat16; see
        ``kansci._backend``).
    in_vars, out_vars : optional names of the inputs and outputs (used by formulas and plots).
    save_act : bool, default True: ``fit`` keeps its training inputs on the model
        (``cache_data``), so that ``plot()``, ``auto_symbolic()``,
        ``attribute()`` and ``refine()`` work without ``x``; False keeps nothing (those
        methods then need ``x``). pykan's name; ``kansci.pykan.KAN`` also keeps the inputs
        of every forward pass, as pykan does.
    library : the symbolic functions this model's edges may be snapped to and are evaluated
        with (default ``kansci.SYMBOLIC_LIB``, which never changes); ``model.add_symbolic``
        adds one to this model alone, ``kansci.add_symbolic`` makes a library to pass here.
    """

    def __init__(self, width, grid=3, k=3, mult_arity=2, *, noise_scale: float = 0.3,
                 scale_base_mu: float = 0.0, scale_base_sigma: float = 1.0,
                 base_fun: str = "silu", affine_trainable: bool = False, grid_eps: float = 0.02,
                 grid_range=(-1.0, 1.0), sp_trainable: bool = True, sb_trainable: bool = True,
                 seed: int = 1, device="cpu", dtype: torch.dtype | None = None,
                 backend: str = "auto", in_vars=None, out_vars=None, n_in: int | None = None,
                 save_act: bool = True, library=None, **pykan_options):
        super().__init__()
        if pykan_options:
            name = sorted(pykan_options)[0]
            hint = (f" {name} is pykan's: kansci.pykan.KAN accepts it (from kansci.pykan import "
                    "KAN; see docs/pykan.md)." if name in _PYKAN_INIT else "")
            raise TypeError(f"MultKAN() got an unexpected keyword argument {name!r}.{hint}")
        self.width = normalize_width(width)
        self.mult_arity = normalize_arity(mult_arity, self.width)
        depth = len(self.width) - 1
        grids = per_layer(grid, depth, "grid", 1)
        ks = per_layer(k, depth, "k", 1)
        if base_fun not in BASE_FUNCTIONS:
            raise ValueError(f"base_fun must be one of {BASE_FUNCTIONS}; got {base_fun!r}.")
        check_backend(backend, base_fun)
        if not 0.0 <= grid_eps <= 1.0:
            raise ValueError(f"grid_eps must be in [0, 1]; got {grid_eps}.")
        if len(grid_range) != 2 or not grid_range[0] < grid_range[1]:
            raise ValueError(f"grid_range must be (low, high) with low < high; got {grid_range!r}.")
        self.backend = backend
        self._init_kwargs = dict(
            noise_scale=noise_scale, scale_base_mu=scale_base_mu, scale_base_sigma=scale_base_sigma,
            base_fun=base_fun, affine_trainable=affine_trainable, grid_eps=grid_eps,
            grid_range=[float(grid_range[0]), float(grid_range[1])], sp_trainable=sp_trainable,
            sb_trainable=sb_trainable, seed=seed, save_act=bool(save_act))
        dtype = dtype or torch.get_default_dtype()
        gen = torch.Generator().manual_seed(int(seed))
        w_in, w_out = self.width_in, self.width_out
        self.layers = nn.ModuleList(
            KANLayer(w_in[l], w_out[l + 1], grids[l], ks[l], noise_scale=noise_scale,
                     scale_base_mu=scale_base_mu, scale_base_sigma=scale_base_sigma,
                     base_fun=base_fun, grid_eps=grid_eps, grid_range=grid_range,
                     sp_trainable=sp_trainable, sb_trainable=sb_trainable, generator=gen,
                     dtype=dtype, device=device)
            for l in range(depth))

        def plist(sizes, fill):
            return nn.ParameterList(
                nn.Parameter(torch.full((n,), fill, dtype=dtype, device=device),
                             requires_grad=affine_trainable) for n in sizes)

        self.node_scale = plist(w_in[1:], 1.0)
        self.node_bias = plist(w_in[1:], 0.0)
        self.subnode_scale = plist(w_out[1:], 1.0)
        self.subnode_bias = plist(w_out[1:], 0.0)
        self.n_in = int(n_in) if n_in is not None else w_in[0]
        self.register_buffer("input_id", torch.arange(w_in[0], device=device))
        self.in_vars = list(in_vars) if in_vars is not None else None
        self.out_vars = list(out_vars) if out_vars is not None else None
        self.cache_data: Tensor | None = None  # training inputs of the last fit() (save_act)
        if library is not None:
            self.library = library
        self.node_scores = self.edge_scores = self.subnode_scores = None
        self._fits = 0  # fits run (see revision)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name not in _PYKAN_METHODS:
                raise
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (pykan's): "
                             f"{_PYKAN_METHODS[name]}; or use pykan's interface, "
                             "from kansci.pykan import KAN (docs/pykan.md).")

    @property
    def library(self):
        """The symbolic functions of this model (a ``Library``, name -> function): what its
        snapped edges are evaluated with and ``suggest_symbolic``/``auto_symbolic`` choose
        from by default."""
        return self.layers[0].library if len(self.layers) else SYMBOLIC_LIB

    @library.setter
    def library(self, library) -> None:
        if not isinstance(library, Mapping) or not all(
                isinstance(f, SymbolicFunction) for f in library.values()):
            raise TypeError("library must map names to symbolic functions (SYMBOLIC_LIB, or "
                            "what kansci.add_symbolic returns).")
        library = library if isinstance(library, Library) else Library(library)
        missing = library.lacking(n for layer in self.layers for row in layer.sym_names
                                  for n in row)
        if missing:
            raise ValueError(f"the model's snapped edges use {missing}, which the new library "
                             "lacks.")
        for layer in self.layers:
            layer.library = library

    def add_symbolic(self, name: str, torch_fn, sympy_fn, complexity: float = 1.0) -> None:
        """Add a function to this model's library (no other model's, and not the default):
        torch_fn a safe torch function, sympy_fn its sympy form, complexity as pykan's."""
        self.library = add_symbolic(name, torch_fn, sympy_fn, complexity, self.library)

    @property
    def save_act(self) -> bool:
        """Whether ``fit`` keeps its training inputs (``cache_data``); see the class docstring."""
        return self._init_kwargs.get("save_act", True)

    @save_act.setter
    def save_act(self, value: bool) -> None:
        self._init_kwargs["save_act"] = bool(value)

    # ---- structure -----------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def width_in(self) -> list[int]:
        """Nodes per layer (sum + mult)."""
        return [s + m for s, m in self.width]

    @property
    def width_out(self) -> list[int]:
        """Subnodes per layer (sum + one per multiplicand)."""
        return [s + sum(a) for (s, _), a in zip(self.width, self.mult_arity)]

    @property
    def grid(self):
        g = [layer.num for layer in self.layers]
        return g[0] if len(set(g)) == 1 else g

    @property
    def k(self):
        ks = [layer.k for layer in self.layers]
        return ks[0] if len(set(ks)) == 1 else ks

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].coef.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].coef.device

    @property
    def n_edge(self) -> int:
        """Number of active edges (spline or symbolic)."""
        return int(sum(layer.active.sum() for layer in self.layers))

    def config(self) -> dict:
        """JSON-able constructor arguments that rebuild this architecture."""
        return dict(width=[list(w) for w in self.width], grid=[l.num for l in self.layers],
                    k=[l.k for l in self.layers], mult_arity=[list(a) for a in self.mult_arity],
                    backend=self.backend, in_vars=self.in_vars, out_vars=self.out_vars,
                    n_in=self.n_in, **self._init_kwargs)

    def extra_repr(self) -> str:
        return f"width={self.width}, grid={self.grid}, k={self.k}"

    # ---- forward -------------------------------------------------------------------------
    def _check_input(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"model input must be a torch.Tensor; got {type(x).__name__}. "
                            "Use torch.as_tensor(x, dtype=model.dtype).")
        if x.ndim == 0 or x.shape[-1] != self.n_in:
            raise ValueError(f"input must have shape (..., {self.n_in}) (the model's input "
                             f"width); got {tuple(x.shape)}.")
        if x.dtype != self.dtype:
            raise TypeError(f"input dtype {x.dtype} does not match the model's {self.dtype}; "
                            f"convert with x.to({self.dtype}) or model.to({x.dtype}).")
        return x

    def forward(self, x: Tensor) -> Tensor:
        """x (..., n_in) -> (..., n_out)."""
        self._check_input(x)
        lead = x.shape[:-1]
        y, _ = self._run(x.reshape(-1, self.n_in))
        return y.reshape(*lead, y.shape[-1])

    def kernel_for(self, x: Tensor):
        """The Triton kernels' autograd function when they compute this model's layers on x
        (per ``backend``, x's device and dtype), else None (the PyTorch path)."""
        return kernel_for(self.backend, self._init_kwargs["base_fun"], x)

    def _select_inputs(self, x: Tensor) -> Tensor:
        """Columns of x the first layer uses (all of them unless inputs were pruned)."""
        return x[:, self.input_id] if self.width[0][0] != self.n_in else x

    def _run(self, x: Tensor, with_scale: bool = False, on_layer=None,
             feats0: Tensor | None = None):
        """Forward over validated 2-D x (batch, n_in).

        Returns (y, scales) where scales lists the regulariser's edge scales per layer when
        ``with_scale``. ``on_layer(l, x_l)`` is called with each layer's input before the
        layer runs (e.g. to update its grid on x_l). ``feats0``: precomputed first-layer
        features."""
        x = self._select_inputs(x)
        scales = []
        kernel = self.kernel_for(x)
        for l in range(self.depth):
            if on_layer is not None:
                on_layer(l, x)
            x, scale = self._layer_output(l, x, with_scale, feats0 if l == 0 else None, kernel)
            scales.append(scale)
        return x, scales

    def _layer_output(self, l: int, x: Tensor, with_scale: bool = False,
                      feats: Tensor | None = None, kernel=None):
        """Layer l's node values (batch, width_in[l+1]) from its inputs x (batch, in), and its
        edge scales when ``with_scale`` (see ``KANLayer.forward``)."""
        y, scale = self.layers[l](x, with_scale, feats, kernel)
        return self._nodes(l, torch.addcmul(self.subnode_bias[l], y, self.subnode_scale[l])), scale

    def _run_fused(self, x: Tensor, feats0: Tensor | None = None, cov0: Tensor | None = None,
                   with_scale: bool = False):
        """The training forward (differentiable once): each layer with its output affine is
        one autograd node; the node affine is folded in too where a layer has no
        multiplication nodes. ``feats0`` / ``cov0``: precomputed first-layer features and
        their covariance. Returns (y, scales) like ``_run``."""
        from ._closure import output_affine

        x = self._select_inputs(x)
        scales = []
        kernel = self.kernel_for(x)
        for l, layer in enumerate(self.layers):
            arity = self.mult_arity[l + 1]
            scale, bias = output_affine(arity, self.subnode_scale[l], self.subnode_bias[l],
                                        self.node_scale[l], self.node_bias[l])
            y, a = layer.fused(x, scale, bias, feats0 if l == 0 else None, kernel)
            if arity:
                y = self._nodes(l, y)
            if with_scale:
                scales.append(layer.edge_scale(x, a, cov=cov0 if l == 0 else None))
            x = y
        return x, scales

    def _nodes(self, l: int, y: Tensor) -> Tensor:
        """Multiplication and node affine of subnode values (after their affine):
        (batch, width_out[l+1]) -> (batch, width_in[l+1])."""
        n_sum = self.width[l + 1][0]
        arity = self.mult_arity[l + 1]
        if arity:
            if len(set(arity)) == 1:
                prod = y[:, n_sum:].reshape(y.shape[0], len(arity), arity[0]).prod(-1)
            else:
                parts, start = [], n_sum
                for a in arity:
                    parts.append(y[:, start:start + a].prod(-1, keepdim=True))
                    start += a
                prod = torch.cat(parts, 1)
            y = torch.cat([y[:, :n_sum], prod], 1)
        return torch.addcmul(self.node_bias[l], y, self.node_scale[l])

    @torch.no_grad()
    def activations(self, x) -> list[Tensor]:
        """Node values of every layer for inputs x: [(batch, width_in[l]) for l = 0..depth]."""
        acts: list[Tensor] = []
        y, _ = self._run(self._prepare(x), on_layer=lambda l, xl: acts.append(xl))
        return acts + [y]

    def _prepare(self, x) -> Tensor:
        """Validated 2-D tensor of inputs on the model's dtype/device (x may be data or None)."""
        if x is None:
            if self.cache_data is None:
                raise ValueError("no data: pass x, or fit() the model first (with save_act="
                                 "True, the default, it keeps its training inputs for "
                                 "attribution, pruning and refinement).")
            return self.cache_data
        return as_input(x, self.n_in, self.dtype, self.device)

    # ---- grids ---------------------------------------------------------------------------
    @torch.no_grad()
    def update_grid(self, x) -> None:
        """Re-place every layer's grid on the activations of samples x (batch, n_in)."""
        x = self._select_inputs(self._prepare(x))
        kernel = self.kernel_for(x)
        for l, layer in enumerate(self.layers):
            layer.update_grid(x)
            if l + 1 < self.depth:  # the next layer's inputs, on the updated grid
                x = self._layer_output(l, x, kernel=kernel)[0]

    update_grid_from_samples = update_grid

    @torch.no_grad()
    def refine(self, new_grid: int, x=None) -> "MultKAN":
        """A new model on a finer (or coarser) grid whose splines match this one's
        (grid extension). Splines are refit on the activations of x (default: the last
        fit's training inputs; without data, on uniform samples over each grid)."""
        grids = per_layer(new_grid, self.depth, "new_grid", 1)
        have_data = x is not None or self.cache_data is not None
        acts = self.activations(x) if have_data else None
        new = self.like(grid=grids)
        for l, layer in enumerate(self.layers):
            g = interpolate_grid(layer.grid, layer.k, grids[l], layer.k)
            if acts is not None:
                samples = acts[l]
            else:
                inner = layer.grid[:, layer.k:layer.grid.shape[1] - layer.k]
                u = torch.linspace(0, 1, 20 * (grids[l] + layer.k), dtype=inner.dtype,
                                   device=inner.device)
                samples = (inner[:, :1] + (inner[:, -1:] - inner[:, :1]) * u).t()
            new.layers[l] = layer.refined(g, layer.k, samples)
        new.copy_nodes_from(self)
        new.cache_data = self.cache_data
        return new

    # ---- copies --------------------------------------------------------------------------
    def like(self, **changes) -> "MultKAN":
        """A freshly initialised model with this one's configuration, updated by ``changes``."""
        cfg = self.config()
        cfg.update(changes)
        return MultKAN(**cfg, device=self.device, dtype=self.dtype,
                       library=changes.get("library", self.library))

    @torch.no_grad()
    def copy_nodes_from(self, other: "MultKAN") -> None:
        """Copy node/subnode affines and input selection from a model of equal width."""
        for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"):
            for p, q in zip(getattr(self, name), getattr(other, name)):
                p.copy_(q)
        self.input_id = other.input_id.clone()

    # ---- symbolic edges ------------------------------------------------------------------
    def _check_edge(self, l: int, i: int, j: int) -> KANLayer:
        if not 0 <= l < self.depth:
            raise ValueError(f"layer index l must be in [0, {self.depth - 1}]; got {l}.")
        layer = self.layers[l]
        if not 0 <= i < layer.in_dim or not 0 <= j < layer.out_dim:
            raise ValueError(f"edge ({l}, {i}, {j}) does not exist: layer {l} has inputs "
                             f"0..{layer.in_dim - 1} and outputs 0..{layer.out_dim - 1}.")
        return layer

    def fix_symbolic(self, l: int, i: int, j: int, fun_name: str, fit_params: bool = True,
                     x=None, affine=(1.0, 0.0, 1.0, 0.0), a_range=(-10.0, 10.0),
                     b_range=(-10.0, 10.0)):
        """Snap edge (l, i, j) to ``c * f(a x + b) + d`` with f = ``fun_name``.

        With ``fit_params`` the affine is fitted to the edge's current curve on the
        activations of x (default: the last fit's training inputs), a and b searched within
        ``a_range`` and ``b_range`` first, and r2 is returned; otherwise ``affine = (a, b, c, d)``
        is used as given and None is returned."""
        layer = self._check_edge(l, i, j)
        fn = get_function(fun_name, self.library)
        r2 = None
        if fit_params:  # the very fit suggest_symbolic ranks by (a line written c x + d)
            from ._symbolic import edge_data, rank_functions
            best = rank_functions(*edge_data(self, l, i, j, x), [fn.name], a_range=a_range,
                                  b_range=b_range, library=self.library)[0]
            affine, r2 = best.params, best.r2
        layer.set_symbolic(i, j, fun_name, affine)
        return r2

    def unfix_symbolic(self, l: int, i: int, j: int) -> None:
        """Return edge (l, i, j) to its learned spline."""
        self._check_edge(l, i, j).unset_symbolic(i, j)

    def suggest_symbolic(self, l: int, i: int, j: int, lib=None, topk: int = 5,
                         weight_simple: float = 0.8, x=None, exclude_zero: bool = False,
                         a_range=(-10.0, 10.0), b_range=(-10.0, 10.0)):
        """Ranked symbolic candidates for edge (l, i, j): list of ``Suggestion`` (.name, .r2,
        .complexity, .params = (a, b, c, d)), best first (without the zero function when
        ``exclude_zero``); a and b are searched within ``a_range`` and ``b_range`` first."""
        from ._symbolic import suggest_symbolic
        return suggest_symbolic(self, l, i, j, lib, topk, weight_simple, x, exclude_zero,
                                a_range, b_range)

    def auto_symbolic(self, lib=None, weight_simple: float = 0.8, r2_threshold: float = 0.0,
                      x=None, progress: bool = True, a_range=(-10.0, 10.0),
                      b_range=(-10.0, 10.0)) -> dict:
        """Snap every active spline edge to its best candidate; returns {(l, i, j): Suggestion}."""
        from ._symbolic import auto_symbolic
        return auto_symbolic(self, lib, weight_simple, r2_threshold, x, progress, a_range,
                             b_range)

    def symbolic_formula(self, var=None, simplify: bool = True, snap_tol: float | None = 1e-4):
        """The network in closed form, in pykan's shape: ``(formulas, variables)``, formulas one
        sympy expression per output, variables the input symbols. Every active edge must be
        symbolic. ``var``: names or symbols of the inputs (default ``in_vars`` or x_1..x_n);
        floats within ``snap_tol`` of simple numbers are snapped (None: none); ``simplify``
        runs sympy's simplify a few seconds per output. See ``formula`` for one output as a
        ``Formula``."""
        from ._symbolic import input_symbols, symbolic_formula
        return symbolic_formula(self, var, simplify, snap_tol), input_symbols(self, var)

    def formula(self, output: int = 0, var=None, simplify: bool = True,
                snap_tol: float | None = 1e-4):
        """Output ``output`` of the network as a ``kansci.Formula`` (sympy, LaTeX, NumPy and
        torch exports); the arguments are those of ``symbolic_formula``."""
        from ._formula import Formula
        formulas, variables = self.symbolic_formula(var, simplify, snap_tol)
        if not -len(formulas) <= output < len(formulas):
            raise ValueError(f"output must be in [0, {len(formulas) - 1}]; got {output}.")
        return Formula(formulas[output], variables)

    @property
    def revision(self) -> tuple:
        """A token that changes whenever the model does: compare two readings to learn whether
        anything changed in between (the explorer follows changes made from code this way).
        It holds the widths (first), every parameter's and buffer's identity and in-place
        version, the snapped functions' names, the number of fits run (a fit updates its
        parameters through a flat buffer, which their versions do not see) and the variable
        names."""
        tensors = tuple((id(t), t._version) for t in (*self.parameters(), *self.buffers()))
        names = tuple(tuple(map(tuple, layer.sym_names)) for layer in self.layers)
        return (repr(self.width), tensors, names, getattr(self, "_fits", 0),
                repr(self.in_vars), repr(self.out_vars))

    # ---- delegated science tools ---------------------------------------------------------
    def fit(self, dataset, y=None, **kwargs) -> dict:
        from ._train import fit
        try:
            return fit(self, dataset, y, **kwargs)
        finally:
            self._fits = getattr(self, "_fits", 0) + 1

    def copy(self) -> "MultKAN":
        """An independent deep copy (parameters, grids, symbolic edges, scores, cached data)."""
        import copy
        return copy.deepcopy(self)

    def attribute(self, x=None) -> None:
        """Compute node/edge attribution scores (KAN 2.0) on x (default: training inputs)."""
        from ._attribution import attribute
        attribute(self, x)

    @property
    def feature_score(self) -> Tensor:
        """Importance of each input, shape (width[0],), from the attribution scores."""
        self.attribute()
        return self.node_scores[0]

    def prune_node(self, threshold: float = 1e-2, x=None, active=None) -> "MultKAN":
        from ._prune import prune_node
        return prune_node(self, threshold, x, active)

    def prune_edge(self, threshold: float = 3e-2, x=None) -> "MultKAN":
        from ._prune import prune_edge
        return prune_edge(self, threshold, x)

    def prune_input(self, threshold: float = 1e-2, x=None, active_inputs=None) -> "MultKAN":
        from ._prune import prune_input
        return prune_input(self, threshold, x, active_inputs)

    def prune(self, node_th: float = 1e-2, edge_th: float = 3e-2, x=None) -> "MultKAN":
        from ._prune import prune
        return prune(self, node_th, edge_th, x)

    def plot(self, dataset=None, path=None, x=None, **style):
        """In Jupyter (no ``path``, no ``x``): the interactive explorer
        (``kansci.widgets.Explorer``, ``pip install 'kansci[widgets]'``) of this model and
        ``dataset``. Elsewhere, or given ``path`` or ``x``: a matplotlib Figure of the network
        on x (batch, n_in) (default: the dataset's or the last fit's training inputs), saved
        to ``path`` when given (any format matplotlib writes: .png, .svg, .pdf);
        ``plt.show()`` shows it in a script. ``style``: beta, metric ("backward",
        "forward_u", "forward_n"), scale, in_vars, out_vars, title, varscale (pykan's
        meanings). Drawing does not change the model."""
        from ._draw import draw_figure, in_jupyter
        if path is None and x is None and not style and in_jupyter():
            try:
                from kansci.widgets import Explorer
            except ImportError as err:
                raise ImportError("the explorer needs its packages: pip install "
                                  "'kansci[widgets]' (or pass path= or x= for a static "
                                  "figure).") from err
            return Explorer(self, dataset)
        if x is None and dataset is not None:
            from ._data import as_dataset
            x = as_dataset(dataset, None, self.n_in, self.dtype, self.device)[0]["train_input"]
        return draw_figure(self, self._prepare(x), path, **style)

    def prune_plan(self, node_th: float = 1e-2, edge_th: float = 3e-2, x=None):
        """What ``prune(node_th, edge_th, x)`` would remove: (nodes, edges), per layer bool
        masks (width_in[l],) and (in, out) in this model's numbering (a preview)."""
        from ._prune import prune_plan
        return prune_plan(self, node_th, edge_th, x)

    def swap(self, l: int, i: int, j: int) -> None:
        """Exchange hidden nodes i and j of layer l (1 <= l < depth; both sum or both
        multiplication nodes), with their edges, affines and scores: same function."""
        from ._swap import swap
        swap(self, l, i, j)

    def permute_nodes(self, l: int, order) -> None:
        """Reorder hidden layer l: new position p holds old node order[p] (see ``swap``)."""
        from ._swap import permute_nodes
        permute_nodes(self, l, order)

    def connection_cost(self, x=None) -> float:
        """Attribution-weighted length of the drawn edges (see ``auto_swap``)."""
        from ._swap import connection_cost
        return connection_cost(self, x)

    def auto_swap(self, x=None) -> float:
        """Reorder the hidden nodes so that connected nodes are drawn close together (greedy
        swaps lowering ``connection_cost``; modules end up side by side). Attributes on x
        (default: the last fit's training inputs) when scores are missing or x is given.
        The function is unchanged; returns the connection cost reached."""
        from ._swap import auto_swap
        return auto_swap(self, x)

    def expand_width(self, layer: int, n: int, sum_bool: bool = True,
                     mult_arity: int = 2) -> "MultKAN":
        """A copy with n more (switched-off) sum or multiplication nodes in hidden ``layer``."""
        from ._expand import expand_width
        return expand_width(self, layer, n, sum_bool, mult_arity)

    def expand_depth(self) -> "MultKAN":
        """A copy with one more layer of identity edges at the output."""
        from ._expand import expand_depth
        return expand_depth(self)

    def perturb(self, mag: float = 0.0) -> "MultKAN":
        """A copy whose switched-off edges get a trainable spline branch (output unchanged
        for mag = 0; a small mag such as 0.01 lets edges of new nodes learn, see _expand)."""
        from ._expand import perturb
        return perturb(self, mag)

    def save(self, path) -> None:
        from ._io import save
        save(self, path)

    @staticmethod
    def load(path, map_location=None, library=None) -> "MultKAN":
        """A model written by ``save`` (``library``: for snapped edges of functions outside
        ``kansci.SYMBOLIC_LIB``)."""
        from ._io import load
        return load(path, map_location, library)

    @staticmethod
    def from_pykan(pykan_model, library=None) -> "MultKAN":
        from ._pykan import from_pykan
        return from_pykan(pykan_model, library)


def _method_signature() -> None:
    """``MultKAN.fit`` shows ``kansci._train.fit``'s signature and documentation (in Jupyter's
    help too); the keywords are written once, there."""
    import inspect

    from ._train import fit
    sig = inspect.signature(fit)
    params = list(sig.parameters.values())
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    MultKAN.fit.__signature__ = sig.replace(parameters=[self_param] + params[1:])
    MultKAN.fit.__doc__ = fit.__doc__.replace("Train ``model`` in place", "Train the model in place")


_method_signature()
KAN = MultKAN
