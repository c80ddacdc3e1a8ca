"""Simplifying formulas within a time limit, and their complexity.

sympy's ``simplify`` can take minutes on a 30-node expression with nested exp and cos, so
``tidy`` stops it after a few seconds (a real-time timer signal, where there is one).
"""
from __future__ import annotations

import contextlib
import signal
import threading

import sympy

SIMPLIFY_MAX = 60  # expression nodes above which sympy's simplify is not attempted
SIMPLIFY_S = 2.0  # seconds one simplify may take


def complexity(expr: sympy.Expr) -> int:
    """Nodes of the expression tree: a function application (sin, exp, ...) counts 3, a fitted
    constant (a float, or a number containing one) 2, an exact number (3, 1/2, 4 pi) 1."""
    if expr.is_number:
        return 2 if expr.has(sympy.Float) else 1
    own = 3 if isinstance(expr, sympy.Function) else 1
    return own + sum(complexity(a) for a in expr.args)


def tidy(expr: sympy.Expr, seconds: float = SIMPLIFY_S) -> sympy.Expr:
    """sympy's simplify, for expressions small enough, given at most ``seconds`` (simplify
    can take minutes on a 30-node expression with nested exp and cos); the expression as it
    is when that is not possible."""
    size = complexity(expr)
    if size > SIMPLIFY_MAX:
        return expr
    # where simplify cannot be stopped, only expressions that simplify quickly
    out = within(seconds, lambda: sympy.simplify(expr), expr,
                 unbounded=lambda: sympy.simplify(expr) if size <= 15 else expr)
    return even_of_abs(out)


_EVEN = (sympy.cos, sympy.cosh, sympy.sec, sympy.sech)


def even_of_abs(expr: sympy.Expr) -> sympy.Expr:
    """|u| dropped inside an even function: cos(|u|) = cos(u) (and cosh, sec, sech),
    |u|^(2k) = u^(2k) (a fit through |u| is as exact as one through u; sympy keeps both)."""
    if not expr.has(sympy.Abs):
        return expr
    return expr.replace(
        lambda e: (isinstance(e, _EVEN) and isinstance(e.args[0], sympy.Abs))
        or (e.is_Pow and isinstance(e.base, sympy.Abs) and e.exp.is_Integer and e.exp % 2 == 0),
        lambda e: (e.func(e.args[0].args[0]) if isinstance(e, _EVEN)
                   else e.base.args[0] ** e.exp))


def tidy_exact(expr: sympy.Expr, seconds: float = SIMPLIFY_S) -> sympy.Expr:
    """``tidy`` with every float constant held as a symbol meanwhile, so that simplify cannot
    turn the exact rationals next to them into floats (5/12 a + 0.2778 b stays so)."""
    floats = {f: sympy.Dummy() for f in expr.atoms(sympy.Float)}
    if not floats:
        return tidy(expr, seconds)
    out = tidy(expr.xreplace(floats), seconds)
    return out.xreplace({d: f for f, d in floats.items()})


class _OutOfTime(BaseException):
    """Not an Exception: sympy catches those in places (inside factor and trigsimp), which
    swallowed the timer's signal and let one simplification run for 15 s past its time."""


class _NoTimer(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _OutOfTime in the block after ``seconds`` (a real-time timer signal; only in the
    main thread of a platform that has one, and only if no other timer is running; otherwise
    _NoTimer is raised before the block runs)."""
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        raise _NoTimer

    def expire(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def within(seconds: float, fn, default, unbounded=None):
    """fn() if it finishes within ``seconds``, else ``default``. Where no timer can be set
    (e.g. outside the main thread) ``unbounded()`` is returned instead (default: fn())."""
    try:
        with _time_limit(seconds):
            return fn()
    except _OutOfTime:
        return default
    except _NoTimer:
        return (unbounded or fn)()
