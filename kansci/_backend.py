"""Which code computes a layer's spline part: the PyTorch path or the Triton kernels.

``MultKAN(backend=...)``: "torch" always takes the PyTorch path; "auto" takes the kernels for
CUDA tensors in float32, float16 or bfloat16 (the kernels accumulate in float32, so float64
keeps the PyTorch path) when Triton is installed; "triton" always takes the kernels (on CPU
tensors they run in Triton's interpreter: slow, for tests and debugging). The kernels are
differentiable once; higher derivatives need backend="torch".
"""
from __future__ import annotations

import torch
from torch import Tensor

BACKENDS = ("auto", "torch", "triton")
KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_module = None


def check_backend(backend: str, base_fun: str) -> None:
    """Validate a ``backend`` argument (at model construction)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}.")
    if backend == "triton" and base_fun != "silu":
        raise ValueError(f"backend='triton' supports base_fun='silu' only; got {base_fun!r}. "
                         "Use backend='torch' or 'auto'.")


def _kernels(required: bool):
    """kansci.kernels.spline_layer, or None when Triton is missing and not ``required``."""
    global _module
    if _module is None:
        try:
            from .kernels import spline_layer
        except ImportError as err:
            if required:
                raise ImportError("backend='triton' needs the triton package "
                                  "(pip install triton).") from err
            return None
        _module = spline_layer
    return _module


def kernel_for(backend: str, base_fun: str, x: Tensor):
    """The kernels' autograd function ``SplineLayer`` when they compute a layer on x, else None."""
    if backend == "torch":
        return None
    if backend == "auto":
        if not x.is_cuda or x.dtype not in KERNEL_DTYPES or base_fun != "silu":
            return None
        mod = _kernels(required=False)
        return None if mod is None else mod.SplineLayer
    mod = _kernels(required=True)
    if not x.is_cuda and not mod.INTERPRETED:
        raise RuntimeError("backend='triton' on CPU tensors runs the kernels in Triton's "
                           "interpreter, but Triton was started for the GPU: move the model and "
                           "data to CUDA, or set TRITON_INTERPRET=1 before Triton is imported.")
    return mod.SplineLayer
