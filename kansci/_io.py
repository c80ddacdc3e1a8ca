"""Saving and loading: one file holding the tensors and a JSON config (incl. symbolic edges).

The file is a torch zip archive of plain tensors, strings and ints, read back with
``weights_only=True`` (no pickled code). Writes go to a temporary file in the target folder
and are renamed into place, so a crash never leaves a half-written model.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import torch

FORMAT = "kansci.MultKAN"
VERSION = 1


def save(model, path) -> None:
    """Write ``model`` to ``path`` atomically."""
    path = os.fspath(path)
    config = model.config()
    config["sym_names"] = [layer.sym_names for layer in model.layers]
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config),
        "dtype": str(model.dtype).removeprefix("torch."),
        "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kansci-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, map_location=None, library=None):
    """Read a model written by ``save``; a ValueError names the problem for a corrupt,
    truncated or foreign file. A model with snapped edges of functions outside
    ``SYMBOLIC_LIB`` needs ``library`` (its functions are code: the file keeps their names)."""
    from ._model import MultKAN

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(f"{path!r} is not a readable kansci model file (truncated or corrupt?): "
                         f"{type(e).__name__}: {e}") from None
    except Exception as e:  # noqa: BLE001 - unpickling errors of foreign files vary
        raise ValueError(f"{path!r} is not a kansci model file: {type(e).__name__}: {e}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a kansci model file (no {FORMAT!r} header); "
                         "pykan checkpoints load with pykan, then MultKAN.from_pykan.")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path!r} has format version {payload.get('version')!r}; this kansci "
                         f"reads version {VERSION}.")
    try:
        config = json.loads(payload["config"])
        sym_names = config.pop("sym_names")
        dtype = getattr(torch, payload["dtype"])
        model = MultKAN(**config, dtype=dtype, library=library)
        state = payload["state"]
        model.input_id = state["input_id"]  # its length differs after prune_input
        model.load_state_dict(state)
        unknown = model.library.lacking(n for layer in sym_names for row in layer for n in row)
        if not unknown:
            for layer, names in zip(model.layers, sym_names):
                layer.sym_names = [list(row) for row in names]
                layer._groups = None
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r} holds an inconsistent kansci model: {type(e).__name__}: {e}") from None
    if unknown:
        raise ValueError(f"{path!r} snaps edges to {unknown}, functions its library lacks: "
                         f"load(path, library=kansci.add_symbolic({unknown[0]!r}, torch_fn, "
                         "sympy_fn)).")
    return model.to(map_location) if map_location is not None else model
