"""The explorer's logic without any widget: the model, its data, the selected edge, the edits
(snap, unsnap, snap all, prune, compile a formula, train) with undo/redo, and training in a
background thread that a Stop request ends at the next step.

Every edit keeps the model as it was before (a copy in memory; nothing is written to disk), so
``undo`` and ``redo`` walk through the states. Listeners registered with ``on_change`` hear
"model", "selection", "loss" and "training" events (from the training thread for the last two).
"""
from __future__ import annotations

import threading
from typing import Callable

import sympy
import torch

from kansci._data import as_dataset
from kansci._kanpiler import formula_names, kanpiler, parse_formula
from kansci._model import MultKAN
from kansci._prune import copy_model

from ._view import edge_id

EVENTS = ("model", "selection", "loss", "training")


def edge_node_threshold(threshold: float) -> tuple[float, float]:
    """(node_th, edge_th) of the prune slider: pykan's default ratio edge_th = 3 node_th."""
    return threshold, 3.0 * threshold


class ExplorerState:
    """State and actions of one explorer.

    model: a MultKAN (edited in place by snaps, replaced by prune/compile/undo: read
    ``state.model`` each time). dataset: anything ``fit`` accepts (its training inputs give the
    curves, scores and symbolic fits; without one, the model's last training inputs)."""

    def __init__(self, model, dataset=None, max_history: int = 50, seed: int = 0):
        self.model = model
        self.data = None
        if dataset is not None:
            self.data, in_names, out_names = as_dataset(dataset, None, model.n_in, model.dtype,
                                                        model.device)
            if model.in_vars is None and in_names is not None:
                model.in_vars = in_names
            if model.out_vars is None and out_names is not None:
                model.out_vars = out_names
        self.selected: tuple[int, int, int] | None = None
        self.history: list[float] = []  # train RMSE per step over all runs
        self.test_history: list[float] = []
        self.message = ""  # the last error or notice, for the UI
        self._past: list[tuple[str, object]] = []
        self._future: list[tuple[str, object]] = []
        self._max_history = max_history
        self._listeners: list[Callable[[str], None]] = []
        self._thread: threading.Thread | None = None
        self._busy = False
        self._stop = threading.Event()
        self._gen = torch.Generator().manual_seed(int(seed))
        self._fallback_x = None
        self._seen = model.revision  # the model as the listeners last saw it (see follow)

    # ---- events --------------------------------------------------------------------------
    def on_change(self, fn: Callable[[str], None]) -> None:
        """Call fn(event) after every change; event is one of ``EVENTS``."""
        self._listeners.append(fn)

    def _notify(self, event: str) -> None:
        if event == "model":
            self._seen = self.model.revision  # what the listeners are told about
        for fn in list(self._listeners):
            fn(event)

    # ---- data ----------------------------------------------------------------------------
    @property
    def x(self) -> torch.Tensor:
        """Inputs (batch, n_in) for curves, scores and fits: the dataset's training inputs,
        else the model's last training inputs, else uniform samples on [-1, 1]."""
        if self.data is not None and self.data["train_input"].shape[1] == self.model.n_in:
            return self.data["train_input"]
        if self.model.cache_data is not None:
            return self.model.cache_data
        if self._fallback_x is None or self._fallback_x.shape[1] != self.model.n_in:
            self._fallback_x = (torch.rand(512, self.model.n_in, generator=self._gen,
                                           dtype=self.model.dtype) * 2 - 1).to(self.model.device)
        return self._fallback_x

    # ---- selection -----------------------------------------------------------------------
    def select(self, edge: tuple[int, int, int] | None) -> None:
        if edge is not None:
            self.model._check_edge(*edge)
            edge = tuple(int(v) for v in edge)
        self.selected = edge
        self._notify("selection")

    def suggestions(self, topk: int = 5) -> list:
        """Ranked symbolic candidates of the selected edge (``Suggestion`` objects; not the
        zero function: removing an edge is pruning's job)."""
        if self.selected is None:
            return []
        return self.model.suggest_symbolic(*self.selected, topk=topk, x=self.x,
                                           exclude_zero=True)

    # ---- edits (each one undoable) -------------------------------------------------------
    def _edit(self, label: str, change: Callable[[object], object]):
        """Run ``change(model)``, which edits the model in place or returns a new MultKAN; the
        state before is kept for undo. A failing change leaves the model as it was."""
        if self.training:
            raise RuntimeError("training is running: stop it before editing the model.")
        before = copy_model(self.model)
        widths = repr(self.model.width)
        try:
            result = change(self.model)
        except Exception:
            self.model = before
            raise
        if isinstance(result, MultKAN):
            self.model = result
        self._remember(label, before)
        self._drop_stale_selection(widths)
        self.message = ""
        self._notify("model")
        return result

    def _remember(self, label: str, before) -> None:
        """Keep the model as it was before an edit for undo (a new edit ends any redo)."""
        self._past.append((label, before))
        del self._past[:-self._max_history]
        self._future.clear()

    def _drop_stale_selection(self, widths=None) -> bool:
        """Forget the selected edge if the current model has no such edge, the edge is pruned,
        or the network's widths differ from ``widths`` (the same id would name another edge);
        whether it was forgotten."""
        if self.selected is None:
            return False
        l, i, j = self.selected
        layers = self.model.layers
        if (l < len(layers) and i < layers[l].in_dim and j < layers[l].out_dim
                and bool(layers[l].active[i, j])
                and (widths is None or widths == repr(self.model.width))):
            return False
        self.selected = None
        return True

    # ---- following changes made elsewhere --------------------------------------------------
    def follow(self) -> str | None:
        """Catch up with changes made to the model outside this state (a notebook cell,
        another explorer): if its ``revision`` moved since the state last told its listeners,
        a selection that no longer names the same edge is dropped and listeners get "model".
        Returns a notice saying so, or None when nothing changed. Nothing happens while
        training runs here (training reports its own steps)."""
        if self.training:
            return None
        seen = self._seen
        if self.model.revision == seen:
            return None
        dropped = self._drop_stale_selection(seen[0])
        self._notify("model")
        return ("the model was changed from code: redrawn"
                + (", edge selection cleared." if dropped else "."))

    def replace(self, model: MultKAN, label: str = "replace the model") -> None:
        """Show another model (undoable): e.g. ``explorer.model = model.prune()``."""
        if not isinstance(model, MultKAN):
            raise TypeError(f"the explorer shows a kansci MultKAN; got {type(model).__name__}.")
        self._edit(label, lambda m: model)

    def snap(self, name: str, edge: tuple[int, int, int] | None = None) -> float | None:
        """Snap an edge (default: the selected one) to function ``name``; returns the fit's r2."""
        edge = self._edge(edge)
        return self._edit(f"snap {edge_id(*edge)} to {name}",
                          lambda m: m.fix_symbolic(*edge, name, x=self.x))

    def unsnap(self, edge: tuple[int, int, int] | None = None) -> None:
        edge = self._edge(edge)
        self._edit(f"unsnap {edge_id(*edge)}", lambda m: m.unfix_symbolic(*edge))

    def snap_all(self, lib=None) -> dict:
        """Snap every remaining spline edge to its best candidate (``auto_symbolic``)."""
        return self._edit("snap all", lambda m: m.auto_symbolic(lib=lib, x=self.x,
                                                                progress=False))

    def prune_preview(self, threshold: float):
        """(nodes, edges) masks of what ``prune(threshold)`` would remove (see prune_plan)."""
        return self.model.prune_plan(*edge_node_threshold(threshold), x=self.x)

    def prune(self, threshold: float) -> None:
        node_th, edge_th = edge_node_threshold(threshold)
        self._edit(f"prune at {threshold:g}", lambda m: m.prune(node_th, edge_th, x=self.x))

    def arrange(self) -> float:
        """Reorder the hidden nodes so modules are drawn side by side (``auto_swap``; the
        function is unchanged); returns the connection cost reached."""
        reached = []
        self._edit("arrange nodes", lambda m: reached.append(m.auto_swap(x=self.x)))
        return reached[0]

    def compile(self, text: str) -> None:
        """Replace the model by the network of a formula (kanpiler). Its variables are the
        dataset's input names when the formula uses only those, else the names it uses."""
        names = formula_names(text)
        data_names = list(self.model.in_vars or []) if self.data is not None else []
        variables = data_names if names and set(names) <= set(data_names) else names
        if not variables:
            raise ValueError(f"formula {text!r} has no variables.")
        expr = parse_formula(text, variables)
        net = kanpiler([sympy.Symbol(v) for v in variables], expr, dtype=self.model.dtype,
                       device=self.model.device)
        net.in_vars = list(variables)
        net.out_vars = self.model.out_vars
        self._edit(f"compile {text}", lambda m: net)

    @property
    def can_undo(self) -> bool:
        return bool(self._past) and not self.training

    @property
    def can_redo(self) -> bool:
        return bool(self._future) and not self.training

    def undo(self) -> str:
        """Go back one edit; returns its label."""
        return self._step(self._past, self._future, "undo")

    def redo(self) -> str:
        return self._step(self._future, self._past, "redo")

    def _step(self, source, target, what: str) -> str:
        if self.training:
            raise RuntimeError(f"training is running: stop it before {what}.")
        if not source:
            raise ValueError(f"nothing to {what}.")
        label, model = source.pop()
        target.append((label, self.model))
        widths = repr(self.model.width)
        self.model = model
        self._drop_stale_selection(widths)
        self._notify("model")
        return label

    def _edge(self, edge):
        edge = self.selected if edge is None else tuple(int(v) for v in edge)
        if edge is None:
            raise ValueError("no edge selected: click an edge first.")
        self.model._check_edge(*edge)
        return edge

    # ---- formula ---------------------------------------------------------------------------
    def pending_edges(self) -> list[tuple[int, int, int]]:
        """Active edges that are still splines."""
        return [(l, i, j) for l, layer in enumerate(self.model.layers)
                for i, j in ((layer.mask != 0) & (layer.sym_mask == 0)).nonzero().tolist()]

    def formula(self) -> list[sympy.Expr] | None:
        """The model's formulas (one per output) once every active edge is symbolic, else None."""
        if self.pending_edges():
            return None
        return self.model.symbolic_formula()[0]

    # ---- training --------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        """Whether a training run is going on (False from the moment it has finished)."""
        return self._busy

    def train(self, steps: int = 50, opt: str = "LBFGS", lamb: float = 0.0,
              **fit_kwargs) -> threading.Thread:
        """Start ``fit`` in a background thread (undoable as one edit). Loss events come at
        every step; ``stop()`` ends it at the next step, keeping the best state seen."""
        if self.training:
            raise RuntimeError("training is already running.")
        if self.data is None or self.data["train_input"].shape[1] != self.model.n_in:
            raise ValueError("no training data for this model: pass a dataset whose inputs "
                             "match the model's.")
        self._remember(f"train {steps} steps", copy_model(self.model))
        self._stop.clear()
        self.message = ""

        def callback(step, logs, model):
            self.history.append(logs["train_loss"])
            if logs["test_loss"] is not None:
                self.test_history.append(logs["test_loss"])
            self._notify("loss")
            return self._stop.is_set()

        def run():
            try:
                hist = self.model.fit(self.data, opt=opt, steps=steps, lamb=lamb,
                                      callbacks=callback, progress=False, **fit_kwargs)
                if hist["stop_reason"] == "non-finite loss":
                    self.message = "training stopped: the loss is not finite (best state kept)."
            except Exception as err:  # shown in the UI; the model keeps its last state
                self.message = f"training failed: {err}"
            finally:
                self._busy = False
                self._notify("training")
                self._notify("model")

        self._busy = True
        self._thread = threading.Thread(target=run, name="kansci-train", daemon=True)
        self._thread.start()
        self._notify("training")
        return self._thread

    def stop(self, timeout: float | None = None) -> bool:
        """Ask training to stop; wait up to ``timeout`` seconds. True once it has stopped."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
