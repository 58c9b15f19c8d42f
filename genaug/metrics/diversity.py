"""Diversity and coverage: do the synthetic rows spread over the whole real data, or do they
collapse onto a few modes?

The k-NN metrics (precision, recall, density, coverage, per-class coverage) compare the two
sets of rows in one numeric space: by default genaug's tabular codec fitted on the real rows,
with numbers standardised and one-hot blocks weighted so that a different category adds 1 to the
squared Euclidean distance; with ``features=True`` the arrays passed in are taken as that space
as they are (for images: embeddings from a network of the caller's choice). Tables larger than
``max_rows`` are replaced by a seeded uniform subsample of ``max_rows`` rows. Distances are
computed in blocks, so memory stays flat in the number of rows.

Per-category coverage needs no space: it counts the categories of each column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genaug.metrics._encoding import (
    CATEGORICAL,
    DEFAULT_MAX_ROWS,
    check_labels,
    check_params,
    column_kinds,
    encode,
    make_rng,
    prepare_tables,
    shared_codes,
    subsample,
)
from genaug.metrics._neighbors import kth_neighbor_distance, scan_balls

__all__ = [
    "category_coverage",
    "class_coverage",
    "density_coverage",
    "manifold_metrics",
    "precision_recall",
]


@dataclass
class _Manifold:
    precision: float
    recall: float
    density: float
    coverage: float
    real_radii: np.ndarray
    covered: np.ndarray
    own_class_covered: np.ndarray | None


def _manifold(
    real_z: np.ndarray,
    synth_z: np.ndarray,
    k: int,
    real_groups: np.ndarray | None = None,
    synth_groups: np.ndarray | None = None,
    n_groups: int = 0,
) -> _Manifold:
    """The four k-NN metrics from two k-NN radius searches and two blocked ball scans."""
    real_radii = kth_neighbor_distance(real_z, k, "real")
    synth_radii = kth_neighbor_distance(synth_z, k, "synthetic")
    synth_in_real = scan_balls(synth_z, real_z, real_radii)
    real_in_synth = scan_balls(real_z, synth_z, synth_radii, synth_groups, n_groups)
    # min_sq is already less each pair's rounding tolerance.
    threshold = real_radii**2
    covered = real_in_synth.min_sq <= threshold
    own = None
    if real_groups is not None and real_in_synth.group_min_sq is not None:
        own_min = real_in_synth.group_min_sq[np.arange(real_z.shape[0]), real_groups]
        own = own_min <= threshold
    return _Manifold(
        precision=float(synth_in_real.in_any_ball.mean()),
        recall=float(real_in_synth.in_any_ball.mean()),
        density=float(synth_in_real.n_balls.sum() / (k * synth_z.shape[0])),
        coverage=float(covered.mean()),
        real_radii=real_radii,
        covered=covered,
        own_class_covered=own,
    )


def _encoded_pair(
    real: Any,
    synthetic: Any,
    *,
    features: bool,
    max_rows: int,
    discrete_columns: Sequence[Any] | None,
    random_state: Any,
    y_real: Any = None,
    y_synthetic: Any = None,
):
    """Validate, subsample and encode two tables (and their labels) for the k-NN metrics."""
    real_f, others = prepare_tables(real, {"synthetic": synthetic})
    synth_f = others["synthetic"]
    if not features:
        column_kinds(real_f, [synth_f], ["synthetic"], discrete_columns)
    yr = None if y_real is None else check_labels(y_real, len(real_f), "y_real")
    ys = None if y_synthetic is None else check_labels(y_synthetic, len(synth_f), "y_synthetic")
    rng = make_rng(random_state)
    idx_r = subsample(len(real_f), max_rows, rng)
    idx_s = subsample(len(synth_f), max_rows, rng)
    real_z, (synth_z,) = encode(
        real_f.iloc[idx_r],
        [synth_f.iloc[idx_s]],
        features=features,
        discrete_columns=discrete_columns,
        others_names=["synthetic"],
    )
    return real_z, synth_z, yr, ys, idx_r, idx_s


def manifold_metrics(
    real: Any,
    synthetic: Any,
    *,
    k: int = 5,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> dict[str, float]:
    """Precision, recall, density and coverage of the synthetic rows, from k-NN balls.

    Let ``B(x, r)`` be the closed Euclidean ball around ``x`` and ``NND_k(x)`` the distance from
    ``x`` to its k-th nearest neighbour within its own set. With real rows ``X_1..X_N`` and
    synthetic rows ``Y_1..Y_M``:

    * **precision** (Kynkäänniemi et al., 2019): share of synthetic rows inside the real
      manifold, ``1/M sum_j 1[exists i: Y_j in B(X_i, NND_k(X_i))]``: are the samples realistic?
    * **recall** (Kynkäänniemi et al., 2019): share of real rows inside the synthetic manifold,
      ``1/N sum_i 1[exists j: X_i in B(Y_j, NND_k(Y_j))]``: is the real variety reproduced?
    * **density** (Naeem et al., 2020): ``1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]``,
      how many real balls hold a synthetic row on average; about 1 when the two distributions
      agree, above 1 when samples crowd into dense regions. Unlike precision it is robust to real
      outliers, whose large balls would otherwise accept anything.
    * **coverage** (Naeem et al., 2020): share of real rows whose own ball holds at least one
      synthetic row, ``1/N sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]``; mode collapse
      leaves whole regions of real rows uncovered. For two samples of one distribution of
      equal size, its expectation is about ``1 - 2^-k`` (0.97 for k=5).

    All four lie in [0, 1] (density may exceed 1) and are ideal near 1.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns, or (``features=True``) two numeric feature
        matrices.
    k : int, default=5
        Neighbourhood size; Naeem et al. recommend 5.
    features : bool, default=False
        Take the inputs as pre-computed numeric features and use them as they are, instead of
        encoding them with genaug's tabular codec.
    max_rows : int, default=10_000
        Tables with more rows are replaced by a seeded uniform subsample of this many rows.
    discrete_columns : sequence of column names, optional
        Numeric columns to encode as categories.
    random_state : int, numpy Generator or None, default=None
        Seed of the subsamples.

    Returns
    -------
    dict
        ``{"precision", "recall", "density", "coverage"}`` to floats.

    References
    ----------
    Kynkäänniemi, T., Karras, T., Laine, S., Lehtinen, J., & Aila, T. (2019). Improved precision
    and recall metric for assessing generative models. *NeurIPS 32*.

    Naeem, M. F., Oh, S. J., Uh, Y., Choi, Y., & Yoo, J. (2020). Reliable fidelity and diversity
    metrics for generative models. *ICML*, PMLR 119, 7176-7185.

    Examples
    --------
    >>> import numpy as np
    >>> from genaug.metrics import manifold_metrics
    >>> rng = np.random.default_rng(0)
    >>> real, synthetic = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    >>> m = manifold_metrics(real, synthetic, features=True)
    >>> bool(m["coverage"] > 0.9)
    True
    """
    check_params(
        "manifold_metrics", k=k, features=features, max_rows=max_rows, random_state=random_state
    )
    real_z, synth_z, *_ = _encoded_pair(
        real,
        synthetic,
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
    )
    m = _manifold(real_z, synth_z, k)
    return {
        "precision": m.precision,
        "recall": m.recall,
        "density": m.density,
        "coverage": m.coverage,
    }


def precision_recall(
    real: Any,
    synthetic: Any,
    *,
    k: int = 5,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> tuple[float, float]:
    """Improved precision and recall of Kynkäänniemi et al. (2019).

    Precision is the share of synthetic rows that fall inside the real manifold (the union of
    each real row's ball reaching its k-th nearest real neighbour); recall is the share of real
    rows inside the synthetic manifold, built the same way. See :func:`manifold_metrics` for the
    formulas and the parameters.

    Parameters
    ----------
    real, synthetic, k, features, max_rows, discrete_columns, random_state
        As for :func:`manifold_metrics`.

    Returns
    -------
    precision, recall : float
        Both in [0, 1], ideal near 1.

    References
    ----------
    Kynkäänniemi, T., Karras, T., Laine, S., Lehtinen, J., & Aila, T. (2019). Improved precision
    and recall metric for assessing generative models. *NeurIPS 32*.
    """
    m = manifold_metrics(
        real,
        synthetic,
        k=k,
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
    )
    return m["precision"], m["recall"]


def density_coverage(
    real: Any,
    synthetic: Any,
    *,
    k: int = 5,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> tuple[float, float]:
    """Density and coverage of Naeem et al. (2020).

    Density counts, per synthetic row, the real k-NN balls that hold it (divided by k and
    averaged); coverage is the share of real rows whose k-NN ball holds a synthetic row. See
    :func:`manifold_metrics` for the formulas and the parameters.

    Parameters
    ----------
    real, synthetic, k, features, max_rows, discrete_columns, random_state
        As for :func:`manifold_metrics`.

    Returns
    -------
    density, coverage : float
        Density is about 1 for matching distributions; coverage is in [0, 1], ideal near 1.

    References
    ----------
    Naeem, M. F., Oh, S. J., Uh, Y., Choi, Y., & Yoo, J. (2020). Reliable fidelity and diversity
    metrics for generative models. *ICML*, PMLR 119, 7176-7185.
    """
    m = manifold_metrics(
        real,
        synthetic,
        k=k,
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
    )
    return m["density"], m["coverage"]


def _sorted_classes(*label_arrays: np.ndarray) -> np.ndarray:
    values = pd.unique(np.concatenate(label_arrays))
    try:
        return np.asarray(sorted(values.tolist()), dtype=object)
    except TypeError:
        return np.asarray(values, dtype=object)


def _class_table(
    classes: np.ndarray,
    y_real: np.ndarray,
    y_synthetic: np.ndarray | None,
    sub_real_codes: np.ndarray,
    covered: np.ndarray,
) -> pd.DataFrame:
    """Counts and coverage per class; ``covered`` is per subsampled real row."""
    n_classes = len(classes)
    codes_r = pd.Categorical(y_real, categories=classes).codes
    n_real = np.bincount(codes_r, minlength=n_classes)
    hits = np.bincount(sub_real_codes, weights=covered.astype(float), minlength=n_classes)
    n_sub = np.bincount(sub_real_codes, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(n_sub > 0, hits / np.maximum(n_sub, 1), np.nan)
    table = pd.DataFrame(
        {"n_real": n_real, "real_share": n_real / n_real.sum()},
        index=pd.Index(classes, name="class", dtype=object),
    )
    if y_synthetic is not None:
        codes_s = pd.Categorical(y_synthetic, categories=classes).codes
        n_syn = np.bincount(codes_s, minlength=n_classes)
        table["n_synthetic"] = n_syn
        table["synthetic_share"] = n_syn / n_syn.sum()
        table["coverage"] = coverage
        table["missing"] = (n_real > 0) & (n_syn == 0)
    else:
        table["n_synthetic"] = np.nan
        table["synthetic_share"] = np.nan
        table["coverage"] = coverage
        table["missing"] = (n_real > 0) & (coverage == 0)
    return table


def _class_coverage_from(
    real_z: np.ndarray,
    synth_z: np.ndarray,
    y_real: np.ndarray,
    y_synthetic: np.ndarray | None,
    idx_r: np.ndarray,
    idx_s: np.ndarray,
    k: int,
) -> tuple[_Manifold, pd.DataFrame]:
    classes = _sorted_classes(y_real, *(() if y_synthetic is None else (y_synthetic,)))
    sub_r = pd.Categorical(y_real[idx_r], categories=classes).codes.astype(np.int64)
    sub_s = None
    if y_synthetic is not None:
        sub_s = pd.Categorical(y_synthetic[idx_s], categories=classes).codes.astype(np.int64)
    m = _manifold(real_z, synth_z, k, sub_r, sub_s, len(classes))
    covered = m.own_class_covered if m.own_class_covered is not None else m.covered
    return m, _class_table(classes, y_real, y_synthetic, sub_r, covered)


def class_coverage(
    real: Any,
    synthetic: Any,
    y_real: Any,
    y_synthetic: Any = None,
    *,
    k: int = 5,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> pd.DataFrame:
    """Coverage of each class: which classes (modes) the synthetic data misses.

    The coverage of class ``c`` is the share of real rows of class ``c`` whose k-NN ball (the
    same balls as in :func:`manifold_metrics`, built from all real rows) holds at least one
    synthetic row of class ``c`` (of any class when ``y_synthetic`` is not given). A class
    without synthetic rows has coverage 0. Weighted by the class sizes and without
    ``y_synthetic``, the classes' coverages average to the overall coverage of Naeem et al.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns, or (``features=True``) two numeric feature
        matrices.
    y_real : array-like of shape (n_real,)
        Class of each real row.
    y_synthetic : array-like of shape (n_synthetic,), optional
        Class of each synthetic row.
    k : int, default=5
        Neighbourhood size.
    features : bool, default=False
        Take the inputs as pre-computed features (see :func:`manifold_metrics`).
    max_rows : int, default=10_000
        Tables with more rows are replaced by a seeded uniform subsample (for the coverage; the
        counts use every row).
    discrete_columns : sequence of column names, optional
        Numeric columns to encode as categories.
    random_state : int, numpy Generator or None, default=None
        Seed of the subsamples.

    Returns
    -------
    DataFrame
        One row per class (of either table), with ``n_real``, ``real_share``, ``n_synthetic``,
        ``synthetic_share``, ``coverage`` and ``missing``: true for a real class with no
        synthetic rows (or, without ``y_synthetic``, with coverage 0).

    References
    ----------
    Naeem, M. F., Oh, S. J., Uh, Y., Choi, Y., & Yoo, J. (2020). Reliable fidelity and diversity
    metrics for generative models. *ICML*, PMLR 119, 7176-7185.
    """
    check_params(
        "class_coverage", k=k, features=features, max_rows=max_rows, random_state=random_state
    )
    real_z, synth_z, yr, ys, idx_r, idx_s = _encoded_pair(
        real,
        synthetic,
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
        y_real=y_real,
        y_synthetic=y_synthetic,
    )
    return _class_coverage_from(real_z, synth_z, yr, ys, idx_r, idx_s, k)[1]


def _category_coverage(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    parts = []
    for name, kind in kinds.items():
        if kind != CATEGORICAL:
            continue
        (cr, cs), values = shared_codes([real[name], synth[name]])
        n_r = np.bincount(cr[cr >= 0], minlength=len(values))
        n_s = np.bincount(cs[cs >= 0], minlength=len(values))
        parts.append(
            pd.DataFrame(
                {
                    "column": pd.Series([name] * len(values), dtype=object),
                    "category": pd.Series(values, dtype=object),
                    "n_real": n_r,
                    "n_synthetic": n_s,
                    "real_share": n_r / max(n_r.sum(), 1),
                    "synthetic_share": n_s / max(n_s.sum(), 1),
                    "missing": (n_r > 0) & (n_s == 0),
                }
            )
        )
    columns = ["column", "category", "n_real", "n_synthetic", "real_share", "synthetic_share"]
    if not parts:
        return pd.DataFrame(columns=[*columns, "missing"])
    return pd.concat(parts, ignore_index=True)


def category_coverage(
    real: Any, synthetic: Any, *, discrete_columns: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Which categories of each categorical column the synthetic data never produces.

    For every value of every categorical column: its count and share (among present values)
    in both tables, and ``missing``, true for a value present in the real table and absent
    from the synthetic one. The share of real categories present in the synthetic data,
    ``1 - missing.sum() / (n_real > 0).sum()``, is SDMetrics' "CategoryCoverage" averaged over
    the columns.

    Parameters
    ----------
    real, synthetic : DataFrame or array-like of shape (n_rows, n_columns)
        The two tables, with the same columns.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.

    Returns
    -------
    DataFrame
        Columns ``column``, ``category``, ``n_real``, ``n_synthetic``, ``real_share``,
        ``synthetic_share`` and ``missing``; one row per (column, value).
    """
    real_f, others = prepare_tables(real, {"synthetic": synthetic})
    synth_f = others["synthetic"]
    kinds = column_kinds(real_f, [synth_f], ["synthetic"], discrete_columns)
    return _category_coverage(real_f, synth_f, kinds)
