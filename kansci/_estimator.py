"""``KANRegressor``: ``discover`` as a scikit-learn estimator (fit / predict / score / sympy).

Importing this module needs scikit-learn; ``kansci.KANRegressor`` loads it on first use.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ._discover import discover


class KANRegressor(RegressorMixin, BaseEstimator):
    """Symbolic regression with KANs: ``fit`` runs ``discover`` and keeps the formula;
    ``predict`` evaluates the formula (not the network), so it extrapolates as the law does.

    Parameters: ``budget_s`` (seconds per fit, None = no limit), ``seed``, ``progress``,
    ``units`` ({column: unit}) and ``y_units`` (pint unit strings; see ``discover``).
    Fitted attributes: ``formula_`` (sympy), ``model_`` (the MultKAN behind it),
    ``equations_`` (candidate table), ``r2_`` (held-out R^2), ``n_features_in_`` and, for
    DataFrames, ``feature_names_in_``."""

    def __init__(self, budget_s: float | None = 60.0, seed: int = 0, progress: bool = False,
                 units=None, y_units=None):
        self.budget_s = budget_s
        self.seed = seed
        self.progress = progress
        self.units = units
        self.y_units = y_units

    def fit(self, X, y):
        cols = getattr(X, "columns", None)
        names = [str(c) for c in cols] if cols is not None else None
        result = discover(X, y, names=names, seed=self.seed, budget_s=self.budget_s,
                          progress=self.progress, units=self.units, y_units=self.y_units)
        self.result_ = result
        self.formula_, self.model_, self.equations_, self.r2_ = (
            result.formula, result.model, result.equations, result.r2)
        self.n_features_in_ = len(result.variables)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self._predict = result.numpy()
        return self

    def _fitted(self):
        if not hasattr(self, "result_"):
            raise ValueError("this KANRegressor is not fitted yet; call fit(X, y) first.")

    def predict(self, X) -> np.ndarray:
        """The formula at X (n, n_features_in_) -> (n,)."""
        self._fitted()
        X = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}); got {X.shape}.")
        return self._predict(X)

    def sympy(self):
        """The discovered formula (sympy expression)."""
        self._fitted()
        return self.formula_
