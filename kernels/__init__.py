"""kansci.kernels: fused Triton kernels for the KAN layer.

``spline_layer``: forward and backward of a layer's spline part with the B-spline features built
inside the matmul tiles, and ``SplineLayer`` (an autograd function over them). ``MultKAN`` uses
them on CUDA tensors (``backend="auto"``, or always with ``backend="triton"``).

On a machine without CUDA, where compiled kernels cannot run, these kernels are made for
Triton's interpreter and run, slowly, on CPU tensors (``backend="triton"`` on CPU: tests,
debugging). Triton makes the functions of its own language library for the interpreter only if
it is first imported with TRITON_INTERPRET=1, so this package imports it with that variable set
for the import alone, and then switches Triton's setting on only while its own kernels are
defined and launched (``spline_layer.interpreting``): the process environment is left as it
was. Triton < 3.4 has no setting of its own and reads the variable whenever a kernel is
defined, so there TRITON_INTERPRET=1 stays set, as before. With CUDA nothing changes;
TRITON_INTERPRET=1 interprets every kernel, as Triton does.
"""
import os
import sys

import torch

LIBRARY_INTERPRETED = False  # Triton was first imported here, for its interpreter
if "triton" not in sys.modules and not torch.cuda.is_available():
    _before = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        import triton
        LIBRARY_INTERPRETED = True
    except ImportError:  # without Triton there are no kernels (kansci._backend says so)
        triton = None
    if triton is None or hasattr(triton, "knobs"):  # else Triton < 3.4: the variable stays
        if _before is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = _before
