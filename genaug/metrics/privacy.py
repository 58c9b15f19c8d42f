"""Privacy: does the synthetic data copy or sit unusually close to the training rows?

Distances are measured in the encoded space of the k-NN metrics (see
:mod:`genaug.metrics.diversity`), or in the caller's feature space with ``features=True``.
The holdout-based metrics compare the synthetic rows with *fresh* real rows that the generator
never saw: a generator that generalises places its samples no closer to the training rows than
such fresh rows are, while one that memorises places them closer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genaug.metrics._encoding import (
    DEFAULT_MAX_ROWS,
    check_params,
    column_kinds,
    encode,
    fill_doc,
    make_rng,
    prepare_tables,
    row_keys,
    subsample,
)
from genaug.metrics._neighbors import nearest

__all__ = [
    "dcr_share",
    "distance_to_closest_record",
    "exact_copies",
    "exact_copy_rate",
    "membership_inference_auc",
    "nearest_neighbor_distance_ratio",
]


_DISTANCE_PARAMS = """
    Parameters
    ----------
    train : DataFrame or array-like of shape (n_train, n_columns)
        The rows the generator was trained on; the encoding is fitted on them.
    query : DataFrame or array-like of shape (n_query, n_columns)
        The rows to measure (synthetic rows, or holdout rows as the baseline).
    features : bool, default=False
        Take the inputs as pre-computed numeric features and use them as they are.
    max_rows : int, default=10_000
        Each table with more rows is replaced by a seeded uniform subsample of this many rows.
    discrete_columns : sequence of column names, optional
        Numeric columns to encode as categories.
    random_state : int, numpy Generator or None, default=None
        Seed of the subsamples.
"""


_HOLDOUT_PARAMS = """
    Parameters
    ----------
    train : DataFrame or array-like of shape (n_train, n_columns)
        The rows the generator was trained on (members).
    holdout : DataFrame or array-like of shape (n_holdout, n_columns)
        Real rows from the same source that the generator never saw (non-members).
    synthetic : DataFrame or array-like of shape (n_synthetic, n_columns)
        The generated rows.
    features : bool, default=False
        Take the inputs as pre-computed numeric features and use them as they are.
    max_rows : int, default=10_000
        Each table with more rows is replaced by a seeded uniform subsample of this many rows.
    discrete_columns : sequence of column names, optional
        Numeric columns to encode as categories.
    random_state : int, numpy Generator or None, default=None
        Seed of the subsamples.
"""


def _copy_mask(train: pd.DataFrame, query: pd.DataFrame, kinds: dict) -> np.ndarray:
    """Whether each query row equals some training row in every column (vectorised join)."""
    train_keys, query_keys = row_keys([train, query], kinds)
    hits = train_keys.drop_duplicates().assign(_hit=True)
    # A left join on every key column keeps the query's order and length (train keys unique).
    joined = query_keys.merge(hits, how="left", on=list(query_keys.columns), sort=False)
    return joined["_hit"].notna().to_numpy()


def _prepare_pair(train: Any, query: Any, query_name: str, discrete_columns=None):
    train_f, others = prepare_tables(train, {query_name: query}, real_argument="train")
    query_f = others[query_name]
    kinds = column_kinds(train_f, [query_f], [query_name], discrete_columns)
    return train_f, query_f, kinds


def exact_copies(train: Any, synthetic: Any) -> int:
    """Number of synthetic rows identical to some training row.

    Two rows are identical when every column holds the same value, a missing value matching a
    missing value; numbers compare by value (``1`` equals ``1.0``), categories by equality. The
    count is exact and uses every row: each row is turned into integer keys and the synthetic
    rows are joined against the distinct training rows (no sampling, no hashing collisions, no
    loop over rows).

    Parameters
    ----------
    train : DataFrame or array-like of shape (n_train, n_columns)
        The rows the generator was trained on.
    synthetic : DataFrame or array-like of shape (n_synthetic, n_columns)
        The generated rows, with the same columns.

    Returns
    -------
    int
        Synthetic rows that copy a training row (a copy counts each time it is generated).

    Examples
    --------
    >>> import pandas as pd
    >>> from genaug.metrics import exact_copies
    >>> train = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    >>> exact_copies(train, pd.DataFrame({"a": [1.0, 3, 3], "b": ["x", None, "z"]}))
    2
    """
    return int(_copy_mask(*_prepare_pair(train, synthetic, "synthetic")).sum())


def exact_copy_rate(train: Any, synthetic: Any) -> float:
    """Share of synthetic rows identical to some training row (see :func:`exact_copies`).

    A fresh real sample of a table with repeated rows also "copies" training rows at some rate;
    compare with ``exact_copy_rate(train, holdout)`` (as :func:`genaug.metrics.evaluate` does).

    Parameters
    ----------
    train, synthetic : DataFrame or array-like
        The training rows and the generated rows, with the same columns.

    Returns
    -------
    float
        In [0, 1], ideal no higher than the holdout's rate.
    """
    train_f, synth_f, kinds = _prepare_pair(train, synthetic, "synthetic")
    return float(_copy_mask(train_f, synth_f, kinds).mean())


def _encoded_sets(
    train: Any,
    others: dict[str, Any],
    *,
    features: bool,
    max_rows: int,
    discrete_columns: Sequence[Any] | None,
    random_state: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.random.Generator]:
    train_f, other_f = prepare_tables(train, others, real_argument="train")
    if not features:
        column_kinds(train_f, list(other_f.values()), list(other_f), discrete_columns)
    rng = make_rng(random_state)
    train_f = train_f.iloc[subsample(len(train_f), max_rows, rng)]
    other_f = {n: f.iloc[subsample(len(f), max_rows, rng)] for n, f in other_f.items()}
    train_z, zs = encode(
        train_f,
        list(other_f.values()),
        features=features,
        discrete_columns=discrete_columns,
        others_names=list(other_f),
    )
    return train_z, dict(zip(other_f, zs)), rng


def _nndr(dist2: np.ndarray) -> np.ndarray:
    """d1 / d2 from the two nearest distances; 0 for a row that sits on a training row."""
    d1 = dist2[:, 0]
    d2 = dist2[:, 1] if dist2.shape[1] > 1 else np.full_like(d1, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d1 > 0, d1 / d2, 0.0)


@fill_doc(params=_DISTANCE_PARAMS)
def distance_to_closest_record(
    train: Any,
    query: Any,
    *,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> np.ndarray:
    """Distance from each query row to its nearest training row (DCR).

    ``DCR(q) = min_t ||q - t||`` in the encoded space. A DCR of 0 is an exact copy (of the
    encoded row). On its own a DCR says little; compare the distribution of the synthetic rows'
    DCRs with that of holdout rows: synthetic rows that sit markedly closer to the training rows
    than fresh real rows do suggest memorisation.
    {params}
    Returns
    -------
    ndarray of shape (n_query_used,)
        One distance per (subsampled) query row.

    References
    ----------
    Park, N., Mohammadi, M., Gorde, K., Jajodia, S., Park, H., & Kim, Y. (2018). Data synthesis
    based on generative adversarial networks. *PVLDB*, 11(10), 1071-1083.
    """
    check_params(
        "distance_to_closest_record",
        features=features,
        max_rows=max_rows,
        random_state=random_state,
    )
    train_z, zs, _ = _encoded_sets(
        train,
        {"query": query},
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
    )
    return nearest(zs["query"], train_z, 1)[:, 0]


@fill_doc(params=_DISTANCE_PARAMS)
def nearest_neighbor_distance_ratio(
    train: Any,
    query: Any,
    *,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> np.ndarray:
    """Ratio of each query row's distances to its nearest and second-nearest training rows.

    ``NNDR(q) = d_1(q) / d_2(q)``, in [0, 1]. Near 0, the query row sits on one training row
    and far from all others, the signature of a copied (or nearly copied) outlier; near 1, it
    sits in a dense region where no single training row stands out. A query row at distance 0
    from a training row gets 0. Compare synthetic rows with holdout rows.
    {params}
    Returns
    -------
    ndarray of shape (n_query_used,)
        One ratio per (subsampled) query row.

    References
    ----------
    Zhao, Z., Kunar, A., Birke, R., & Chen, L. Y. (2021). CTAB-GAN: Effective table data
    synthesizing. *ACML*, PMLR 157, 97-112.
    """
    check_params(
        "nearest_neighbor_distance_ratio",
        features=features,
        max_rows=max_rows,
        random_state=random_state,
    )
    train_z, zs, _ = _encoded_sets(
        train,
        {"query": query},
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=random_state,
    )
    return _nndr(nearest(zs["query"], train_z, 2))


@dataclass
class _HoldoutPrivacy:
    dcr_share: float
    mia_auc: float
    far: float  # share of synthetic rows beyond REACH: ties in the share, not in the attack


# A synthetic row farther from every real row than this quantile of the holdout rows'
# distances to their closest training row is where no real row lies: it may be nearer to a
# training row than to a holdout row, but only as a far-off point is nearer to one corner of
# the data, which reveals no record. A generator's garbage (all beyond the training range)
# would otherwise be called memorised, or not, by whichever set holds that corner's row.
REACH = 0.99


def _balanced(
    train_z: np.ndarray, holdout_z: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Equal-sized random subsets of training and holdout rows."""
    n = min(len(train_z), len(holdout_z))
    return (
        train_z[np.sort(rng.choice(len(train_z), n, replace=False))],
        holdout_z[np.sort(rng.choice(len(holdout_z), n, replace=False))],
    )


def _holdout_privacy(
    train_z: np.ndarray,
    synth_z: np.ndarray,
    holdout_z: np.ndarray,
    rng: np.random.Generator,
) -> _HoldoutPrivacy:
    """DCR share and membership-inference AUC of the synthetic rows within reach of the real
    ones (see :data:`REACH`); both 0.5 when none is."""
    members, non_members = _balanced(train_z, holdout_z, rng)
    to_train = nearest(synth_z, members, 1)[:, 0]
    to_holdout = nearest(synth_z, non_members, 1)[:, 0]
    reach = float(np.quantile(nearest(non_members, members, 1)[:, 0], REACH))
    near = np.minimum(to_train, to_holdout) <= reach
    far = float(1.0 - near.mean()) if len(near) else 0.0
    if not near.any():
        return _HoldoutPrivacy(0.5, 0.5, far)
    # A far row counts as a tie, no evidence either way: a share over the few near rows of
    # a mostly far-off sample would swing between 0 and 1 with the data's seed.
    closer = np.where(to_train < to_holdout, 1.0, np.where(to_train == to_holdout, 0.5, 0.0))
    share = float(np.where(near, closer, 0.5).mean())
    # The attacker's score of a record: the closer a generated row, the likelier a member.
    kept = synth_z[near]
    member_d = nearest(members, kept, 1)[:, 0]
    non_member_d = nearest(non_members, kept, 1)[:, 0]
    labels = np.r_[np.ones(len(member_d)), np.zeros(len(non_member_d))]
    auc = float(roc_auc_score(labels, -np.r_[member_d, non_member_d]))
    return _HoldoutPrivacy(share, auc, far)


def _holdout_metric(train, holdout, synthetic, features, max_rows, discrete_columns, rs, owner):
    check_params(owner, features=features, max_rows=max_rows, random_state=rs)
    train_z, zs, rng = _encoded_sets(
        train,
        {"holdout": holdout, "synthetic": synthetic},
        features=features,
        max_rows=max_rows,
        discrete_columns=discrete_columns,
        random_state=rs,
    )
    return _holdout_privacy(train_z, zs["synthetic"], zs["holdout"], rng)


@fill_doc(params=_HOLDOUT_PARAMS)
def dcr_share(
    train: Any,
    holdout: Any,
    synthetic: Any,
    *,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> float:
    """Share of synthetic rows closer to the training rows than to equally many holdout rows.

    Training and holdout rows are subsampled to the same number ``n``; for each synthetic row
    ``s`` the distance to its closest training row ``d_T(s)`` is compared with that to its
    closest holdout row ``d_H(s)``, and ``share = mean(1[d_T < d_H] + 1/2 * 1[d_T = d_H])``.
    A generator that does not memorise draws rows that are as likely to fall near either set:
    about 0.5. Values near 1 mean the synthetic rows track the training rows.
    Synthetic rows farther from every real row than 99 % of the holdout rows are from their
    closest training row count as ties (1/2): they lie where no real row does, and their
    nearest real row is a corner of the data rather than a record they track.
    {params}
    Returns
    -------
    float
        In [0, 1], ideal 0.5.

    References
    ----------
    Platzer, M., & Reutterer, T. (2021). Holdout-based empirical assessment of mixed-type
    synthetic data. *Frontiers in Big Data*, 4, 679939.
    """
    return _holdout_metric(
        train, holdout, synthetic, features, max_rows, discrete_columns, random_state, "dcr_share"
    ).dcr_share


@fill_doc(params=_HOLDOUT_PARAMS)
def membership_inference_auc(
    train: Any,
    holdout: Any,
    synthetic: Any,
    *,
    features: bool = False,
    max_rows: int = DEFAULT_MAX_ROWS,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> float:
    """ROC-AUC of a distance-based membership-inference attack that sees only synthetic rows.

    The attacker holds candidate real records, half of them training rows (members) and half
    holdout rows (non-members, subsampled to the same number), and scores each candidate by the
    negative distance to its closest synthetic row: a generator that memorises places samples
    near its training rows. The result is the ROC-AUC of this score at telling members from
    non-members: 0.5 means the synthetic data reveals nothing about membership, 1 that it reveals
    every member. This is the full black-box attack of GAN-Leaks without calibration.
    The synthetic rows far from every real row are left out, as in :func:`dcr_share`.
    {params}
    Returns
    -------
    float
        In [0, 1], ideal 0.5.

    References
    ----------
    Chen, D., Yu, N., Zhang, Y., & Fritz, M. (2020). GAN-Leaks: A taxonomy of membership
    inference attacks against generative models. *ACM CCS*, 343-362.
    """
    return _holdout_metric(
        train,
        holdout,
        synthetic,
        features,
        max_rows,
        discrete_columns,
        random_state,
        "membership_inference_auc",
    ).mia_auc
