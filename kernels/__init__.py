"""kansci.kernels: fused Triton kernels for the KAN layer (filled by the GPU kernels issue)."""
