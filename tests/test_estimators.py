"""KANRegressor and KANClassifier are correct scikit-learn estimators (scikit-learn's own checks)."""
import pytest

import kansci as ks

estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")


def _expected_failures(estimator) -> dict:
    if isinstance(estimator, ks.KANRegressor):  # a search bounded by seconds, not steps
        why = ("a search bounded by budget_s ends where the clock says: two fits on the same "
               "data may keep different formulas")
        return {"check_fit_idempotent": why, "check_regressor_data_not_an_array": why}
    return {}


@estimator_checks.parametrize_with_checks(
    [ks.KANClassifier(grid=3, steps=10, progress=False),
     ks.KANRegressor(budget_s=1.0, progress=False)],
    expected_failed_checks=_expected_failures)
@pytest.mark.filterwarnings("ignore:y takes only")  # the checks regress class labels
@pytest.mark.filterwarnings("ignore:only \\d+ samples")  # and fit on 10 samples
def test_scikit_learn_checks(estimator, check):
    check(estimator)
