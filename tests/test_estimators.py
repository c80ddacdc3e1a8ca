"""KANRegressor and KANClassifier are correct scikit-learn estimators (scikit-learn's own checks)."""
import pytest

import kansci as ks

estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")


def _expected_failures(estimator) -> dict:
    return {}


@estimator_checks.parametrize_with_checks(
    [ks.KANClassifier(grid=3, steps=10, progress=False),
     ks.KANRegressor(budget_s=1.0, progress=False)],
    expected_failed_checks=_expected_failures)
def test_scikit_learn_checks(estimator, check):
    check(estimator)
