"""kansci.kernels: fused Triton kernels for the KAN layer.

``spline_layer``: forward and backward of a layer's spline part with the B-spline features built
inside the matmul tiles, and ``SplineLayer`` (an autograd function over them). ``MultKAN`` uses
them on CUDA tensors (``backend="auto"``, or always with ``backend="triton"``).

Triton decides when it is first imported whether kernels are compiled for the GPU or run in its
interpreter (TRITON_INTERPRET=1). On a machine without CUDA, where compiled kernels cannot run,
importing this package before Triton sets TRITON_INTERPRET=1 so the kernels run, slowly, on CPU
tensors (``backend="triton"`` on CPU: tests, debugging). With CUDA nothing is changed.
"""
import os
import sys

import torch

if "triton" not in sys.modules and not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
