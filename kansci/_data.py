"""Datasets: ``create_dataset`` (pykan-compatible dict) and validation of user data.

Everything a user passes (dicts, (X, y) pairs, NumPy arrays, tensors, pandas DataFrames) is
checked once here: shapes, emptiness and NaN/inf, with errors that name the problem.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor


def _names(obj) -> list[str] | None:
    """Column names of a DataFrame / Series, else None."""
    cols = getattr(obj, "columns", None)
    if cols is not None:
        return [str(c) for c in cols]
    name = getattr(obj, "name", None) if hasattr(obj, "to_numpy") else None
    return [str(name)] if name is not None else None


def as_tensor(data, what: str, dtype: torch.dtype, device) -> Tensor:
    """A finite, non-empty 2-D tensor from an array, tensor, DataFrame or Series."""
    if hasattr(data, "to_numpy"):  # pandas
        data = data.to_numpy()
    if isinstance(data, Tensor):
        t = data.detach()
    else:
        try:
            arr = np.asarray(data)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise TypeError(f"{what} must be numeric array-like; got {type(data).__name__}.") from e
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{what} must be numeric; got an array of dtype {arr.dtype}.")
        # a read-only array (e.g. a pandas copy-on-write view) is copied, never shared
        arr = np.ascontiguousarray(arr) if arr.flags.writeable else np.array(arr, order="C")
        t = torch.from_numpy(arr)
    if t.is_complex():
        raise TypeError(f"{what} must be real-valued; got dtype {t.dtype}.")
    if t.ndim == 1:
        t = t.unsqueeze(1)
    if t.ndim != 2:
        raise ValueError(f"{what} must be 2-D (samples, features); got shape {tuple(t.shape)}.")
    if t.shape[0] == 0:
        raise ValueError(f"{what} is empty (0 samples).")
    t = t.to(dtype=dtype, device=device)
    if not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).any(1).nonzero()[:, 0]
        raise ValueError(f"{what} contains NaN or inf in {len(bad)} row(s), first at row "
                         f"{int(bad[0])}; clean or drop them before fitting.")
    return t


def as_input(x, n_in: int, dtype, device) -> Tensor:
    """Validated inputs of shape (batch, n_in)."""
    t = as_tensor(x, "x", dtype, device)
    if t.shape[1] != n_in:
        raise ValueError(f"x must have {n_in} columns (the model's input width); got shape "
                         f"{tuple(t.shape)}.")
    return t


def _class_labels(data, what: str, device) -> Tensor | None:
    """Integer labels of shape (N,) or (N, 1) as a long tensor (N,) of class indices, else None."""
    if not isinstance(data, Tensor):
        arr = np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data)
        if arr.dtype.kind not in "iub":
            return None
        data = torch.as_tensor(arr)
    t = data.detach()
    if t.is_floating_point() or t.is_complex() or t.ndim not in (1, 2) or \
            (t.ndim == 2 and t.shape[1] != 1):
        return None
    if t.shape[0] == 0:
        raise ValueError(f"{what} is empty (0 samples).")
    return t.reshape(-1).long().to(device)


def as_dataset(data, y, n_in: int, dtype, device,
               classes: bool = False) -> tuple[dict, list | None, list | None]:
    """Normalise fit() data to a dict of tensors; also return input/output names if known.

    ``data`` is a dict with train_input/train_label (test_* optional), or X with ``y``, or a
    tuple (X, y). With ``classes``, integer labels of shape (N,) or (N, 1) become long class
    indices (N,) (for a loss such as cross-entropy); other labels become (N, n_out) floats."""
    if isinstance(data, dict):
        if y is not None:
            raise TypeError("pass either a dataset dict or (X, y), not both.")
        missing = [k for k in ("train_input", "train_label") if k not in data]
        if missing:
            raise ValueError(f"dataset dict is missing {missing}; expected keys train_input, "
                             "train_label and optionally test_input, test_label.")
        parts = {k: data[k] for k in ("train_input", "train_label", "test_input", "test_label")
                 if k in data}
    else:
        if y is None and isinstance(data, (tuple, list)) and len(data) == 2:
            data, y = data
        if y is None:
            raise TypeError("fit() needs labels: pass a dataset dict, (X, y), or X and y.")
        parts = {"train_input": data, "train_label": y}
    in_names, out_names = _names(parts["train_input"]), _names(parts["train_label"])
    out = {}
    for k, v in parts.items():
        labels = _class_labels(v, k, device) if classes and k.endswith("_label") else None
        out[k] = labels if labels is not None else as_tensor(v, k, dtype, device)
    for split in ("train", "test"):
        if f"{split}_input" not in out:
            continue
        xi, yi = out[f"{split}_input"], out.get(f"{split}_label")
        if yi is None:
            raise ValueError(f"dataset has {split}_input but no {split}_label.")
        if xi.shape[1] != n_in:
            raise ValueError(f"{split}_input must have {n_in} columns (the model's input width "
                             f"width[0]); got shape {tuple(xi.shape)}.")
        if xi.shape[0] != yi.shape[0]:
            raise ValueError(f"{split}_input has {xi.shape[0]} samples but {split}_label has "
                             f"{yi.shape[0]}.")
    return out, in_names, out_names


def create_dataset(f: Callable[[Tensor], Tensor], n_var: int = 2, ranges=(-1.0, 1.0),
                   train_num: int = 1000, test_num: int = 1000, normalize_input: bool = False,
                   normalize_label: bool = False, seed: int = 0, device="cpu",
                   dtype: torch.dtype | None = None, f_mode: str = "col") -> dict:
    """Sample inputs uniformly in ``ranges`` and label them with f (pykan's create_dataset).

    f maps (N, n_var) -> (N,) or (N, n_out) (``f_mode="row"``: f takes (n_var, N)).
    Returns a dict with train_input (train_num, n_var), train_label (train_num, n_out),
    test_input, test_label. Randomness comes only from ``seed`` (a private generator).
    """
    if not callable(f):
        raise TypeError(f"f must be callable; got {type(f).__name__}.")
    for name, v in (("n_var", n_var), ("train_num", train_num), ("test_num", test_num)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if f_mode not in ("col", "row"):
        raise ValueError(f"f_mode must be 'col' or 'row'; got {f_mode!r}.")
    r = np.asarray(ranges, dtype=float)
    r = np.tile(r, (n_var, 1)) if r.ndim == 1 else r
    if r.shape != (n_var, 2) or not (r[:, 0] < r[:, 1]).all():
        raise ValueError(f"ranges must be [low, high] or one [low, high] per variable "
                         f"({n_var}) with low < high; got {ranges!r}.")
    dtype = dtype or torch.get_default_dtype()
    gen = torch.Generator().manual_seed(int(seed))
    # pykan's draw order (each variable's train column, then its test column, in float32), so
    # that a seed gives pykan's points
    cols = [(torch.rand(train_num, generator=gen), torch.rand(test_num, generator=gen))
            for _ in range(n_var)]
    lo, hi = torch.tensor(r[:, 0], dtype=dtype), torch.tensor(r[:, 1], dtype=dtype)

    def sample(n, split):
        u = torch.stack([c[split] for c in cols], 1).to(dtype)
        x = lo + (hi - lo) * u
        y = f(x) if f_mode == "col" else f(x.t())
        y = torch.as_tensor(y, dtype=dtype)
        y = y.unsqueeze(1) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[0] != n:
            raise ValueError(f"f must return shape ({n},) or ({n}, n_out) for {n} samples; "
                             f"got {tuple(y.shape)}.")
        if not torch.isfinite(y).all():
            raise ValueError("f returned NaN or inf on the sampled inputs; check its domain "
                             "against ranges.")
        return x, y

    train_x, train_y = sample(train_num, 0)
    test_x, test_y = sample(test_num, 1)
    if normalize_input:
        mu, sd = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True)
        train_x, test_x = (train_x - mu) / sd, (test_x - mu) / sd
    if normalize_label:
        mu, sd = train_y.mean(0, keepdim=True), train_y.std(0, keepdim=True)
        train_y, test_y = (train_y - mu) / sd, (test_y - mu) / sd
    return {"train_input": train_x.to(device), "train_label": train_y.to(device),
            "test_input": test_x.to(device), "test_label": test_y.to(device)}


class Batches:
    """Minibatches from a ``torch.utils.data.DataLoader`` for ``fit``: one per step, epoch
    after epoch (a sampler's ``set_epoch``, as a ``DistributedSampler`` has, is called at
    each new epoch so that its shuffling changes). ``convert`` turns a batch (inputs, labels)
    into checked tensors ((batch, n_in), labels)."""

    def __init__(self, loader, convert):
        self.loader, self.convert, self.epoch = loader, convert, 0
        self._it = iter(loader)
        self.first = self._draw()  # the first batch: its shapes are checked before fit starts
        self._pending = self.first

    def _draw(self):
        try:
            batch = next(self._it)
        except StopIteration:
            self.epoch += 1
            sampler = getattr(self.loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(self.epoch)
            self._it = iter(self.loader)
            batch = next(self._it, None)
            if batch is None:
                raise ValueError("the DataLoader given to fit yields no batch.") from None
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError("a DataLoader given to fit must yield (inputs, labels) batches; "
                             f"got {type(batch).__name__}"
                             + (f" of {len(batch)} items." if hasattr(batch, "__len__") else "."))
        return self.convert(batch)

    def next(self):
        """The next batch: (inputs (batch, n_in), labels)."""
        if self._pending is not None:
            batch, self._pending = self._pending, None
            return batch
        return self._draw()
