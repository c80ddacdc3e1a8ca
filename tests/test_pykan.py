"""pykan-style scripts on kansci.pykan: the calls pykan's tutorials make, with pykan's meaning."""
import warnings

import numpy as np
import pytest
import sympy
import torch

import kansci as ks
from kansci import pykan as pk


def f_hello(x):
    return torch.exp(torch.sin(torch.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture
def hello():
    return pk.create_dataset(f_hello, n_var=2)


def test_star_import_gives_pykans_names():
    names = {}
    exec("from kansci.pykan import *", names)
    for name in ("torch", "np", "plt", "nn", "sympy", "symbols", "exp", "sin", "KAN", "MultKAN",
                 "create_dataset", "create_dataset_from_data", "ex_round", "augment_input",
                 "batch_jacobian", "test_separability", "test_symmetry", "test_symmetry_var",
                 "test_general_separability", "plot_tree", "kanpiler", "LBFGS", "MLP", "tqdm"):
        assert name in names, name
    assert not hasattr(ks, "np") and not hasattr(ks, "plt")  # kansci itself stays clean


def test_create_dataset_draws_pykans_points():
    kan_utils = pytest.importorskip("kan.utils")
    for seed in (0, 3):
        ours = pk.create_dataset(f_hello, n_var=2, seed=seed, ranges=[[0, 2], [-1, 1]])
        theirs = kan_utils.create_dataset(f_hello, n_var=2, seed=seed, ranges=[[0, 2], [-1, 1]])
        for key in theirs:
            assert torch.equal(ours[key], theirs[key]), key


def test_in_place_methods_change_the_model(hello):
    model = pk.KAN(width=[2, 5, 1], grid=5, seed=1)
    model.fit(hello, steps=20, lamb=0.01, progress=False)
    before = model.n_edge
    assert model.prune_edge() is None  # pykan's: in place, returns None
    assert model.n_edge < before
    model.expand_depth()
    assert model.depth == 3
    model.expand_width(1, 2)
    assert model.width_in[1] == 7
    model.perturb(mag=0.1)
    x = hello["test_input"][:10]
    assert model(x).shape == (10, 1)
    # kansci's own model returns copies and leaves the original alone
    core = ks.MultKAN([2, 5, 1], seed=1)
    assert core.expand_depth() is not core and core.depth == 2


def test_forward_keeps_inputs_for_plot_and_snapping(hello):
    model = pk.KAN(width=[2, 1, 1], grid=5, seed=1)
    x = hello["train_input"][:200]
    model(x)
    assert torch.equal(model.cache_data, x)
    assert model.plot(beta=10, in_vars=["x", "y"], title="t") is None  # pykan's: no double show
    import matplotlib.pyplot as plt
    fig = plt.gcf()
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "t"
    assert [t.get_text() for t in fig.axes[0].texts] == ["x", "y"]
    plt.close(fig)
    model.get_act(hello)
    assert torch.equal(model.cache_data, hello["train_input"])
    assert model.fix_symbolic(0, 0, 0, "sin") > 0.0  # fitted on the kept inputs


def test_symbolic_formula_tuple_rewind_and_checkpoints(hello, tmp_path):
    model = pk.KAN(width=[2, 1, 1], grid=5, seed=1)
    model.fit(hello, steps=30, progress=False)
    model.auto_symbolic(lib=["x^2", "sin", "exp"], verbose=0)
    model.fit(hello, steps=20, update_grid=False, progress=False)
    formulas, variables = model.symbolic_formula()
    formula = model.symbolic_formula()[0][0]  # pykan's idiom
    assert formulas[0] == formula and [str(v) for v in variables] == ["x_1", "x_2"]
    rounded = pk.ex_round(formula, 2)
    assert all(len(str(float(a)).split(".")[1]) <= 2 for a in rounded.atoms(sympy.Float))
    assert model.history()[:2] == ["0.0 init", "0.1 fit"]
    old = model.rewind("0.1")
    assert not any(layer.has_symbolic() for layer in old.layers)  # as it was after the fit
    assert model.history()[-1].endswith("rewind to 0.1")
    model.saveckpt(str(tmp_path / "m"))
    back = pk.KAN.loadckpt(str(tmp_path / "m"))
    assert torch.equal(back(hello["test_input"]), model(hello["test_input"]))
    with pytest.raises(ValueError, match="no model with id"):
        model.rewind("7.7")


def test_symbolic_formula_leaves_splines_out_with_a_warning(hello):
    model = pk.KAN(width=[2, 1], grid=5, seed=1)
    model.fit(hello, steps=5, progress=False)
    model.fix_symbolic(0, 0, 0, "sin")
    with pytest.warns(UserWarning, match="still splines"):
        (formula,), _ = model.symbolic_formula()
    assert formula.free_symbols == {sympy.Symbol("x_1")}
    with pytest.raises(ValueError, match="still splines"):  # kansci's own model refuses
        ks.MultKAN.symbolic_formula(model)


def test_pykan_only_keywords_warn_or_fail(hello):
    with pytest.warns(UserWarning, match="sparse_init"):
        pk.KAN(width=[2, 1], sparse_init=True)
    with pytest.warns(UserWarning, match="symbolic_enabled"):  # False is not pykan's default
        pk.KAN(width=[2, 1], symbolic_enabled=False)
    model = pk.KAN(width=[2, 1], auto_save=False)
    with pytest.warns(UserWarning, match="singularity_avoiding"):
        model.fit(hello, steps=1, singularity_avoiding=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pykan's defaults, passed explicitly, say nothing
        model.fit(hello, steps=1, reg_metric="edge_forward_spline_n", save_fig=False,
                  progress=False)
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.fit(hello, steps=1, not_a_keyword=1)
    assert model.train() is model and model.training  # torch's train(mode) still works
    with pytest.warns(UserWarning, match="old name for fit"):
        assert "train_loss" in model.train(hello, steps=1, progress=False)
    with pytest.raises(ValueError, match="display_metrics"):
        model.fit(hello, steps=1, display_metrics=["accuracy"])


def test_classification_with_integer_labels_and_metrics():
    moons = pytest.importorskip("sklearn.datasets").make_moons
    xtr, ytr = moons(n_samples=1000, noise=0.1, random_state=0)
    xte, yte = moons(n_samples=1000, noise=0.1, random_state=1)
    dtype = torch.get_default_dtype()
    dataset = {"train_input": torch.from_numpy(xtr).type(dtype),
               "test_input": torch.from_numpy(xte).type(dtype),
               "train_label": torch.from_numpy(ytr).long(),
               "test_label": torch.from_numpy(yte).long()}
    model = pk.KAN(width=[2, 2], grid=3, k=3, seed=2024)

    def train_acc():
        return torch.mean((torch.argmax(model(dataset["train_input"]), 1)
                           == dataset["train_label"]).type(dtype))

    def test_acc():
        return torch.mean((torch.argmax(model(dataset["test_input"]), 1)
                           == dataset["test_label"]).type(dtype))

    results = model.fit(dataset, opt="LBFGS", steps=20, metrics=(train_acc, test_acc),
                        loss_fn=torch.nn.CrossEntropyLoss(), display_metrics=["test_acc"],
                        progress=False)
    assert len(results["test_acc"]) == 20 and results["loss"] == "CrossEntropyLoss"
    assert results["test_acc"][-1].item() >= 0.95
    # pykan's default weight_simple=0.8 snaps the x_1 edges to lines (r2 0.36 and 0.26, the
    # formula's accuracy 0.87); 0.5 keeps sines, and a refit of their constants follows
    model.auto_symbolic(lib=["x", "x^2", "x^3", "exp", "sin", "tanh"], verbose=0,
                        weight_simple=0.5)
    results = model.fit(dataset, steps=20, metrics=(train_acc, test_acc), update_grid=False,
                        loss_fn=torch.nn.CrossEntropyLoss(), progress=False)
    assert results["test_acc"][-1].item() >= 0.95
    formula1, formula2 = model.symbolic_formula()[0]
    f1, f2 = (sympy.lambdify(sympy.symbols("x_1 x_2"), f, "numpy") for f in (formula1, formula2))
    formula_acc = np.mean((f2(xte[:, 0], xte[:, 1]) > f1(xte[:, 0], xte[:, 1])) == yte)
    assert abs(formula_acc - results["test_acc"][-1]) <= 0.05
    with pytest.raises(ValueError, match="class indices"):
        bad = dict(dataset, train_label=dataset["train_label"] + 5)
        model.fit(bad, steps=1, loss_fn=torch.nn.CrossEntropyLoss(), progress=False)


def test_node_attribution_and_separability():
    f = lambda x: x[:, 0] ** 2 + 0.3 * x[:, 1] + 0.0 * x[:, 2]  # noqa: E731
    ds = pk.create_dataset(f, n_var=3)
    model = pk.KAN(width=[3, 3, 1], seed=1)
    model.fit(ds, steps=30, lamb=1e-3, progress=False)
    assert model.attribute(1, 0).shape == (3,)
    model.attribute()
    # from the only output node, the inputs' scores are the model's feature scores
    assert torch.allclose(model.attribute(2, 0), model.node_scores[0])
    assert float(model.node_scores[0][2]) < 0.05 * float(model.node_scores[0].max())
    g = lambda x: (x[:, [0]] + x[:, [1]]) * (x[:, [2]] + x[:, [3]])  # noqa: E731
    x = torch.rand(100, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert pk.test_separability(g, x, [[0, 1], [2, 3]], "mul")
    assert not pk.test_separability(g, x, [[0, 2], [1, 3]], "mul")
    assert pk.test_general_separability(lambda x: torch.sin(g(x)), x, [[0, 1], [2, 3]])


def test_mlp_baseline_trains_and_swaps():
    ds = pk.create_dataset(lambda x: x[:, [0]] + x[:, [1]] * x[:, [2]], n_var=3)
    model = pk.MLP(width=[3, 8, 1], seed=0)
    hist = model.fit(ds, steps=30, lamb=1e-4, progress=False)
    assert hist["test_loss"][-1] < 0.05  # the target's std is 0.65
    x = ds["test_input"]
    y = model(x).detach()
    cost = model.connection_cost()
    assert model.auto_swap() <= cost + 1e-9
    assert torch.allclose(model(x), y, atol=1e-5)  # swapping keeps the function


def test_kan_classifier_reads_logits_as_formulas():
    moons = pytest.importorskip("sklearn.datasets").make_moons
    X, y = moons(n_samples=600, noise=0.1, random_state=0)
    Xt, yt = moons(n_samples=600, noise=0.1, random_state=1)
    labels = np.array(["left", "right"])[y]  # any labels, not only 0..k-1
    est = ks.KANClassifier(grid=3, steps=20, seed=0, progress=False).fit(X, labels)
    assert list(est.classes_) == ["left", "right"]
    assert est.score(Xt, np.array(["left", "right"])[yt]) >= 0.95
    proba = est.predict_proba(Xt)
    assert proba.shape == (600, 2) and np.allclose(proba.sum(1), 1)
    f0, f1 = est.formulas(X, labels)
    g0, g1 = (sympy.lambdify(sympy.symbols("x_1 x_2"), f, "numpy") for f in (f0, f1))
    formula_acc = np.mean((g1(Xt[:, 0], Xt[:, 1]) > g0(Xt[:, 0], Xt[:, 1])) == yt)
    assert abs(formula_acc - est.score(Xt, np.array(["left", "right"])[yt])) <= 0.05
    import pickle
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict(Xt), est.predict(Xt))


def test_discover_warns_on_class_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    with pytest.warns(UserWarning, match="integer values"):
        ks.discover(X, (X[:, 0] > 0).astype(int), budget_s=2, progress=False)


def test_kansci_model_names_the_way_for_pykan_calls(hello):
    model = ks.MultKAN([2, 1], seed=0)
    with pytest.raises(AttributeError, match="model.save"):
        model.saveckpt("m")
    with pytest.raises(TypeError, match="kansci.pykan.KAN accepts it"):
        ks.MultKAN([2, 1], auto_save=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'grids'"):
        ks.MultKAN([2, 1], grids=3)


def test_a_range_bounds_the_affine_search(hello):
    model = pk.KAN(width=[2, 1], grid=5, seed=1)
    model.fit(hello, steps=10, progress=False)
    wide = model.suggest_symbolic(0, 0, 0, lib=["sin"], verbose=False)
    narrow = model.suggest_symbolic(0, 0, 0, a_range=(0.0, 0.1), b_range=(0.0, 0.1),
                                    lib=["sin"], verbose=False)
    assert narrow[2] < wide[2]  # sin(pi x_1) needs a near pi: r2 drops when a <= 0.1 first
    with pytest.raises(ValueError, match="a_range"):
        model.fix_symbolic(0, 0, 0, "sin", a_range=(1, -1))


def test_discover_classification_on_iris():
    """A real table (scikit-learn's iris): logit formulas as accurate as the network."""
    load_iris = pytest.importorskip("sklearn.datasets").load_iris
    X, y = load_iris(return_X_y=True)
    res = ks.discover(X, y, task="classification", budget_s=30, progress=False)
    assert list(res.classes) == [0, 1, 2] and len(res.formulas) == 3
    assert res.network_accuracy >= 0.95
    assert res.accuracy >= res.network_accuracy - 0.05
    assert (res.predict(X) == y).mean() >= 0.95
    with pytest.raises(ValueError, match="task must be"):
        ks.discover(X, y, task="classify")


def test_cli_classifies_a_csv_with_named_classes(tmp_path, capsys):
    import json

    import pandas as pd
    from kansci._cli import main
    load_iris = pytest.importorskip("sklearn.datasets").load_iris
    data = load_iris()
    frame = pd.DataFrame(data.data, columns=["sl", "sw", "pl", "pw"])
    frame["species"] = np.array(data.target_names)[data.target]
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    assert main(["discover", str(path), "--target", "species", "--task", "classification",
                 "--budget", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"] == ["setosa", "versicolor", "virginica"] and len(out["formulas"]) == 3
    assert out["accuracy"] >= 0.9


def test_snapped_edges_agree_with_their_formula():
    """No candidate leans on a library guard (exp capped, log floored): the formula read off
    computes what the snapped network computes; a line is written c x + d."""
    x = torch.linspace(-2, 2.5, 200, dtype=torch.float64)
    from kansci._symbolic import rank_functions
    ranked = rank_functions(x, torch.where(x < 0, 0.0, 1e6 * (1 - torch.exp(-x))), ["exp", "x"])
    for s in ranked:
        a, b, c, d = s.params
        if s.name == "exp" and not s.degenerate:
            assert float((a * x + b).max()) <= 13.8
        if s.name == "x":
            assert (a, b) == (1.0, 0.0)
    model = ks.MultKAN([1, 1], seed=0, dtype=torch.float64)  # fix_symbolic: the same fit
    model.fix_symbolic(0, 0, 0, "x", x=x[:, None])
    assert model.layers[0].sym_affine[0, 0, :2].tolist() == [1.0, 0.0]


def test_parameter_derivatives_and_regulariser(hello):
    model = pk.KAN(width=[2, 2, 1], grid=3, seed=0)
    model.fit(hello, steps=5, progress=False)
    x, y = hello["train_input"][:100], hello["train_label"][:100]
    jac = pk.get_derivative(model, x, y, derivative="jacobian")
    assert jac.shape == (1, pk.model2param(model).numel())
    model.zero_grad()
    torch.mean((model(x) - y) ** 2).backward()
    trained = torch.cat([torch.full((p.numel(),), p.requires_grad) for p in model.parameters()])
    grads = torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.reshape(-1)
                       for p in model.parameters() if p.requires_grad])
    assert torch.allclose(jac[0][trained], grads, atol=1e-5)  # (all parameters, as pykan's)
    hess = pk.get_derivative(model, x, y)
    assert torch.allclose(hess[0], hess[0].T, atol=1e-4)
    model(x)
    reg = model.reg(lamb_l1=1.0, lamb_entropy=2.0)
    reg.backward()  # differentiable, for a custom training loop
    assert float(reg.detach()) > 0


def test_a_users_function_numpy_cannot_evaluate_is_ranked():
    """add_symbolic("J0", torch.special.bessel_j0) has no NumPy form: the guard check passes it."""
    from kansci._symbolic import _clamped
    from kansci._symbolic_lib import SymbolicFunction
    fn = SymbolicFunction("J0", torch.special.bessel_j0, sympy.Function("J0"), 2)
    z = torch.linspace(-3, 3, 50, dtype=torch.float64)
    assert _clamped(fn, z, fn.torch_fn(z)) is False
    exp = ks.SYMBOLIC_LIB["exp"]
    assert _clamped(exp, z * 10, exp.torch_fn(z * 10))  # past exp's cap at 13.8


def test_log_history_false_keeps_the_history(hello):
    model = pk.KAN(width=[2, 1], grid=3, seed=0)
    model.fit(hello, steps=2, progress=False)
    n = len(model.history())
    model.fix_symbolic(0, 0, 0, "sin", log_history=False)
    model.prune_edge(log_history=False)
    assert len(model.history()) == n
    model.unfix_symbolic(0, 0, 0)
    assert model.history()[-1].endswith("unfix_symbolic")


def test_pykans_layer_views_and_spline_basis():
    spline = pytest.importorskip("kan.spline")
    grid = pk.extend_grid(torch.linspace(-1, 1, 6)[None, :], k_extend=3)
    assert torch.equal(grid, spline.extend_grid(torch.linspace(-1, 1, 6)[None, :], k_extend=3))
    for x in (torch.rand(50, 1, generator=torch.Generator().manual_seed(0)) * 2 - 1,
              torch.linspace(-1, 1, 101)[None, :]):  # the tutorial's (1, n): one grid for all
        assert torch.allclose(pk.B_batch(x, grid, k=3), spline.B_batch(x, grid, k=3), atol=1e-6)
    model = pk.KAN(width=[2, 3, 1], grid=5, seed=0)
    assert model.act_fun[0].coef.shape == (2, 3, 8) and model.act_fun[0].grid.shape == (2, 12)
    model.fix_symbolic(0, 1, 2, "sin", fit_params_bool=False)
    view = model.symbolic_fun[0]
    assert view.funs_name[2][1] == "sin" and view.mask.shape == (3, 2) and view.mask[2, 1] == 1
