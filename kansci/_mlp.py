"""A plain multilayer perceptron with pykan's MLP interface (``kansci.pykan.MLP``): the baseline
pykan's tutorials compare KANs with (fit with a sparsity regulariser on the weights, plot,
swap hidden neurons to untangle modules).

Layer l computes x -> W_l x + b_l (SiLU between layers). The regulariser is KAN's (L1 plus the
entropies of the rows and columns) on |W_l| (``reg_metric="w"``) or on |W_l| scaled by the std of
each input (``"act"``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ._data import as_dataset
from ._train import _check_metrics, _metric_value, regularizer

REG_METRICS = ("w", "act")


class MLP(nn.Module):
    """width: nodes per layer, e.g. [9, 20, 20, 1]; ``seed`` seeds a private generator."""

    def __init__(self, width, act="silu", save_act=True, seed=0, device="cpu", dtype=None):
        super().__init__()
        if act != "silu":
            raise ValueError(f"act must be 'silu' (pykan's MLP has no other); got {act!r}.")
        self.width = [int(w) for w in width]
        if len(self.width) < 2 or min(self.width) < 1:
            raise ValueError(f"width must list at least two positive layer sizes; got {width!r}.")
        gen = torch.Generator().manual_seed(int(seed))
        dtype = dtype or torch.get_default_dtype()
        self.linears = nn.ModuleList()
        for n_in, n_out in zip(self.width[:-1], self.width[1:]):
            lin = nn.Linear(n_in, n_out, dtype=dtype)
            bound = 1 / math.sqrt(n_in)  # nn.Linear's default distribution, from gen
            with torch.no_grad():
                lin.weight.copy_((torch.rand(n_out, n_in, generator=gen, dtype=dtype) * 2 - 1)
                                 * bound)
                lin.bias.copy_((torch.rand(n_out, generator=gen, dtype=dtype) * 2 - 1) * bound)
            self.linears.append(lin.to(device))
        self.save_act = save_act
        self.cache_data: Tensor | None = None

    @property
    def depth(self) -> int:
        return len(self.linears)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, width[0]) -> (batch, width[-1])."""
        if self.save_act:
            self.cache_data = x.detach()
        for l, lin in enumerate(self.linears):
            x = lin(x)
            if l < self.depth - 1:
                x = nn.functional.silu(x)
        return x

    def get_act(self, x=None) -> None:
        """Keep x (a tensor, or a dataset dict's train_input) as the inputs plot uses."""
        x = x["train_input"] if isinstance(x, dict) else x
        with torch.no_grad():
            self(x if x is not None else self.cache_data)

    def _layer_inputs(self, x: Tensor) -> list[Tensor]:
        acts = []
        with torch.no_grad():
            for l, lin in enumerate(self.linears):
                acts.append(x)
                x = lin(x)
                if l < self.depth - 1:
                    x = nn.functional.silu(x)
        return acts

    def _scales(self, metric: str, x: Tensor | None) -> list[Tensor]:
        """Per layer (in, out) weight magnitudes: |W| ("w") or |W| * std(input) ("act")."""
        if metric == "w":
            return [lin.weight.abs().t() for lin in self.linears]
        acts = self._layer_inputs(x)
        return [lin.weight.abs().t() * a.std(0)[:, None] for lin, a in zip(self.linears, acts)]

    def fit(self, dataset, opt="LBFGS", steps=100, log=1, lamb=0.0, lamb_l1=1.0,
            lamb_entropy=2.0, loss_fn=None, lr=1.0, batch=-1, metrics=None, in_vars=None,
            out_vars=None, beta=3, device="cpu", reg_metric="w", display_metrics=None,
            progress=True, seed=0) -> dict:
        """Train in place; returns the history (train_loss, test_loss: square root of the loss
        per step; reg; one list per metric), as pykan's MLP.fit."""
        if reg_metric not in REG_METRICS:
            raise ValueError(f"reg_metric must be one of {REG_METRICS}; got {reg_metric!r}.")
        if opt not in ("LBFGS", "Adam"):
            raise ValueError(f"opt must be 'LBFGS' or 'Adam'; got {opt!r}.")
        for name, value in (("in_vars", in_vars), ("out_vars", out_vars)):
            if value is not None:
                warnings.warn(f"MLP.fit({name}=...) is pykan's and changes nothing here.",
                              UserWarning, stacklevel=2)
        metrics = _check_metrics(metrics, display_metrics)
        lin = self.linears[0]
        data, _, _ = as_dataset(dataset, None, self.width[0], lin.weight.dtype, lin.weight.device,
                                classes=loss_fn is not None and self.width[-1] > 1)
        loss_fn = loss_fn or nn.functional.mse_loss
        x, y = data["train_input"], data["train_label"]
        gen = torch.Generator().manual_seed(int(seed))
        params = list(self.parameters())
        optimizer = torch.optim.LBFGS(params, lr=lr, history_size=10,
                                      line_search_fn="strong_wolfe") if opt == "LBFGS" \
            else torch.optim.Adam(params, lr=lr)
        hist = {"train_loss": [], "test_loss": [], "reg": [], **{m.__name__: [] for m in metrics}}
        bar = tqdm(range(steps), disable=not progress, desc="fit")
        for step in bar:
            ids = torch.randperm(len(x), generator=gen)[:batch] if 0 < batch < len(x) else None
            xb, yb = (x, y) if ids is None else (x[ids], y[ids])
            parts = {}

            def closure():
                optimizer.zero_grad()
                loss = loss_fn(self(xb), yb)
                reg = regularizer(self, self._scales(reg_metric, xb), lamb_l1, lamb_entropy) \
                    if lamb > 0 else loss.new_zeros(())
                (loss + lamb * reg).backward()
                parts["loss"], parts["reg"] = float(loss.detach()), float(reg.detach())
                return loss + lamb * reg

            optimizer.step(closure)
            hist["train_loss"].append(np.float64(math.sqrt(max(parts["loss"], 0.0))))
            hist["reg"].append(np.float64(parts["reg"]))
            if "test_input" in data:
                with torch.no_grad():
                    test = float(loss_fn(self(data["test_input"]), data["test_label"]))
                hist["test_loss"].append(np.float64(math.sqrt(max(test, 0.0))))
            for m in metrics:
                hist[m.__name__].append(_metric_value(m))
            if step % log == 0:
                keys = display_metrics or [k for k in ("train_loss", "test_loss", "reg") if hist[k]]
                bar.set_postfix_str(" | ".join(f"{k} {hist[k][-1]:.2e}" for k in keys),
                                    refresh=False)
        self.cache_data = x
        return hist

    def connection_cost(self) -> float:
        """Sum over layers of |W| times the drawn horizontal distance between the nodes."""
        cost = 0.0
        for lin in self.linears:
            n_out, n_in = lin.weight.shape
            x_in, x_out = (torch.arange(n_in) + 0.5) / n_in, (torch.arange(n_out) + 0.5) / n_out
            dist = (x_out[:, None] - x_in[None, :]).abs().to(lin.weight)
            cost += float((dist * lin.weight.detach().abs()).sum())
        return cost

    @torch.no_grad()
    def swap(self, l: int, i: int, j: int) -> None:
        """Exchange hidden neurons i and j of layer l (1 <= l < depth): same function."""
        if not 1 <= l < self.depth:
            raise ValueError(f"l must be a hidden layer in [1, {self.depth - 1}]; got {l}.")
        before, after = self.linears[l - 1], self.linears[l]
        for t in (before.weight, before.bias):
            t[[i, j]] = t[[j, i]]
        after.weight[:, [i, j]] = after.weight[:, [j, i]]

    def auto_swap(self) -> float:
        """Greedy swaps of hidden neurons lowering ``connection_cost``; returns the cost."""
        for l in range(1, self.depth):
            for i in range(self.width[l]):
                costs = []
                for j in range(self.width[l]):
                    self.swap(l, i, j)
                    costs.append(self.connection_cost())
                    self.swap(l, i, j)
                self.swap(l, i, int(np.argmin(costs)))
        return self.connection_cost()

    def plot(self, beta=3, scale=1.0, metric="w"):
        """Draw the network as the current matplotlib figure (returns None, as pykan's): nodes
        in rows, each weight a line (blue > 0, red < 0) of opacity tanh(beta |w|) ("w") or
        tanh(beta |w| std(input)) ("act")."""
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection

        if metric not in REG_METRICS:
            raise ValueError(f"metric must be one of {REG_METRICS}; got {metric!r}.")
        if metric == "act" and self.cache_data is None:
            raise ValueError("no data: run the model on x (or fit it) first.")
        scales = self._scales(metric, self.cache_data)
        fig, ax = plt.subplots(figsize=(3 * scale, 1.5 * self.depth * scale))
        segments, colors = [], []
        for l, (lin, s) in enumerate(zip(self.linears, scales)):
            n_out, n_in = lin.weight.shape
            alpha = torch.tanh(beta * s).detach().cpu().numpy()
            w = lin.weight.detach().cpu().numpy()
            for j in range(n_out):
                for i in range(n_in):
                    segments.append([((i + 0.5) / n_in, l), ((j + 0.5) / n_out, l + 1)])
                    colors.append((0, 0, 1, alpha[i, j]) if w[j, i] > 0 else (1, 0, 0, alpha[i, j]))
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.5 * scale))
        for l, n in enumerate(self.width):
            ax.scatter((np.arange(n) + 0.5) / n, [l] * n, s=20 * scale, c="black", zorder=3)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.1, self.depth + 0.1)
        ax.axis("off")
