"""kansci.widgets: the JupyterLab explorer over the kansci core.

``Explorer(model, dataset)``: the network with every edge's curve, an edge inspector with
symbolic candidates (Snap / Unsnap / Snap all), pruning with a preview, live training with
Stop, undo/redo, a formula -> network compiler and the tree converter (see ``_explorer``).
Outside Jupyter ``model.plot()`` draws a matplotlib figure instead (``kansci._draw``).
"""
from ._explorer import Explorer
from ._network import NetworkView
from ._plot import LinePlot
from ._state import ExplorerState

__all__ = ["Explorer", "ExplorerState", "NetworkView", "LinePlot"]
