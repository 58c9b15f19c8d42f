"""scikit-learn and imbalanced-learn integration.

A scikit-learn transformer may not change the number of rows, and its ``transform`` also runs
at predict time, so synthetic rows enter a model in one of two ways:

:class:`SyntheticAugmenter`
    An imbalanced-learn over-sampler: ``fit_resample(X, y)`` trains a clone of a synthesizer on
    exactly the rows it receives and returns them followed by synthetic rows, as many per class
    as ``sampling_strategy`` (imbalanced-learn's meanings) and ``augment_ratio`` ask for. Use it
    as a step of :class:`imblearn.pipeline.Pipeline`.
:class:`AugmentedClassifier`
    A scikit-learn meta-estimator that resamples inside ``fit`` and then fits a clone of a
    classifier, so it works in a plain :class:`sklearn.pipeline.Pipeline`,
    ``cross_val_score`` and ``GridSearchCV``. With ``validation="auto"`` it checks on an inner
    held-out split whether synthetic rows help, and at which strength, and falls back to no
    augmentation when they do not.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_sampling_strategy, check_target_type
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError as _SklearnParameterError
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from genaug._random import derive_seed, resolve_seed
from genaug._validation import Interval, Options, Satisfies, validate_params
from genaug.exceptions import (
    GenaugError,
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
)

__all__ = ["AugmentedClassifier", "SyntheticAugmenter"]

# Seeds handed to samplers that use numpy's legacy RandomState must be below 2**32.
_LEGACY_SEED_BOUND = 2**32

_STRATEGY_NAMES = ("auto", "minority", "not minority", "not majority", "all")

_RANDOM_STATE_CONSTRAINT = [
    None,
    Interval(int, 0, None),
    Satisfies(
        lambda v: isinstance(v, (np.random.Generator, np.random.RandomState)),
        "a numpy Generator or RandomState",
    ),
]


def _is_synthesizer(value: Any) -> bool:
    return all(callable(getattr(value, name, None)) for name in ("fit", "sample", "get_params"))


def _is_strategy(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return 0 < value <= 1
    if isinstance(value, str):
        return value in _STRATEGY_NAMES
    return isinstance(value, Mapping) or callable(value)


def _is_strengths(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple, np.ndarray))
        and len(value) > 0
        and all(
            isinstance(v, numbers.Real)
            and not isinstance(v, (bool, np.bool_))
            and math.isfinite(v)
            and v > 0
            for v in value
        )
    )


def _is_whole(value: Any) -> bool:
    """Whether ``value`` is an integer, or a float without a fractional part."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and float(value).is_integer()


def _take(data: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a DataFrame, Series, sparse matrix or array."""
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if issparse(data):
        # COO, DIA and BSR matrices have no row indexing.
        return (data if data.format in ("csr", "csc", "lil", "dok") else data.tocsr())[index]
    return np.asarray(data)[index]


def _check_2d(X: Any, owner: str) -> None:
    """Raise unless ``X`` is a non-empty table (rows x columns)."""
    shape = X.shape if isinstance(X, pd.DataFrame) or issparse(X) else np.asarray(X).shape
    if len(shape) != 2:
        raise InvalidDataError(
            f"X passed to {owner} must be 2-D (rows x columns); got {len(shape)}-D input. "
            "Reshape your data with X.reshape(-1, 1) if it holds a single feature, or "
            "X.reshape(1, -1) if it holds a single row."
        )
    for axis, what in ((0, "sample"), (1, "feature")):
        if shape[axis] == 0:
            raise InvalidDataError(
                f"X passed to {owner} has 0 {what}(s) (shape={tuple(shape)}) while a minimum "
                "of 1 is required."
            )


def _check_targets(y: Any, owner: str) -> None:
    """Raise :class:`InvalidDataError` naming ``y`` unless it holds class labels."""
    if y is None:
        # scikit-learn's checks look for this wording.
        raise InvalidDataError(
            f"{owner} requires y to be passed, but the target y is None; pass the class labels."
        )
    missing = int(np.count_nonzero(pd.isna(np.asarray(y, dtype=object))))
    if missing:
        # Before scikit-learn's check, whose "Unknown label type: unknown" hides the cause
        # (its checks match the first sentence).
        raise InvalidDataError(
            f"Input y contains NaN: {missing} labels passed to {owner} are missing; drop "
            "those rows or fill them."
        )
    try:
        check_classification_targets(y)
    except ValueError as exc:
        # scikit-learn's text is kept: its checks match "Unknown label type" and "NaN".
        raise InvalidDataError(f"y passed to {owner} must hold class labels: {exc}") from exc


def _call_estimator(estimator: Any, method: str, *args: Any) -> Any:
    """``estimator.method(*args)``, with a ValueError about the data re-raised as
    :class:`InvalidDataError` that names the estimator (its own parameter errors pass)."""
    try:
        return getattr(estimator, method)(*args)
    except (GenaugError, _SklearnParameterError):
        raise
    except ValueError as exc:
        raise InvalidDataError(
            f"{type(estimator).__name__}.{method} refused the data: {exc}"
        ) from exc


def _seed_sampler(sampler: Any, seed: int | None) -> Any:
    """Set ``random_state`` of a (cloned) sampler when a seed is given and it has one."""
    if seed is not None and "random_state" in sampler.get_params(deep=False):
        sampler.set_params(random_state=seed % _LEGACY_SEED_BOUND)
    return sampler


class SyntheticAugmenter(BaseOverSampler):
    """Over-sample with rows drawn from a generative model (an imbalanced-learn sampler).

    ``fit_resample(X, y)`` trains a clone of ``synthesizer`` on exactly the rows it receives,
    then returns those rows followed by synthetic ones, drawn class-conditionally in exact
    numbers by one ``synthesizer.sample(n, y={label: count, ...})`` call. It never runs at
    predict time: in an :class:`imblearn.pipeline.Pipeline` the synthesizer only ever sees the
    training fold.

    Parameters
    ----------
    synthesizer : BaseSynthesizer
        An unfitted genaug synthesizer (or any estimator with ``fit(X, y)`` and exact
        class-conditional ``sample(n, y={label: count})``). It is cloned at each
        ``fit_resample``; the object passed here is never fitted.
    sampling_strategy : float, str, dict or callable, default="auto"
        How many rows each class should have after resampling, with imbalanced-learn's
        meanings, so that the counts match :class:`~imblearn.over_sampling.RandomOverSampler`:

        - float (binary ``y`` only): the minority-to-majority ratio after resampling;
        - ``"minority"``, ``"not minority"``, ``"not majority"``, ``"all"``: the classes grown
          to the size of the majority class; ``"auto"`` means ``"not majority"``;
        - dict ``{label: n_rows}``: the target size of each named class;
        - callable ``f(y) -> dict``: returns such a dict.

        Pass ``{}`` to grow the classes with ``augment_ratio`` only, without rebalancing.
    augment_ratio : float or None, default=None
        Grow every class further, after rebalancing: a class holding ``n`` rows after
        ``sampling_strategy`` gets ``round(augment_ratio * n)`` more synthetic rows
        (``1.0`` doubles every class). ``None`` or ``0`` adds nothing beyond rebalancing.
    random_state : int, numpy Generator or None, default=None
        Seed of the synthesizer clone's training and of the sample. ``None`` leaves the
        synthesizer's own ``random_state`` in charge. Global random generators are never
        touched.
    reject_copies : bool, default=False
        Copy protection: synthetic rows closer to one of the rows given to ``fit_resample``
        than the synthesizer's default copy threshold are redrawn (with the same label, so the
        counts stay exact); see ``BaseSynthesizer.sample``. Off by default: it costs fidelity,
        and inside a training fold a near-copy leaks nothing that the fold does not already
        hold. Turn it on when the resampled rows leave the training process.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of synthetic rows per class in the last ``fit_resample`` (or that ``fit``
        would generate), ``augment_ratio`` included; classes that gain no rows are left out.
    synthesizer_ : BaseSynthesizer or None
        The clone of ``synthesizer`` fitted on the rows given to ``fit_resample``; ``None``
        when no synthetic row was needed (the synthesizer is then not trained).
    synthetic_mask_ : ndarray of bool of shape (n_rows_resampled,)
        Which rows of the last ``fit_resample`` output are synthetic.
    copy_report_ : CopyReport or None
        With ``reject_copies=True``: what the last ``fit_resample`` redrew (the synthesizer's
        ``copy_report_``); else ``None``.
    n_features_in_ : int
        Number of columns of ``X``.
    feature_names_in_ : ndarray of str
        Column names of ``X``, only when it was a DataFrame with string column names.

    See Also
    --------
    AugmentedClassifier : Resamples inside ``fit``; usable in a plain scikit-learn pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from genaug import SyntheticAugmenter, VAESynthesizer
    >>> X, y = make_classification(200, weights=[0.9], random_state=0)
    >>> aug = SyntheticAugmenter(VAESynthesizer(epochs=2), random_state=0)
    >>> X_res, y_res = aug.fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [180, 180]
    >>> int(aug.synthetic_mask_.sum())
    160
    """

    _sampling_type = "over-sampling"

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "synthesizer": [
            Satisfies(_is_synthesizer, "a synthesizer with fit, sample and get_params methods")
        ],
        "sampling_strategy": [
            Satisfies(
                _is_strategy,
                "a float in (0, 1], one of " + ", ".join(repr(s) for s in _STRATEGY_NAMES)
                + ", a dict of {label: n_rows} or a callable",
            )
        ],
        "augment_ratio": [None, Interval(float, 0, None)],
        "random_state": _RANDOM_STATE_CONSTRAINT,
        "reject_copies": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
    }

    def __init__(
        self,
        synthesizer: Any,
        *,
        sampling_strategy: float | str | Mapping | Callable = "auto",
        augment_ratio: float | None = None,
        random_state: Any = None,
        reject_copies: bool = False,
    ) -> None:
        self.synthesizer = synthesizer
        self.sampling_strategy = sampling_strategy
        self.augment_ratio = augment_ratio
        self.random_state = random_state
        self.reject_copies = reject_copies

    # ------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        validate_params(
            self.get_params(deep=False), self._parameter_constraints, type(self).__name__
        )

    def _check_X_y(self, X: Any, y: Any, accept_sparse: Any = None) -> tuple[Any, np.ndarray, bool]:
        """Check ``X`` and ``y`` while keeping ``X``'s column types (mixed frames pass)."""
        if issparse(X):
            raise InvalidDataError(
                "SyntheticAugmenter does not accept sparse X: synthesizers model dense tables. "
                "Pass X.toarray() or a DataFrame."
            )
        _check_2d(X, type(self).__name__)
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
        _check_targets(y, type(self).__name__)
        try:
            y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        except ValueError as exc:
            raise InvalidDataError(f"y passed to {type(self).__name__}: {exc}") from exc
        if len(y) != X.shape[0]:
            raise InvalidDataError(
                f"X has {X.shape[0]} rows but y has {len(y)} labels; they must match."
            )
        validate_data(self, X, reset=True, skip_check_array=True)
        return X, y, binarize_y

    def _synthetic_counts(self, y: np.ndarray) -> dict[Any, int]:
        """New rows per class: ``sampling_strategy`` resolved on ``y``, then ``augment_ratio``."""
        labels, counts = np.unique(y, return_counts=True)
        if labels.size < 2:
            raise InvalidDataError(
                f"y has only one class ({labels.tolist()}); SyntheticAugmenter needs at least two."
            )
        try:
            strategy = check_sampling_strategy(self.sampling_strategy, y, self._sampling_type)
            if not isinstance(strategy, Mapping):
                raise ValueError(f"it resolved to {strategy!r}, not a dict of class sizes")
            bad = {k: v for k, v in strategy.items() if not _is_whole(v)}
            if bad:
                raise ValueError(f"class sizes must be whole numbers; got {bad}")
        except (ValueError, TypeError, AttributeError) as exc:
            # AttributeError: imbalanced-learn reads a callable's result as a dict.
            raise InvalidParameterError(
                f"The 'sampling_strategy' parameter of SyntheticAugmenter does not fit this y "
                f"(classes {labels.tolist()}, counts {counts.tolist()}): {exc}"
            ) from exc
        new = np.array([int(strategy.get(label, 0)) for label in labels], dtype=np.int64)
        if self.augment_ratio:
            new += np.rint(self.augment_ratio * (counts + new)).astype(np.int64)
        return {label: int(n) for label, n in zip(labels, new) if n > 0}

    def _seed(self) -> int | None:
        return None if self.random_state is None else resolve_seed(self.random_state)

    # --------------------------------------------------------------- API
    def fit(self, X: Any, y: Any) -> SyntheticAugmenter:
        """Check the inputs and work out how many rows each class would gain.

        Use :meth:`fit_resample`; ``fit`` alone trains no synthesizer.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Training rows.
        y : array-like of shape (n_rows,)
            Class labels.

        Returns
        -------
        self : SyntheticAugmenter
        """
        self._validate_params()
        _, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = self._synthetic_counts(y)
        return self

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Train a clone of the synthesizer on ``(X, y)`` and append synthetic rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Training rows; mixed column types and missing values are allowed when the
            synthesizer accepts them.
        y : array-like of shape (n_rows,)
            Class labels.

        Returns
        -------
        X_resampled : DataFrame or ndarray of shape (n_rows + n_synthetic, n_columns)
            The rows of ``X`` (in order) followed by the synthetic rows, in ``X``'s form: a
            DataFrame keeps its columns and dtypes (with a fresh ``RangeIndex``).
        y_resampled : Series or ndarray of shape (n_rows + n_synthetic,)
            Their labels, in ``y``'s form.
        """
        self._validate_params()
        X_in, y_in = X, y
        X, y, binarize_y = self._check_X_y(X, y)
        self.sampling_strategy_ = self._synthetic_counts(y)
        X_res, y_res = self._fit_resample(X, y)
        if binarize_y:
            y_res = label_binarize(y_res, classes=np.unique(y))
        return self._restore_form(X_res, y_res, X_in, y_in)

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        counts = self.sampling_strategy_
        n_new = sum(counts.values())
        self.synthetic_mask_ = np.r_[np.zeros(len(y), bool), np.ones(n_new, bool)]
        self.copy_report_ = None
        if n_new == 0:
            self.synthesizer_ = None
            # Copies, as when rows are added: the caller's X must not change through the
            # result, and a DataFrame gets the documented fresh RangeIndex.
            if isinstance(X, pd.DataFrame):
                return X.reset_index(drop=True).copy(), y.copy()
            return X.copy(), y.copy()
        seed = self._seed()
        synthesizer = clone(self.synthesizer)
        if seed is not None and "random_state" in synthesizer.get_params(deep=False):
            synthesizer.set_params(random_state=derive_seed(seed, 0))
        synthesizer.fit(X, y)
        self.synthesizer_ = synthesizer
        protect = {"reject_copies": True, "reference": X} if self.reject_copies else {}
        out = synthesizer.sample(
            n_new, y=counts, random_state=None if seed is None else derive_seed(seed, 1), **protect
        )
        if self.reject_copies:
            self.copy_report_ = synthesizer.copy_report_
        if not isinstance(out, tuple) or len(out) != 2:
            raise InvalidDataError(
                f"{type(synthesizer).__name__}.sample(n, y={{...}}) must return (X, y) for a "
                "synthesizer fitted with labels."
            )
        X_new, y_got = out
        labels = np.array(list(counts), dtype=y.dtype)
        y_new = np.repeat(labels, list(counts.values()))
        y_got = np.asarray(y_got).ravel()
        if y_got.shape != y_new.shape or not np.array_equal(y_got.astype(y.dtype), y_new):
            raise InvalidDataError(
                f"{type(synthesizer).__name__}.sample did not return exactly the requested "
                f"class counts {counts}; SyntheticAugmenter needs exact class-conditional "
                "sampling."
            )
        if isinstance(X, pd.DataFrame):
            if not isinstance(X_new, pd.DataFrame):
                X_new = pd.DataFrame(X_new, columns=X.columns)
            X_res = pd.concat([X, X_new[list(X.columns)]], ignore_index=True)
            changed = {c: X[c].dtype for c in X.columns if X_res[c].dtype != X[c].dtype}
            if changed:
                X_res = X_res.astype(changed)
        else:
            X_res = np.concatenate([X, np.asarray(X_new, dtype=X.dtype)])
        return X_res, np.concatenate([y, y_new])

    @staticmethod
    def _restore_form(X_res: Any, y_res: Any, X_in: Any, y_in: Any) -> tuple[Any, Any]:
        if isinstance(X_in, list):
            X_res = X_res.tolist()
        if isinstance(y_in, pd.Series):
            index = X_res.index if isinstance(X_res, pd.DataFrame) else None
            y_res = pd.Series(y_res, name=y_in.name, index=index).astype(y_in.dtype)
        elif isinstance(y_in, pd.DataFrame):
            index = X_res.index if isinstance(X_res, pd.DataFrame) else None
            columns = y_in.columns if y_res.ndim == 2 else y_in.columns[:1]
            y_res = pd.DataFrame(np.asarray(y_res).reshape(len(y_res), -1), columns=columns,
                                 index=index).astype(y_in.dtypes.to_dict())
        elif isinstance(y_in, list):
            y_res = y_res.tolist()
        return X_res, y_res

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def _estimator_has(name: str) -> Callable[[Any], bool]:
    """``available_if`` check: the fitted estimator, else the unfitted one, has ``name``."""

    def check(self: AugmentedClassifier) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, name)
        return hasattr(self.estimator, name)

    return check


class AugmentedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier trained on its training data plus synthetic rows.

    ``fit`` resamples ``(X, y)`` with a clone of ``augmenter`` and fits a clone of
    ``estimator`` on the result; prediction delegates to that fitted clone and never generates
    rows. Because resampling happens inside ``fit``, the estimator works in a plain
    :class:`sklearn.pipeline.Pipeline`, ``cross_val_score`` and ``GridSearchCV`` without
    leaking test rows into the synthesizer. Nested parameters such as
    ``augmenter__synthesizer__epochs`` or ``augmenter__sampling_strategy`` can be searched.

    Parameters
    ----------
    estimator : classifier
        The scikit-learn classifier to train; it is cloned.
    augmenter : SyntheticAugmenter
        The sampler that adds synthetic rows; it is cloned. Any imbalanced-learn
        over-sampler works too (e.g. ``SMOTE``), to compare on equal terms.
    validation : {None, "auto"}, default=None
        ``None`` always augments as ``augmenter`` says. ``"auto"`` holds out a stratified
        ``validation_size`` share of the training data, trains ``estimator`` on the rest
        without augmentation and with augmentation at each of ``strengths`` (one
        synthesizer fit, reused across strengths), and scores each on the held-out part.
        A strength counts only when its gain over no augmentation is positive on at least
        95 % of stratified bootstrap resamples of the held-out rows (the lower end of
        ``validation_intervals_``): a single split's best of several candidates rides on
        noise, above all when the split holds few rows of a rare class. The best-scoring
        such strength is kept, else no augmentation, and that choice is refitted on all the
        training data. A held-out part with fewer than 3 rows of some class cannot judge a
        gain: then no augmentation is kept, with a warning.
    strengths : sequence of float, default=(0.25, 0.5, 1.0)
        With ``validation="auto"``: multiples of the number of synthetic rows per class that
        ``augmenter`` would add (``1.0`` is the augmenter as configured).
    validation_size : float, default=0.25
        With ``validation="auto"``: share of the training rows held out, in (0, 1).
    scoring : str, callable or None, default="balanced_accuracy"
        With ``validation="auto"``: how the candidates are compared, as in
        :func:`sklearn.metrics.check_scoring` (``None`` uses the estimator's ``score``).
    random_state : int, numpy Generator or None, default=None
        Seed of the inner split and, when given, of the augmenter clones (overriding the
        augmenter's own ``random_state``). ``estimator``'s own seed is left alone.

    Attributes
    ----------
    estimator_ : classifier
        The clone of ``estimator`` fitted on the (possibly augmented) training data.
    augmenter_ : sampler or None
        The fitted clone of ``augmenter`` used for the final fit; ``None`` when no
        augmentation was kept. With ``validation="auto"`` its ``sampling_strategy`` is the dict
        of target class sizes for the chosen strength.
    chosen_strategy_ : {"none", "augment"}
        Whether the final fit used synthetic rows.
    chosen_strength_ : float
        The strength of the final fit (``0.0`` for no augmentation, ``1.0`` when
        ``validation=None``).
    validation_scores_ : dict of {float: float}
        With ``validation="auto"`` only: the held-out score of each strength, ``0.0`` being
        no augmentation.
    validation_intervals_ : dict of {float: (float, float)}
        With ``validation="auto"`` only: for each strength, the 5th and 95th percentiles of
        its score minus no augmentation's over 200 stratified bootstrap resamples of the
        held-out rows (100 when ``scoring`` is not a name: the candidates then predict on
        every resample).
    classes_ : ndarray
        The class labels.
    n_features_in_ : int
        Number of columns of ``X``.
    feature_names_in_ : ndarray of str
        Column names of ``X``, only when it was a DataFrame with string column names.

    See Also
    --------
    SyntheticAugmenter : The sampler, for :class:`imblearn.pipeline.Pipeline`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from genaug import AugmentedClassifier, SyntheticAugmenter, VAESynthesizer
    >>> X, y = make_classification(300, weights=[0.9], random_state=0)
    >>> clf = AugmentedClassifier(
    ...     LogisticRegression(),
    ...     SyntheticAugmenter(VAESynthesizer(epochs=2)),
    ...     validation="auto",
    ...     random_state=0,
    ... ).fit(X, y)
    >>> sorted(clf.validation_scores_)
    [0.0, 0.25, 0.5, 1.0]
    >>> clf.chosen_strategy_ in ("none", "augment")
    True
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "estimator": [
            Satisfies(
                lambda v: all(callable(getattr(v, m, None)) for m in ("fit", "predict")),
                "a classifier with fit and predict methods",
            )
        ],
        "augmenter": [
            Satisfies(
                lambda v: callable(getattr(v, "fit_resample", None))
                and callable(getattr(v, "get_params", None)),
                "a sampler with a fit_resample method (such as SyntheticAugmenter)",
            )
        ],
        "validation": [None, Options(("auto",))],
        "strengths": [Satisfies(_is_strengths, "a non-empty sequence of positive numbers")],
        "validation_size": [Interval(float, 0, 1, closed="neither")],
        "scoring": [None, Satisfies(lambda v: isinstance(v, str) or callable(v), "a scorer")],
        "random_state": _RANDOM_STATE_CONSTRAINT,
    }

    def __init__(
        self,
        estimator: Any,
        augmenter: Any,
        *,
        validation: str | None = None,
        strengths: Sequence[float] = (0.25, 0.5, 1.0),
        validation_size: float = 0.25,
        scoring: str | Callable | None = "balanced_accuracy",
        random_state: Any = None,
    ) -> None:
        self.estimator = estimator
        self.augmenter = augmenter
        self.validation = validation
        self.strengths = strengths
        self.validation_size = validation_size
        self.scoring = scoring
        self.random_state = random_state

    def _validate_params(self) -> None:
        validate_params(
            self.get_params(deep=False), self._parameter_constraints, type(self).__name__
        )
        if self.validation == "auto" and (
            "sampling_strategy" not in self.augmenter.get_params(deep=False)
            or getattr(self.augmenter, "_sampling_type", None) != "over-sampling"
        ):
            # The candidates are the training rows followed by k synthetic ones: a sampler
            # that removes or reorders rows (SMOTEENN, an under-sampler) breaks that.
            raise InvalidParameterError(
                "validation='auto' scales an over-sampler's sampling_strategy and keeps the "
                f"training rows first, but the augmenter {type(self.augmenter).__name__} is "
                "not an over-sampler with a 'sampling_strategy' parameter; use "
                "SyntheticAugmenter or an imbalanced-learn over-sampler, or validation=None."
            )

    # --------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any) -> AugmentedClassifier:
        """Resample ``(X, y)`` and fit a clone of ``estimator`` on the result.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Training rows.
        y : array-like of shape (n_rows,)
            Class labels.

        Returns
        -------
        self : AugmentedClassifier
        """
        self._validate_params()
        _check_2d(X, type(self).__name__)
        if issparse(X) and not self.__sklearn_tags__().input_tags.sparse:
            raise InvalidDataError(
                f"AugmentedClassifier with {type(self.augmenter).__name__} does not accept "
                "sparse X. Pass X.toarray() or a DataFrame."
            )
        _check_targets(y, type(self).__name__)
        y_shape = np.asarray(y).shape
        if len(y_shape) == 2 and y_shape[1] == 1:
            y = column_or_1d(y, warn=True)
        try:
            check_consistent_length(X, y)
        except ValueError:
            n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
            raise InvalidDataError(
                f"X has {n_rows} rows but y has {np.asarray(y).shape[0]} labels; they must "
                "match."
            ) from None
        validate_data(self, X, reset=True, skip_check_array=True)
        seed = None if self.random_state is None else resolve_seed(self.random_state)
        if self.validation is None:
            strength = 1.0
            for name in ("validation_scores_", "validation_intervals_"):
                if hasattr(self, name):  # from an earlier fit with validation="auto"
                    delattr(self, name)
        else:
            strength = self._choose_strength(X, y, resolve_seed(None) if seed is None else seed,
                                             seed is not None)
        self.chosen_strength_ = float(strength)
        self.chosen_strategy_ = "none" if strength == 0 else "augment"
        self.augmenter_ = None
        X_fit, y_fit = X, y
        if strength > 0:
            augmenter = _seed_sampler(
                clone(self.augmenter), None if seed is None else derive_seed(seed, 2)
            )
            if self.validation is not None:
                planned = clone(augmenter).fit(X, y).sampling_strategy_
                _set_strength(augmenter, y, planned, strength)
            X_fit, y_fit = augmenter.fit_resample(X, y)
            self.augmenter_ = augmenter
        self.estimator_ = _call_estimator(clone(self.estimator), "fit", X_fit, y_fit)
        self.classes_ = self.estimator_.classes_
        return self

    def _choose_strength(self, X: Any, y: Any, seed: int, seed_augmenter: bool) -> float:
        """Score no augmentation and each strength on an inner split; return the best."""
        y_arr = np.asarray(y)
        try:
            train, val = train_test_split(
                np.arange(len(y_arr)),
                test_size=self.validation_size,
                stratify=y_arr,
                random_state=derive_seed(seed, 0) % _LEGACY_SEED_BOUND,
            )
        except ValueError as exc:
            warnings.warn(
                f"validation='auto' could not hold out a stratified split ({exc}); "
                "AugmentedClassifier falls back to no augmentation.",
                UserWarning,
                stacklevel=3,
            )
            self.validation_scores_ = {}
            self.validation_intervals_ = {}
            return 0.0
        # value_counts, not np.unique: labels of mixed types do not sort. Every class of y,
        # one with no held-out row too (a stratified split can leave a class of 2 out).
        counts = pd.Series(y_arr[val]).value_counts().reindex(pd.unique(y_arr), fill_value=0)
        counts = counts.sort_values(kind="stable")
        if counts.iloc[0] < _MIN_VALIDATION_ROWS:
            # A resample of one or two rows redraws them every time: the interval would
            # show no doubt about the class whose rows decide the gain.
            rare = counts.index[0]
            rare = rare.item() if isinstance(rare, np.generic) else rare
            warnings.warn(
                f"validation='auto' held out only {counts.iloc[0]} row(s) of class {rare!r} "
                f"(validation_size={self.validation_size}), too few to tell a gain from "
                "noise; AugmentedClassifier falls back to no augmentation. Use "
                "validation=None to augment anyway, or a larger validation_size.",
                UserWarning,
                stacklevel=3,
            )
            self.validation_scores_ = {}
            self.validation_intervals_ = {}
            return 0.0
        X_tr, y_tr, X_val, y_val = _take(X, train), _take(y, train), _take(X, val), _take(y, val)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        fitted: dict[float, Any] = {}

        def score(X_fit: Any, y_fit: Any) -> float:
            model = _call_estimator(clone(self.estimator), "fit", X_fit, y_fit)
            fitted[len(fitted)] = model
            return float(scorer(model, X_val, y_val))

        scores = {0.0: score(X_tr, y_tr)}
        augmenter = _seed_sampler(
            clone(self.augmenter), derive_seed(seed, 1) if seed_augmenter else None
        )
        planned = clone(augmenter).fit(X_tr, y_tr).sampling_strategy_
        strengths = sorted({float(s) for s in self.strengths})
        if sum(planned.values()) > 0:
            # One synthesizer fit at the largest strength; a smaller strength keeps a random
            # subset of each class's new rows, a draw of the same distribution.
            _set_strength(augmenter, y_tr, planned, strengths[-1])
            X_res, y_res = augmenter.fit_resample(X_tr, y_tr)
            y_res_arr = np.asarray(y_res)
            n_tr = len(train)
            if len(y_res_arr) < n_tr or not np.array_equal(y_res_arr[:n_tr], np.asarray(y_tr)):
                # A combined sampler (SMOTEENN, SMOTETomek) may remove or reorder rows: the
                # candidates below would not be the training rows plus k synthetic ones.
                # (ADASYN and KMeansSMOTE add roughly the asked number: the quotas cope.)
                raise InvalidParameterError(
                    f"validation='auto' needs the augmenter to return the training rows first, "
                    f"in order, then the new ones; {type(augmenter).__name__} returned "
                    f"{len(y_res_arr)} rows for {n_tr} training rows, not starting with them. "
                    "Use validation=None with a sampler that removes or reorders rows."
                )
            _, codes = np.unique(y_res_arr[n_tr:], return_inverse=True)
            # Each class's new rows in a seeded random order: a smaller strength keeps a
            # random subset of them (ADASYN emits its rows grouped by the row they grew from,
            # so its first rows would come from a few of them).
            order = np.random.default_rng(derive_seed(seed, 3)).permutation(len(codes))
            rank = np.empty(len(codes), dtype=np.int64)
            rank[order] = pd.Series(codes[order]).groupby(codes[order]).cumcount().to_numpy()
            labels_syn = y_res_arr[n_tr:]
            for s in strengths:
                quota = np.array([_scaled(planned, label, s) for label in np.unique(labels_syn)])
                keep = np.r_[np.arange(n_tr), n_tr + np.flatnonzero(rank < quota[codes])]
                scores[s] = score(_take(X_res, keep), _take(y_res, keep))
        self.validation_scores_ = scores
        models = dict(zip(scores, fitted.values()))
        intervals = _gain_intervals(
            scorer, models, X_val, y_val, isinstance(self.scoring, str),
            np.random.default_rng(derive_seed(seed, 4)),
        )
        self.validation_intervals_ = intervals
        # The best-scoring strength among those whose gain resampling cannot explain: one
        # split's best of several candidates against one baseline rides on noise (a 25 %
        # split of a rare class may hold 8 of its rows).
        best = 0.0
        for s in sorted(intervals):
            if intervals[s][0] > 0 and (best == 0.0 or scores[s] > scores[best]):
                best = s
        return best

    # ------------------------------------------------------- prediction
    def _check_X(self, X: Any) -> None:
        try:
            check_is_fitted(self)
        except _SklearnNotFittedError as exc:
            raise NotFittedError(str(exc)) from exc
        _check_2d(X, type(self).__name__)
        try:
            validate_data(self, X, reset=False, skip_check_array=True)
        except ValueError as exc:  # another number of columns, or other column names
            raise InvalidDataError(str(exc)) from exc

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """Predict classes with the fitted estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        self._check_X(X)
        return _call_estimator(self.estimator_, "predict", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
        """
        self._check_X(X)
        return _call_estimator(self.estimator_, "predict_proba", X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities from the fitted estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
        """
        self._check_X(X)
        return _call_estimator(self.estimator_, "predict_log_proba", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Decision function of the fitted estimator.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of shape (n_rows,) or (n_rows, n_classes)
        """
        self._check_X(X)
        return _call_estimator(self.estimator_, "decision_function", X)

    @available_if(_estimator_has("score"))
    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The fitted estimator's ``score`` (mean accuracy for scikit-learn classifiers).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
        y : array-like of shape (n_rows,)
        sample_weight : array-like of shape (n_rows,), optional

        Returns
        -------
        float
        """
        self._check_X(X)
        if sample_weight is None:
            return _call_estimator(self.estimator_, "score", X, y)
        return _call_estimator(self.estimator_, "score", X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator).input_tags
        tags.input_tags.sparse = inner.sparse and get_tags(self.augmenter).input_tags.sparse
        # What the fit accepts: both the augmenter and the estimator must take it.
        outer = get_tags(self.augmenter).input_tags
        tags.input_tags.allow_nan = inner.allow_nan and outer.allow_nan
        tags.input_tags.categorical = inner.categorical and outer.categorical
        tags.input_tags.string = inner.string and outer.string
        return tags


# Resamples of the validation rows behind validation="auto"'s intervals: with a scorer named
# by a string the candidates' outputs are computed once and replayed; any other scorer
# predicts on every resample.
_VALIDATION_RESAMPLES = 200
# Fewest held-out rows of a class for validation="auto" to judge a gain at all.
_MIN_VALIDATION_ROWS = 3
_VALIDATION_RESAMPLES_PREDICTING = 100
_RESPONSE_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")


class _Replay(ClassifierMixin, BaseEstimator):
    """A fitted classifier's outputs on the validation rows, answered for rows by index.

    A scorer named by a string only calls the classifier's prediction methods on ``X``: the
    outputs on the validation rows are computed once, and ``X`` is a resample's row indices.
    """

    def __init__(self, model: Any = None, X: Any = None) -> None:
        self.model = model
        self.X = X

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")
        if name not in _RESPONSE_METHODS or model is None or not hasattr(model, name):
            raise AttributeError(name)
        outputs = self.__dict__.setdefault("_outputs", {})

        def answer(index: Any) -> np.ndarray:
            if name not in outputs:
                outputs[name] = np.asarray(_call_estimator(model, name, self.X))
            return outputs[name][np.asarray(index).ravel()]

        answer.__name__ = name  # scikit-learn reads the response method's name
        return answer

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_


def _gain_intervals(
    scorer: Any,
    models: Mapping[float, Any],
    X_val: Any,
    y_val: Any,
    replay: bool,
    rng: np.random.Generator,
) -> dict[float, tuple[float, float]]:
    """90 % percentile interval of each strength's score minus no augmentation's (``models[0]``)
    over stratified bootstrap resamples of the validation rows, all models on each resample:
    its lower end above 0 makes the gain positive at 95 % one-sided confidence."""
    labels = np.asarray(y_val)
    groups = [np.flatnonzero(labels == c) for c in pd.unique(labels)]
    answers = {s: _Replay(m, X_val) if replay else m for s, m in models.items()}
    gains: dict[float, list[float]] = {s: [] for s in models if s != 0.0}
    n_resamples = _VALIDATION_RESAMPLES if replay else _VALIDATION_RESAMPLES_PREDICTING
    with warnings.catch_warnings():
        # A resample can leave a class unpredicted ("ill-defined" precision): scored as 0.
        warnings.simplefilter("ignore")
        for _ in range(n_resamples):
            # Within each class, so that every resample holds every class as often as the
            # validation rows do.
            index = np.concatenate([rng.choice(g, len(g)) for g in groups])
            X_r = index.reshape(-1, 1) if replay else _take(X_val, index)
            y_r = _take(y_val, index)
            base = float(scorer(answers[0.0], X_r, y_r))
            for s in gains:
                gains[s].append(float(scorer(answers[s], X_r, y_r)) - base)
    return {
        s: tuple(float(q) for q in np.quantile(g, [0.05, 0.95])) for s, g in gains.items()
    }


def _scaled(planned: Mapping, label: Any, strength: float) -> int:
    return int(np.rint(strength * planned.get(label, 0)))


def _set_strength(sampler: Any, y: Any, planned: Mapping, strength: float) -> None:
    """Point ``sampler`` at class sizes holding ``strength`` times its planned new rows."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    targets = {
        label: int(n) + _scaled(planned, label, strength) for label, n in zip(labels, counts)
    }
    params: dict[str, Any] = {"sampling_strategy": targets}
    if "augment_ratio" in sampler.get_params(deep=False):
        params["augment_ratio"] = None
    sampler.set_params(**params)
