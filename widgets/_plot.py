"""LinePlot: a small SVG x-y plot (an anywidget, no plotly).

Used for the edge inspector and the live loss curve. ``series`` schema::

    [{"name": str, "x": [float, ...], "y": [float, ...],
      "mode": "lines" | "markers", "color": css colour or None}]

``x`` and ``y`` may be given as any sequence, numpy array or torch tensor; the
trait holds plain lists of numbers, missing or non-numeric values become NaN.
The drawing skips non-finite points (a line breaks there) and, with ``log_y``,
non-positive y values.

On the wire each ``x``/``y`` travels as one little-endian float64 binary
buffer instead of a JSON list: a 10k-point loss curve resent ten times a second
costs a memcpy instead of walking and JSON-encoding 10k Python floats.
"""

from __future__ import annotations

from array import array

import anywidget
import traitlets

from ._esm import module_source

_NAN = float("nan")


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return _NAN


def _floats(values) -> list:
    """A list of numbers from a scalar, sequence, numpy array or torch tensor
    (None / non-numeric entries become NaN). Cheap for a list of plain numbers."""
    if hasattr(values, "tolist"):  # numpy array / torch tensor (also 0-d)
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    if type(values) is list:
        try:
            array("d", values)  # C-speed check: every entry is a number
            return values
        except TypeError:
            pass
    return [_num(v) for v in values]


def _clean_series(s) -> dict:
    if not isinstance(s, dict):
        raise traitlets.TraitError(f"a series must be a dict, got {type(s).__name__}")
    mode = s.get("mode") or "lines"
    if mode not in ("lines", "markers"):
        raise traitlets.TraitError(f"series mode must be 'lines' or 'markers', got {mode!r}")
    color = s.get("color")
    return {
        "name": str(s.get("name") or ""),
        "x": _floats(s.get("x", [])),
        "y": _floats(s.get("y", [])),
        "mode": mode,
        "color": None if color is None else str(color),
    }


def _vec_to_buffer(values) -> memoryview:
    a = array("d", values)
    if a.itemsize != 8:  # pragma: no cover - every supported platform has 8-byte doubles
        raise RuntimeError("float64 array expected")
    if not _LITTLE:  # pragma: no cover
        a.byteswap()
    return memoryview(a).cast("B")


def _buffer_to_vec(b) -> list:
    if isinstance(b, (bytes, bytearray, memoryview)):
        a = array("d")
        a.frombytes(bytes(b))
        if not _LITTLE:  # pragma: no cover
            a.byteswap()
        return a.tolist()
    return list(b or [])


_LITTLE = memoryview(array("H", [1])).tobytes()[0] == 1


def _series_to_json(series, widget) -> list:
    return [dict(s, x=_vec_to_buffer(s["x"]), y=_vec_to_buffer(s["y"])) for s in series]


def _series_from_json(data, widget) -> list:
    return [dict(s, x=_buffer_to_vec(s.get("x")), y=_buffer_to_vec(s.get("y"))) for s in data or []]


class LinePlot(anywidget.AnyWidget):
    """Small x-y plot drawn as SVG; replace ``series`` (or use the helpers) to update."""

    _esm = module_source("plot.js")

    series = traitlets.List().tag(sync=True, to_json=_series_to_json, from_json=_series_from_json)
    log_y = traitlets.Bool(False).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    x_label = traitlets.Unicode("").tag(sync=True)
    y_label = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(360).tag(sync=True)
    height = traitlets.Int(240).tag(sync=True)

    @traitlets.validate("series")
    def _validate_series(self, proposal):
        return [_clean_series(s) for s in proposal["value"]]

    def set_series(self, series) -> None:
        """Replace all series (a list of dicts in the ``series`` schema)."""
        self.series = list(series)

    def append(self, name: str, x, y, *, mode: str | None = None, color: str | None = None) -> None:
        """Append point(s) to the series called ``name``, creating it if missing.

        ``x`` and ``y`` are scalars or equal-length sequences. The trait gets a
        new list (and the series new x/y lists), so the change is synced.
        """
        xs, ys = _floats(x), _floats(y)
        if len(xs) != len(ys):
            raise ValueError(f"append: x has {len(xs)} values, y has {len(ys)}")
        out = []
        found = False
        for s in self.series:
            if not found and s["name"] == name:
                found = True
                s = dict(s, x=s["x"] + xs, y=s["y"] + ys)
                if mode is not None:
                    s["mode"] = mode
                if color is not None:
                    s["color"] = color
            out.append(s)
        if not found:
            out.append({"name": name, "x": xs, "y": ys, "mode": mode or "lines", "color": color})
        self.series = out

    def clear(self) -> None:
        """Remove all series."""
        self.series = []
