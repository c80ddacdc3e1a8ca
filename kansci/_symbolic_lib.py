"""The library of symbolic edge functions: name -> (torch function, sympy function, complexity).

Names and complexities follow pykan 0.2.8's SYMBOLIC_LIB so snapped models port by name. The
torch functions are evaluated safely: inputs are clamped away from singularities and outputs are
bounded by ``Y_MAX``, so a symbolic edge never puts NaN or inf into training.
"""
from __future__ import annotations

import difflib
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

SYMBOLIC_LIB: dict[str, SymbolicFunction] = {
    name: SymbolicFunction(name, t, s, c) for name, t, s, c in _ENTRIES
}


def get_function(name: str) -> SymbolicFunction:
    """The library entry called ``name``; a ValueError with suggestions when unknown."""
    if not isinstance(name, str):
        raise TypeError(f"symbolic function name must be a str, got {type(name).__name__}.")
    try:
        return SYMBOLIC_LIB[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(SYMBOLIC_LIB), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown symbolic function {name!r}.{hint} Known: {', '.join(SYMBOLIC_LIB)}; "
            "add your own with kansci.add_symbolic."
        ) from None


def add_symbolic(name: str, torch_fn: Callable, sympy_fn: Callable, complexity: float = 1.0):
    """Register a user function for symbolic edges (replaces an entry of the same name)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}.")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables.")
    SYMBOLIC_LIB[name] = SymbolicFunction(name, torch_fn, sympy_fn, float(complexity))
