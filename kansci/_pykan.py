"""Migration from pykan 0.2.8: ``MultKAN.from_pykan`` copies every parameter exactly."""
from __future__ import annotations

import torch

from ._model import MultKAN
from ._symbolic_lib import SYMBOLIC_LIB


def from_pykan(m, library=None) -> MultKAN:
    """Convert a pykan 0.2.8 ``MultKAN``/``KAN`` into a kansci MultKAN with identical outputs.

    pykan stores symbolic masks and affines as (out, in); kansci uses (in, out) throughout.
    ``library``: the symbolic functions its edges use (default ``SYMBOLIC_LIB``; for a
    function pykan's ``add_symbolic`` registered, ``kansci.add_symbolic`` makes one).
    """
    library = SYMBOLIC_LIB if library is None else library
    needed = ("width", "act_fun", "symbolic_fun", "node_scale", "subnode_scale", "mult_arity")
    if not all(hasattr(m, a) for a in needed):
        raise TypeError(f"from_pykan expects a pykan 0.2.8 MultKAN; got {type(m).__name__}.")
    acts = list(m.act_fun)
    width = [[int(s), int(n)] for s, n in m.width]
    arity = m.mult_arity if isinstance(m.mult_arity, int) else [list(map(int, a)) for a in m.mult_arity]
    input_id = torch.as_tensor(m.input_id).long()
    model = MultKAN(
        width, grid=[a.num for a in acts], k=[a.k for a in acts], mult_arity=arity,
        base_fun=getattr(m, "base_fun_name", "silu"), grid_eps=float(m.grid_eps),
        grid_range=list(m.grid_range), affine_trainable=bool(m.affine_trainable),
        sp_trainable=bool(m.sp_trainable), sb_trainable=bool(m.sb_trainable),
        dtype=acts[0].coef.dtype, device=acts[0].coef.device,
        n_in=max(int(input_id.max()) + 1, width[0][0]), library=library)
    with torch.no_grad():
        model.input_id = input_id.to(model.device)
        for l, (a, s, layer) in enumerate(zip(acts, m.symbolic_fun, model.layers)):
            layer.grid = a.grid.detach().clone()
            layer.coef.copy_(a.coef)
            layer.scale_base.copy_(a.scale_base)
            layer.scale_sp.copy_(a.scale_sp)
            layer.mask.copy_(a.mask)
            layer.sym_mask.copy_(s.mask.t())
            layer.sym_affine.copy_(s.affine.permute(1, 0, 2))
            for j, row in enumerate(s.funs_name):
                for i, name in enumerate(row):
                    if name not in library:
                        raise ValueError(f"pykan edge ({l}, {i}, {j}) uses symbolic function "
                                         f"{name!r}, unknown to kansci; pass from_pykan("
                                         f"model, library=kansci.add_symbolic({name!r}, "
                                         "torch_fn, sympy_fn)).")
                    layer.sym_names[i][j] = name
            layer._groups = None
            for name in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"):
                getattr(model, name)[l].copy_(getattr(m, name)[l])
    return model
