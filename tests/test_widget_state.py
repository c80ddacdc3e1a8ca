"""The explorer's logic and drawing data without a browser or kernel."""
import math
import time

import pytest
import sympy
import torch

import kansci as ks
from kansci.widgets._state import ExplorerState
from kansci.widgets._view import edge_detail, network_view


def _f(x):
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def trained():
    ds = ks.create_dataset(_f, n_var=2, train_num=300, test_num=100, seed=0, dtype=torch.float64)
    model = ks.MultKAN([2, [3, 1], 1], grid=3, k=3, seed=1, dtype=torch.float64)
    model.fit(ds, steps=15, lamb=1e-3, progress=False)
    return model, ds


@pytest.fixture
def state(trained):
    model, ds = trained
    return ExplorerState(_clone(model), ds)


def _clone(model):
    from kansci._prune import copy_model

    return copy_model(model)


def test_network_view_describes_every_node_and_active_edge(state):
    view = network_view(state.model, state.x)
    model = state.model
    assert len(view["nodes"]) == sum(model.width_in)
    kinds = [n["kind"] for n in view["nodes"]]
    assert kinds.count("input") == 2 and kinds.count("output") == 1
    assert kinds.count("mult") == 1 and kinds.count("sum") == 3
    assert len(view["edges"]) == model.n_edge
    ids = {n["id"] for n in view["nodes"]}
    mult = next(n["id"] for n in view["nodes"] if n["kind"] == "mult")
    for e in view["edges"]:
        assert e["source"] in ids and e["target"] in ids
        assert len(e["curve"]) == 40
        assert all(0.0 <= u <= 1.0 and 0.0 <= v <= 1.0 for u, v in e["curve"])
        assert 0.0 <= e["alpha"] <= 1.0 and e["symbolic"] is None and not e["faded"]
    # both factors of the multiplication node (subnodes 3 and 4) point at it
    assert {e["j"] for e in view["edges"] if e["target"] == mult and e["layer"] == 0} == {3, 4}
    assert [n["label"] for n in view["nodes"] if n["kind"] == "input"] == ["x_1", "x_2"]


def test_snap_unsnap_undo_redo(state):
    state.select((0, 0, 0))
    names = [s.name for s in state.suggestions(topk=3)]
    assert len(names) == 3
    events = []
    state.on_change(events.append)
    r2 = state.snap("sin")
    assert 0.0 <= r2 <= 1.0 and events[-1] == "model"
    assert state.model.layers[0].sym_names[0][0] == "sin"
    view = network_view(state.model, state.x)
    assert next(e for e in view["edges"] if e["id"] == "0,0,0")["symbolic"] == "sin"
    state.unsnap()
    assert state.model.layers[0].sym_mask[0, 0] == 0
    assert state.undo() == "unsnap 0,0,0"
    assert state.model.layers[0].sym_mask[0, 0] == 1
    assert state.undo() == "snap 0,0,0 to sin"
    assert state.model.layers[0].sym_mask[0, 0] == 0
    state.redo()
    assert state.model.layers[0].sym_names[0][0] == "sin"
    with pytest.raises(ValueError, match="unknown|not a known|function"):
        state.snap("not_a_function")
    assert state.model.layers[0].sym_names[0][0] == "sin"  # a failed edit changes nothing
    assert state.can_redo  # and keeps the redo stack


def test_prune_preview_is_what_prune_does_and_undo_brings_the_nodes_back(state):
    nodes, edges = state.prune_preview(0.05)
    kept_edges = sum(int((((layer.mask != 0) | (layer.sym_mask != 0)) & ~gone).sum())
                     for layer, gone in zip(state.model.layers, edges))
    kept_nodes = [int((~n).sum()) for n in nodes]
    view = network_view(state.model, state.x, faded=(nodes, edges))
    assert sum(e["faded"] for e in view["edges"]) == state.model.n_edge - kept_edges
    before = [list(w) for w in state.model.width]
    state.prune(0.05)
    assert state.model.width_in == kept_nodes and state.model.n_edge == kept_edges
    state.undo()
    assert [list(w) for w in state.model.width] == before


def test_arrange_reorders_nodes_keeps_the_function_and_undoes(state):
    x = state.x[:50]
    with torch.no_grad():
        before = state.model(x)
    coef = state.model.layers[0].coef.clone()
    state.model.swap(1, 0, 2)  # scramble the sum nodes so that arranging has work to do
    start = state.model.connection_cost(state.x)
    reached = state.arrange()
    assert reached <= start
    with torch.no_grad():
        assert torch.allclose(state.model(x), before, atol=1e-12)
    state.undo()
    assert state.model.connection_cost(state.x) == pytest.approx(start)
    state.model.swap(1, 0, 2)
    assert torch.equal(state.model.layers[0].coef, coef)


def test_snap_all_gives_the_formula(state):
    assert state.formula() is None and state.pending_edges()
    state.snap_all()
    assert state.pending_edges() == []
    (expr,) = state.formula()
    assert {str(s) for s in expr.free_symbols} <= {"x_1", "x_2"}
    detail = edge_detail(state.model, 0, 0, 0, state.x)
    assert detail["symbolic"] is not None and len(detail["curve_x"]) == 200


def test_compile_replaces_the_model_and_bad_formulas_change_nothing(state):
    state.compile("sin(x_1) + x_2**2")
    model = state.model
    assert model.in_vars == ["x_1", "x_2"]
    x = state.x
    want = torch.sin(x[:, 0]) + x[:, 1] ** 2
    assert torch.allclose(model(x)[:, 0], want, atol=1e-8)
    expr = state.formula()[0]
    assert sympy.simplify(expr - (sympy.sin(sympy.Symbol("x_1")) + sympy.Symbol("x_2") ** 2)) == 0
    n_undo = len(state._past)
    with pytest.raises(ValueError, match="parse|neither"):
        state.compile("sin(x_1 +")
    assert state.model is model and len(state._past) == n_undo


def test_training_runs_in_the_background_and_stops_at_once(state):
    params = [p.detach().clone() for p in state.model.parameters()]
    events = []
    state.on_change(events.append)
    state.train(steps=100000, opt="Adam", lamb=0.0)
    deadline = time.time() + 30
    while len(state.history) < 3 and time.time() < deadline:
        time.sleep(0.01)
    assert len(state.history) >= 3 and state.training
    with pytest.raises(RuntimeError, match="training"):
        state.snap("sin", (0, 0, 0))
    t = time.perf_counter()
    assert state.stop(timeout=2.0)
    assert time.perf_counter() - t < 2.0
    assert not state.training and "training" in events and "loss" in events
    steps = len(state.history)  # stopped means no more steps come
    time.sleep(0.3)
    assert len(state.history) == steps
    state.undo()  # the state before training comes back
    for p, q in zip(state.model.parameters(), params):
        assert torch.equal(p, q)


def test_training_needs_matching_data(trained):
    model, _ = trained
    state = ExplorerState(_clone(model))  # no dataset
    with pytest.raises(ValueError, match="training data"):
        state.train(steps=5)
    with pytest.raises(ValueError, match="no edge selected"):
        state.snap("sin")


def test_dataframe_columns_name_the_network_nodes():
    import pandas as pd

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=gen, dtype=torch.float64)
    frame = pd.DataFrame(x.numpy(), columns=["mass", "speed"])
    target = pd.DataFrame({"energy": (0.5 * x[:, 0] * x[:, 1] ** 2).numpy()})
    state = ExplorerState(ks.MultKAN([2, 2, 1], seed=0, dtype=torch.float64), (frame, target))
    view = network_view(state.model, state.x)
    labels = {n["kind"]: [] for n in view["nodes"]}
    for n in view["nodes"]:
        labels[n["kind"]].append(n["label"])
    assert labels["input"] == ["mass", "speed"] and labels["output"] == ["energy"]


def test_plot_outside_jupyter_is_a_matplotlib_figure(trained, tmp_path):
    import matplotlib.figure
    from matplotlib.collections import LineCollection

    model, ds = trained
    model = _clone(model)
    model.attribute()
    scores = [s.clone() for s in model.edge_scores]
    fig = model.plot(ds, path=tmp_path / "net.png")
    assert isinstance(fig, matplotlib.figure.Figure)
    curves = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)][-1]
    n_active = sum(int(((layer.mask != 0) | (layer.sym_mask != 0)).sum()) for layer in model.layers)
    assert len(curves.get_segments()) == n_active  # one curve per edge
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model.plot(ds, path=tmp_path / "net.svg", title="hellokan", beta=10)
    assert b"<svg" in (tmp_path / "net.svg").read_bytes()[:400]
    assert all(torch.equal(a, b) for a, b in zip(scores, model.edge_scores))  # drawing changes
    with pytest.raises(ValueError, match="suffix"):  # nothing in the model
        model.plot(ds, path=tmp_path / "net.html")


def test_explorer_arrange_button_edits_the_model_and_says_so(trained):
    from kansci.widgets import Explorer

    model, ds = trained
    ex = Explorer(_clone(model), ds)
    ex.arrange_button.click()
    assert "nodes arranged" in ex.message.value and ex.state.can_undo
    assert not ex.undo_button.disabled


def test_training_and_edge_selection_at_once_leave_the_thread_setting_as_it_was(state):
    # fit (training thread) and snapping candidates (here and in a third thread) each run
    # on one thread for small work; the process setting must come back whatever the order
    import threading

    setting = torch.get_num_threads()
    running, trained, late = threading.Event(), threading.Event(), []

    def third():  # meets torch while training runs, ranks candidates after it ended
        running.wait(30)
        torch.get_num_threads()
        trained.wait(30)
        state.select((0, 1, 0))
        late.append(len(state.suggestions()))

    state.train(steps=100000, opt="Adam")
    helper = threading.Thread(target=third)
    helper.start()
    deadline = time.time() + 30
    while len(state.history) < 3 and time.time() < deadline:
        time.sleep(0.01)
    running.set()
    for edge in [(0, 0, 0), (0, 1, 1), (1, 0, 0)]:
        state.select(edge)
        assert state.suggestions()
    assert state.stop(timeout=5.0)
    trained.set()
    helper.join(60)
    assert late and late[0] > 0
    seen = []
    fresh = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert torch.get_num_threads() == setting and seen == [setting]


def test_explorer_follows_changes_made_from_code(trained):
    # a cell edits the model the explorer shows: the page's idle-time poll redraws it
    from kansci.widgets import Explorer

    model, ds = trained
    model = _clone(model)
    ex = Explorer(model, ds)
    poll = lambda: ex._on_network_message(ex.network, {"poll": 1}, [])  # noqa: E731
    l, i, j = edge = next((l, i, j) for l, layer in enumerate(model.layers)
                          for i, j in layer.mask.nonzero().tolist())
    ex.network.selected = f"{l},{i},{j}"
    assert ex.state.selected == edge and "spline" in ex.edge_title.value
    poll()  # nothing changed: nothing said
    assert "changed from code" not in ex.message.value

    model.auto_symbolic(progress=False)  # "a cell"
    assert all(e["symbolic"] is None for e in ex.network.view["edges"])  # not yet seen
    poll()
    assert "changed from code" in ex.message.value
    drawn = {e["id"]: e["symbolic"] for e in ex.network.view["edges"]}
    assert all(drawn.values()) and "left to snap" not in ex.formula.value
    assert "symbolic" in ex.edge_title.value  # the inspector shows the same edge, now snapped
    assert ex.state.selected == edge

    model.unfix_symbolic(*edge)  # the next click acts on the model as it is now
    ex.snap_all_button.click()
    assert "Nothing done" in ex.message.value and "left to snap" in ex.formula.value
    assert model.layers[l].sym_mask[i, j] == 0

    with torch.no_grad():  # a pruned edge cannot stay selected
        model.layers[l].mask[i, j] = model.layers[l].sym_mask[i, j] = 0
    poll()
    assert ex.state.selected is None and "selection cleared" in ex.message.value
    assert ex.network.selected == "" and "Click an edge" in ex.edge_title.value

    smaller = model.prune()  # a new model: shown when assigned, and undoable
    ex.model = smaller
    assert ex.model is smaller and ex.state.can_undo
    assert len(ex.network.view["edges"]) == sum(int(((layer.mask != 0) | (layer.sym_mask != 0))
                                                    .sum()) for layer in smaller.layers)
    assert len(ex.network.view["edges"]) < sum(layer.mask.numel() for layer in model.layers)
    with pytest.raises(TypeError, match="MultKAN"):
        ex.model = "not a model"


def test_formula_pane_rounds_to_the_chosen_digits_and_offers_latex_and_sympy(trained):
    import re

    from kansci.widgets import Explorer

    model, ds = trained
    ex = Explorer(_clone(model), ds)
    assert ex.copy_latex.disabled and ex.copy_sympy.disabled  # edges left to snap
    ex.snap_all_button.click()
    assert not ex.copy_latex.disabled

    def significant(number: str) -> int:  # "10.0" and "0.0012" have 2
        return len(number.replace(".", "").strip("0"))

    exact = ex.state.formula()[0]
    assert max(significant(str(abs(f))) for f in exact.atoms(sympy.Float)) > 6
    for digits in (4, 2):
        ex.digits.value = digits
        floats = sympy.sympify(ex.copy_sympy.text.split(" = ", 1)[1]).atoms(sympy.Float)
        assert floats and all(significant(f"{abs(float(f)):.15g}") <= digits for f in floats)
        assert all(significant(m) <= digits for m in re.findall(r"\d+\.\d+", ex.copy_latex.text))
        assert ex.copy_latex.text in ex.formula.value
    assert ex.copy_latex.text.startswith("y_{1} = ")
    l, i, j = next((l, i, j) for l, layer in enumerate(ex.model.layers)
                   for i, j in layer.sym_mask.nonzero().tolist())
    ex.network.selected = f"{l},{i},{j}"
    labels = [label for label, _ in ex.candidates.options]
    assert labels and all(re.search(r"a=\S+ b=\S+ c=\S+ d=\S+$", lab) for lab in labels)


def test_drawing_the_network_leaves_the_models_scores_alone(trained):
    model, ds = trained
    model = _clone(model)
    model.attribute(ds["train_input"][:50])  # scores on other data than the drawing's
    before = [s.clone() for s in model.edge_scores]
    view = network_view(model, ds["train_input"])
    assert all(torch.equal(a, b) for a, b in zip(before, model.edge_scores))
    model.attribute(ds["train_input"])  # and the drawing's opacities are the scores on its data
    alphas = {e["id"]: e["alpha"] for e in view["edges"]}
    l, i, j = next((l, i, j) for l, layer in enumerate(model.layers)
                   for i, j in layer.mask.nonzero().tolist())
    assert alphas[f"{l},{i},{j}"] == pytest.approx(math.tanh(3 * float(model.edge_scores[l][i, j])))


def test_hidden_nodes_left_without_edges_are_drawn_faded(trained):
    model, ds = trained
    model = _clone(model)
    with torch.no_grad():  # every edge out of hidden node 1 pruned
        model.layers[1].mask[1, :] = model.layers[1].sym_mask[1, :] = 0
    faded = {n["id"] for n in network_view(model, ds["train_input"])["nodes"] if n["faded"]}
    assert faded == {"n1,1"}
