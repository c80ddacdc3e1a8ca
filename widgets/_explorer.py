"""Explorer: the JupyterLab application over one model and its data.

Left, the network (``NetworkView``: every edge's curve, opacity from attribution, snapped edges
coloured and named); click an edge to inspect it on the right (its curve and data, the ranked
symbolic candidates, Snap / Unsnap / Snap all). Tabs beside the inspector: Prune (a threshold
slider previews what would go; Apply; Arrange nodes puts modules side by side), Train (optimizer, steps, lamb, Start / Stop, live loss),
Compile (a formula -> network), Tree (the tree converter). Above: Undo / Redo and messages;
below: the formula. The logic lives in ``ExplorerState``; this module only wires widgets to it.
Errors appear as messages in the widget, never as a dead widget.
"""
from __future__ import annotations

import html
import threading
import time
import weakref

import ipywidgets as w
import sympy

from ._copy import CopyButton
from ._network import NetworkView
from ._plot import LinePlot
from ._state import ExplorerState
from ._tree import tree_svg
from ._view import edge_detail, edge_id, network_view, parse_edge_id

LOSS_PERIOD_S = 0.1  # loss curve refresh during training
VIEW_PERIOD_S = 1.0  # network refresh during training

# colours: JupyterLab's theme variables (light and dark), the light theme's values outside it
_ACCENT = "var(--jp-brand-color1, #1f6fd1)"
_INK = "var(--jp-content-font-color1, #222)"
_DATA = "var(--jp-content-font-color3, #999)"
_NOTICE = "var(--jp-ui-font-color2, #555)"
_ERROR = "var(--jp-error-color1, #b00020)"
FORMULA_DIGITS = 4  # significant digits of the formula's constants, unless chosen
_LR = {"LBFGS": 1.0, "Adam": 0.01}  # the learning rate a new choice of optimizer starts from


def _button(description: str, tooltip: str = "", style: str = "") -> w.Button:
    return w.Button(description=description, tooltip=tooltip, button_style=style,
                    layout=w.Layout(width="auto"))


class Explorer(w.VBox):
    """Interactive explorer of a MultKAN. ``explorer.model`` is the current model (snaps edit
    it in place; prune, compile and undo replace it).

    model: a MultKAN. dataset: anything ``fit`` accepts (needed to train; its inputs give the
    curves, scores and symbolic fits)."""

    def __init__(self, model, dataset=None, *, width: int = 620, height: int = 460):
        self.state = ExplorerState(model, dataset)
        self._lock = threading.RLock()
        self._last_loss = self._last_view = 0.0
        self._faded = None
        self.network = NetworkView(layout=w.Layout(flex="1 1 auto"))
        self._size = (width, height)
        self.message = w.HTML(layout=w.Layout(min_height="1.6em"))
        self.undo_button = _button("↶ Undo", "undo the last edit")
        self.redo_button = _button("↷ Redo", "redo")
        toolbar = w.HBox([self.undo_button, self.redo_button, self.message])

        self.inspector = self._build_inspector()
        self.pruner = self._build_pruner()
        self.trainer = self._build_trainer()
        self.compiler = self._build_compiler()
        self.tree = self._build_tree()
        self.tabs = w.Tab(children=[self.inspector, self.pruner, self.trainer, self.compiler,
                                    self.tree], layout=w.Layout(width="420px"))
        for k, title in enumerate(("Edge", "Prune", "Train", "Compile", "Tree")):
            self.tabs.set_title(k, title)
        self.formula = w.HTMLMath(layout=w.Layout(min_height="2em"))
        self.digits = w.BoundedIntText(value=FORMULA_DIGITS, min=1, max=15, description="digits",
                                       tooltip="significant digits of the fitted constants",
                                       layout=w.Layout(width="140px"))
        self.copy_latex = CopyButton(description="Copy LaTeX", disabled=True,
                                     tooltip="the formula as LaTeX, to the clipboard")
        self.copy_sympy = CopyButton(description="Copy SymPy", disabled=True,
                                     tooltip="the formula as SymPy code, to the clipboard")
        self.digits.observe(lambda _: self._show_formula(), names="value")
        formula_bar = w.HBox([self.formula, self.digits, self.copy_latex, self.copy_sympy],
                             layout=w.Layout(align_items="center"))
        super().__init__([toolbar, w.HBox([self.network, self.tabs]), formula_bar])
        self.add_class("kansci-explorer")

        self.network.observe(self._on_click, names="selected")
        self.undo_button.on_click(lambda _: self._act(self.state.undo, "undid"))
        self.redo_button.on_click(lambda _: self._act(self.state.redo, "redid"))
        self.state.on_change(self._on_state)
        self.network.on_msg(self._on_network_message)
        self._unwatch = _watch_cells(self)
        self._refresh()

    @property
    def model(self):
        """The model shown. Edits made to it from code are followed (checked after every
        notebook cell and every second while the kernel is idle); assign another model to show
        it instead (undoable), e.g. ``explorer.model = explorer.model.prune()``."""
        return self.state.model

    @model.setter
    def model(self, model) -> None:
        with self._lock:
            self.state.replace(model)
        self._say("model replaced")

    def close(self) -> None:
        self._unwatch()
        super().close()

    # ---- following changes made from code ----------------------------------------------------
    def follow(self) -> bool:
        """Redraw if the model was changed outside the explorer (see ``ExplorerState.follow``);
        whether it was."""
        with self._lock:
            notice = self.state.follow()
        if notice:
            self._say(notice)
        return notice is not None

    def _on_network_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("poll"):  # the page's idle-time check
            self.follow()

    # ---- building ------------------------------------------------------------------------
    def _build_inspector(self) -> w.VBox:
        self.edge_title = w.HTML("<i>Click an edge of the network.</i>")
        self.edge_plot = LinePlot(width=400, height=250, x_label="input", y_label="edge value")
        self.candidates = w.Select(options=[], rows=6, layout=w.Layout(width="100%"))
        self.snap_button = _button("Snap", "snap the edge to the chosen function", "primary")
        self.unsnap_button = _button("Unsnap", "back to the spline")
        self.snap_all_button = _button("Snap all", "snap every spline edge to its best function")
        self.candidates.observe(lambda _: self._show_candidate(), names="value")
        self.snap_button.on_click(lambda _: self._snap())
        self.unsnap_button.on_click(lambda _: self._act(self.state.unsnap, "unsnapped"))
        self.snap_all_button.on_click(lambda _: self._act(self.state.snap_all, "snapped all"))
        buttons = w.HBox([self.snap_button, self.unsnap_button, self.snap_all_button])
        return w.VBox([self.edge_title, self.edge_plot, w.HTML(
            "Symbolic candidates c·f(a·x + b) + d (function, R², complexity, fitted a, b, c, d):"),
            self.candidates, buttons])

    def _build_pruner(self) -> w.VBox:
        self.prune_slider = w.FloatLogSlider(value=1e-2, base=10, min=-4, max=0, step=0.05,
                                             description="threshold", readout_format=".1e",
                                             continuous_update=False)
        self.prune_info = w.HTML()
        self.prune_button = _button("Apply", "prune the faded nodes and edges", "warning")
        self.prune_clear = _button("Clear preview")
        self.arrange_button = _button("Arrange nodes", "reorder hidden nodes so that modules sit "
                                      "side by side (same function)")
        self.prune_slider.observe(lambda _: self._preview(), names="value")
        self.prune_button.on_click(lambda _: self._prune())
        self.prune_clear.on_click(lambda _: self._clear_preview())
        self.arrange_button.on_click(lambda _: self._act(self.state.arrange, "nodes arranged"))
        return w.VBox([w.HTML("Nodes scoring below the threshold and edges below 3× it go; "
                              "moving the slider fades them in the network."),
                       self.prune_slider, self.prune_info,
                       w.HBox([self.prune_button, self.prune_clear, self.arrange_button])])

    def _build_trainer(self) -> w.VBox:
        self.opt = w.Dropdown(options=["LBFGS", "Adam"], value="LBFGS", description="optimizer")
        self.steps = w.BoundedIntText(value=50, min=1, max=10**7, description="steps")
        self.lamb = w.BoundedFloatText(value=0.0, min=0.0, max=1e3, step=1e-4, description="lamb")
        self.lr = w.BoundedFloatText(value=1.0, min=0.0, max=1e3, step=1e-3, description="lr")
        self.opt.observe(lambda c: setattr(self.lr, "value", _LR[c["new"]]), names="value")
        self.start_button = _button("Start", "train in the background", "success")
        self.stop_button = _button("Stop", "stop at the next step (keeps the best state)", "danger")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="100%"))
        self.loss_plot = LinePlot(width=400, height=230, log_y=True, x_label="step",
                                  y_label="RMSE", title="loss")
        self.start_button.on_click(lambda _: self._train())
        self.stop_button.on_click(lambda _: self.state.stop(timeout=0))
        return w.VBox([self.opt, self.steps, self.lamb, self.lr,
                       w.HBox([self.start_button, self.stop_button]), self.progress,
                       self.loss_plot])

    def _build_compiler(self) -> w.VBox:
        self.formula_text = w.Text(placeholder="e.g. exp(sin(pi*x_1) + x_2**2)",
                                   layout=w.Layout(width="100%"))
        self.compile_button = _button("Compile", "build the network of this formula", "primary")
        self.compile_button.on_click(lambda _: self._act(
            lambda: self.state.compile(self.formula_text.value), "compiled"))
        return w.VBox([w.HTML("Type a formula; its network replaces the current model."),
                       self.formula_text, self.compile_button])

    def _build_tree(self) -> w.VBox:
        self.tree_button = _button("Build tree", "separability and symmetry tests on the model")
        self.tree_view = w.HTML()
        self.tree_button.on_click(lambda _: self._tree())
        return w.VBox([w.HTML("The tree of the model's function (tree converter)."),
                       self.tree_button, self.tree_view])

    # ---- reacting ------------------------------------------------------------------------
    def _act(self, fn, done: str = "", guard: bool = True) -> None:
        """Run an action; show its error as a message instead of raising. If the model was
        changed from code since it was drawn, it is redrawn first and (``guard``) the action
        is not run: the click was made on a drawing of another model."""
        with self._lock:
            notice = self.state.follow()
        if notice and guard:
            self._say(f"{notice} Nothing done: look, then click again.")
            return
        if notice:
            self._say(notice)
        try:
            with self._lock:
                result = fn()
            label = result if isinstance(result, str) else ""
            self._say(f"{done} {label}".strip() if done else (notice or ""))  # clears errors
        except Exception as err:  # a readable message in the widget, never a dead widget
            self._say(f"{type(err).__name__}: {err}", error=True)

    def _say(self, text: str, error: bool = False) -> None:
        colour = _ERROR if error else _NOTICE
        self.message.value = (f'<span class="kansci-message" style="color:{colour}">'
                              f"{html.escape(text)}</span>")

    def _on_click(self, change) -> None:
        text = change["new"]
        self._act(lambda: self.state.select(parse_edge_id(text) if text else None), guard=False)
        if text:
            self.tabs.selected_index = 0

    def _on_state(self, event: str) -> None:
        if event == "loss":
            self._on_loss()
        elif event == "training":
            self._sync_training()
        elif event == "selection":
            self._show_edge()
        else:  # "model"
            self._faded = None
            self._refresh()

    def _refresh(self) -> None:
        """Redraw what depends on the model: network, inspector, formula, buttons."""
        try:
            self._draw_network(self._faded)
            self.network.select(edge_id(*self.state.selected) if self.state.selected else None)
            self._show_edge()
            self._show_formula()
        except Exception as err:
            self._say(f"cannot draw the model: {err}", error=True)
        self._sync_training()

    def _draw_network(self, faded) -> None:
        """Send the current model's drawing (with a pruning preview ``faded``, or None)."""
        self.network.view = network_view(self.state.model, self.state.x, faded, *self._size)

    def _show_edge(self) -> None:
        edge = self.state.selected
        self.snap_button.disabled = self.unsnap_button.disabled = edge is None
        if edge is None:
            self.edge_title.value = "<i>Click an edge of the network.</i>"
            self.edge_plot.set_series([])
            self.candidates.options = []
            return
        self.network.select(edge_id(*edge))
        d = edge_detail(self.state.model, *edge, self.state.x)
        kind = f"symbolic: <b>{html.escape(d['symbolic'])}</b>" if d["symbolic"] else "spline"
        self.edge_title.value = (f'<span class="kansci-edge-title">edge (layer {edge[0]}, '
                                 f"in {edge[1]}, out {edge[2]}), {kind}</span>")
        self._detail = d
        self._suggestions = {s.name: s for s in self.state.suggestions(topk=6)}
        self.candidates.options = [(candidate_label(s), s.name) for s in self._suggestions.values()]
        if self._suggestions:  # the best candidate is the one Snap takes unless another is chosen
            self.candidates.value = next(iter(self._suggestions))
        self._show_candidate()

    def _show_candidate(self) -> None:
        d = getattr(self, "_detail", None)
        if d is None or self.state.selected is None:
            return
        series = [{"name": "data", "x": d["x"], "y": d["y"], "mode": "markers", "color": _DATA},
                  {"name": "edge", "x": d["curve_x"], "y": d["curve_y"], "mode": "lines",
                   "color": _INK}]
        s = self._suggestions.get(self.candidates.value)
        if s is not None:
            import torch

            a, b, c, dd = s.params
            xs = torch.tensor(d["curve_x"], dtype=torch.float64)
            ys = c * self.model.library[s.name].torch_fn(a * xs + b) + dd
            series.append({"name": s.name, "x": d["curve_x"], "y": ys.tolist(), "mode": "lines",
                           "color": "#d9480f"})
        self.edge_plot.set_series(series)

    def _snap(self) -> None:
        name = self.candidates.value
        if name is None:
            self._say("choose a function in the list first", error=True)
            return
        self._act(lambda: f"to {name} (R² {self.state.snap(name):.4f})", "snapped")

    def _show_formula(self) -> None:
        pending = self.state.pending_edges()
        self.copy_latex.disabled = self.copy_sympy.disabled = True
        if pending:
            shown = ", ".join(f"({l},{i},{j})" for l, i, j in pending[:8])
            more = " …" if len(pending) > 8 else ""
            self.formula.value = (f'<span class="kansci-formula-pending">{len(pending)} edge(s) '
                                  f"left to snap: {shown}{more}</span>")
            return
        try:
            exprs = [rounded(e, int(self.digits.value)) for e in self.state.formula()]
        except Exception as err:
            self.formula.value = f"cannot read the formula: {html.escape(str(err))}"
            return
        outs = [sympy.Symbol(str(o)) for o in
                (self.state.model.out_vars or [f"y_{k + 1}" for k in range(len(exprs))])]
        latex = " \\\\ ".join(f"{sympy.latex(o)} = {sympy.latex(e)}" for o, e in zip(outs, exprs))
        lines = [f"{o} = {e}" for o, e in zip(outs, exprs)]
        text = "; ".join(lines)
        self.copy_latex.text = latex
        self.copy_sympy.text = "\n".join(lines)
        self.copy_latex.disabled = self.copy_sympy.disabled = False
        self.formula.value = (f'<div class="kansci-formula" style="font-size: 1.3em" '
                              f'data-formula="{html.escape(text)}">$${latex}$$</div>')

    # ---- prune ---------------------------------------------------------------------------
    def _preview(self) -> None:
        try:
            nodes, edges = self.state.prune_preview(self.prune_slider.value)
        except Exception as err:
            self._say(f"{type(err).__name__}: {err}", error=True)
            return
        self._faded = (nodes, edges)
        n_nodes = sum(int(n.sum()) for n in nodes)
        n_edges = sum(int(e.sum()) for e in edges)
        self.prune_info.value = f"would remove {n_nodes} node(s) and {n_edges} edge(s)"
        self._draw_network(self._faded)

    def _clear_preview(self) -> None:
        self._faded = None
        self.prune_info.value = ""
        self._refresh()

    def _prune(self) -> None:
        self._act(lambda: self.state.prune(self.prune_slider.value), "pruned")
        self.prune_info.value = ""

    # ---- training ------------------------------------------------------------------------
    def _train(self) -> None:
        steps = int(self.steps.value)
        self.progress.max, self.progress.value = steps, 0
        self._run_start = len(self.state.history)
        self._act(lambda: self.state.train(steps=steps, opt=self.opt.value,
                                           lamb=float(self.lamb.value), lr=float(self.lr.value)))

    def _on_loss(self) -> None:
        """Called from the training thread after every step (throttled redraws)."""
        now = time.monotonic()
        self.progress.value = min(self.progress.max, len(self.state.history) - self._run_start)
        if now - self._last_loss >= LOSS_PERIOD_S:
            self._last_loss = now
            self._draw_loss()
        if now - self._last_view >= VIEW_PERIOD_S:
            self._last_view = now
            try:  # between two steps: the parameters are consistent
                self._draw_network(None)
            except Exception:
                pass  # a transient drawing failure must not stop training

    def _draw_loss(self) -> None:
        hist, test = self.state.history, self.state.test_history
        series = [{"name": "train", "x": list(range(len(hist))), "y": list(hist),
                   "mode": "lines", "color": _ACCENT}]
        if test:
            series.append({"name": "test", "x": list(range(len(test))), "y": list(test),
                           "mode": "lines", "color": "#d9480f"})
        self.loss_plot.set_series(series)

    def _sync_training(self) -> None:
        busy = self.state.training
        for b in (self.snap_button, self.unsnap_button, self.snap_all_button, self.prune_button,
                  self.arrange_button, self.compile_button, self.start_button):
            b.disabled = busy
        self.stop_button.disabled = not busy
        self.undo_button.disabled = not self.state.can_undo
        self.redo_button.disabled = not self.state.can_redo
        if not busy:
            if self.state.history:
                self._draw_loss()
            if self.state.message:
                self._say(self.state.message, error=True)

    # ---- tree ----------------------------------------------------------------------------
    def _tree(self) -> None:
        def build():
            from kansci import plot_tree

            graph = plot_tree(self.state.model, self.state.x[:512],
                              in_vars=self.state.model.in_vars)
            self.tree_view.value = tree_svg(graph)
        self._act(build)


def _watch_cells(explorer: Explorer):
    """Have IPython call ``explorer.follow()`` after every cell (the explorer is held weakly);
    returns the function that stops it. Outside IPython nothing is registered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return lambda: None
    shell = get_ipython()
    if shell is None:
        return lambda: None
    ref = weakref.ref(explorer)

    def after_cell(*_):
        shown = ref()
        if shown is None:
            stop()
        else:
            shown.follow()

    def stop():
        try:
            shell.events.unregister("post_run_cell", after_cell)
        except ValueError:  # already stopped
            pass

    shell.events.register("post_run_cell", after_cell)
    return stop


def rounded(expr: sympy.Expr, digits: int) -> sympy.Expr:
    """``expr`` with every float to ``digits`` significant digits (exact numbers kept)."""
    return expr.xreplace({f: sympy.Float(f, digits) for f in expr.atoms(sympy.Float)})


def candidate_label(s) -> str:
    """One line of the candidate list: name, R^2, complexity and the fitted a, b, c, d."""
    a, b, c, d = s.params
    return (f"{s.name:6s} R²={s.r2:.4f} ({s.complexity:g})  "
            f"a={a:.4g} b={b:.4g} c={c:.4g} d={d:.4g}")
