"""``MultKAN.plot``: the explorer in Jupyter, a static figure elsewhere."""
from __future__ import annotations

from kansci._data import as_dataset


def in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def plot(model, dataset=None, path=None, x=None):
    """See ``MultKAN.plot``."""
    if path is None and x is None and in_jupyter():
        from ._explorer import Explorer

        return Explorer(model, dataset)
    from ._figure import figure

    if x is None and dataset is not None:
        x = as_dataset(dataset, None, model.n_in, model.dtype, model.device)[0]["train_input"]
    fig = figure(model, model._prepare(x))
    if path is not None:
        path = str(path)
        if path.endswith(".html"):
            fig.write_html(path)
        else:
            try:
                import kaleido  # noqa: F401  (plotly's image export)
            except ImportError as err:
                raise ImportError(f"saving {path!r} as an image needs kaleido (pip install "
                                  "kaleido); a .html path needs nothing more.") from err
            fig.write_image(path)
    return fig
