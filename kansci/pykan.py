"""pykan's namespace on kansci: ``from kansci.pykan import *`` in place of ``from kan import *``.

A pykan 0.2 script ports by changing that one line (and ``from kan.x import y`` to
``from kansci.pykan import y``). This module gives what pykan's star import gave: torch, nn,
np, plt, sympy and SymPy's names, tqdm, and pykan's functions (``create_dataset`` with pykan's
points for a seed, ``ex_round``, ``augment_input``, ``batch_jacobian``, ...). Its ``KAN`` /
``MultKAN`` is kansci's model with pykan's habits:

- ``prune_edge``, ``expand_depth``, ``expand_width`` and ``perturb`` change the model in place
  (kansci's own methods return a changed copy);
- a forward pass keeps its inputs (pykan's ``save_act=True``), so ``model(x)`` followed by
  ``plot()``, ``auto_symbolic()`` or ``attribute()`` works on x;
- ``plot()`` draws a matplotlib figure; ``symbolic_formula()`` leaves spline edges out (with a
  warning) where kansci's raises;
- every operation is logged as pykan's ``round.state`` ids (``'0.1'``, ``'0.2'``, ...) and
  kept in memory (never written to disk), for ``rewind`` and ``history``.

The remaining differences are listed in ``docs/pykan.md``. kansci itself (``import kansci``)
exports none of these names.
"""
# ruff: noqa: F401, F403
from __future__ import annotations

import copy
import os
import random
import warnings

import numpy as np
import sympy
import torch
import torch.nn as nn
from sympy import *  # pykan's `from kan import *` gave SymPy's names
from sympy.utilities.lambdify import lambdify
from tqdm.auto import tqdm

try:
    import matplotlib.pyplot as plt
except ImportError as _err:  # pragma: no cover - the dev and pykan extras have matplotlib
    raise ImportError("kansci.pykan needs matplotlib (pykan scripts draw with plt): "
                      "pip install 'kansci[pykan]'.") from _err

from . import _model
from ._mlp import MLP
from ._data import as_input as _as_input
from ._data import create_dataset as _create_dataset
from ._hypothesis import detect_separability as _detect_separability
from ._hypothesis import plot_tree as _plot_tree
from ._hypothesis import test_general_separability as _test_general_separability
from ._hypothesis import test_symmetry as _test_symmetry
from ._symbolic_lib import SYMBOLIC_LIB as _DEFAULT_LIBRARY
from ._symbolic_lib import Library as _Library
from ._symbolic_lib import add_symbolic as _add_symbolic

# pykan has one library that add_symbolic changes for every model; this namespace keeps one
# such library of its own (kansci's SYMBOLIC_LIB never changes): every KAN made here uses it
SYMBOLIC_LIB = _Library(_DEFAULT_LIBRARY, where="kansci.pykan:SYMBOLIC_LIB")

_UNSET = object()  # a keyword the caller did not give

# pykan constructor keywords with no meaning here: what kansci does instead
_INIT_DEFAULTS = {"symbolic_enabled": True, "sparse_init": False, "first_init": True,
                  "ckpt_path": "./model", "state_id": 0, "round": 0}
_INIT_NOTES = {
    "ckpt_path": "the history is kept in memory (rewind, history); save with model.saveckpt",
    "first_init": "the model is initialised from seed",
    "state_id": "history ids start at '0.0'",
    "round": "history ids start at '0.0'",
    "symbolic_enabled": "symbolic edges are evaluated wherever they are set",
    "sparse_init": "kansci initialises every edge (dense); prune after sparse training",
}


def _warn(msg: str, level: int = 3) -> None:
    warnings.warn(msg, UserWarning, stacklevel=level)


class MultKAN(_model.MultKAN):
    """kansci's MultKAN with pykan's habits (see the module docstring); the constructor takes
    pykan's keywords."""

    def __init__(self, width=None, grid=3, k=3, mult_arity=2, noise_scale=0.3,
                 scale_base_mu=0.0, scale_base_sigma=1.0, base_fun="silu",
                 symbolic_enabled=_UNSET, affine_trainable=False, grid_eps=0.02,
                 grid_range=(-1, 1), sp_trainable=True, sb_trainable=True, seed=1,
                 save_act=True, sparse_init=_UNSET, auto_save=_UNSET, first_init=_UNSET,
                 ckpt_path=_UNSET, state_id=_UNSET, round=_UNSET, device="cpu", **kansci):
        if width is None:
            raise TypeError("KAN needs width, e.g. KAN(width=[2, 5, 1]).")
        given = dict(symbolic_enabled=symbolic_enabled, sparse_init=sparse_init,
                     first_init=first_init, ckpt_path=ckpt_path, state_id=state_id, round=round)
        for name, value in given.items():  # auto_save has a meaning here (see _log)
            if value is not _UNSET and value != _INIT_DEFAULTS[name]:
                _warn(f"KAN({name}=...) is pykan's and changes nothing here: "
                      f"{_INIT_NOTES[name]}.")
        super().__init__(width, grid, k, mult_arity, noise_scale=noise_scale,
                         scale_base_mu=scale_base_mu, scale_base_sigma=scale_base_sigma,
                         base_fun=base_fun, affine_trainable=affine_trainable,
                         grid_eps=grid_eps, grid_range=grid_range, sp_trainable=sp_trainable,
                         sb_trainable=sb_trainable, seed=seed, device=device,
                         save_act=save_act, **{"library": SYMBOLIC_LIB, **kansci})
        self.auto_save = auto_save is not False  # keep every logged state in memory
        self._start_history()

    # ---- adoption of kansci models ---------------------------------------------------------
    @classmethod
    def _adopt(cls, model, history=None):
        """A kansci model (fresh from a kansci function) as this class, in place."""
        if not isinstance(model, cls):
            model.__class__ = cls
            model.save_act = model.auto_save = True
            if model.library is _DEFAULT_LIBRARY:  # this namespace's (pykan's one library)
                model.library = SYMBOLIC_LIB
            if history is None:
                model._start_history()
        if history is not None:
            model._history = history
        return model

    def _become(self, other) -> None:
        """Take over another model's structure and parameters (pykan's in-place methods)."""
        keep = {k: self.__dict__[k] for k in ("auto_save", "_history") if k in self.__dict__}
        save_act = self.save_act
        self.__dict__.update(other.__dict__)
        self.__dict__.update(keep)
        self._init_kwargs = {**self._init_kwargs, "save_act": save_act}

    def like(self, **changes):
        return self._adopt(super().like(**changes))

    def _derived(self, new, method: str, log: bool = True):
        """A new model made from this one by ``method`` (pykan returns a new model there): this
        class, sharing the history, the step logged."""
        new = self._adopt(new, history=self._history)
        if log:
            new._log(method)
        return new

    # ---- history (pykan's checkpoints, in memory) -------------------------------------------
    def _start_history(self) -> None:
        self._history = {"round": 0, "state": 0, "log": ["0.0 init"], "states": {}}
        if self.auto_save:
            self._history["states"]["0.0"] = self._snapshot()

    def _snapshot(self):
        state = self.__dict__.pop("_history", None)
        try:
            return copy.deepcopy(self)
        finally:
            if state is not None:
                self._history = state

    def _log(self, method: str) -> None:
        h = self._history
        h["state"] += 1
        key = f"{h['round']}.{h['state']}"
        h["log"].append(f"{key} {method}")
        if self.auto_save:
            h["states"][key] = self._snapshot()

    @property
    def state_id(self) -> int:
        return self._history["state"]

    @property
    def round(self) -> int:
        return self._history["round"]

    def rewind(self, model_id: str):
        """The model as it was at history id ``model_id`` (e.g. ``'0.1'``); a new round of ids
        starts from it."""
        old = self.checkout(model_id)
        h = self._history
        h["round"] += 1
        h["state"] = 0
        key = f"{h['round']}.0"
        h["log"].append(f"{key} rewind to {model_id}")
        h["states"][key] = old._snapshot()
        return old

    def checkout(self, model_id: str):
        """The model at history id ``model_id`` (no new round starts)."""
        states = self._history["states"]
        if str(model_id) not in states:
            raise ValueError(f"no model with id {model_id!r} in this session's history (kept "
                             f"in memory while auto_save=True); known: {sorted(states)}.")
        return self._adopt(copy.deepcopy(self._history["states"][str(model_id)]),
                           history=self._history)

    def history(self, k="all"):
        """The operations logged so far, one ``'id method'`` line each (pykan's ``history``)."""
        log = self._history["log"]
        return log if k == "all" else log[-int(k):]

    # ---- forward keeps its inputs (save_act) -----------------------------------------------
    def forward(self, x, singularity_avoiding=False, y_th=10.0):
        if singularity_avoiding:
            _warn("forward(singularity_avoiding=True) is pykan's; kansci evaluates symbolic "
                  "edges as they are.")
        y = super().forward(x)
        if self.save_act and x.ndim == 2:
            self.cache_data = x.detach()
        return y

    def get_act(self, x=None):
        """Run the model on x (a tensor, or a dataset dict: its train_input) and keep the
        inputs for plot, attribution and snapping."""
        if isinstance(x, dict):
            x = x["train_input"]
        if x is None:
            x = self._prepare(None)
        self.cache_data = _as_input(x, self.n_in, self.dtype, self.device)

    @property
    def act_fun(self):
        """pykan's spline layers: kansci's ``KANLayer``s (grid (in, G+2k+1), coef (in, out, G+k),
        mask, scale_base, scale_sp (in, out): pykan's layout)."""
        return self.layers

    @property
    def symbolic_fun(self) -> list:
        """pykan's symbolic layers, as read-only views in pykan's (out, in) layout: funs_name,
        mask, affine; change them with fix_symbolic / unfix_symbolic."""
        return [_SymbolicView(layer) for layer in self.layers]

    @property
    def acts(self) -> list:
        """Node values of every layer on the kept inputs: [(batch, width_in[l])]."""
        return self.activations(None)

    # ---- training ---------------------------------------------------------------------------
    def fit(self, dataset, *args, **kwargs):
        hist = super().fit(dataset, *args, **kwargs)
        self._log("fit")
        return hist

    def train(self, mode=True, **kwargs):
        """torch's ``train(mode)``; given a dataset, pykan's old name for ``fit`` (pykan < 0.2
        trained with ``model.train(dataset, ...)``), with a warning."""
        if isinstance(mode, bool) and not kwargs:
            return super().train(mode)
        _warn("model.train(dataset, ...) is pykan's old name for fit: use model.fit(dataset, "
              "...).")
        return self.fit(mode, **kwargs)

    fit.__doc__ = _model.MultKAN.fit.__doc__
    fit.__signature__ = _model.MultKAN.fit.__signature__

    def refine(self, new_grid=None, x=None, grid=None):
        """A copy on a finer grid (``grid=`` is accepted for ``new_grid``)."""
        if (new_grid is None) == (grid is None):
            raise TypeError("refine() takes the new grid size once: refine(10).")
        return self._derived(super().refine(new_grid if grid is None else grid, x), "refine")

    # ---- pruning and growth: pykan's in-place ones ------------------------------------------
    def prune_edge(self, threshold=3e-2, log_history=True):
        """Switch off edges scoring below ``threshold``, in place (pykan's behaviour)."""
        self._become(super().prune_edge(threshold))
        if log_history:
            self._log("prune_edge")

    def prune_node(self, threshold=1e-2, mode="auto", active_neurons_id=None, log_history=True):
        """A copy without the hidden nodes scoring below ``threshold`` (``mode="manual"`` or
        ``active_neurons_id``: keep those, per hidden layer)."""
        active = active_neurons_id if mode == "manual" or active_neurons_id is not None else None
        return self._derived(super().prune_node(threshold, active=active), "prune_node",
                             log_history)

    def prune_input(self, threshold=1e-2, active_inputs=None, log_history=True):
        return self._derived(super().prune_input(threshold, active_inputs=active_inputs),
                             "prune_input", log_history)

    def prune(self, node_th=1e-2, edge_th=3e-2):
        return self._derived(super().prune(node_th, edge_th), "prune")

    def expand_depth(self):
        """One more layer of identity edges at the output, in place."""
        self._become(super().expand_depth())
        self._log("expand_depth")

    def expand_width(self, layer_id, n_added_nodes, sum_bool=True, mult_arity=2):
        """``n_added_nodes`` more sum (or multiplication, of ``mult_arity`` factors: an int or
        one per new node) nodes in hidden layer ``layer_id``, in place."""
        arities = mult_arity if isinstance(mult_arity, (list, tuple)) else \
            [mult_arity] * n_added_nodes
        if sum_bool:
            self._become(super().expand_width(layer_id, n_added_nodes, True))
        else:
            if len(arities) != n_added_nodes:
                raise ValueError(f"mult_arity lists {len(arities)} arities for "
                                 f"{n_added_nodes} new nodes.")
            new = self
            for a in arities:
                new = _model.MultKAN.expand_width(new, layer_id, 1, False, int(a))
            self._become(new)
        self._log("expand_width")

    def perturb(self, mag=1.0, mode="non-intrusive"):
        """Give switched-off edges a trainable spline branch of size ``mag``, in place (pykan's
        ``mode="non-intrusive"``; other modes warn)."""
        if mode not in ("non-intrusive", "all", "minimal"):
            raise ValueError(f"mode must be 'non-intrusive', 'all' or 'minimal'; got {mode!r}.")
        if mode != "non-intrusive":
            _warn(f"perturb(mode={mode!r}): kansci perturbs the switched-off edges only "
                  "(pykan's 'non-intrusive'); active edges keep their function.")
        self._become(super().perturb(mag))
        self._log("perturb")

    def remove_edge(self, l, i, j, log_history=True):
        """Switch edge (l, i, j) off (spline and symbolic), in place."""
        layer = self._check_edge(l, i, j)
        with torch.no_grad():
            layer.mask[i, j] = 0.0
        layer.unset_symbolic(i, j)
        if log_history:
            self._log("remove_edge")

    def remove_node(self, l, i, mode="all", log_history=True):
        """Switch off every edge into and out of node i of hidden layer l, in place."""
        if not 1 <= l < self.depth or not 0 <= i < self.width_in[l]:
            raise ValueError(f"hidden node ({l}, {i}) does not exist.")
        from ._attribution import to_subnodes
        subs = to_subnodes(torch.arange(self.width_in[l]), self.width[l][0],
                           self.mult_arity[l]) == i
        with torch.no_grad():
            if mode in ("all", "down"):
                prev = self.layers[l - 1]
                for j in subs.nonzero()[:, 0].tolist():
                    for a in range(prev.in_dim):
                        prev.mask[a, j] = 0.0
                        prev.unset_symbolic(a, j)
            if mode in ("all", "up"):
                nxt = self.layers[l]
                for j in range(nxt.out_dim):
                    nxt.mask[i, j] = 0.0
                    nxt.unset_symbolic(i, j)
        if log_history:
            self._log("remove_node")

    # ---- symbolic edges ---------------------------------------------------------------------
    def fix_symbolic(self, l, i, j, fun_name, fit_params_bool=True, a_range=(-10, 10),
                     b_range=(-10, 10), verbose=True, random=False, log_history=True):
        """Snap edge (l, i, j) to c*f(a x + b) + d; returns the fit's r2 (pykan prints it)."""
        if random:
            _warn("fix_symbolic(random=True) is pykan's; the affine is fitted (or 1, 0, 1, 0).")
        r2 = super().fix_symbolic(l, i, j, fun_name, fit_params=fit_params_bool,
                                  a_range=a_range, b_range=b_range)
        if log_history:
            self._log("fix_symbolic")
        return r2

    def unfix_symbolic(self, l, i, j, log_history=True):
        super().unfix_symbolic(l, i, j)
        if log_history:
            self._log("unfix_symbolic")

    def unfix_symbolic_all(self, log_history=True):
        """Every symbolic edge back to its spline."""
        for layer in self.layers:
            for i, j in (layer.sym_mask != 0).nonzero().tolist():
                layer.unset_symbolic(i, j)
        if log_history:
            self._log("unfix_symbolic_all")

    def set_mode(self, l, i, j, mode, mask_n=None):
        """pykan's edge modes: 'n' spline only, 's' symbolic only, 'ns'/'sn' both, or 0/'0' off."""
        layer = self._check_edge(l, i, j)
        with torch.no_grad():
            if mode in ("n", "ns", "sn"):
                layer.mask[i, j] = 1.0 if mask_n is None else float(mask_n)
            else:
                layer.mask[i, j] = 0.0
            if mode not in ("s", "ns", "sn"):
                layer.sym_mask[i, j] = 0.0
            elif layer.sym_names[i][j] == "0":
                raise ValueError(f"edge ({l}, {i}, {j}) has no symbolic function; fix_symbolic "
                                 "it first.")
            else:
                layer.sym_mask[i, j] = 1.0
            layer._groups = None

    def suggest_symbolic(self, l, i, j, a_range=(-10, 10), b_range=(-10, 10), lib=None,
                         topk=5, verbose=True, r2_loss_fun=None, c_loss_fun=None,
                         weight_simple=0.8):
        """pykan's result: (name, torch function, r2, complexity) of the best candidate other
        than the zero function; the ranked list is printed when ``verbose``."""
        if r2_loss_fun is not None or c_loss_fun is not None:
            _warn("suggest_symbolic(r2_loss_fun=, c_loss_fun=) are pykan's; kansci ranks by "
                  "weight_simple * complexity + (1 - weight_simple) * log2(1 - r2).")
        ranked = super().suggest_symbolic(l, i, j, lib, topk, weight_simple, exclude_zero=True,
                                          a_range=a_range, b_range=b_range)
        if verbose:
            print(f"{'function':>10} {'fitting r2':>12} {'complexity':>11}")
            for s in ranked:
                print(f"{s.name:>10} {s.r2:12.6f} {s.complexity:11.0f}")
        best = ranked[0]
        return best.name, self.library[best.name].torch_fn, best.r2, best.complexity

    def auto_symbolic(self, a_range=(-10, 10), b_range=(-10, 10), lib=None, verbose=1,
                      weight_simple=0.8, r2_threshold=0.0):
        out = super().auto_symbolic(lib, weight_simple, r2_threshold, progress=bool(verbose),
                                    a_range=a_range, b_range=b_range)
        self._log("auto_symbolic")
        return out

    def symbolic_formula(self, var=None, normalizer=None, output_normalizer=None,
                         simplify=True, snap_tol=1e-4):
        """(formulas, variables) as pykan returns them. Spline edges left are left out (with
        a warning); ``normalizer`` = (mean, std) of the inputs the model saw, and
        ``output_normalizer`` = (mean, std) of its outputs, map the formulas back to the raw
        variables."""
        spline = [(l, i, j) for l, layer in enumerate(self.layers)
                  for i, j in ((layer.mask != 0) & (layer.sym_mask == 0)).nonzero().tolist()]
        model = self
        if spline:
            _warn(f"{len(spline)} edge(s) are still splines, e.g. {spline[:3]}; the formula "
                  "leaves them out (as pykan does). Snap them with fix_symbolic or "
                  "auto_symbolic first.")
            model = self._snapshot()  # a copy, without the history's states
            with torch.no_grad():
                for l, i, j in spline:
                    model.layers[l].mask[i, j] = 0.0
        formulas, variables = _model.MultKAN.symbolic_formula(model, var, simplify, snap_tol)
        if normalizer is not None:
            mean, std = (np.asarray(v, dtype=float).reshape(-1) for v in normalizer)
            sub = {v: (v - mean[k]) / std[k] for k, v in enumerate(variables)}
            formulas = [f.xreplace(sub) for f in formulas]
        if output_normalizer is not None:
            mean, std = (np.asarray(v, dtype=float).reshape(-1) for v in output_normalizer)
            formulas = [f * std[k] + mean[k] for k, f in enumerate(formulas)]
        return formulas, variables

    def get_fun(self, l, i, j):
        """(inputs, outputs) of edge (l, i, j) on the kept inputs, sorted by input."""
        from ._symbolic import edge_data
        self._check_edge(l, i, j)
        return edge_data(self, l, i, j, None, n_max=10**9)

    def get_range(self, l, i, j, verbose=True):
        """(x_min, x_max, y_min, y_max) of edge (l, i, j) on the kept inputs."""
        xs, ys = self.get_fun(l, i, j)
        return xs.min(), xs.max(), ys.min(), ys.max()

    # ---- attribution ------------------------------------------------------------------------
    def attribute(self, l=None, i=None, out_score=None, plot=True):
        """Without l, i: attribution scores of every node and edge (on the kept inputs). With
        them: how much each input matters to node i of layer l, shape (width[0],)."""
        if isinstance(l, torch.Tensor) or l is None and i is None:
            return super().attribute(l)
        from ._attribution import node_input_scores
        return node_input_scores(self, l, i)

    def node_attribute(self):
        """Attribution scores of every node (``node_scores``), computed on the kept inputs."""
        super().attribute()

    def feature_interaction(self, l, neuron_th=1e-2, feature_th=1e-2):
        """For each node of layer l scoring above ``neuron_th``: the inputs scoring above
        ``feature_th`` for it, as {node: (inputs...)}."""
        super().attribute()
        groups = {}
        for n in range(self.width_in[l]):
            if float(self.node_scores[l][n]) > neuron_th:
                s = self.attribute(l, n)
                groups[n] = tuple((s > feature_th).nonzero()[:, 0].tolist())
        return groups

    # ---- pictures ---------------------------------------------------------------------------
    def plot(self, folder=_UNSET, beta=3, metric="backward", scale=0.5, tick=_UNSET,
             sample=_UNSET, in_vars=None, out_vars=None, title=None, varscale=1.0):
        """Draw the network on the kept inputs as the current matplotlib figure (``plt.savefig``
        saves it; ``plt.gcf()`` returns it). Returns None, as pykan's: in Jupyter a returned
        figure would show twice."""
        for name, value in (("folder", folder), ("tick", tick), ("sample", sample)):
            if value is not _UNSET and value not in (False, "./figures"):
                _warn(f"plot({name}=...) is pykan's and changes nothing here: the figure is "
                      "drawn as one matplotlib figure (no per-edge images, no ticks).")
        from ._draw import draw
        x = self._prepare(None)
        if in_vars is not None:
            in_vars = [f"${sympy.latex(v)}$" if isinstance(v, sympy.Basic) else v
                       for v in in_vars]
        if out_vars is not None:
            out_vars = [f"${sympy.latex(v)}$" if isinstance(v, sympy.Basic) else v
                        for v in out_vars]
        draw(self, x, beta, metric, scale, in_vars, out_vars, title, varscale)

    def tree(self, x=None, in_var=None, style="tree", sym_th=1e-3, sep_th=1e-1,
             skip_sep_test=False, verbose=False):
        """The tree converter on this model (see ``plot_tree``)."""
        return plot_tree(self, self._prepare(x), in_var=in_var, style=style, sym_th=sym_th,
                         sep_th=sep_th)

    def reg(self, reg_metric="edge_forward_spline_n", lamb_l1=1.0, lamb_entropy=2.0,
            lamb_coef=0.0, lamb_coefdiff=0.0):
        """pykan's regulariser (L1 + entropy of the edge scales, coefficient terms) on the kept
        inputs, differentiable (for a custom training loop)."""
        if reg_metric != "edge_forward_spline_n":
            _warn("reg(reg_metric=...) is pykan's; kansci's regulariser is its default "
                  "'edge_forward_spline_n'.")
        from ._train import regularizer
        _, scales = self._run_fused(self._prepare(None), with_scale=True)
        return regularizer(self, scales, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff)

    get_reg = reg

    # ---- pykan odds and ends ----------------------------------------------------------------
    def speed(self, compile=False):
        """pykan's switch to a faster mode: kansci is always in its fast mode; returns self."""
        _warn("speed() is pykan's: kansci has no slow mode (the fast training step and the "
              "symbolic edges are always on).")
        return self

    def copy(self):
        """An independent copy (it shares this model's history of ids)."""
        return self._adopt(self._snapshot(), history=self._history)

    def evaluate(self, dataset):
        """{'test_loss': RMSE on the test set, 'n_edge', 'n_grid'} (pykan's summary)."""
        x = _as_input(dataset["test_input"], self.n_in, self.dtype, self.device)
        with torch.no_grad():
            err = torch.sqrt(torch.mean((self(x) - dataset["test_label"]) ** 2)).item()
        return {"test_loss": err, "n_edge": self.n_edge, "n_grid": self.grid}

    def saveckpt(self, path="model"):
        """Save to ``path`` + '.kan' (kansci's file format; ``loadckpt`` reads it back)."""
        self.save(_ckpt(path))

    @staticmethod
    def loadckpt(path="model"):
        return MultKAN._adopt(_model.MultKAN.load(_ckpt(path), library=SYMBOLIC_LIB))

    def update_grid_from_samples(self, x):
        return self.update_grid(x)

    def initialize_from_another_model(self, another_model, x):
        """Fit this model's splines to another model's edges on x (pykan's way to start a finer
        grid); same width required."""
        if another_model.width != self.width:
            raise ValueError(f"widths differ: {self.width} vs {another_model.width}.")
        new = another_model.refine(self.grid, x)
        self._become(self._adopt(new, history=self._history))
        return self


class _SymbolicView:
    """One layer's symbolic edges as pykan's Symbolic_KANLayer shows them ((out, in) layout);
    copies, not views: edit through the model's methods."""

    def __init__(self, layer):
        self.in_dim, self.out_dim = layer.in_dim, layer.out_dim
        self.funs_name = [[layer.sym_names[i][j] for i in range(layer.in_dim)]
                          for j in range(layer.out_dim)]
        self.mask = layer.sym_mask.detach().t().clone()
        self.affine = layer.sym_affine.detach().permute(1, 0, 2).clone()

    def __repr__(self) -> str:
        return f"Symbolic_KANLayer(in={self.in_dim}, out={self.out_dim})"


def _ckpt(path) -> str:
    path = str(path)
    return path if path.endswith(".kan") else path + ".kan"


KAN = MultKAN


# ---- functions a pykan script calls -----------------------------------------------------------
def create_dataset(f, n_var=2, f_mode="col", ranges=(-1, 1), train_num=1000, test_num=1000,
                   normalize_input=False, normalize_label=False, device="cpu", seed=0):
    """pykan's create_dataset (the same points for the same seed), in the default dtype."""
    return _create_dataset(f, n_var, ranges, train_num, test_num, normalize_input,
                           normalize_label, seed, device, None, f_mode)


def create_dataset_from_data(inputs, labels, train_ratio=0.8, device="cpu", seed=None):
    """Split (inputs, labels) at random into train and test parts (pykan's; ``seed`` makes the
    split reproducible without touching the global RNG)."""
    inputs, labels = torch.as_tensor(inputs), torch.as_tensor(labels)
    n = inputs.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"inputs has {n} samples but labels has {labels.shape[0]}.")
    gen = np.random.default_rng(seed)
    train_id = gen.choice(n, int(n * train_ratio), replace=False)
    test_id = np.setdiff1d(np.arange(n), train_id)
    return {"train_input": inputs[train_id].to(device), "train_label": labels[train_id].to(device),
            "test_input": inputs[test_id].to(device), "test_label": labels[test_id].to(device)}


def extend_grid(grid, k_extend=0):
    """The grid (in, n) with ``k_extend`` more knots on each side: (in, n + 2 k_extend)."""
    from ._spline import extend_grid as _extend
    return _extend(grid, k_extend)


def B_batch(x, grid, k=0, extend=True, device="cpu"):
    """B-spline basis values: x (batch, in), an extended grid (in, G + 2k + 1) -> (batch, in,
    G + k) (pykan's; ``extend`` and ``device`` are pykan's leftovers and unused)."""
    from ._spline import dense_basis
    x, grid = torch.as_tensor(x), torch.as_tensor(grid)
    if grid.shape[0] == 1 and x.shape[1] > 1:  # one grid for every column, as pykan broadcasts
        grid = grid.expand(x.shape[1], -1)
    return dense_basis(x, grid.contiguous(), int(k))


def ex_round(ex1, n_digit):
    """Every float in the sympy expression rounded to ``n_digit`` decimals."""
    ex1 = sympy.sympify(ex1)
    return ex1.xreplace({a: sympy.Float(round(float(a), n_digit)) for a in ex1.atoms(sympy.Float)})


def augment_input(orig_vars, aux_vars, x):
    """Append auxiliary variables (sympy expressions of ``orig_vars``) to x as new columns:
    x (batch, len(orig_vars)) or a dataset dict (both splits) -> with len(aux_vars) more."""
    def extend(t):
        fns = [lambdify(orig_vars, v, "numpy") for v in aux_vars]
        cols = [torch.as_tensor(np.broadcast_to(fn(*t.detach().cpu().numpy().T), t.shape[:1]),
                                dtype=t.dtype, device=t.device)[:, None] for fn in fns]
        return torch.cat([t, *cols], 1)
    if isinstance(x, dict):
        x["train_input"] = extend(x["train_input"])
        x["test_input"] = extend(x["test_input"])
        return x
    return extend(x)


def batch_jacobian(func, x, create_graph=False, mode="scalar"):
    """d func(x)[b] / d x[b] for every sample b: (batch, out, in) (``mode='scalar'`` with one
    output: (batch, in))."""
    def summed(t):
        return func(t).sum(0)
    jac = torch.autograd.functional.jacobian(summed, x, create_graph=create_graph)
    if mode == "scalar" and jac.ndim == 3 and jac.shape[0] == 1:
        return jac[0]
    return jac.permute(1, 0, 2) if jac.ndim == 3 else jac


def batch_hessian(model, x, create_graph=False):
    """Per-sample Hessian of a scalar model: (batch, in, in)."""
    def jac(t):
        return batch_jacobian(model, t, create_graph=True)
    def summed(t):
        return jac(t).sum(0)
    return torch.autograd.functional.jacobian(summed, x, create_graph=create_graph).permute(1, 0, 2)


def fit_params(x, y, fun, a_range=(-10, 10), b_range=(-10, 10), grid_number=101, iteration=3,
               verbose=True, device="cpu"):
    """Fit y ~ c*fun(a*x + b) + d: returns ([a, b, c, d], r2) as pykan does."""
    from ._symbolic_fit import fit_affine
    affine, r2 = fit_affine(torch.as_tensor(x), torch.as_tensor(y), fun, a_range, b_range)
    return torch.tensor(affine), r2


def add_symbolic(name, fun, c=1, fun_singularity=None):
    """Register a symbolic function under ``name`` for every KAN of this namespace, as pykan
    does (pykan's signature: ``fun`` a torch function; its SymPy form is SymPy's function of
    that name when there is one). kansci's own ``SYMBOLIC_LIB`` is left as it is."""
    sym = None  # a bad name: add_symbolic says so
    if isinstance(name, str) and name:
        sym = getattr(sympy, name, None)
        sym = sym if callable(sym) else sympy.Function(name)
    # checked and built as kansci's add_symbolic builds it; kept in this namespace's library
    SYMBOLIC_LIB._entries[name] = _add_symbolic(name, fun, sym, c)[name]


def detect_separability(model, x, mode="add", score_th=1e-2, res_th=1e-2, n_clusters=None,
                        bias=0.0, verbose=False):
    """Groups of inputs that separate additively (``mode='add'``) or multiplicatively."""
    return _detect_separability(model, x, mode, score_th)


def test_separability(model, x, groups, mode="add", threshold=1e-2, bias=0):
    """Whether model(x) separates over ``groups`` (a list of input groups) by ``mode``."""
    found = _detect_separability(model, x, mode, threshold)  # the coupled inputs, grouped
    return all(len([g for g in groups if set(g) & set(h)]) <= 1 for h in found)


def test_general_separability(model, x, groups, threshold=1e-2):
    """Whether model(x) = F(h_1(group 1), h_2(group 2), ...): each group enters only through
    one function of its variables. ``groups`` may also be one group (a list of indices)."""
    if all(isinstance(g, (int, np.integer)) for g in groups):
        return _test_general_separability(model, x, groups, threshold)
    return all(_test_symmetry(model, x, g, threshold=threshold) for g in groups)


def test_symmetry(model, x, group, dependence_th=1e-3):
    """Whether the inputs in ``group`` enter model(x) only through one combination."""
    return _test_symmetry(model, x, group, threshold=dependence_th)


def test_symmetry_var(model, x, input_vars, symmetry_var):
    """Whether model(x) depends on its inputs only through ``symmetry_var`` (a sympy expression
    of ``input_vars``) and the inputs it leaves out: the gradient of the model lies in the span
    of the gradient of symmetry_var and the other inputs' directions. Returns the fraction of
    samples where it does (pykan prints it)."""
    x = torch.as_tensor(x).clone().requires_grad_(True)
    grad_f = torch.autograd.grad(model(x).sum(), x)[0]  # (batch, d)
    syms = list(input_vars)
    fn = lambdify(syms, symmetry_var, "numpy")
    dfs = [lambdify(syms, sympy.diff(symmetry_var, v), "numpy") for v in syms]
    xs = x.detach().cpu().numpy().T
    grad_s = np.stack([np.broadcast_to(np.asarray(d(*xs), dtype=float), xs.shape[1:]) for d in dfs], 1)
    used = [k for k, v in enumerate(syms) if v in symmetry_var.free_symbols]
    gf = grad_f.detach().cpu().numpy()[:, used]
    gs = grad_s[:, used]
    cos = np.abs((gf * gs).sum(1)) / (np.linalg.norm(gf, axis=1) * np.linalg.norm(gs, axis=1) + 1e-12)
    ratio = float(np.mean(cos > 1 - 1e-3))
    print(f"{100 * ratio:.1f}% data have more than 0.999 cosine similarity")
    return ratio


def plot_tree(model, x, in_var=None, style="tree", sym_th=1e-3, sep_th=1e-1,
              skip_sep_test=False, verbose=False):
    """The tree converter's picture of model(x) (``style`` is pykan's: one drawing here)."""
    return _plot_tree(model, x, in_vars=in_var, threshold=sym_th)


def kanpiler(input_variables, expr, grid=5, k=3, auto_lamb=True):
    """Compile the sympy expression into a KAN (pykan's kanpiler), in the default dtype."""
    from ._kanpiler import kanpiler as _kanpiler
    return MultKAN._adopt(_kanpiler(list(input_variables), expr, grid=grid, k=k,
                                    dtype=torch.get_default_dtype()))


def model2param(model):
    """Every parameter of the model, flattened into one vector (model.parameters() order)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


class _Objective(nn.Module):
    """pykan's loss of a model on (inputs, labels) as a module, so that torch.func can call it
    with other parameters: mean squared error ("pred"), the regulariser ("reg") or both."""

    def __init__(self, model, mode, lamb, lamb_l1, lamb_entropy):
        super().__init__()
        self.model, self.mode = model, mode
        self.weights = (lamb, lamb_l1, lamb_entropy)

    def forward(self, inputs, labels):
        from ._train import regularizer
        lamb, lamb_l1, lamb_entropy = self.weights
        pred, scales = self.model._run_fused(self.model._prepare(inputs),
                                             with_scale=self.mode != "pred")
        mse = torch.mean((pred - labels) ** 2)
        if self.mode == "pred":
            return mse
        reg = regularizer(self.model, scales, lamb_l1, lamb_entropy)
        return reg if self.mode == "reg" else mse + lamb * reg


def get_derivative(model, inputs, labels, derivative="hessian", loss_mode="pred", reg_metric="w",
                   lamb=0.0, lamb_l1=1.0, lamb_entropy=0.0):
    """The Jacobian (1, P) or Hessian (1, P, P) of the loss with respect to the P parameters
    of ``model2param``: ``loss_mode`` "pred" (mean squared error on inputs, labels), "reg"
    (the regulariser, pykan's default metric) or "all" (pred + lamb * reg)."""
    if derivative not in ("hessian", "jacobian"):
        raise ValueError(f"derivative must be 'hessian' or 'jacobian'; got {derivative!r}.")
    if loss_mode not in ("pred", "reg", "all"):
        raise ValueError(f"loss_mode must be 'pred', 'reg' or 'all'; got {loss_mode!r}.")
    objective = _Objective(model, loss_mode, lamb, lamb_l1, lamb_entropy)
    names = [f"model.{n}" for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def loss(flat):
        params = {n: t.reshape(shape) for n, t, shape in zip(names, flat.split(sizes), shapes)}
        return torch.func.functional_call(objective, params, (inputs, labels))

    p = model2param(model)
    if derivative == "hessian":
        return torch.autograd.functional.hessian(loss, p)[None]
    return torch.autograd.functional.jacobian(loss, p)[None]


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS taking pykan's extra keyword (``tolerance_ys``, unused)."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, tolerance_ys=1e-32, history_size=100,
                 line_search_fn=None):
        super().__init__(params, lr=lr, max_iter=max_iter, max_eval=max_eval,
                         tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                         history_size=history_size, line_search_fn=line_search_fn)
