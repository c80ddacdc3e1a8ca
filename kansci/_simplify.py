"""Simplifying formulas within a time limit, and their complexity.

sympy's ``simplify`` can take minutes on a 30-node expression with nested exp and cos, so
``tidy`` stops it after a few seconds (``within``: the work runs in a thread of its own,
stopped by an exception raised in that thread, so it works from any thread and sets no
signal handler or timer).
"""
from __future__ import annotations

import ctypes
import sys
import threading
import time

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
    if complexity(expr) > SIMPLIFY_MAX:
        return expr
    return even_of_abs(rewrite(seconds, lambda: sympy.simplify(expr), expr))


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
    swallowed the stop and let one simplification run for 15 s past its time."""


_RUNNING, _DONE, _STOPPING = 0, 1, 2
_GRACE_S = 1.0  # how long a stopped computation may take to unwind before it is left behind


def _raise_in(thread: threading.Thread, exc) -> None:
    """Raise ``exc`` in ``thread`` at its next bytecode boundary (CPython's asynchronous
    exception; nothing process-wide is touched: no signal, no argtypes set on pythonapi)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))


def _interruptible(thread: threading.Thread) -> bool:
    """Whether ``thread`` is running code an exception can be raised in: not a finaliser or a
    weakref callback that the garbage collector runs in it (an exception there is reported
    as unraisable and lost, and the computation would run on)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename.endswith(_CALLBACK_FILES):
            return False
        frame = frame.f_back
    return True


_CALLBACK_FILES = ("weakref.py", "_weakrefset.py")


class _Limited(threading.Thread):
    """``fn()`` in a thread of its own, which ``stop`` ends with _OutOfTime. Whatever fn raises
    or returns, and the stop wherever it lands (even after fn returned), stays in the thread."""

    def __init__(self, fn):
        super().__init__(name="kansci-time-limit", daemon=True)
        self.fn, self.value, self.error = fn, None, None
        self.state, self.lock = _RUNNING, threading.Lock()

    def run(self) -> None:
        try:
            try:
                self.value = self.fn()
            except _OutOfTime:
                raise
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                self.error = e
            with self.lock:
                if self.state == _RUNNING:
                    self.state = _DONE
                    return
            for _ in range(1000):  # stopped as fn returned: the stop is on its way
                time.sleep(0.001)
        except _OutOfTime:
            pass

    def stop(self) -> bool:
        """Send the stop if fn is still running (once, in interruptible code); whether sent."""
        with self.lock:
            if self.state != _RUNNING or not _interruptible(self):
                return False
            self.state = _STOPPING
            _raise_in(self, _OutOfTime)
            return True


def within(seconds: float, fn, default):
    """fn() if it finishes within ``seconds``, else ``default`` (then fn is stopped).

    fn runs in a thread of its own, from any calling thread, and what it raises is raised
    here; an interrupt (Ctrl-C) while waiting stops it too."""
    if seconds <= 0:
        return default
    worker = _Limited(fn)
    worker.start()
    try:
        worker.join(seconds)
    except BaseException:
        _end(worker)
        raise
    if worker.is_alive():
        _end(worker)
        return default
    if worker.state != _DONE:  # stopped as it ended: its result is not trusted
        return default
    if worker.error is not None:
        raise worker.error
    return worker.value


def rewrite(seconds: float, fn, default):
    """An optional rewrite of an expression: fn() within ``seconds``, else ``default``; also
    ``default`` where sympy fails on it (simplify can raise a MemoryError turning
    exp(-1e11) into a rational, or a PolynomialError: the expression then stays as it is)."""
    try:
        return within(seconds, fn, default)
    except Exception:  # noqa: BLE001 - sympy's failures vary; the rewrite is optional
        return default


def _end(worker: _Limited) -> None:
    """Stop ``worker`` and wait (at most ``_GRACE_S``) for it to unwind; one that does not is
    left to finish on its own."""
    until = time.monotonic() + _GRACE_S
    while worker.is_alive() and not worker.stop() and time.monotonic() < until:
        worker.join(0.001)
    worker.join(max(0.0, until - time.monotonic()))
