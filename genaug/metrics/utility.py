"""Utility: what the synthetic rows are worth to a classifier, measured on real holdout rows.

Three models of the same kind are trained and all are tested on the same real holdout:

* on the real training rows: **TRTR** (train real, test real), the baseline;
* on the synthetic rows alone: **TSTR** (train synthetic, test real), after Esteban et al.
  (2017); the gap ``TSTR - TRTR`` tells how much of the real data's signal the generator kept;
* on the real plus the synthetic rows (**augmented**): the gain ``augmented - TRTR`` is the
  answer to the question users of augmentation ask, "does adding these rows help?".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

from genaug.metrics._encoding import (
    check_labels,
    column_kinds,
    make_rng,
    model_matrices,
    prepare_tables,
    single_threaded,
)
from genaug.metrics._encoding import check_params as _check_params

__all__ = ["UTILITY_METRICS", "classification_scores", "tstr_roc_auc", "utility_scores"]

#: The scores of :func:`classification_scores`, in the order of the utility table.
UTILITY_METRICS = ("macro_f1", "balanced_accuracy", "roc_auc", "pr_auc")


def _positive_class(y_train: np.ndarray) -> Any:
    """The rarer class of a binary problem: the one augmentation is usually for."""
    return pd.Series(y_train).value_counts(sort=False).idxmin()


def classification_scores(
    y_true: Any, y_pred: Any, proba: np.ndarray | None, classes: Sequence[Any], positive: Any
) -> dict[str, float]:
    """Macro-F1, balanced accuracy, ROC-AUC and PR-AUC of one set of predictions.

    * ``macro_f1``: unweighted mean over classes of the F1 score, so that a minority class
      counts as much as the majority.
    * ``balanced_accuracy``: mean recall over the classes (Brodersen et al., 2010).
    * ``roc_auc``: area under the ROC curve of ``positive`` for two classes; for more, the
      unweighted mean of the one-vs-rest AUCs of the classes present in ``y_true``.
    * ``pr_auc``: average precision (area under the precision-recall curve, step-wise) of
      ``positive`` for two classes, the one-vs-rest mean otherwise; unlike ROC-AUC it reflects
      how rare the positive class is.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels.
    proba : ndarray of shape (n, len(classes)) or None
        Predicted probabilities, columns in the order of ``classes``; ``None`` leaves the two
        AUCs NaN.
    classes : sequence
        All class labels.
    positive : label
        The class of interest of a binary problem.

    Returns
    -------
    dict
        The four scores, keyed as in :data:`UTILITY_METRICS`; NaN where undefined.

    References
    ----------
    Brodersen, K. H., Ong, C. S., Stephan, K. E., & Buhmann, J. M. (2010). The balanced accuracy
    and its posterior distribution. *ICPR*, 3121-3124.

    Davis, J., & Goadrich, M. (2006). The relationship between precision-recall and ROC curves.
    *ICML*, 233-240.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    # Scored as indices into the known labels: scikit-learn rejects object arrays of numbers
    # (an "unknown" target type), and labels may mix types.
    labels = pd.Index(list(classes), dtype=object)
    extra = pd.Index(pd.unique(np.concatenate([y_true, y_pred])), dtype=object).difference(
        labels, sort=False
    )
    labels = labels.append(extra)
    y_true, y_pred = labels.get_indexer(y_true), labels.get_indexer(y_pred)
    out = {"roc_auc": np.nan, "pr_auc": np.nan}
    with warnings.catch_warnings():
        # A class the model never predicts triggers an "ill-defined" warning, and the score
        # correctly counts it as 0; the warning would only be noise in a report.
        warnings.simplefilter("ignore")
        out["macro_f1"] = float(f1_score(y_true, y_pred, average="macro"))
        out["balanced_accuracy"] = float(balanced_accuracy_score(y_true, y_pred))
    if proba is not None:
        classes = list(classes)
        if len(classes) == 2:
            targets = [(positive, proba[:, classes.index(positive)])]
        else:
            targets = list(zip(classes, proba.T))
        rocs, aps = [], []
        for label, score in targets:
            hit = y_true == labels.get_loc(label)
            if hit.any() and not hit.all():
                rocs.append(roc_auc_score(hit, score))
                aps.append(average_precision_score(hit, score))
        if rocs:
            out["roc_auc"], out["pr_auc"] = float(np.mean(rocs)), float(np.mean(aps))
    return {name: out[name] for name in UTILITY_METRICS}


def _default_estimator(is_cat: np.ndarray, seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        categorical_features=is_cat if is_cat.any() else None,
        early_stopping=False,
        random_state=seed,
    )


def _fit_score(
    estimator, X_train, y_train, X_test, y_test, classes, positive, keep=None, name=None
) -> dict:
    """The model's scores on the test rows; with ``keep`` (a dict), its predictions go in
    ``keep[name]`` (None where no model could be trained)."""
    if keep is not None:
        keep[name] = None
    if len(pd.unique(y_train)) < 2:
        # A classifier cannot be trained on one class; the row stays NaN and the report says so.
        return dict.fromkeys(UTILITY_METRICS, np.nan)
    # The labels arrive as object arrays (they may mix types); scikit-learn calls an object
    # array of numbers an "unknown" target type, so the model is fitted on class indices.
    index = pd.Index(list(classes), dtype=object)
    codes = index.get_indexer(np.asarray(y_train, dtype=object))
    with single_threaded():
        model = estimator.fit(X_train, codes)
        pred = np.asarray(classes, dtype=object)[model.predict(X_test)]
        p = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
    proba = None
    if p is not None:
        proba = np.zeros((len(pred), len(classes)))
        proba[:, np.asarray(model.classes_, dtype=np.int64)] = p
    if keep is not None:
        keep[name] = pred
    return classification_scores(y_test, pred, proba, classes, positive)


# Holdout resamples of the paired bootstrap of a gain (fewer for a large holdout, where each
# costs more and the interval is narrow anyway), and the most resample weights (resamples x
# rows) held at once.
_BOOTSTRAP_RESAMPLES = 500
_BOOTSTRAP_MIN_RESAMPLES = 200
_BOOTSTRAP_DRAWS = 20_000_000
_BOOTSTRAP_BLOCK = 2**22


def macro_f1_gain_interval(
    y_true: np.ndarray,
    pred_before: np.ndarray,
    pred_after: np.ndarray,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``macro-F1(pred_after) - macro-F1(pred_before)`` over resamples
    of the test rows (a paired bootstrap: both models scored on the same resample).

    It measures how much of a gain the test rows' own sampling could make, not the spread
    over refits. Each resample draws every row a Poisson(1) number of times (the Poisson
    bootstrap: independent weights, no loop), and its macro-F1 averages the F1 of the
    classes it holds or predicts, like scikit-learn's; a resample that drew no row is
    skipped. 500 resamples, fewer (at least 200) for more than 40,000 rows. ``(nan, nan)``
    when no resample holds a row.
    """
    from scipy import sparse

    labels = pd.Index(pd.unique(np.concatenate([y_true, pred_before, pred_after])))
    k, n = len(labels), len(y_true)
    truth = labels.get_indexer(y_true)
    rows = np.arange(n)

    def per_class(mask: np.ndarray, codes: np.ndarray) -> Any:
        # Rows x classes, one 1 per kept row: a weighted count per class is one product.
        return sparse.csr_matrix((np.ones(int(mask.sum())), (rows[mask], codes[mask])), (n, k))

    everyone = np.ones(n, dtype=bool)
    n_true = per_class(everyone, truth)
    counts = []
    for pred in (pred_before, pred_after):
        guess = labels.get_indexer(pred)
        counts.append((per_class(everyone, guess), per_class(guess == truth, truth)))
    resamples = min(_BOOTSTRAP_RESAMPLES, _BOOTSTRAP_DRAWS // max(n, 1))
    resamples = max(_BOOTSTRAP_MIN_RESAMPLES, resamples)
    step = max(1, _BOOTSTRAP_BLOCK // max(n, 1))
    diffs = []
    for start in range(0, resamples, step):
        w = rng.poisson(1.0, (min(step, resamples - start), n)).astype(np.float64)
        w = w[w.sum(axis=1) > 0]
        if not len(w):
            continue
        present = np.asarray(w @ n_true)
        scores = []
        for n_pred, tp in counts:
            denom = present + np.asarray(w @ n_pred)  # 2 tp + fp + fn
            with np.errstate(invalid="ignore", divide="ignore"):
                f1 = np.where(denom > 0, 2.0 * np.asarray(w @ tp) / denom, np.nan)
            # Every resample with a row has a class it holds: no row of F1 is all NaN.
            scores.append(np.nanmean(f1, axis=1))
        diffs.append(scores[1] - scores[0])
    if not diffs:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.concatenate(diffs), [tail, 1.0 - tail])
    return float(low), float(high)


def tstr_roc_auc(
    X_synthetic: np.ndarray,
    y_synthetic: np.ndarray,
    X_real: np.ndarray,
    y_real: np.ndarray,
    *,
    random_state: int = 0,
) -> float:
    """ROC-AUC on real rows of a gradient-boosting classifier trained on synthetic rows.

    The TSTR part of :func:`utility_scores` for rows that are already numeric matrices (a
    codec's encoded rows, say) with integer class codes: no table preparation, one model.
    Early stopping on utility uses it (see :class:`genaug.GANSynthesizer`).

    Parameters
    ----------
    X_synthetic : ndarray of shape (n_synthetic, n_features)
    y_synthetic : ndarray of int of shape (n_synthetic,)
    X_real : ndarray of shape (n_real, n_features)
    y_real : ndarray of int of shape (n_real,)
    random_state : int, default=0
        Seed of the classifier (any integer; taken modulo 2**32).

    Returns
    -------
    float
        The ROC-AUC of the larger class code for two classes; for more, the mean of the
        one-vs-rest AUCs of the classes present in ``y_real``. NaN when the synthetic rows
        hold a single class or ``y_real`` does.

    Examples
    --------
    >>> import numpy as np
    >>> from genaug.metrics.utility import tstr_roc_auc
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> X = y[:, None] + rng.normal(size=(2000, 3))
    >>> round(tstr_roc_auc(X[:1000], y[:1000], X[1000:], y[1000:]), 2)
    0.86
    """
    classes = sorted(set(np.unique(y_synthetic).tolist()) | set(np.unique(y_real).tolist()))
    seed = int(random_state) % 2**32
    estimator = _default_estimator(np.zeros(X_synthetic.shape[1], dtype=bool), seed)
    scores = _fit_score(
        estimator, X_synthetic, y_synthetic, X_real, y_real, classes, classes[-1]
    )
    return float(scores["roc_auc"])


def _utility(
    real: pd.DataFrame,
    y_real: np.ndarray,
    synth: pd.DataFrame,
    y_synth: np.ndarray,
    holdout: pd.DataFrame,
    y_holdout: np.ndarray,
    kinds: dict,
    estimator: Any,
    rng: np.random.Generator,
    keep: dict | None = None,
) -> pd.DataFrame:
    """The utility table; with ``keep`` (a dict), the holdout predictions of each model by
    its row name."""
    classes = list(pd.unique(np.concatenate([y_real, y_synth, y_holdout])))
    positive = _positive_class(y_real)
    seed = int(rng.integers(2**31 - 1))
    if estimator is None:
        (x_r, x_s, x_h), is_cat = model_matrices([real, synth, holdout], kinds)
        x_aug = np.vstack([x_r, x_s])

        def make():
            return _default_estimator(is_cat, seed)

    else:
        x_r, x_s, x_h = real, synth, holdout
        x_aug = pd.concat([real, synth], ignore_index=True)

        def make():
            return clone(estimator)

    y_aug = np.concatenate([y_real, y_synth])
    fits = {
        "train_real": (x_r, y_real),
        "train_synthetic": (x_s, y_synth),
        "train_augmented": (x_aug, y_aug),
    }
    rows = {
        name: _fit_score(make(), X, y, x_h, y_holdout, classes, positive, keep, name)
        for name, (X, y) in fits.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")[list(UTILITY_METRICS)]
    table.loc["gap_synthetic"] = table.loc["train_synthetic"] - table.loc["train_real"]
    table.loc["gain_augmented"] = table.loc["train_augmented"] - table.loc["train_real"]
    table.index.name = "model"
    return table


def utility_scores(
    real_train: Any,
    y_real: Any,
    synthetic: Any,
    y_synthetic: Any,
    real_holdout: Any,
    y_holdout: Any,
    *,
    estimator: Any = None,
    discrete_columns: Sequence[Any] | None = None,
    random_state: Any = None,
) -> pd.DataFrame:
    """TRTR, TSTR and train-on-augmented scores on a real holdout, and the gains over TRTR.

    The same classifier is trained three times, on the real training rows, on the synthetic
    rows, and on both together, and each model is scored on the real holdout with
    :func:`classification_scores`. All models use every row given (no subsampling).

    Parameters
    ----------
    real_train : DataFrame or array-like of shape (n_real, n_columns)
        The real training rows (the ones the generator was fitted on).
    y_real : array-like of shape (n_real,)
        Their classes.
    synthetic : DataFrame or array-like of shape (n_synthetic, n_columns)
        The generated rows.
    y_synthetic : array-like of shape (n_synthetic,)
        Their classes.
    real_holdout : DataFrame or array-like of shape (n_holdout, n_columns)
        Real rows used by neither the generator nor the classifiers.
    y_holdout : array-like of shape (n_holdout,)
        Their classes.
    estimator : scikit-learn classifier, optional
        Cloned for each model and fitted on the tables as given (so a mixed-type table needs a
        Pipeline with its own encoding). The default is a ``HistGradientBoostingClassifier``
        with native categorical splits on genaug's model matrix, which needs no encoding.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories (default model only).
    random_state : int, numpy Generator or None, default=None
        Seed of the default model.

    Returns
    -------
    DataFrame
        Rows ``train_real`` (TRTR), ``train_synthetic`` (TSTR), ``train_augmented``,
        ``gap_synthetic`` (TSTR - TRTR) and ``gain_augmented`` (augmented - TRTR); columns
        ``macro_f1``, ``balanced_accuracy``, ``roc_auc`` and ``pr_auc``. A model that cannot be
        trained (one class) gives a row of NaN.

    References
    ----------
    Esteban, C., Hyland, S. L., & Rätsch, G. (2017). Real-valued (medical) time series generation
    with recurrent conditional GANs. arXiv:1706.02633.
    """
    _check_params(
        "utility_scores",
        random_state=random_state,
        discrete_columns=discrete_columns,
        estimator=estimator,
    )
    real_f, others = prepare_tables(
        real_train,
        {"synthetic": synthetic, "real_holdout": real_holdout},
        real_argument="real_train",
    )
    synth_f, hold_f = others["synthetic"], others["real_holdout"]
    kinds = column_kinds(real_f, [synth_f, hold_f], ["synthetic", "real_holdout"], discrete_columns)
    return _utility(
        real_f,
        check_labels(y_real, len(real_f), "y_real"),
        synth_f,
        check_labels(y_synthetic, len(synth_f), "y_synthetic"),
        hold_f,
        check_labels(y_holdout, len(hold_f), "y_holdout"),
        kinds,
        estimator,
        make_rng(random_state),
    )
