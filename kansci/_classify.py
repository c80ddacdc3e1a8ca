"""Classification with KANs: one output (logit) per class, trained with cross-entropy on
standardised inputs; the logits read off as formulas of the original variables.

This is pykan's classification recipe (KAN with n_classes outputs, ``CrossEntropyLoss``,
``auto_symbolic``, ``symbolic_formula``) made one call: ``discover(X, y, task="classification")``
and ``KANClassifier`` both use it. A formula's class is the argmax of its logits.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch
from torch import Tensor

from ._model import MultKAN

_TEST_SHARE = 0.2  # held out to score the network and its formulas
_STEPS = 50  # L-BFGS steps of each training
_REFIT_STEPS = 20  # steps refitting the snapped constants
_WEIGHT_SIMPLE = 0.5  # pykan's 0.8 snaps curved logit edges to lines (see tests/test_pykan.py)
# functions defined and finite on the whole line: a logit must have a value wherever a point
# may fall (sqrt(21.3 x - 59.4) fitted on training data is NaN on half of iris' test rows)
TOTAL_LIB = ("x", "x^2", "x^3", "x^4", "exp", "sin", "cos", "tanh", "abs", "arctan", "gaussian")


_DIGITS = 4  # significant digits of the constants in the logit formulas shown
_SMOOTHING = 0.05  # label smoothing: on separable data the logits stay O(1) (ln 0.95/0.05 ~ 3)


def _loss():
    """Cross-entropy with label smoothing. Plain cross-entropy on separable data drives the
    logits to thousands (train loss 1e-9 on iris), which snapping cannot read and a formula
    differing in the fourth digit from the network then misclassifies."""
    return torch.nn.CrossEntropyLoss(label_smoothing=_SMOOTHING)


@dataclass
class ClassDiscovery:
    """What ``discover(X, y, task="classification")`` found.

    formulas: one sympy logit per class (the predicted class is the argmax); classes: the
    class labels, in the formulas' order; accuracy: the formulas' held-out accuracy;
    network_accuracy: the trained network's; model: the MultKAN (on standardised inputs);
    variables: the input symbols."""

    formulas: list
    classes: np.ndarray
    accuracy: float
    network_accuracy: float
    model: MultKAN
    variables: list = field(default_factory=list)

    def predict(self, X) -> np.ndarray:
        """The class the formulas give at X (n, d): (n,) labels."""
        X = np.asarray(X, dtype=float)
        return self.classes[np.argmax(logits(self.formulas, self.variables, X), 1)]

    def __repr__(self) -> str:
        return (f"ClassDiscovery({len(self.classes)} classes, accuracy={self.accuracy:.4g}, "
                f"network_accuracy={self.network_accuracy:.4g})")


def standardization(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and scale (std, 1 where a column is constant) of x (n, d), each (d,)."""
    scale = x.std(0) if x.shape[0] > 1 else torch.ones_like(x[0])
    return x.mean(0), torch.where(scale > 0, scale, torch.ones_like(scale))


def train(x: Tensor, labels: Tensor, n_classes: int, hidden=(), grid: int = 5, k: int = 3,
          steps: int = _STEPS, lamb: float = 0.0, seed: int = 0, progress: bool = False):
    """A KAN [d, *hidden, n_classes] trained with cross-entropy on standardised inputs x (n, d)
    and class indices labels (n,); returns (model, history)."""
    width = [x.shape[1], *[int(h) for h in hidden], n_classes]
    model = MultKAN(width, grid=grid, k=k, seed=seed, dtype=x.dtype, device=x.device)
    hist = model.fit(x, labels, steps=steps, lamb=lamb, loss_fn=_loss(),
                     progress=progress)
    return model, hist


def logit_formulas(model: MultKAN, variables, mean: Tensor, scale: Tensor, x=None,
                   labels=None, lib=None, weight_simple: float = _WEIGHT_SIMPLE,
                   refit_steps: int = _REFIT_STEPS, simplify: bool = True) -> list:
    """The logits of a copy of ``model`` with every edge snapped, as formulas of the original
    variables (the model works on (v - mean) / scale). ``lib`` defaults to ``TOTAL_LIB``
    (functions finite everywhere). Given standardised x and labels, the snapped constants are
    refitted on them for ``refit_steps`` steps first."""
    snapped = model.copy()
    snapped.auto_symbolic(lib=TOTAL_LIB if lib is None else lib, weight_simple=weight_simple,
                          progress=False)
    if x is not None and refit_steps:
        snapped.fit(x, labels, steps=refit_steps, update_grid=False, progress=False,
                    loss_fn=_loss())
    formulas, _ = snapped.symbolic_formula(var=variables, simplify=simplify)
    back = {v: (v - float(m)) / float(s) for v, m, s in zip(variables, mean, scale)}
    return [_rounded(f.xreplace(back)) for f in formulas]


def _rounded(expr: sympy.Expr, digits: int = _DIGITS) -> sympy.Expr:
    """Every float of expr to ``digits`` significant digits (a logit's constants are not a
    law's: the accuracy reported is that of the rounded formulas)."""
    return expr.xreplace({f: sympy.Float(float(f"{float(f):.{digits}g}"))
                          for f in expr.atoms(sympy.Float)})


def logits(formulas, variables, X: np.ndarray) -> np.ndarray:
    """The formulas at the rows of X (n, d), original variables: (n, n_classes); a logit that
    is not finite there counts as -inf (that class is never picked for the row)."""
    fns = [sympy.lambdify(variables, f, "numpy") for f in formulas]
    with np.errstate(all="ignore"):
        values = np.stack([np.broadcast_to(np.asarray(fn(*X.T), dtype=float), X.shape[:1])
                           for fn in fns], 1)
    return np.where(np.isfinite(values), values, -np.inf)


def accuracy(formulas, variables, x: Tensor, labels: Tensor) -> float:
    """Fraction of rows of x (n, d), original variables, where the formulas' argmax is the
    label (n,)."""
    values = logits(formulas, variables, x.detach().cpu().double().numpy())
    return float(np.mean(np.argmax(values, 1) == labels.cpu().numpy()))


def discover_classes(x: Tensor, labels: Tensor, classes: np.ndarray, symbols, seed: int = 0,
                     budget_s=None, progress: bool = False) -> ClassDiscovery:
    """Logit formulas for class labels y (n,) from x (n, d): a network without hidden layer
    first (pykan's recipe), then one with a hidden layer of 2d + 1 nodes where the held-out
    accuracy of the first formulas trails the network's by more than 0.02 and its time,
    estimated per edge from the first, fits in ``budget_s``.
    The pick is the best held-out accuracy of the formulas (ties: the smaller network).
    ``labels`` (n,) are class indices into ``classes`` (the labels, sorted)."""
    start = time.monotonic()
    if len(classes) < 2:
        raise ValueError(f"classification needs at least 2 classes in y; got 1 ({classes[0]!r}).")
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(x.shape[0], generator=gen).to(x.device)
    n_test = max(1, int(round(_TEST_SHARE * x.shape[0])))
    test, train_ids = order[:n_test], order[n_test:]
    mean, scale = standardization(x[train_ids])
    xs = (x - mean) / scale
    best, seconds_per_edge = None, 0.0
    for hidden in ((), (2 * x.shape[1] + 1,)):
        n_edges = sum(a * b for a, b in zip([x.shape[1], *hidden], [*hidden, len(classes)]))
        if best is not None and (best.network_accuracy - best.accuracy <= 0.02 or (
                budget_s is not None and
                time.monotonic() - start + n_edges * seconds_per_edge > budget_s)):
            break
        began = time.monotonic()
        model, _ = train(xs[train_ids], labels[train_ids], len(classes), hidden, seed=seed,
                         progress=progress)
        with torch.no_grad():
            net = float((model(xs[test]).argmax(1) == labels[test]).double().mean())
        # sympy's simplify takes seconds per logit on a composed (hidden layer) network
        formulas = logit_formulas(model, symbols, mean, scale, xs[train_ids], labels[train_ids],
                                  simplify=not hidden)
        acc = accuracy(formulas, symbols, x[test], labels[test])
        found = ClassDiscovery(formulas, classes, acc, net, model, list(symbols))
        seconds_per_edge = (time.monotonic() - began) / n_edges
        if best is None or acc > best.accuracy + 1e-12:
            best = found
    return best

