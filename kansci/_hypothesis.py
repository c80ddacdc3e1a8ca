"""Hypothesis tests on a function of several variables (KAN 2.0 Sec. 4.3, the tree converter).

For f given as a callable on (N, d) tensors, or a MultKAN, on samples x:

* additive separability between variables i and j: d2f / dxi dxj = 0 everywhere;
  multiplicative: the same for log|f|. ``detect_separability`` returns the groups of variables
  that interact (connected components of the interaction graph).
* ``test_symmetry(group)``: f depends on the group only through one function g(x_group), i.e.
  the direction of the gradient within the group does not change when the other variables do.
* ``test_general_separability(group)``: f = F(g(x_group), h(x_rest)): symmetry of both sides.
* ``plot_tree``: the tree of nested symmetric groups, as a networkx DiGraph.

Interaction strengths are made dimensionless as |H_ij| std(x_i) std(x_j) / std(f) and compared
with the strongest one.
"""
from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor

MODES = ("add", "mul")


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


def _derivatives(fn, x: Tensor, mode: str):
    """Values (N,), gradients (N, d) and Hessians (N, d, d) of fn (or log|fn| for "mul")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    x = x.detach().clone().requires_grad_()
    y = fn(x)
    if mode == "mul":
        if (y.detach().abs() < 1e-12).any():
            raise ValueError("multiplicative tests need f != 0 on every sample (they use log|f|).")
        y = torch.log(y.abs())
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    rows = [torch.autograd.grad(g[:, i].sum(), x, retain_graph=True, allow_unused=True)[0]
            for i in range(x.shape[1])]
    h = torch.stack([r if r is not None else torch.zeros_like(x) for r in rows], 1)
    return y.detach(), g.detach(), h.detach()


def interaction_matrix(f, x, mode: str = "add") -> Tensor:
    """Dimensionless interaction strengths (d, d), the largest off-diagonal one scaled to 1."""
    x, fn = _prepare(f, x)
    y, _, h = _derivatives(fn, x, mode)
    scale = x.std(0)
    strength = h.abs().mean(0) * scale[:, None] * scale[None, :] / (y.std() + 1e-300)
    strength.fill_diagonal_(0.0)
    top = strength.max()
    return strength / top if top > 0 else strength


def detect_separability(f, x, mode: str = "add", threshold: float = 1e-2) -> list[list[int]]:
    """Groups of variables that interact; different groups are separable (``mode`` "add":
    f = sum of functions of the groups; "mul": a product)."""
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
    _, g, _ = _derivatives(fn, x, "add")
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
