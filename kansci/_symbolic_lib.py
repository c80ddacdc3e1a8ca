"""The library of symbolic edge functions: name -> (torch function, sympy function, complexity).

Names and complexities follow pykan 0.2.8's SYMBOLIC_LIB so snapped models port by name. The
torch functions are evaluated safely: inputs are clamped away from singularities and outputs are
bounded by ``Y_MAX``, so a symbolic edge never puts NaN or inf into training.

A library is an immutable ``Library`` (a mapping). The default, ``SYMBOLIC_LIB``, never
changes: ``add_symbolic`` returns a new library with one more function, which a model takes
(``MultKAN(library=...)``, ``model.library = ...`` or ``model.add_symbolic(...)``) or a call
takes (``suggest_symbolic(lib=...)``, ``auto_symbolic(lib=...)``). Every layer of a model
evaluates its snapped edges through the model's library.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import sympy
import torch
from torch import Tensor

Y_MAX = 1e6  # bound on |f| for functions with poles


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry: a safe torch function, its sympy counterpart and a complexity."""

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: float


def _away_from_zero(x: Tensor, x_min: float) -> Tensor:
    """x with |x| >= x_min, keeping the sign (0 maps to +x_min)."""
    sign = torch.where(x < 0, -1.0, 1.0).to(x.dtype)
    return sign * x.abs().clamp_min(x_min)


def _inv_power(n: int) -> Callable[[Tensor], Tensor]:
    x_min = Y_MAX ** (-1.0 / n)
    return lambda x: _away_from_zero(x, x_min) ** (-n)


def _pos(x: Tensor) -> Tensor:
    return x.clamp_min(Y_MAX ** -2.0)


_ENTRIES = [
    ("x", lambda x: x, lambda x: x, 1),
    ("x^2", lambda x: x**2, lambda x: x**2, 2),
    ("x^3", lambda x: x**3, lambda x: x**3, 3),
    ("x^4", lambda x: x**4, lambda x: x**4, 3),
    ("x^5", lambda x: x**5, lambda x: x**5, 3),
    ("1/x", _inv_power(1), lambda x: 1 / x, 2),
    ("1/x^2", _inv_power(2), lambda x: 1 / x**2, 2),
    ("1/x^3", _inv_power(3), lambda x: 1 / x**3, 3),
    ("1/x^4", _inv_power(4), lambda x: 1 / x**4, 4),
    ("1/x^5", _inv_power(5), lambda x: 1 / x**5, 5),
    ("sqrt", lambda x: torch.sqrt(_pos(x)), sympy.sqrt, 2),
    ("x^0.5", lambda x: torch.sqrt(_pos(x)), sympy.sqrt, 2),
    ("x^1.5", lambda x: _pos(x) ** 1.5, lambda x: sympy.sqrt(x) ** 3, 4),
    ("1/sqrt(x)", lambda x: _pos(x) ** -0.5, lambda x: 1 / sympy.sqrt(x), 2),
    ("1/x^0.5", lambda x: _pos(x) ** -0.5, lambda x: 1 / sympy.sqrt(x), 2),
    ("exp", lambda x: torch.exp(x.clamp_max(13.8)), sympy.exp, 2),
    ("log", lambda x: torch.log(_pos(x)), sympy.log, 2),
    ("abs", torch.abs, sympy.Abs, 3),
    ("sin", torch.sin, sympy.sin, 2),
    ("cos", torch.cos, sympy.cos, 2),
    ("tan", lambda x: torch.tan(x).clamp(-Y_MAX, Y_MAX), sympy.tan, 3),
    ("tanh", torch.tanh, sympy.tanh, 3),
    ("sgn", torch.sign, sympy.sign, 3),
    ("arcsin", lambda x: torch.arcsin(x.clamp(-1, 1)), sympy.asin, 4),
    ("arccos", lambda x: torch.arccos(x.clamp(-1, 1)), sympy.acos, 4),
    ("arctan", torch.arctan, sympy.atan, 4),
    ("arctanh", lambda x: torch.arctanh(x.clamp(-1 + 1e-6, 1 - 1e-6)), sympy.atanh, 4),
    ("0", lambda x: x * 0, lambda x: sympy.Integer(0), 0),
    ("gaussian", lambda x: torch.exp(-(x**2)), lambda x: sympy.exp(-(x**2)), 3),
]

class Library(Mapping):
    """An immutable mapping name -> ``SymbolicFunction`` (shared, not copied, by model
    copies: it cannot change). A library that is a module's global (``where``, as
    "module:name") is pickled as that reference; any other as its entries (so its functions
    must be picklable: module-level functions, not lambdas)."""

    def __init__(self, entries=(), where: str | None = None):
        self._entries = dict(entries)
        self._where = where

    def __reduce__(self):
        if self._where is not None:
            return _global_library, (self._where,)
        return Library, (self._entries,)

    def __getitem__(self, name: str) -> SymbolicFunction:
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Library({', '.join(self._entries)})"

    def adding(self, fn: SymbolicFunction) -> "Library":
        """A new library: this one with ``fn`` added under its name (or replacing it)."""
        return Library({**self._entries, fn.name: fn})

    def lacking(self, names) -> list[str]:
        """The names among ``names`` that this library lacks (sorted; "0", an edge that is
        not snapped, is never lacking)."""
        return sorted(set(names) - set(self._entries) - {"0"})

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


SYMBOLIC_LIB = Library(((name, SymbolicFunction(name, t, s, c)) for name, t, s, c in _ENTRIES),
                       where="kansci._symbolic_lib:SYMBOLIC_LIB")


def _global_library(where: str) -> Library:
    """The library a module holds under a name ("module:name"; unpickling)."""
    import importlib

    module, name = where.split(":")
    return getattr(importlib.import_module(module), name)


def get_function(name: str, library: Mapping | None = None) -> SymbolicFunction:
    """The entry called ``name`` of ``library`` (default ``SYMBOLIC_LIB``); a ValueError with
    suggestions when unknown."""
    if not isinstance(name, str):
        raise TypeError(f"symbolic function name must be a str, got {type(name).__name__}.")
    library = SYMBOLIC_LIB if library is None else library
    try:
        return library[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(library), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown symbolic function {name!r}.{hint} Known: {', '.join(library)}; "
            "add your own with model.add_symbolic(name, torch_fn, sympy_fn) (or "
            "lib = kansci.add_symbolic(...), then MultKAN(library=lib))."
        ) from None


def add_symbolic(name: str, torch_fn: Callable, sympy_fn: Callable, complexity: float = 1.0,
                 library: Mapping | None = None) -> Library:
    """A new library: ``library`` (default ``SYMBOLIC_LIB``) with the function ``name``
    added (or replaced). Nothing else changes: give it to a model (``MultKAN(library=lib)``,
    ``model.library = lib``) or to a call (``model.suggest_symbolic(..., lib=lib)``);
    ``model.add_symbolic(...)`` does both steps for one model.

    torch_fn: a safe torch function (tensor -> tensor; clamp away from singularities);
    sympy_fn: its sympy counterpart; complexity: as pykan's (x: 1, sin: 2, ...)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}.")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables.")
    base = SYMBOLIC_LIB if library is None else library
    base = base if isinstance(base, Library) else Library(base)
    return base.adding(SymbolicFunction(name, torch_fn, sympy_fn, float(complexity)))
