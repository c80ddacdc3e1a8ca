"""Making a regression problem smaller before fitting it (the AI Feynman recipe, with a KAN as
the stand-in for the unknown function).

A surrogate ``f`` (a callable on (N, d) float64 tensors, returning (N,)) trained on the data
is evaluated where the data has no samples and differentiated. Three reductions are tested:

* unused variable: df/dx_i = 0 everywhere -> x_i is dropped;
* two-variable symmetry: f depends on (x_i, x_j) only through x_i - x_j, x_i + x_j, x_i / x_j
  or x_i x_j, i.e. the partial derivatives obey a fixed linear relation
  (d_i f + d_j f = 0, d_i f - d_j f = 0, x_i d_i f + x_j d_j f = 0, x_i d_i f - x_j d_j f = 0)
  -> the pair becomes one new variable; the targets stay the measured ones;
* scaling symmetry: f(lambda^c_1 x_1, .., lambda^c_d x_d) = lambda^e f(x) for every lambda > 0,
  i.e. sum_i c_i x_i d_i f = e f at every sample: (c, e) is a null vector of the (N, d + 1)
  matrix [x_i d_i f, -f] (of [d log|f| / d log|x_i|, -1] for f of one sign). A basis of
  these acts as the dimensions of the variables would (base k: x_i carries c_ki, f carries
  e_k), so Buckingham's theorem reduces the problem as units do, without units;
* separability: with a, b two random samples and the other variables held at a third,
      D+ = f(a_i, a_j) + f(b_i, b_j) - f(a_i, b_j) - f(b_i, a_j)
      D* = f(a_i, a_j) f(b_i, b_j) - f(a_i, b_j) f(b_i, a_j)
  D+ vanishes for every i in A, j in B iff f = g(x_A) + h(x_B), D* iff f = g(x_A) h(x_B)
  (both products are then g(a) g(b) h(a) h(b)). The statistics are <|D+|> / std(f) and
  <|D*|> / mean(f^2), or, when f keeps one sign, the first one on log|f|; <.> is the mean over
  n quadruples without the largest 2%. Neither divides quadruple by quadruple (D* / f^2 blows
  up where f crosses zero), and a mean, unlike a median, sees a coupling that lives in part of
  the domain: sin(P), P = (x0+x1)(x2+x3)(x4+x5), is nearly a product wherever |P| is small,
  and a median took it for one. Each group becomes a sub-problem whose targets are the
  surrogate's values with the other variables held at an anchor sample.

Every test is relative: a statistic counts as zero when it is below ``threshold`` (set from the
surrogate's own held-out error by the caller; ``_cut`` lifts it over a cluster of pairs at
one noise level when the caller's value is too low).
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from ._hypothesis import connected_groups
from ._units import _rank

Surrogate = Callable[[Tensor], Tensor]

# (name, relation between the partial derivatives that vanishes, new variable)
SYMMETRIES = ("minus", "plus", "ratio", "product")


class Symmetry(NamedTuple):
    i: int
    j: int
    kind: str  # one of SYMMETRIES
    score: float  # relative residual of the derivative relation (0 = exact)


def gradient(f: Surrogate, x: Tensor) -> Tensor:
    """df/dx at samples x (N, d) -> (N, d)."""
    x = x.detach().clone().requires_grad_()
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(x).sum(), x)
    return g.detach()


def unused(g: Tensor, x: Tensor, threshold: float) -> list[int]:
    """Variables whose effect on f, rms(df/dx_i) std(x_i), is below ``threshold`` times the
    largest one. g (N, d) gradients at samples x (N, d)."""
    effect = g.square().mean(0).sqrt() * x.std(0)
    top = float(effect.max())
    return [i for i, e in enumerate(effect.tolist()) if top > 0 and e < threshold * top]


def _relation(kind: str, gi: Tensor, gj: Tensor, xi: Tensor, xj: Tensor) -> tuple[Tensor, Tensor]:
    """The two terms whose sum vanishes under the symmetry ``kind``."""
    if kind == "minus":
        return gi, gj
    if kind == "plus":
        return gi, -gj
    if kind == "ratio":
        return xi * gi, xj * gj
    return xi * gi, -(xj * gj)  # product


def symmetries(g: Tensor, x: Tensor, threshold: float) -> list[Symmetry]:
    """Two-variable symmetries of f, best first. g (N, d) gradients at samples x (N, d).

    A ratio needs x_j of one sign (x_i / x_j must exist); pairs in which f ignores either
    variable are skipped (``unused`` handles those)."""
    found = []
    one_sign = [(bool((c > 0).all()) or bool((c < 0).all())) for c in x.t()]
    for i, j in itertools.combinations(range(x.shape[1]), 2):
        for kind in SYMMETRIES:
            if kind == "ratio" and not one_sign[j]:
                continue
            a, b = _relation(kind, g[:, i], g[:, j], x[:, i], x[:, j])
            size = a.square() + b.square()
            ok = size > 1e-12 * float(size.max())
            if not bool(ok.any()):
                continue
            # per sample, then the median: a few samples near a kink (where the surrogate's
            # derivatives are poor) do not decide
            score = float(((a + b).square()[ok] / size[ok]).median())
            if score < threshold:
                found.append(Symmetry(i, j, kind, score))
    return sorted(found, key=lambda s: s.score)


_RATIOS = tuple(sorted({Fraction(sign * p, q) for p in (1, 2, 3) for q in (1, 2, 3)
                        for sign in (1, -1)}, key=lambda r: (r.denominator, abs(r), -r)))


def _sparse_vectors(d: int, max_support: int = 3) -> list[tuple[Fraction, ...]]:
    """Candidate exponent vectors over d variables: one variable alone (1), or two or three
    with the first 1 and the others from ``_RATIOS``; simplest first."""
    out = []
    for k in range(1, max_support + 1):
        for support in itertools.combinations(range(d), k):
            for rest in itertools.product(_RATIOS, repeat=k - 1):
                v = [Fraction(0)] * d
                v[support[0]] = Fraction(1)
                for j, r in zip(support[1:], rest):
                    v[j] = r
                out.append(tuple(v))
    return out


def _simplicity(v) -> tuple:
    return (sum(1 for c in v[:-1] if c), max(c.denominator for c in v),
            max(abs(c) for c in v[:-1]), sum(abs(c) for c in v[:-1]))


def scalings(a: Tensor, gap: float = 3.0, largest: float = 0.3, angle: float = 0.05,
             tries: int = 2) -> list[list[tuple[Fraction, ...]]]:
    """Bases of the scaling symmetries (c, e) that ``a`` (N, d + 1) shows: rows
    [x_1 d_1 f, .., x_d d_d f, -f] at N samples (or [d log|f| / d log|x_i|, -1] for f of
    one sign), so that a @ (c, e) = 0. Each basis is a list of vectors (c_1, .., c_d, e) of
    Fractions; up to ``tries`` bases, one per likely number p of symmetries, most likely
    first.

    With the columns scaled to unit rms and the singular values divided by sqrt(N), p is
    likely when the p smallest stay below ``largest`` and the next one is ``gap`` times
    larger; the p right singular vectors span the symmetries. Any vector of that space is a
    symmetry, so the basis is built from the simplest: sparse candidates c (``_sparse_vectors``)
    with e = <a_c, f> / <f, f> rounded to a fraction of denominator <= 4 (within 0.1), kept
    when their angle to the space is below ``angle`` (radians), taken greedily simplest first
    while they are independent. Fewer than p may be found: the problem then shrinks less."""
    n, m = a.shape
    d = m - 1
    scale = a.square().mean(0).sqrt()
    if d < 2 or n < 2 * m or not bool(torch.isfinite(a).all()) or bool((scale == 0).any()):
        return []
    _, s, vh = torch.linalg.svd(a / scale, full_matrices=False)
    s = s / math.sqrt(n)
    likely = [(float(s[m - p - 1] / s[m - p].clamp_min(1e-300)), p) for p in range(1, m - 1)
              if float(s[m - p]) < largest]
    likely = sorted(((r, p) for r, p in likely if r >= gap), reverse=True)[:tries]
    if not likely:
        return []
    vectors = _sparse_vectors(d)
    c = torch.tensor([[float(v) for v in vec] for vec in vectors], dtype=a.dtype)  # (K, d)
    f = -a[:, d]
    e = (a[:, :d] @ c.t()).t() @ f / f.dot(f)  # (K,) least squares: a_c = e f
    rounded = [Fraction(float(v)).limit_denominator(4) for v in e.tolist()]
    near = [abs(float(r) - float(v)) <= 0.1 for r, v in zip(rounded, e.tolist())]
    full = [vec + (r,) for vec, r in zip(vectors, rounded)]
    w = torch.cat([c, torch.tensor([[float(r)] for r in rounded], dtype=a.dtype)], 1) * scale
    w = w / w.norm(dim=1, keepdim=True)  # (K, m) unit vectors in the scaled coordinates
    out = []
    for _, p in likely:
        basis = vh[m - p:]  # (p, m) orthonormal
        off = (w - (w @ basis.t()) @ basis).norm(dim=1)  # sine of the angle to the space
        ok = [k for k in range(len(full)) if near[k] and float(off[k]) < angle]
        chosen: list[tuple[Fraction, ...]] = []
        for k in sorted(ok, key=lambda k: (_simplicity(full[k]), float(off[k]))):
            if len(chosen) < p and _rank(list(chosen) + [full[k]], m) > len(chosen):
                chosen.append(full[k])
        if chosen:
            out.append(chosen)
    return out


def combine(kind: str, xi, xj):
    """The new variable of a symmetry (works on tensors and sympy expressions)."""
    return {"minus": lambda: xi - xj, "plus": lambda: xi + xj, "ratio": lambda: xi / xj,
            "product": lambda: xi * xj}[kind]()


def split_with_margin(f: Surrogate, x: Tensor, threshold: float, mode: str, n: int = 256,
                      seed: int = 0) -> tuple[list[list[int]], float]:
    """Groups of variables that interact under ``mode`` ("add" or "mul"; one group: f is not
    separable that way), and how clean the split is: the largest statistic taken as zero over
    the smallest one taken as a coupling (0: perfectly clean; 1 when nothing splits). x (N, d)
    samples the domain; the test points mix coordinates of random samples, so they stay
    inside the box the data spans."""
    d = x.shape[1]
    gen = torch.Generator().manual_seed(int(seed))
    pick = lambda: x[torch.randint(x.shape[0], (n,), generator=gen)]  # noqa: E731
    base, a, b = pick(), pick(), pick()
    pairs = list(itertools.combinations(range(d), 2))
    points = []
    for i, j in pairs:
        for ui, uj in ((a, a), (b, b), (a, b), (b, a)):
            p = base.clone()
            p[:, i], p[:, j] = ui[:, i], uj[:, j]
            points.append(p)
    with torch.no_grad():
        v = f(torch.cat(points)).view(len(pairs), 4, n)
    if mode == "mul" and (bool((v > 0).all()) or bool((v < 0).all())):
        v, mode = v.abs().log(), "add"  # scale-free: a product is a sum of logs
    f11, f22, f12, f21 = v.unbind(1)  # (pairs, n)
    if mode == "add":
        stat = _trimmed_mean((f11 + f22 - f12 - f21).abs()) / (v.std() + 1e-300)
    else:  # f changes sign: no log, and no division sample by sample
        stat = _trimmed_mean((f11 * f22 - f12 * f21).abs()) / (v.square().mean() + 1e-300)
    stats = stat.tolist()
    cut = _cut(stats, threshold)
    zero = [s for s in stats if s <= cut]
    coupled = [(p, s) for p, s in zip(pairs, stats) if not s <= cut]
    groups = connected_groups(d, [p for p, _ in coupled])
    if len(groups) == 1:
        return groups, 1.0
    return groups, (max(zero) / min(s for _, s in coupled) if coupled else 0.0)


def _trimmed_mean(v: Tensor, trim: float = 0.02) -> Tensor:
    """Mean over the last axis of v (..., n) without its largest ``trim`` share."""
    keep = v.shape[-1] - int(trim * v.shape[-1])
    return v.sort(-1).values[..., :keep].mean(-1)


def _cut(stats: list[float], threshold: float, cap: float = 0.1, ratio: float = 4.0) -> float:
    """The largest statistic that still counts as zero: ``threshold``, unless the sorted
    statistics first jump by ``ratio`` or more from a value ``low`` in (threshold, cap). The
    pairs up to ``low`` then count as zero too (a surrogate error above what ``threshold``
    allows for) when they look like one noise level, within a factor 1.5 of each other, or
    when the jump is wider still, ``ratio`` low / threshold or more. Weak real couplings spread
    more and sit closer to the strong ones (the cross pairs of sin((x0+x1)(x2+x3)(x4+x5)): a
    factor 2 to 3 apart, about 8x below the strong ones) and stay couplings."""
    ordered = sorted(s for s in stats if s == s)
    for k, (low, high) in enumerate(zip(ordered, ordered[1:])):
        if low >= cap:
            break
        if high <= threshold or high < ratio * max(low, 1e-300):
            continue  # both count as zero already, or no jump
        lifted = [s for s in ordered[:k + 1] if s > threshold]  # what would count as zero too
        if lifted and (low <= 1.5 * lifted[0] or high * threshold >= ratio * low * low):
            return low
        break
    return threshold


def anchored(f: Surrogate, x: Tensor, group: list[int], anchors: Tensor) -> Tensor:
    """The surrogate along ``group``, averaged over anchors: mean_k f(x with every other
    variable set to anchors[k]). x (N, d), anchors (K, d) -> (N,). For an additive (or, with
    one anchor, multiplicative) split this is the group's part up to a constant (factor);
    averaging over anchors averages the surrogate's errors down."""
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for anchor in anchors:
        p = anchor.expand(x.shape[0], -1).clone()
        p[:, group] = x[:, group]
        with torch.no_grad():
            out += f(p)
    return out / anchors.shape[0]
