"""kansci: symbolic discovery with Kolmogorov-Arnold Networks (KAN 2.0), fast."""
from ._data import create_dataset as create_dataset
from ._model import KAN as KAN
from ._model import MultKAN as MultKAN
from ._symbolic_lib import SYMBOLIC_LIB as SYMBOLIC_LIB
from ._symbolic_lib import add_symbolic as add_symbolic

__version__ = "0.1.0"
from ._kanpiler import kanpiler as kanpiler
from ._hypothesis import detect_separability as detect_separability
from ._hypothesis import plot_tree as plot_tree
from ._hypothesis import test_general_separability as test_general_separability
from ._hypothesis import test_symmetry as test_symmetry
from ._formula import Formula as Formula
from ._discover import Discovery as Discovery
from ._discover import discover as discover
from ._sweep import SweepResult as SweepResult
from ._sweep import discover_many as discover_many
from ._distributed import shard as shard

__all__ = ["MultKAN", "KAN", "create_dataset", "discover", "Discovery", "discover_many",
           "SweepResult", "shard", "Formula", "kanpiler",
           "add_symbolic", "SYMBOLIC_LIB", "detect_separability",
           "test_general_separability", "test_symmetry", "plot_tree", "KANRegressor",
           "KANClassifier"]


def __getattr__(name):  # scikit-learn is needed only by the estimators
    if name in ("KANRegressor", "KANClassifier"):
        from . import _estimator

        return getattr(_estimator, name)
    raise AttributeError(f"module 'kansci' has no attribute {name!r}")
