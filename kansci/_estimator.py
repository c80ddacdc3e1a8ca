"""scikit-learn estimators: ``KANRegressor`` (``discover`` behind fit / predict / score) and
``KANClassifier`` (a KAN with one logit per class, trained with cross-entropy, whose logits
can be read off as formulas).

Importing this module needs scikit-learn; ``kansci.KANRegressor`` / ``kansci.KANClassifier``
load it on first use.
"""
from __future__ import annotations

import numpy as np
import sympy
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classify import _WEIGHT_SIMPLE, logit_formulas, standardization, train
from ._discover import discover


class KANRegressor(RegressorMixin, BaseEstimator):
    """Symbolic regression with KANs: ``fit`` runs ``discover`` and keeps the formula;
    ``predict`` evaluates the formula (not the network), so it extrapolates as the law does.

    Parameters: ``budget_s`` (seconds per fit, None = no limit), ``seed``, ``progress`` (a
    progress bar), ``units`` ({column: unit}) and ``y_units`` (pint unit strings; see
    ``discover``). Fitted attributes: ``formula_`` (sympy), ``model_`` (the MultKAN behind it),
    ``equations_`` (candidate table), ``r2_`` (held-out R^2), ``n_features_in_`` and, for
    DataFrames, ``feature_names_in_``."""

    def __init__(self, *, budget_s: float | None = 60.0, seed: int = 0, progress: bool = True,
                 units=None, y_units=None):
        self.budget_s = budget_s
        self.seed = seed
        self.progress = progress
        self.units = units
        self.y_units = y_units

    def fit(self, X, y):
        cols = getattr(X, "columns", None)
        names = [str(c) for c in cols] if cols is not None else None
        X, y = validate_data(self, X, y, y_numeric=True)  # shapes, finiteness, feature names
        result = discover(X, y, names=names, seed=self.seed, budget_s=self.budget_s,
                          progress=self.progress, units=self.units, y_units=self.y_units)
        self.result_ = result
        self.formula_, self.model_, self.equations_, self.r2_ = (
            result.formula, result.model, result.equations, result.r2)
        return self

    def predict(self, X) -> np.ndarray:
        """The formula at X (n, n_features_in_) -> (n,)."""
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(self.result_.numpy()(X), dtype=float).reshape(-1)

    def sympy(self):
        """The discovered formula (sympy expression)."""
        check_is_fitted(self, "result_")
        return self.formula_


class KANClassifier(ClassifierMixin, BaseEstimator):
    """Classification with a KAN: one output (logit) per class, trained with cross-entropy by
    L-BFGS on standardised inputs (``kansci._classify``, as ``discover(task="classification")``).

    Parameters: ``hidden`` (hidden layer widths, () for none), ``grid``, ``k``, ``steps``,
    ``lamb`` (sparsity regularisation), ``seed``, ``progress``.
    Fitted attributes: ``classes_``, ``model_`` (the MultKAN, on standardised inputs),
    ``mean_`` and ``scale_`` (the standardisation), ``history_``, ``n_features_in_`` and, for
    DataFrames, ``feature_names_in_``. ``formulas()`` reads the logits off as formulas."""

    def __init__(self, *, hidden=(), grid: int = 5, k: int = 3, steps: int = 50,
                 lamb: float = 0.0, seed: int = 0, progress: bool = True):
        self.hidden = hidden
        self.grid = grid
        self.k = k
        self.steps = steps
        self.lamb = lamb
        self.seed = seed
        self.progress = progress

    def _inputs(self, X, reset: bool) -> torch.Tensor:
        # a copy: the input may be read-only (a memory map), which torch warns about
        x = torch.from_numpy(np.array(validate_data(self, X, reset=reset, dtype=np.float64)))
        if reset:
            self.mean_, self.scale_ = standardization(x)
        return (x - self.mean_) / self.scale_

    def _labels(self, y) -> torch.Tensor:
        y = np.asarray(y).reshape(-1)
        if not np.isin(y, self.classes_).all():
            raise ValueError(f"y holds labels outside classes_ {list(self.classes_)}.")
        return torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.long)

    def fit(self, X, y):
        validate_data(self, X, y)  # shapes, finiteness, feature names
        check_classification_targets(y)
        x = self._inputs(X, reset=True)
        self.classes_ = np.unique(np.asarray(y).reshape(-1))
        if len(self.classes_) < 2:
            raise ValueError(f"KANClassifier needs at least 2 classes in y; got 1 class "
                             f"({self.classes_[0]!r}).")
        self.model_, self.history_ = train(x, self._labels(y), len(self.classes_), self.hidden,
                                           self.grid, self.k, self.steps, self.lamb, self.seed,
                                           self.progress)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The logits (n, n_classes); for two classes, logit 1 - logit 0 (n,)."""
        check_is_fitted(self, "model_")
        with torch.no_grad():
            logits = self.model_(self._inputs(X, reset=False)).numpy()
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), the softmax of the logits."""
        check_is_fitted(self, "model_")
        with torch.no_grad():
            return torch.softmax(self.model_(self._inputs(X, reset=False)), 1).numpy()

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), 1)]

    def formulas(self, X=None, y=None, lib=None, weight_simple: float = _WEIGHT_SIMPLE,
                 refit_steps: int = 20) -> list:
        """The logits as sympy formulas of the original features (one per class, in the order
        of ``classes_``): every edge of a copy of the model is snapped (``auto_symbolic``, on
        the training inputs, by default to functions finite everywhere) and, given data (X, y), the constants are refitted on it for
        ``refit_steps`` steps. The fitted model is left as it was."""
        check_is_fitted(self, "model_")
        x = labels = None
        if X is not None:
            if y is None:
                raise ValueError("formulas(X, y): give the labels y of X too (or neither).")
            x, labels = self._inputs(X, reset=False), self._labels(y)
        names = [str(n) for n in getattr(self, "feature_names_in_", [])] or \
            [f"x_{i + 1}" for i in range(self.n_features_in_)]
        variables = [sympy.Symbol(n) for n in names]
        return logit_formulas(self.model_, variables, self.mean_, self.scale_, x, labels, lib,
                              weight_simple, refit_steps)
