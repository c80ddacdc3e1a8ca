"""Validation and normalisation of MultKAN's structural arguments (width, mult_arity, grid, k)."""
from __future__ import annotations

import numbers


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def normalize_width(width) -> list[list[int]]:
    """``[2, [3, 2], 1]`` -> ``[[2, 0], [3, 2], [1, 0]]``; a clear error on anything else."""
    if not isinstance(width, (list, tuple)) or len(width) < 2:
        raise ValueError(f"width must be a list of at least 2 layers, e.g. [2, 5, 1]; got {width!r}.")
    out = []
    for l, w in enumerate(width):
        if _is_int(w):
            pair = [int(w), 0]
        elif isinstance(w, (list, tuple)) and len(w) == 2 and all(_is_int(v) for v in w):
            pair = [int(w[0]), int(w[1])]
        else:
            raise ValueError(f"width[{l}] must be an int or [n_sum, n_mult]; got {w!r}.")
        if pair[0] < 0 or pair[1] < 0 or sum(pair) == 0:
            raise ValueError(f"width[{l}] = {w!r} has no nodes; every layer needs at least one node.")
        out.append(pair)
    if out[0][1]:
        raise ValueError(f"the input layer cannot have multiplication nodes; got width[0] = {width[0]!r}.")
    return out


def normalize_arity(mult_arity, width: list[list[int]]) -> list[list[int]]:
    """Per-layer lists of arities, one per multiplication node (``[]`` for layers without)."""
    if _is_int(mult_arity):
        if mult_arity < 1:
            raise ValueError(f"mult_arity must be >= 1; got {mult_arity}.")
        return [[int(mult_arity)] * w[1] for w in width]
    if not isinstance(mult_arity, (list, tuple)) or len(mult_arity) != len(width):
        raise ValueError(
            f"mult_arity must be an int or a list with one entry per layer ({len(width)}); "
            f"got {mult_arity!r}.")
    out = []
    for l, (a, w) in enumerate(zip(mult_arity, width)):
        arities = [int(a)] * w[1] if _is_int(a) else list(a)
        if len(arities) != w[1] or not all(_is_int(v) and v >= 1 for v in arities):
            raise ValueError(
                f"mult_arity[{l}] must list {w[1]} arities >= 1 (one per multiplication node); "
                f"got {a!r}.")
        out.append([int(v) for v in arities])
    return out


def per_layer(value, depth: int, name: str, minimum: int) -> list[int]:
    """An int or a list of ``depth`` ints, each >= minimum."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * depth
    if len(values) != depth or not all(_is_int(v) for v in values):
        raise ValueError(f"{name} must be an int or a list of {depth} ints; got {value!r}.")
    if min(values) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}.")
    return [int(v) for v in values]
