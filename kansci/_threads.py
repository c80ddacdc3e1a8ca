"""CPU intra-op threads for a block of small work, with one owner of the setting.

Tensors of a few thousand numbers gain nothing from intra-op threads, and on a busy machine
(a second process, or the explorer's training thread) their thread synchronisation makes
each operation several times slower: a [100, 10, 10, 1] fit on 1,000 samples took 4.3x as
long on 2 threads as on 1 with one other busy process on 2 cores, and 8% less on a quiet
machine (``benchmarks/threads.py``). Small work therefore runs on one thread; problems of
more than ``SMALL`` multiply-adds per evaluation (10,000 samples of [10, 20, 1]: 1.4x faster
on 2 threads) keep the process setting.

PyTorch's setting is process-wide (and, with OpenMP, also held per thread), so ``threads``
is its one owner in kansci: the setting found by the first block to start is the one every
block restores, however blocks in different threads (a fit in the explorer's training
thread, a snap in the main thread) interleave; no block restores a value another block set.
A thread that first runs torch while a block is running starts with that block's setting
(PyTorch copies the process value into each thread once); the blocks cannot prevent that,
but a block run in such a thread leaves it with the process setting.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

SMALL = 1 << 24  # multiply-adds per evaluation below which one thread is used

_lock = threading.Lock()
_running = 0  # blocks inside ``threads`` now, in every thread
_setting = 0  # the process setting when the first of them started


@contextmanager
def threads(n: int | None):
    """Run the block with ``n`` CPU threads (None: leave the setting alone); afterwards the
    calling thread, and threads started later, have the setting found before any block."""
    if n is None:
        yield
        return
    global _running, _setting
    with _lock:
        if _running == 0:
            _setting = _process_setting()
        _running += 1
        original = _setting
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        with _lock:
            _running -= 1
        torch.set_num_threads(original)


def _process_setting() -> int:
    """PyTorch's process-wide thread setting, as a thread started now sees it. (With OpenMP a
    thread keeps the value it first saw: one that first ran torch while a block had set 1
    would report 1 for good.)"""
    seen = []
    reader = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    reader.start()
    reader.join()
    return seen[0]


def for_size(work: int, device=None) -> int | None:
    """1 for CPU work of at most SMALL multiply-adds per evaluation, else None."""
    cpu = device is None or torch.device(device).type == "cpu"
    return 1 if cpu and work <= SMALL else None


def fit_work(model, batch: int) -> int:
    """Multiply-adds of one evaluation of ``model`` on ``batch`` samples: the edges' basis
    values times their coefficients, layer by layer (batch * in * out * (basis + 1))."""
    return batch * sum(layer.in_dim * layer.out_dim * (layer.n_basis + 1)
                       for layer in model.layers)
