"""Strong-Wolfe line search on Python floats (Nocedal & Wright, Alg. 3.5 and 3.6).

The search itself is scalar arithmetic: keeping the step, loss and slope as floats (instead of
0-d tensors) makes its bookkeeping cost nothing next to an evaluation. The rules are those of
the L-BFGS pykan trains with: bracket by cubic extrapolation within [t + 0.01 (t - t_prev),
10 t], zoom by safeguarded cubic interpolation (a trial within 10% of the bracket's end moves
to 10% inside it when progress stalls), at most 25 evaluations.
"""
from __future__ import annotations

import math
from typing import Callable

from torch import Tensor


def cubic_minimum(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float,
                  lo: float | None = None, hi: float | None = None) -> float:
    """Minimiser of the cubic through (t1, f1, slope g1) and (t2, f2, slope g2), clipped to
    [lo, hi] (default: the interval between t1 and t2); the midpoint when the cubic has none."""
    if lo is None:
        lo, hi = min(t1, t2), max(t1, t2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if t1 <= t2:
        t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def strong_wolfe(evaluate: Callable[[float], tuple[float, Tensor, float]], t: float, f: float,
                 g: Tensor, gtd: float, d_norm: float, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_evals: int = 25):
    """Find a step t along a descent direction d satisfying the strong Wolfe conditions.

    ``evaluate(t)`` returns (loss, gradient, gradient . d) at x + t d; f, g, gtd are those
    at t = 0 and ``d_norm`` is max |d|. Returns (loss, gradient, t, evaluations) at the
    chosen step (the lowest loss seen when the conditions cannot be met).
    """
    f_new, g_new, gtd_new = evaluate(t)
    evals = 1
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    bracket = None
    while evals <= max_evals:  # bracketing phase
        if f_new > f + c1 * t * gtd or (evals > 2 and f_new >= f_prev):
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new, gtd_new)]
            break
        if abs(gtd_new) <= -c2 * gtd:
            return f_new, g_new, t, evals
        if gtd_new >= 0:
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new, gtd_new)]
            break
        t_next = cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               t + 0.01 * (t - t_prev), t * 10)
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new, gtd_new = evaluate(t)
        evals += 1
    if bracket is None:  # ran out of evaluations while extrapolating
        bracket = [(0.0, f, g, gtd), (t, f_new, g_new, gtd_new)]
    low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
    stalled = False
    while not done and evals <= max_evals:  # zoom phase
        (a, fa, _, ga), (b, fb, _, gb) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_minimum(a, fa, ga, b, fb, gb)
        top, bottom = max(a, b), min(a, b)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too close to an end of the bracket
            if stalled or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new, gtd_new = evaluate(t)
        evals += 1
        point = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = point
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    t, f_best, g_best, _ = bracket[low]
    return f_best, g_best, t, evals
