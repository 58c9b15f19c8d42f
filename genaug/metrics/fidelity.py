"""Fidelity: how closely the synthetic table matches the real one, column by column and pair by
pair.

Every function takes the real and the synthetic table (DataFrames, or 2-D arrays with the same
columns) and compares their empirical distributions on all rows; nothing is subsampled, because
each statistic costs one sort or one count per column. Column kinds follow genaug's codec:
categorical for category, boolean, string and object columns and for those named in
``discrete_columns``; numeric for numbers and datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from genaug._validation import Options, validate_params
from genaug.metrics._encoding import (
    CATEGORICAL,
    column_kinds,
    numeric_values,
    prepare_tables,
    shared_codes,
)

__all__ = [
    "column_fidelity",
    "contingency_difference",
    "correlation_difference",
    "cramers_v_difference",
    "ks_statistics",
    "missing_rate_gaps",
    "tv_distances",
]


def _prepare(real: Any, synthetic: Any, discrete_columns: Sequence[Any] | None):
    real_f, others = prepare_tables(real, {"synthetic": synthetic})
    synth_f = others["synthetic"]
    kinds = column_kinds(real_f, [synth_f], ["synthetic"], discrete_columns)
    return real_f, synth_f, kinds


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic of the present values of ``a`` and ``b``."""
    a = np.sort(a[~np.isnan(a)])
    b = np.sort(b[~np.isnan(b)])
    if a.size == 0 or b.size == 0:
        return float(a.size != b.size)
    # Both ECDFs only jump at observed values, so the supremum is attained on their union.
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _tvd(codes_a: np.ndarray, codes_b: np.ndarray, n_values: int) -> float:
    """Total variation distance of the present values' distributions (codes, -1 = missing)."""
    count_a = np.bincount(codes_a[codes_a >= 0], minlength=n_values)
    count_b = np.bincount(codes_b[codes_b >= 0], minlength=n_values)
    if count_a.sum() == 0 or count_b.sum() == 0:
        return float(count_a.sum() != count_b.sum())
    return float(0.5 * np.abs(count_a / count_a.sum() - count_b / count_b.sum()).sum())


def _ks_statistics(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict) -> pd.Series:
    names = [c for c, k in kinds.items() if k != CATEGORICAL]
    values = [_ks(numeric_values(real[c]), numeric_values(synth[c])) for c in names]
    return pd.Series(values, index=pd.Index(names, dtype=object), dtype=float, name="ks")


def _tv_distances(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict) -> pd.Series:
    names = [c for c, k in kinds.items() if k == CATEGORICAL]
    values = []
    for c in names:
        (ca, cb), uniques = shared_codes([real[c], synth[c]])
        values.append(_tvd(ca, cb, len(uniques)))
    return pd.Series(values, index=pd.Index(names, dtype=object), dtype=float, name="tvd")


def _missing_rates(frame: pd.DataFrame) -> pd.Series:
    return frame.isna().mean(axis=0).astype(float)


def _column_fidelity(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    ks = _ks_statistics(real, synth, kinds)
    tvd = _tv_distances(real, synth, kinds)
    miss_r, miss_s = _missing_rates(real), _missing_rates(synth)
    rows = []
    for name, kind in kinds.items():
        is_cat = kind == CATEGORICAL
        rows.append(
            {
                "column": name,
                "kind": kind,
                "statistic": "tvd" if is_cat else "ks",
                "value": tvd[name] if is_cat else ks[name],
                "missing_real": miss_r[name],
                "missing_synthetic": miss_s[name],
                "missing_gap": abs(miss_r[name] - miss_s[name]),
            }
        )
    return pd.DataFrame(rows).set_index("column")


def ks_statistics(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.Series:
    """Two-sample Kolmogorov-Smirnov statistic of each numeric column.

    For a column with real values ``x`` and synthetic values ``y`` (missing values left out),

    ``D = sup_t |F_x(t) - F_y(t)|``

    where ``F`` are the empirical cumulative distribution functions. ``D`` is 0 for equal
    empirical distributions and 1 for disjoint supports; it ignores the scale of the column,
    so columns can be compared and averaged. A synthetic column with no present values gets 1.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories (they are then left out here).

    Returns
    -------
    Series
        ``D`` per numeric (and datetime) column, indexed by column name.

    References
    ----------
    Massey, F. J. (1951). The Kolmogorov-Smirnov test for goodness of fit. *Journal of the
    American Statistical Association*, 46(253), 68-78.

    Examples
    --------
    >>> import pandas as pd
    >>> from genaug.metrics import ks_statistics
    >>> ks_statistics(pd.DataFrame({"x": [1.0, 2, 3, 4]}), pd.DataFrame({"x": [3.0, 4, 5, 6]}))
    x    0.5
    Name: ks, dtype: float64
    """
    return _ks_statistics(*_prepare(real, synthetic, discrete_columns))


def tv_distances(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.Series:
    """Total variation distance between the category frequencies of each categorical column.

    With ``p`` and ``q`` the real and synthetic shares of each category among the present
    values, ``TVD = 1/2 * sum_c |p_c - q_c|``: the largest difference in probability that the
    two tables give to any set of categories. 0 for equal frequencies, 1 when no category is
    shared. Missing values are left out (see :func:`missing_rate_gaps`).

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.

    Returns
    -------
    Series
        ``TVD`` per categorical column, indexed by column name.

    References
    ----------
    Levin, D. A., Peres, Y., & Wilmer, E. L. (2009). *Markov Chains and Mixing Times*, section
    4.1. American Mathematical Society.
    """
    return _tv_distances(*_prepare(real, synthetic, discrete_columns))


def missing_rate_gaps(real: Any, synthetic: Any) -> pd.Series:
    """Absolute difference between the real and synthetic share of missing values, per column.

    ``gap = |mean(real is missing) - mean(synthetic is missing)|``, from 0 to 1.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.

    Returns
    -------
    Series
        The gap per column, indexed by column name.
    """
    real_f, others = prepare_tables(real, {"synthetic": synthetic})
    gap = (_missing_rates(real_f) - _missing_rates(others["synthetic"])).abs()
    return gap.rename("missing_gap")


def column_fidelity(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.DataFrame:
    """One row per column: its kind, its marginal distance and its missing-rate gap.

    The marginal distance is the Kolmogorov-Smirnov statistic (:func:`ks_statistics`) of a
    numeric column and the total variation distance (:func:`tv_distances`) of a categorical one;
    both lie in [0, 1] with 0 ideal.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.

    Returns
    -------
    DataFrame
        Indexed by column, with ``kind``, ``statistic`` (``"ks"`` or ``"tvd"``), ``value``,
        ``missing_real``, ``missing_synthetic`` and ``missing_gap``.
    """
    return _column_fidelity(*_prepare(real, synthetic, discrete_columns))


def _corr(matrix: np.ndarray, method: str) -> np.ndarray:
    if np.isnan(matrix).any():
        # Pairwise-complete correlations: pandas keeps the rows where both columns are present,
        # pair by pair, and for Spearman ranks each pair over those rows only.
        return pd.DataFrame(matrix).corr(method=method, min_periods=2).to_numpy()
    if method == "spearman":
        matrix = pd.DataFrame(matrix).rank().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.atleast_2d(np.corrcoef(matrix, rowvar=False))


def _correlation_difference(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict, method: str = "spearman"
) -> pd.DataFrame:
    names = [c for c, k in kinds.items() if k != CATEGORICAL]
    index = pd.Index(names, dtype=object)
    if not names:
        return pd.DataFrame(index=index, columns=index, dtype=float)
    corr_r = _corr(np.column_stack([numeric_values(real[c]) for c in names]), method)
    corr_s = _corr(np.column_stack([numeric_values(synth[c]) for c in names]), method)
    # A constant synthetic column has no correlation to speak of: count it as 0, so that a
    # real dependency it fails to carry shows as the full |rho_real|.
    corr_s = np.where(np.isnan(corr_s) & ~np.isnan(corr_r), 0.0, corr_s)
    diff = np.abs(corr_r - corr_s)
    np.fill_diagonal(diff, 0.0)
    return pd.DataFrame(diff, index=index, columns=index)


def correlation_difference(
    real: Any,
    synthetic: Any,
    *,
    method: str = "spearman",
    discrete_columns: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Absolute difference between the real and synthetic correlation matrices of the numbers.

    Entry ``(i, j)`` is ``|rho_real(i, j) - rho_synthetic(i, j)|``, from 0 (dependency kept) to 2
    (reversed). ``rho`` is Spearman's rank correlation by default: skewed columns such as
    incomes or counts with many zeros would let a few extreme rows dominate Pearson's.
    Correlations use the rows where both columns are present. A correlation the synthetic data
    cannot define (a constant column) counts as 0; one the real data cannot define stays NaN.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    method : {"spearman", "pearson"}, default="spearman"
        The correlation coefficient.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories (left out here).

    Returns
    -------
    DataFrame of shape (n_numeric, n_numeric)
        Symmetric, zero diagonal, indexed by the numeric columns.

    References
    ----------
    Spearman, C. (1904). The proof and measurement of association between two things. *The
    American Journal of Psychology*, 15(1), 72-101.
    """
    validate_params(
        {"method": method},
        {"method": [Options(("spearman", "pearson"))]},
        "correlation_difference",
    )
    return _correlation_difference(*_prepare(real, synthetic, discrete_columns), method=method)


def _pair_codes(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict
) -> tuple[list, list[np.ndarray], list[np.ndarray], list[int]]:
    """Shared codes of the categorical columns, with missing as one more category."""
    names = [c for c, k in kinds.items() if k == CATEGORICAL]
    codes_r, codes_s, sizes = [], [], []
    for c in names:
        (cr, cs), uniques = shared_codes([real[c], synth[c]])
        n_values = len(uniques)
        codes_r.append(np.where(cr < 0, n_values, cr))
        codes_s.append(np.where(cs < 0, n_values, cs))
        sizes.append(n_values + 1)
    return names, codes_r, codes_s, sizes


def _contingency(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> np.ndarray:
    return np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)


def _cramers_v(table: np.ndarray) -> float:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape
    if min(r, c) < 2:
        return 0.0
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / (min(r, c) - 1)))


def _pairwise_categorical(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict):
    names, codes_r, codes_s, sizes = _pair_codes(real, synth, kinds)
    p = len(names)
    v_diff = np.zeros((p, p))
    tvd = np.zeros((p, p))
    for i in range(p):
        for j in range(i + 1, p):
            tab_r = _contingency(codes_r[i], codes_r[j], sizes[i], sizes[j])
            tab_s = _contingency(codes_s[i], codes_s[j], sizes[i], sizes[j])
            v_diff[i, j] = v_diff[j, i] = abs(_cramers_v(tab_r) - _cramers_v(tab_s))
            tvd[i, j] = tvd[j, i] = 0.5 * np.abs(tab_r / tab_r.sum() - tab_s / tab_s.sum()).sum()
    index = pd.Index(names, dtype=object)
    return (
        pd.DataFrame(v_diff, index=index, columns=index),
        pd.DataFrame(tvd, index=index, columns=index),
    )


def cramers_v_difference(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Absolute difference in Cramér's V between the real and synthetic tables, per pair of
    categorical columns.

    For a contingency table with ``n`` rows, ``r`` non-empty rows and ``c`` non-empty columns,
    ``V = sqrt(chi2 / n / (min(r, c) - 1))``, where ``chi2`` is Pearson's statistic against
    independence; V is 0 for independent columns and 1 when one determines the other. Entry
    ``(i, j)`` is ``|V_real(i, j) - V_synthetic(i, j)|`` in [0, 1]. Missing values count as one
    more category, so a dependency between a column's missingness and another column counts.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.

    Returns
    -------
    DataFrame of shape (n_categorical, n_categorical)
        Symmetric, zero diagonal.

    References
    ----------
    Cramér, H. (1946). *Mathematical Methods of Statistics*, p. 282. Princeton University Press.
    """
    return _pairwise_categorical(*_prepare(real, synthetic, discrete_columns))[0]


def contingency_difference(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Total variation distance between the real and synthetic joint distributions of each pair
    of categorical columns.

    Entry ``(i, j)`` is ``1/2 * sum_{a,b} |P_real(i=a, j=b) - P_synthetic(i=a, j=b)|`` in [0, 1],
    with missing values as one more category. Unlike :func:`cramers_v_difference` it also
    reacts to differences in the marginals; it is the complement of SDMetrics'
    "ContingencySimilarity".

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.

    Returns
    -------
    DataFrame of shape (n_categorical, n_categorical)
        Symmetric, zero diagonal.

    References
    ----------
    SDMetrics documentation, "ContingencySimilarity" (DataCebo, 2023),
    https://docs.sdv.dev/sdmetrics/metrics/metrics-glossary/contingencysimilarity
    """
    return _pairwise_categorical(*_prepare(real, synthetic, discrete_columns))[1]
