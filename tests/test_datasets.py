"""Bundled and wrapped data sets."""

from __future__ import annotations

import pytest

from genaug.datasets import load_adult, load_breast_cancer, load_wine, make_imbalanced


def test_adult_is_bundled_with_missing_values_and_clean_strings():
    X, y = load_adult(return_X_y=True)
    assert X.shape == (32_561, 14)
    assert set(y.unique()) == {">50K", "<=50K"}
    assert (y == ">50K").sum() == 7_841
    assert X["workclass"].isna().sum() == 1_836
    assert not X["workclass"].dropna().str.startswith(" ").any()
    test = load_adult("test")
    assert test.shape == (16_281, 15)
    with pytest.raises(ValueError, match="split"):
        load_adult("validation")


def test_sklearn_wrappers_and_imbalance():
    X, y = load_breast_cancer()
    assert X.shape == (569, 30) and set(y) == {"malignant", "benign"}
    Xi, yi = make_imbalanced(X, y, "malignant", 0.1, random_state=0)
    share = (yi == "malignant").mean()
    assert abs(share - 0.1) < 0.005 and len(Xi) == len(yi)
    again = make_imbalanced(X, y, "malignant", 0.1, random_state=0)
    assert again[0].equals(Xi)
    Xw, yw = load_wine()
    assert Xw.shape == (178, 13) and yw.nunique() == 3
    with pytest.raises(ValueError, match="ratio"):
        make_imbalanced(X, y, "malignant", 1.5)
    with pytest.raises(ValueError, match="does not occur"):
        make_imbalanced(X, y, "unknown", 0.1)
