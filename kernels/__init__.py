"""kansci.kernels: fused Triton kernels for the KAN layer.

``spline_layer``: forward and backward of a layer's spline part with the B-spline features built
inside the matmul tiles, and ``SplineLayer`` (an autograd function over them). ``MultKAN`` does not
dispatch to them yet. Importing a kernel module imports Triton; on a machine without a GPU set
TRITON_INTERPRET=1 before that import to run the kernels in Triton's interpreter.
"""
