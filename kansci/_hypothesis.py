"""Hypothesis tests on a function of several variables (KAN 2.0 Sec. 4.3, the tree converter).

For f given as a callable on (N, d) tensors, or a MultKAN, on samples x:

* additive separability, f = g(x_A) + h(x_B): d2f / dxi dxj = 0 for every i in A, j in B;
* multiplicative separability, f = g(x_A) h(x_B): f d2f / dxi dxj - df/dxi df/dxj = 0 (both
  terms are g_i h_j g h). This is d2 log|f| / dxi dxj times f^2, without the division, so it
  stays finite where f crosses zero (log|f| and its Hessian blow up there).
  ``detect_separability`` returns the groups of variables that interact (connected components
  of the interaction graph).
* ``test_symmetry(group)``: f depends on the group only through one function g(x_group), i.e.
  the direction of the gradient within the group does not change when the other variables do.
* ``test_general_separability(group)``: f = F(g(x_group), h(x_rest)): symmetry of both sides.
* ``plot_tree``: the tree of nested symmetric groups, as a networkx DiGraph.

Interaction strengths are dimensionless, with s_i = std(x_i) and <.> a mean over samples that
drops the largest 2% of the terms (a few spikes of a network's derivatives do not decide):

    add:  <|f_ij|> s_i s_j / std(f)
    mul:  <|f f_ij - f_i f_j|> s_i s_j / mean(f^2)

(the mul one is |d2 log|f| / dxi dxj| s_i s_j averaged with weights f^2). Neither divides
sample by sample, so no sample near a zero of f can blow the statistic up; and a mean, unlike
a median, still sees a coupling that lives in part of the domain (sin(P), P = (x0+x1)(x2+x3)
(x4+x5), is nearly a product wherever |P| is small). Two variables interact when their
strength, relative to the strongest pair's, exceeds ``threshold``.
"""
from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor

MODES = ("add", "mul")
_TRIM = 0.02  # share of the largest per-sample terms a strength leaves out
_FLOOR = 1e-3  # strongest coupling below which f counts as separable to rounding


def _prepare(f, x) -> tuple:
    if not callable(f):
        raise TypeError(f"f must be a callable or a MultKAN; got {type(f).__name__}.")
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError("x must be a (samples, variables) array with >= 2 samples; "
                         f"got {tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf.")
    # a model runs in its own dtype; plain callables get float64 (second derivatives)
    dtype = f.dtype if isinstance(f, torch.nn.Module) else torch.float64
    if getattr(f, "backend", "torch") != "torch":  # second derivatives: the PyTorch path
        f = copy.copy(f)
        f.backend = "torch"
    return x.to(dtype), (lambda z: f(z).reshape(z.shape[0], -1)[:, 0])


def _derivatives(fn, x: Tensor):
    """Values (N,), gradients (N, d) and Hessians (N, d, d) of fn at x (N, d)."""
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    rows = [torch.autograd.grad(g[:, i].sum(), x, retain_graph=True, allow_unused=True)[0]
            for i in range(x.shape[1])]
    h = torch.stack([r if r is not None else torch.zeros_like(x) for r in rows], 1)
    return y.detach(), g.detach(), h.detach()


def _trimmed_mean(v: Tensor, trim: float = _TRIM) -> Tensor:
    """Mean over the first axis of v (N, ...) without its largest ``trim`` share."""
    keep = v.shape[0] - int(trim * v.shape[0])
    return v.sort(0).values[:keep].mean(0)


def interaction_matrix(f, x, mode: str = "add") -> Tensor:
    """Interaction strengths (d, d) of every pair of variables under ``mode`` ("add" or
    "mul"), zero on the diagonal, the largest scaled to 1 (module docstring). A function
    whose strongest coupling is below 1e-3 is separable to that accuracy: its strengths are
    scaled as if the largest were 1e-3, so that rounding is not blown up to a coupling."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    x, fn = _prepare(f, x)
    y, g, h = _derivatives(fn, x)
    if mode == "add":
        terms, size = h.abs(), y.std()  # (N, d, d)
    else:
        terms = (y[:, None, None] * h - g[:, :, None] * g[:, None, :]).abs()  # (N, d, d)
        size = y.square().mean()
    scale = x.std(0)
    strength = _trimmed_mean(terms) * scale[:, None] * scale[None, :]
    strength = strength / size if size > 0 else torch.zeros_like(strength)
    strength.fill_diagonal_(0.0)
    return strength / max(float(strength.max()), _FLOOR)


def detect_separability(f, x, mode: str = "add", threshold: float = 1e-2) -> list[list[int]]:
    """Groups of variables that interact; different groups are separable (``mode`` "add":
    f = sum of functions of the groups; "mul": a product, f may change sign). Two variables
    interact when their ``interaction_matrix`` strength exceeds ``threshold``."""
    s = interaction_matrix(f, x, mode)
    d = s.shape[0]
    return connected_groups(d, [(i, j) for i, j in itertools.combinations(range(d), 2)
                                if s[i, j] > threshold])


def connected_groups(d: int, coupled) -> list[list[int]]:
    """The variables 0 .. d-1 grouped into connected components of the ``coupled`` pairs,
    each group sorted, the groups sorted."""
    parent = list(range(d))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in coupled:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(d):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


def _group_directions(fn, x: Tensor, group: list[int]):
    _, g, _ = _derivatives(fn, x)
    gg = g[:, group]
    return gg / gg.norm(dim=1, keepdim=True).clamp_min(1e-300), gg.norm(dim=1)


def test_symmetry(f, x, group, mode: str = "add", threshold: float = 1e-3, seed: int = 0) -> bool:
    """Whether f depends on the variables in ``group`` only through one function g(x_group).

    The other variables of every sample are replaced by those of another sample; the
    direction of the gradient within the group must not move. ("mode" is accepted for
    symmetry with ``detect_separability``; the test itself needs no log.)"""
    x, fn = _prepare(f, x)
    group = sorted(set(int(i) for i in group))
    if not group or group[-1] >= x.shape[1] or group[0] < 0:
        raise ValueError(f"group must list variable indices in [0, {x.shape[1] - 1}]; got {group}.")
    if len(group) == 1 or len(group) == x.shape[1]:
        return True
    rest = [i for i in range(x.shape[1]) if i not in group]
    gen = torch.Generator().manual_seed(int(seed))
    shuffled = x.clone()
    shuffled[:, rest] = x[torch.randperm(x.shape[0], generator=gen)][:, rest]
    d1, n1 = _group_directions(fn, x, group)
    d2, n2 = _group_directions(fn, shuffled, group)
    keep = (n1 > 1e-8 * n1.max()) & (n2 > 1e-8 * n2.max())
    if not keep.any():
        return True  # f does not depend on the group at all
    misalignment = 1 - (d1[keep] * d2[keep]).sum(1).abs()
    return bool(misalignment.median() < threshold)


def test_general_separability(f, x, group, threshold: float = 1e-3) -> bool:
    """Whether f = F(g(x_group), h(x_rest)) for some functions F, g, h."""
    x_t, _ = _prepare(f, x)
    rest = [i for i in range(x_t.shape[1]) if i not in set(int(i) for i in group)]
    return (test_symmetry(f, x, group, threshold=threshold)
            and test_symmetry(f, x, rest, threshold=threshold))


def plot_tree(f, x, in_vars=None, threshold: float = 1e-3):
    """The tree of nested symmetric groups of f, as a networkx DiGraph.

    Leaves are the variables; an inner node is a group on which f depends only through one
    function; edges point from a group to its parts; the root holds every variable. Nodes
    carry ``label`` (the variables, by name) and ``variables`` (indices). Groups are merged
    greedily, smallest first, while the union of two is still symmetric."""
    import networkx as nx

    x_t, _ = _prepare(f, x)
    d = x_t.shape[1]
    names = list(in_vars) if in_vars is not None else [f"x_{i + 1}" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"in_vars must name the {d} variables; got {len(names)}.")
    tree = nx.DiGraph()
    groups = []
    for i in range(d):
        tree.add_node((i,), label=str(names[i]), variables=(i,))
        groups.append((i,))
    merged = True
    while merged and len(groups) > 1:
        merged = False
        pairs = sorted(itertools.combinations(groups, 2), key=lambda p: len(p[0]) + len(p[1]))
        for a, b in pairs:
            union = tuple(sorted(a + b))
            if len(union) < d and test_symmetry(f, x_t, list(union), threshold=threshold):
                tree.add_node(union, label=", ".join(str(names[i]) for i in union), variables=union)
                tree.add_edge(union, a)
                tree.add_edge(union, b)
                groups = [g for g in groups if g not in (a, b)] + [union]
                merged = True
                break
    root = tuple(range(d))
    if len(groups) > 1 or groups[0] != root:
        tree.add_node(root, label=", ".join(str(n) for n in names), variables=root)
        for g in groups:
            if g != root:
                tree.add_edge(root, g)
    return tree
