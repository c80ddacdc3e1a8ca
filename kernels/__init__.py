"""kansci.kernels: fused Triton kernels for the KAN layer.

``spline_forward.spline_layer_forward``: the layer's forward pass with the B-spline features
built inside the matmul tile (first step; the backward and the automatic dispatch from
``MultKAN`` come next). Importing a kernel module imports Triton; on a machine without a GPU
set TRITON_INTERPRET=1 before that import to run the kernels in Triton's interpreter.
"""
