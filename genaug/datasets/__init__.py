"""Data sets that work offline: Adult ships with genaug, the rest come from scikit-learn.

Adult (Becker & Kohavi, 1996, UCI Machine Learning Repository, CC BY 4.0) is bundled as
gzip-compressed CSV; see ``data/LICENSE-DATA.md`` beside this module for attribution.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
from sklearn import datasets as _skd

__all__ = ["load_adult", "load_breast_cancer", "load_wine", "make_imbalanced"]

ADULT_TARGET = "income"


def _read_adult(name: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath("data", name).open("rb") as fh:
        return pd.read_csv(fh, compression="gzip", skipinitialspace=True, na_values="?")


def load_adult(split: str = "train", return_X_y: bool = False, as_frame: bool = True):
    """The UCI Adult census table: predict whether income exceeds 50K a year.

    32,561 training rows (16,281 test rows) with six integer and eight categorical columns;
    ``workclass``, ``occupation`` and ``native-country`` have missing values. The label
    ``income`` is ``">50K"`` (24 %) or ``"<=50K"``.

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        UCI's ``adult.data`` or its held-out ``adult.test``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of one DataFrame with the label column.
    as_frame : bool, default=True
        Kept for symmetry with scikit-learn's loaders; Adult is mixed-type, so only frames
        are returned and ``False`` is refused.

    Returns
    -------
    DataFrame, or (DataFrame, Series) when ``return_X_y``.
    """
    if not as_frame:
        raise ValueError(
            "Adult has text columns; load_adult only returns DataFrames (as_frame=True)."
        )
    files = {"train": "adult.csv.gz", "test": "adult_test.csv.gz"}
    if split not in files:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    frame = _read_adult(files[split])
    if return_X_y:
        return frame.drop(columns=ADULT_TARGET), frame[ADULT_TARGET]
    return frame


def _sklearn_frame(bunch) -> tuple[pd.DataFrame, pd.Series]:
    X = bunch.data
    y = pd.Series(np.asarray(bunch.target_names)[bunch.target], name="target")
    return X, y


def load_breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's Wisconsin breast cancer set: 569 rows, 30 numeric columns, labels
    ``"malignant"`` (37 %) and ``"benign"``."""
    return _sklearn_frame(_skd.load_breast_cancer(as_frame=True))


def load_wine() -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's wine set: 178 rows, 13 numeric columns, three cultivars."""
    return _sklearn_frame(_skd.load_wine(as_frame=True))


def make_imbalanced(
    X: pd.DataFrame,
    y: pd.Series,
    minority: object,
    ratio: float,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Subsample one class so that it makes up ``ratio`` of the rows, seeded and stated.

    Parameters
    ----------
    X, y : DataFrame and Series
    minority : label
        The class to thin out.
    ratio : float in (0, 1)
        Share of the minority class in the result.
    random_state : int
        Seed of the subsample.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1); got {ratio!r}.")
    y = pd.Series(y).reset_index(drop=True)
    X = X.reset_index(drop=True)
    is_min = (y == minority).to_numpy()
    if not is_min.any():
        raise ValueError(f"Label {minority!r} does not occur in y.")
    n_major = int((~is_min).sum())
    n_min = min(int(is_min.sum()), max(2, round(ratio * n_major / (1.0 - ratio))))
    rng = np.random.default_rng(random_state)
    keep_min = rng.choice(np.flatnonzero(is_min), n_min, replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(~is_min), keep_min]))
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
