"""Training: ``fit`` with LBFGS or Adam, pykan's sparsity regulariser and grid-update schedule.

The regulariser (L1 + entropy of edge scales, KAN paper eq. 2.17-2.20) uses the edge scale
std_b(phi(x)) / (std_b(x) + 0.1) that each layer computes from its feature covariance, so
training never forms a (batch, in, out) tensor.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ._closure import forward, loss_and_grad, plan, step_data, supports
from ._data import Batches, as_dataset
from ._distributed import ranks
from ._layer import feature_cov
from ._lbfgs import LBFGS, flat_parameters
from ._threads import fit_work, for_size
from ._threads import threads as cpu_threads

OPTIMIZERS = ("LBFGS", "Adam")


def regularizer(model, scales: list[Tensor], lamb_l1: float, lamb_entropy: float,
                lamb_coef: float = 0.0, lamb_coefdiff: float = 0.0) -> Tensor:
    """pykan's regulariser from per-layer edge scales (each (in, out))."""
    reg = scales[0].new_zeros(())
    for vec in scales:
        p_in = vec / (vec.sum(0, keepdim=True) + 1)  # each output's distribution over inputs
        p_out = vec / (vec.sum(1, keepdim=True) + 1)  # each input's distribution over outputs
        ent_in = -(p_in * torch.log2(p_in + 1e-4)).sum(0).mean()
        ent_out = -(p_out * torch.log2(p_out + 1e-4)).sum(1).mean()
        reg = reg + lamb_l1 * vec.sum() + lamb_entropy * (ent_in + ent_out)
    if lamb_coef or lamb_coefdiff:
        for layer in model.layers:
            c = layer.coef  # (in, out, nb)
            reg = reg + lamb_coef * c.abs().mean(1).sum()
            reg = reg + lamb_coefdiff * c.diff(dim=-1).abs().mean(1).sum()
    return reg


def _check_args(opt, steps, lamb, batch, lr, grid_update_num, log):
    if opt not in OPTIMIZERS:
        raise ValueError(f"opt must be one of {OPTIMIZERS}; got {opt!r}.")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0; got {steps!r}.")
    if not isinstance(batch, int) or (batch < 1 and batch != -1):
        raise ValueError(f"batch must be -1 (full batch) or a positive int; got {batch!r}.")
    for name, v in (("lamb", lamb), ("lr", lr)):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}.")
    if not isinstance(grid_update_num, int) or grid_update_num < 1:
        raise ValueError(f"grid_update_num must be a positive int; got {grid_update_num!r}.")
    if not isinstance(log, int) or log < 1:
        raise ValueError(f"log must be a positive int; got {log!r}.")


def fit(model, dataset, y=None, *, opt: str = "LBFGS", steps: int = 100, log: int = 1,
        lamb: float = 0.0, lamb_l1: float = 1.0, lamb_entropy: float = 2.0,
        lamb_coef: float = 0.0, lamb_coefdiff: float = 0.0, update_grid: bool = True,
        grid_update_num: int = 10, loss_fn: Callable | None = None, lr: float = 1.0,
        start_grid_update_step: int = -1, stop_grid_update_step: int = 50, batch: int = -1,
        callbacks=None, metrics=None, display_metrics=None, progress: bool = True,
        seed: int = 0, threads: int | None = None, distributed: bool = False,
        **pykan_options) -> dict:
    """Train ``model`` in place and return the loss history.

    Parameters
    ----------
    dataset : dict with train_input (N, n_in), train_label (N, n_out) and optionally
        test_input / test_label; or X with ``y``; or a tuple (X, y); or a
        ``torch.utils.data.DataLoader`` of (inputs, labels) batches, one taken per step
        (for data larger than memory; epochs repeat; no test loss is recorded). Arrays, tensors and pandas
        DataFrames are accepted (DataFrame columns name the model's inputs/outputs). With a
        ``loss_fn`` such as ``torch.nn.CrossEntropyLoss()``, labels may be integer class
        indices of shape (N,) or (N, 1) (the model's n_out outputs are then the class logits).
    opt : "LBFGS" (strong-Wolfe line search) or "Adam".
    lamb, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff : regulariser weights (pykan's).
    update_grid, grid_update_num, start_grid_update_step, stop_grid_update_step : the grid is
        re-placed on the training inputs every ``stop_grid_update_step // grid_update_num``
        steps while start <= step < stop.
    batch : -1 for full batch, else the minibatch size (sampled with ``seed``).
    loss_fn : ``loss_fn(pred, label)`` -> scalar tensor (default: mean squared error).
    lr : learning rate (both optimisers).
    callbacks : callable or list of callables ``cb(step, logs, model)``; logs holds this step's
        train_loss, test_loss and reg. Returning True stops training.
    metrics : callables taking no argument (pykan's convention, e.g. ``train_acc`` closing over
        the model and data), called after every step; their values go into the history under
        each function's ``__name__``.
    display_metrics : history keys shown in the progress bar (default: train, test, reg).
    progress : show a tqdm progress bar.
    seed : seeds minibatch sampling (a private generator).
    threads : CPU threads for the duration of fit (PyTorch's setting is process-wide: it is
        restored afterwards). None: 1 for problems of up to 2**24 multiply-adds per evaluation
        (e.g. [100, 10, 10, 1] on 1,000 samples; their operations are too small to gain from
        threads, and on a busy machine lose several-fold), the setting left alone above.
    distributed : train on the ranks of a ``torch.distributed`` process group (a script
        launched with ``torchrun --nproc-per-node N``; the group is initialised from its
        environment unless the caller did it). Each rank passes its own shard of the data
        (``kansci.shard(dataset)`` takes every N-th row) and gets the same model: losses and
        gradients are averaged over all samples, grid updates use every rank's samples, and
        rank 0's starting parameters are used everywhere (``kansci._distributed``). ``batch``
        is then per rank. gloo (CPU) and NCCL (GPU) both work.
    **pykan_options : pykan's ``save_fig``, ``img_folder``, ``save_fig_freq``, ``beta``,
        ``in_vars``, ``out_vars``, ``singularity_avoiding``, ``y_th`` and ``reg_metric`` are
        accepted with a warning that says what kansci does instead; anything else is an error.

    Returns
    -------
    dict with lists "train_loss", "test_loss" (the square root of the loss per step: the RMSE
    for the default loss; test_loss is empty without a test set), "reg", one list per metric,
    "loss" (what train_loss is the square root of: "mse" or the loss function's name),
    "stop_reason" (None, "callback", "interrupted" or "non-finite loss") and
    "evaluations" (how many times the training objective and its gradient were computed).
    A stop (callback, Ctrl-C, non-finite loss) restores the parameters with the lowest
    training objective seen.
    """
    _check_args(opt, steps, lamb, batch, lr, grid_update_num, log)
    _pykan_options(pykan_options)
    metrics = _check_metrics(metrics, display_metrics)
    classes = loss_fn is not None and model.width_in[-1] > 1
    batches = None
    if isinstance(dataset, torch.utils.data.DataLoader):  # a minibatch per step
        if y is not None:
            raise TypeError("pass either a DataLoader of (inputs, labels) or X and y, not both.")
        batches = Batches(dataset, lambda b: tuple(as_dataset(
            tuple(b), None, model.n_in, model.dtype, model.device, classes)[0].values()))
        dataset = batches.first
    data, in_names, out_names = as_dataset(dataset, y, model.n_in, model.dtype, model.device,
                                           classes=classes)
    n_out = model.width_in[-1]
    for split in ("train", "test"):
        lab = data.get(f"{split}_label")
        if lab is not None and lab.dtype == torch.long:
            if n_out < 2 or int(lab.min()) < 0 or int(lab.max()) >= n_out:
                raise ValueError(f"{split}_label holds class indices {int(lab.min())}.."
                                 f"{int(lab.max())}; they must lie in 0..{n_out - 1} (one logit "
                                 f"per class: the model has {n_out} output(s)).")
        elif lab is not None and lab.shape[1] != n_out:
            raise ValueError(f"{split}_label must have {n_out} columns (the model's output width); "
                             f"got shape {tuple(lab.shape)}.")
    if model.in_vars is None and in_names is not None:
        model.in_vars = in_names
    if model.out_vars is None and out_names is not None:
        model.out_vars = out_names
    cbs = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) \
        else [callbacks]
    run = _Run(model, data, loss_fn, lamb, (lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff),
               batch, seed)
    run.batches = batches
    run.ranks = ranks(distributed, run.x_train.device)
    if run.ranks is not None:
        run.ranks.same_model(model)
        progress = progress and run.ranks.rank == 0
    freq = max(1, int(stop_grid_update_step / grid_update_num))
    grid_steps = range(max(start_grid_update_step, 0), stop_grid_update_step) if update_grid else ()
    hist = {"train_loss": [], "test_loss": [], "reg": [], **{m.__name__: [] for m in metrics},
            "loss": _loss_name(loss_fn), "stop_reason": None, "evaluations": 0}
    params = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(range(steps), disable=not progress, desc="fit", leave=progress)
    if threads is None:  # one thread for small problems (see _threads: a busy machine)
        threads = for_size(fit_work(model, run.batch or run.x_train.shape[0]), run.x_train.device)
    try:
        with cpu_threads(threads), flat_parameters(params) as (flat, flat_grad):
            run.flat, run.flat_grad = flat, flat_grad
            run.refs = plan(model) if run.manual else None
            if opt == "LBFGS":
                optimizer = LBFGS(flat, flat_grad, lr=lr)
            else:
                optimizer = torch.optim.Adam(params, lr=lr)
            try:
                for step in bar:
                    logs = run.step(optimizer, step % freq == 0 and step in grid_steps)
                    for key in ("train_loss", "test_loss", "reg"):
                        if logs[key] is not None:  # NumPy floats: pykan's .item() works too
                            hist[key].append(np.float64(logs[key]))
                    for m in metrics:
                        hist[m.__name__].append(_metric_value(m))
                    if logs["objective"] is None:
                        hist["stop_reason"] = "non-finite loss"
                        warnings.warn(f"fit stopped at step {step}: the loss is not finite; the "
                                      "best state seen was restored.", RuntimeWarning, stacklevel=3)
                        break
                    if step % log == 0:
                        bar.set_postfix_str(_describe(logs, hist, display_metrics),
                                            refresh=False)
                    stop = any([cb(step, logs, model) is True for cb in cbs])
                    if run.ranks is not None and cbs:  # every rank stops at the same step
                        stop = run.ranks.any(stop)
                    if stop:
                        hist["stop_reason"] = "callback"
                        break
            except KeyboardInterrupt:
                hist["stop_reason"] = "interrupted"
            if hist["stop_reason"] is not None:
                run.restore_best()
    finally:
        bar.close()
        hist["evaluations"] = run.evaluations
    if model.save_act:  # for plot(), auto_symbolic() ... without x (MultKAN's save_act)
        model.cache_data = run.x_train
    return hist


def _describe(logs: dict, hist: dict, keys) -> str:
    if keys:
        return " | ".join(f"{k} {hist[k][-1]:.2e}" for k in keys if hist[k])
    msg = f"train {logs['train_loss']:.2e}"
    if logs["test_loss"] is not None:
        msg += f" | test {logs['test_loss']:.2e}"
    return msg + f" | reg {logs['reg']:.2e}"


_PYKAN_OPTIONS = {  # pykan's fit keywords with no meaning here, and what kansci does instead
    "save_fig": "no frames are written; draw the model after fit with model.plot()",
    "img_folder": "no frames are written; draw the model after fit with model.plot()",
    "save_fig_freq": "no frames are written; draw the model after fit with model.plot()",
    "beta": "no frames are drawn during fit",
    "in_vars": "name the inputs with MultKAN(in_vars=...) or a DataFrame's columns",
    "out_vars": "name the outputs with MultKAN(out_vars=...) or a DataFrame's columns",
    "singularity_avoiding": "symbolic edges are evaluated as they are (train splines, snap after)",
    "y_th": "symbolic edges are evaluated as they are (train splines, snap after)",
    "reg_metric": "the regulariser is always pykan's default, 'edge_forward_spline_n'",
}


def _pykan_options(options: dict) -> None:
    """Warn once per pykan-only keyword given, saying what kansci does instead; refuse others."""
    unknown = sorted(set(options) - set(_PYKAN_OPTIONS))
    if unknown:
        raise TypeError(f"fit() got unexpected keyword(s) {unknown}; see help(MultKAN.fit) for "
                        "the keywords it takes.")
    for name in options:
        default = name in ("save_fig", "singularity_avoiding") and options[name] is False or \
            name == "reg_metric" and options[name] == "edge_forward_spline_n"
        if not default:
            warnings.warn(f"fit({name}=...) is pykan's and changes nothing here: "
                          f"{_PYKAN_OPTIONS[name]}.", UserWarning, stacklevel=4)


def _check_metrics(metrics, display) -> list:
    metrics = [] if metrics is None else [metrics] if callable(metrics) else list(metrics)
    for m in metrics:
        if not callable(m) or not hasattr(m, "__name__"):
            raise TypeError(f"metrics must be named functions taking no argument (pykan's "
                            f"convention, e.g. def test_acc(): ...); got {m!r}.")
    known = {"train_loss", "test_loss", "reg"} | {m.__name__ for m in metrics}
    for key in display or ():
        if key not in known:
            raise ValueError(f"display_metrics names {key!r}, which is not recorded; choose "
                             f"among {sorted(known)}.")
    return metrics


def _metric_value(metric) -> np.float64:
    value = metric()
    try:
        return np.float64(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metric {metric.__name__} must return a number; got "
                        f"{type(value).__name__}.") from err


def _loss_name(loss_fn) -> str:
    if loss_fn is None:
        return "mse"
    return getattr(loss_fn, "__name__", None) or type(loss_fn).__name__


class Objective(float):
    """The training objective of one evaluation, carrying its parts (mse, reg)."""

    def __new__(cls, value: float, parts):
        obj = super().__new__(cls, value)
        obj.parts = parts
        return obj


class _Run:
    """State of one fit(): data, minibatch sampling, objective and the best state seen."""

    def __init__(self, model, data, loss_fn, lamb, reg_weights, batch, seed):
        self.x_train, self.y_train = data["train_input"], data["train_label"]
        # hand-written gradient applies
        self.manual = supports(model, loss_fn, reg_weights, self.x_train)
        self.refs = None  # plan(model) once the parameters are flat (hand-written path)
        # the kernels build features on the fly: the first layer's are kept only for the
        # regulariser's covariance
        self.kernels = model.kernel_for(self.x_train) is not None
        self.test_data = None  # the test inputs' StepData (hand-written path)
        self.loss_fn = loss_fn or torch.nn.functional.mse_loss
        self.model, self.lamb, self.reg_weights = model, lamb, reg_weights
        self.x_test, self.y_test = data.get("test_input"), data.get("test_label")
        n = self.x_train.shape[0]
        self.batch = None if batch == -1 or batch >= n else batch
        self.gen = torch.Generator().manual_seed(int(seed))
        self.flat = self.flat_grad = None  # the trained parameters and their gradient as
        # vectors (set by fit)
        self.ranks = None  # the Ranks of a distributed fit
        self.batches = None  # the minibatches of a DataLoader (``Batches``), one per step
        self.data_feats = None  # StepData, or (features, covariance) of the first layer's inputs
        self.buffers = None  # the model's buffers (grids, ...) since the last grid update
        self.best_objective, self.best = math.inf, None  # best (parameters, buffers) seen
        self.evaluations = 0  # objective + gradient computations

    def restore_best(self) -> None:
        """Put back the parameters (and grids) with the lowest objective seen."""
        if self.best is not None:
            flat, buffers = self.best
            self.flat.copy_(flat)
            for name, buf in self.model.named_buffers():
                buf.copy_(buffers[name])

    def objective(self, xb, yb, feats0, cov0) -> Tensor:
        model = self.model
        pred, scales = model._run_fused(xb, feats0, cov0, with_scale=self.lamb > 0)
        loss = self.loss_fn(pred, yb)
        reg = regularizer(model, scales, *self.reg_weights) if self.lamb > 0 else loss.new_zeros(())
        self.last = (loss.detach(), reg.detach())
        return loss + self.lamb * reg

    @torch.no_grad()
    def predict_test(self, grid_changed: bool) -> Tensor:
        """Model output on the test inputs (their first-layer features are kept until the
        grid changes)."""
        if not self.manual:
            return self.model._run(self.x_test)[0]
        if grid_changed or self.test_data is None:
            self.test_data = step_data(self.model, self.x_test)
        return torch.from_numpy(forward(self.model, self.refs, self.test_data)[0].T.copy())

    def step(self, optimizer, grid_update: bool) -> dict:
        """One optimisation step; returns its logs (objective None if not finite)."""
        model, xb, yb = self.model, self.x_train, self.y_train
        drawn = self.batch is not None or self.batches is not None  # new samples each step
        if self.batches is not None:
            xb, yb = self.batches.next()
        elif self.batch is not None:
            ids = torch.randperm(xb.shape[0], generator=self.gen)[:self.batch].to(xb.device)
            xb, yb = xb[ids], yb[ids]
        if self.ranks is not None:
            self.ranks.reweigh(xb.shape[0])
        if grid_update:
            model.update_grid(xb if self.ranks is None else self.ranks.rows(xb, self.gen))
        if (grid_update or drawn) and isinstance(optimizer, LBFGS):
            optimizer.forget_objective()
        if grid_update or drawn or self.data_feats is None:
            # the first layer's inputs are data: their features change only with the grid
            reg = self.lamb > 0
            if self.manual:
                self.data_feats = step_data(model, xb, yb, reg)
            else:
                with torch.no_grad():
                    feats0 = model.layers[0].features(model._select_inputs(xb)) \
                        if reg or not self.kernels else None
                    self.data_feats = (feats0, feature_cov(feats0) if reg else None)
            self.buffers = None

        def closure():
            self.evaluations += 1
            if isinstance(optimizer, LBFGS):
                optimizer.grad.zero_()
            else:
                optimizer.zero_grad(set_to_none=False)
            if self.manual:
                self.last = loss_and_grad(model, self.refs, self.data_feats, self.lamb,
                                          self.reg_weights)
            else:
                obj = self.objective(xb, yb, *self.data_feats)
                obj.backward()
                value = float(obj.detach())
            if self.ranks is not None:  # the mean over every rank's samples
                self.last = tuple(self.ranks.mean(self.flat_grad, float(self.last[0]),
                                                  float(self.last[1])))
            if self.manual or self.ranks is not None:  # the objective from its parts
                mse = float(self.last[0])
                value = mse + self.lamb * float(self.last[1]) if self.lamb > 0 else mse
            return Objective(value, self.last)

        if isinstance(optimizer, LBFGS):
            # the line search may end on a point evaluated before its last trial: the parts
            # of the point it ends on come back with its value
            self.last = optimizer.step(closure).parts
            point = self.flat  # the losses are those of the new parameters
        else:
            point = self.flat.clone()  # Adam: the losses are those before its update
            closure()
            optimizer.step()
        train_mse, reg = float(self.last[0]), float(self.last[1])
        test = None
        if self.x_test is not None:
            test = float(self.loss_fn(self.predict_test(grid_update), self.y_test))
            if self.ranks is not None:
                test = self.ranks.share_weighted(test, self.x_test.shape[0])
            test = math.sqrt(max(test, 0.0))
        objective = train_mse + self.lamb * reg
        logs = {"train_loss": math.sqrt(max(train_mse, 0.0)),
                "test_loss": test, "reg": reg, "objective": objective}
        if not math.isfinite(objective):
            logs["objective"] = None
        elif objective < self.best_objective:
            self.best_objective = objective
            if self.buffers is None:
                self.buffers = {k: v.clone() for k, v in model.named_buffers()}
            self.best = (point.clone() if point is self.flat else point, self.buffers)
        return logs
