"""CPU intra-op threads for a block of small work.

Tensors of a few thousand numbers gain nothing from intra-op threads, and on a busy machine
(a second process, or the explorer's training thread) their thread synchronisation can make
each operation 10x slower. Small work therefore runs on one thread; the setting (process-wide
in PyTorch) is restored afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

SMALL = 1 << 18  # elements of the largest tensor below which one thread is used


@contextmanager
def threads(n: int | None):
    """Run the block with ``n`` CPU threads (None: leave the setting alone)."""
    if n is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def for_size(elements: int, device=None) -> int | None:
    """1 for CPU work whose largest tensor has at most SMALL elements, else None."""
    cpu = device is None or torch.device(device).type == "cpu"
    return 1 if cpu and elements <= SMALL else None
