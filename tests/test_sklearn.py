"""SyntheticAugmenter and AugmentedClassifier: imbalanced-learn semantics, no leakage, search,
forms and dtypes, seeding, the "never hurts" validation, errors and the estimator checks."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn import FunctionSampler
from imblearn.combine import SMOTEENN
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from imblearn.under_sampling import RandomUnderSampler
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from genaug import AugmentedClassifier, SyntheticAugmenter, VAESynthesizer
from genaug.exceptions import InvalidDataError, InvalidParameterError

from .conftest import make_mixed_frame

TINY = {"epochs": 1, "batch_size": 64, "latent_dim": 4, "encoder_hidden": (16,),
        "decoder_hidden": (16,), "device": "cpu"}


def tiny_vae(**params: Any) -> VAESynthesizer:
    return VAESynthesizer(**{**TINY, **params})


class SpyVAE(VAESynthesizer):
    """A VAE that records, in a class-level log shared by its clones, the rows it is fitted on
    and the ``y`` of every ``sample`` call."""

    fitted_on: ClassVar[list[np.ndarray]] = []
    sampled: ClassVar[list[Any]] = []

    def fit(self, X, y=None):
        SpyVAE.fitted_on.append(np.array(X, copy=True))
        return super().fit(X, y)

    def sample(self, n, y=None, **kwargs):
        SpyVAE.sampled.append(y)
        return super().sample(n, y, **kwargs)


@pytest.fixture
def spy():
    SpyVAE.fitted_on.clear()
    SpyVAE.sampled.clear()
    yield SpyVAE(**TINY)
    SpyVAE.fitted_on.clear()
    SpyVAE.sampled.clear()


class ClassGaussian(BaseEstimator):
    """A minimal synthesizer with the BaseSynthesizer API: one diagonal Gaussian per class.

    With ``flip_labels=True`` it is a label-noise synthesizer: rows asked for one class are
    drawn from the next class's Gaussian, so every synthetic row carries a wrong label.
    """

    def __init__(self, flip_labels: bool = False, random_state: Any = None) -> None:
        self.flip_labels = flip_labels
        self.random_state = random_state

    def fit(self, X, y):
        frame = pd.DataFrame(np.asarray(X, dtype=float))
        stats = frame.groupby(np.asarray(y))
        self.classes_ = np.asarray(stats.mean().index)
        self.means_ = stats.mean().to_numpy()
        self.stds_ = stats.std().fillna(0).to_numpy()
        self.calls_ = 0
        return self

    def sample(self, n, y=None, random_state=None):
        rng = np.random.default_rng(random_state if random_state is not None else self.calls_)
        self.calls_ += 1
        labels = np.repeat(list(y), list(y.values()))
        code = np.searchsorted(self.classes_, labels)
        if self.flip_labels:
            code = (code + 1) % len(self.classes_)
        X = rng.normal(self.means_[code], self.stds_[code])
        return X, labels


def multiclass(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
        weights=[0.6, 0.3, 0.1], flip_y=0, random_state=seed,
    )


def binary(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n, n_features=4, n_informative=3, n_redundant=0, weights=[0.85], flip_y=0,
        random_state=seed,
    )


# ----------------------------------------------------------------- sampling_strategy
STRATEGIES = [
    ("auto", multiclass),
    ("minority", multiclass),
    ("not minority", multiclass),
    ("not majority", multiclass),
    ("all", multiclass),
    ({1: 150, 2: 100}, multiclass),
    (lambda y: {2: int((y == 2).sum()) * 3}, multiclass),
    (0.5, binary),
    (1.0, binary),
]


@pytest.mark.parametrize(("strategy", "data"), STRATEGIES, ids=lambda v: repr(v)[:20])
def test_class_counts_match_random_over_sampler(strategy, data, spy):
    X, y = data()
    _, y_ros = RandomOverSampler(sampling_strategy=strategy, random_state=0).fit_resample(X, y)
    aug = SyntheticAugmenter(spy, sampling_strategy=strategy, random_state=0)
    X_res, y_res = aug.fit_resample(X, y)
    assert Counter(y_res.tolist()) == Counter(y_ros.tolist())
    assert X_res.shape == (len(y_ros), X.shape[1])
    # Originals first, unchanged; then one exact class-conditional draw of the new rows.
    np.testing.assert_array_equal(X_res[: len(y)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    new = Counter(y_res[len(y) :].tolist())
    assert len(SpyVAE.sampled) == 1 and SpyVAE.sampled[0] == dict(new)
    assert {k: v for k, v in aug.sampling_strategy_.items() if v} == dict(new)
    np.testing.assert_array_equal(aug.synthetic_mask_, np.arange(len(y_res)) >= len(y))


def test_augment_ratio_grows_every_class_after_rebalancing():
    X, y = multiclass()
    counts = np.bincount(y)  # 144, 72, 24
    _, y_res = SyntheticAugmenter(tiny_vae(), augment_ratio=0.5, random_state=0).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [216, 216, 216]
    _, y_res = SyntheticAugmenter(
        tiny_vae(), sampling_strategy={}, augment_ratio=1.0, random_state=0
    ).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == (2 * counts).tolist()


def test_no_synthetic_rows_needed_trains_no_synthesizer(spy):
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    aug = SyntheticAugmenter(spy)
    X_res, _ = aug.fit_resample(X, y)
    assert aug.synthesizer_ is None and not SpyVAE.fitted_on
    np.testing.assert_array_equal(X_res, X)
    assert not aug.synthetic_mask_.any()
    X_res[0, 0] = 99.0  # a copy: the caller's X does not change through it
    assert X[0, 0] != 99.0
    frame = pd.DataFrame(X, index=np.arange(100, 140))
    out, y_out = SyntheticAugmenter(spy).fit_resample(frame, pd.Series(y, index=frame.index))
    assert out is not frame and out.index.equals(pd.RangeIndex(40))
    assert y_out.index.equals(pd.RangeIndex(40))
    out.iloc[0, 0] = 99.0
    assert frame.iloc[0, 0] != 99.0


# ---------------------------------------------------------------------- no leakage
def assert_fitted_on_training_folds(X, folds, fits_per_fold):
    """Check the spy's log: ``fits_per_fold[k]`` fits in fold ``k``, none on a test row."""
    ids = [np.sort(rows[:, 0]) for rows in SpyVAE.fitted_on]
    assert len(ids) == sum(fits_per_fold)
    starts = np.r_[0, np.cumsum(fits_per_fold)]
    per_fold = []
    for k, (train, test) in enumerate(folds):
        fold_ids = ids[starts[k] : starts[k + 1]]
        for seen in fold_ids:
            assert not np.isin(seen, X[test, 0]).any(), "a test-fold row reached the synthesizer"
            assert np.isin(seen, X[train, 0]).all()
        per_fold.append(fold_ids)
    return per_fold


def with_row_ids(X):
    return np.column_stack([np.arange(len(X), dtype=float), X])


def test_imblearn_pipeline_fits_synthesizer_on_training_folds_only(spy):
    X, y = binary()
    X = with_row_ids(X)
    pipe = make_imb_pipeline(SyntheticAugmenter(spy, random_state=0), LogisticRegression())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    out = cross_validate(pipe, X, y, cv=cv, return_indices=True)
    folds = list(zip(out["indices"]["train"], out["indices"]["test"]))
    per_fold = assert_fitted_on_training_folds(X, folds, fits_per_fold=[1, 1, 1])
    for (seen,), (train, _) in zip(per_fold, folds):
        np.testing.assert_array_equal(seen, np.sort(X[train, 0]))  # exactly the fold
    assert len(SpyVAE.sampled) == 3  # one draw per fit; predicting draws nothing


@pytest.mark.parametrize("validation", [None, "auto"])
def test_augmented_classifier_fits_synthesizer_on_training_folds_only(validation, spy):
    X, y = binary()
    X = with_row_ids(X)
    clf = AugmentedClassifier(
        LogisticRegression(), SyntheticAugmenter(spy), validation=validation, random_state=0
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    out = cross_validate(clf, X, y, cv=cv, return_indices=True, return_estimator=True)
    folds = list(zip(out["indices"]["train"], out["indices"]["test"]))
    if validation is None:
        per_fold = assert_fitted_on_training_folds(X, folds, fits_per_fold=[1, 1, 1])
        for (seen,), (train, _) in zip(per_fold, folds):
            np.testing.assert_array_equal(seen, np.sort(X[train, 0]))
    else:
        # One inner fit on part of the training fold, then a refit on all of it when the
        # augmentation was kept.
        refits = [int(est.chosen_strategy_ == "augment") for est in out["estimator"]]
        per_fold = assert_fitted_on_training_folds(X, folds, [1 + r for r in refits])
        for fold_ids, (train, _) in zip(per_fold, folds):
            assert len(fold_ids[0]) < len(train)
            for seen in fold_ids[1:]:
                np.testing.assert_array_equal(seen, np.sort(X[train, 0]))
    n_draws = len(SpyVAE.sampled)
    out["estimator"][0].predict(X)
    out["estimator"][0].predict_proba(X)
    assert len(SpyVAE.sampled) == n_draws


# ------------------------------------------------------------- search and pipelines
def test_grid_search_over_nested_augmenter_parameters():
    X, y = binary(160)
    clf = AugmentedClassifier(LogisticRegression(), SyntheticAugmenter(tiny_vae()), random_state=0)
    grid = {"augmenter__synthesizer__epochs": [1, 2], "augmenter__sampling_strategy": [0.5, 1.0]}
    search = GridSearchCV(clf, grid, cv=2, scoring="balanced_accuracy").fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["augmenter__synthesizer__epochs"] in (1, 2)
    best = search.best_estimator_
    assert best.augmenter_.synthesizer_.epochs == search.best_params_[
        "augmenter__synthesizer__epochs"
    ]
    assert len(best.augmenter_.synthesizer_.history_["epoch"]) == best.augmenter.synthesizer.epochs


def test_works_in_a_plain_sklearn_pipeline_with_cross_val_score():
    X, y = binary(160)
    pipe = make_pipeline(
        StandardScaler(),
        AugmentedClassifier(LogisticRegression(), SyntheticAugmenter(tiny_vae()), random_state=0),
    )
    scores = cross_val_score(pipe, X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_prediction_methods_delegate_and_follow_the_estimator():
    X, y = binary(160)
    clf = AugmentedClassifier(LogisticRegression(), SyntheticAugmenter(tiny_vae()), random_state=0)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))
    np.testing.assert_allclose(clf.predict_proba(X), clf.estimator_.predict_proba(X))
    np.testing.assert_allclose(clf.decision_function(X), clf.estimator_.decision_function(X))
    assert clf.score(X, y) == clf.estimator_.score(X, y)
    svc = AugmentedClassifier(LinearSVC(), SyntheticAugmenter(tiny_vae()))
    assert not hasattr(svc, "predict_proba") and hasattr(svc, "decision_function")


def test_clone_copies_parameters_and_leaves_the_synthesizer_unfitted():
    syn = tiny_vae()
    aug = SyntheticAugmenter(syn, sampling_strategy="all", augment_ratio=0.5, random_state=3)
    clf = AugmentedClassifier(LogisticRegression(C=0.5), aug, validation="auto", strengths=(1.0,))
    copy = clone(clf)
    assert copy.get_params()["augmenter__synthesizer__epochs"] == 1
    assert copy.get_params()["augmenter__sampling_strategy"] == "all"
    assert copy.get_params()["estimator__C"] == 0.5
    assert copy.augmenter is not aug and copy.augmenter.synthesizer is not syn
    X, y = binary(120)
    aug.fit_resample(X, y)
    assert not hasattr(syn, "codec_"), "fit_resample must train a clone"
    assert aug.synthesizer_ is not syn and hasattr(aug.synthesizer_, "codec_")
    assert not hasattr(clone(aug), "synthesizer_")


# ---------------------------------------------------------------- forms and dtypes
def test_dataframe_in_dataframe_out_with_same_columns_and_dtypes():
    X = make_mixed_frame(240).set_index(pd.RangeIndex(1000, 1240))
    y = pd.Series(np.where(np.arange(240) % 6 == 0, "rare", "common"), name="label",
                  index=X.index)
    X_res, y_res = SyntheticAugmenter(tiny_vae(), random_state=0).fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == list(X.columns)
    pd.testing.assert_series_equal(X_res.dtypes, X.dtypes)
    assert y_res.dtype == y.dtype and y_res.name == "label"
    assert y_res.value_counts().to_dict() == {"common": 200, "rare": 200}
    pd.testing.assert_frame_equal(X_res.iloc[:240], X.reset_index(drop=True))
    assert (y_res.index == X_res.index).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_array_in_array_out_with_same_dtype(dtype):
    X, y = binary()
    X = (X * 10).astype(dtype)
    X_res, y_res = SyntheticAugmenter(tiny_vae(), random_state=0).fit_resample(X, y)
    assert isinstance(X_res, np.ndarray) and X_res.dtype == dtype
    assert isinstance(y_res, np.ndarray) and y_res.dtype == y.dtype


# ------------------------------------------------------------------------- seeding
def test_same_seed_same_rows_and_global_generators_untouched():
    X, y = binary()
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    first = SyntheticAugmenter(tiny_vae(), random_state=7).fit_resample(X, y)[0]
    second = SyntheticAugmenter(tiny_vae(), random_state=7).fit_resample(X, y)[0]
    other = SyntheticAugmenter(tiny_vae(), random_state=8).fit_resample(X, y)[0]
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()  # noqa: NPY002
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


# ------------------------------------------------------------- "never hurts" option
def test_auto_keeps_no_augmentation_when_synthetic_labels_are_noise():
    X, y = make_classification(
        400, n_features=4, n_informative=4, n_redundant=0, class_sep=1.5, flip_y=0,
        random_state=1,
    )
    noisy = SyntheticAugmenter(
        ClassGaussian(flip_labels=True), sampling_strategy={}, augment_ratio=1.0
    )
    clf = AugmentedClassifier(
        KNeighborsClassifier(3), noisy, validation="auto", random_state=0
    ).fit(X, y)
    assert clf.chosen_strategy_ == "none" and clf.chosen_strength_ == 0.0
    assert clf.augmenter_ is None
    assert sorted(clf.validation_scores_) == [0.0, 0.25, 0.5, 1.0]
    assert clf.validation_scores_[0.0] > max(clf.validation_scores_[s] for s in (0.25, 0.5, 1.0))
    # The final estimator was refitted on all rows, without synthetic ones.
    assert clf.estimator_.n_samples_fit_ == len(y)


@pytest.mark.parametrize(
    "augmenter",
    [SyntheticAugmenter(ClassGaussian()), RandomOverSampler(random_state=0)],
    ids=["synthetic", "any-imblearn-over-sampler"],
)
def test_auto_picks_augmentation_when_it_helps(augmenter):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [600, 40])
    X = rng.normal(np.where(y[:, None] == 1, 1.2, 0.0), 1.0, size=(640, 2))
    clf = AugmentedClassifier(
        LogisticRegression(), augmenter, validation="auto", random_state=0
    ).fit(X, y)
    assert clf.chosen_strategy_ == "augment" and clf.chosen_strength_ > 0
    assert clf.validation_scores_[clf.chosen_strength_] > clf.validation_scores_[0.0] + 0.1
    assert sorted(clf.validation_intervals_) == [0.25, 0.5, 1.0]
    low, high = clf.validation_intervals_[clf.chosen_strength_]
    assert 0 < low < high
    # Refitted on all the training rows plus the chosen share of the 560 rows that a 1:1
    # rebalancing adds.
    assert sum(clf.augmenter_.sampling_strategy_.values()) == round(clf.chosen_strength_ * 560)
    assert clf.augmenter_.get_params()["sampling_strategy"] == {
        0: 600, 1: 40 + round(clf.chosen_strength_ * 560)
    }


def _rare_class(n_rare: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """300 rows of class 0 and ``n_rare`` of class 1, shifted by ``shift`` in both features."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [300, n_rare])
    return rng.normal(np.where(y[:, None] == 1, shift, 0.0), 1.0, size=(len(y), 2)), y


def _auto_with_ros(**params: Any) -> AugmentedClassifier:
    return AugmentedClassifier(
        LogisticRegression(), RandomOverSampler(random_state=0), validation="auto",
        random_state=0, **params,
    )


def test_auto_keeps_no_augmentation_on_a_gain_that_resampling_could_make():
    # 12 rows of the rare class put 3 in the validation part: one split's best strength
    # beats no augmentation by 0.14 of balanced accuracy, but a row more or less of those 3
    # makes that gain; the bootstrap interval says so, and nothing is kept.
    X, y = _rare_class(12, shift=0.8)
    clf = _auto_with_ros().fit(X, y)
    scores = clf.validation_scores_
    assert max(scores[s] for s in (0.25, 0.5, 1.0)) > scores[0.0] + 0.1
    assert all(low < 0 < high for low, high in clf.validation_intervals_.values())
    assert clf.chosen_strategy_ == "none" and clf.augmenter_ is None


def test_auto_falls_back_with_a_warning_when_a_class_has_too_few_held_out_rows():
    # 8 rows of the rare class leave 2 in the validation part: every resample redraws the
    # same two, so no interval could show the doubt a gain riding on them deserves.
    X, y = _rare_class(8, shift=2.0)
    clf = _auto_with_ros()
    with pytest.warns(UserWarning, match=r"only 2 row\(s\) of class 1.*no augmentation"):
        clf.fit(X, y)
    assert clf.chosen_strategy_ == "none" and clf.validation_intervals_ == {}
    # A class the stratified split leaves out of the validation part altogether.
    y3 = np.r_[np.repeat(["a", "b"], 100), ["c", "c"]]
    X3 = np.random.default_rng(0).normal(size=(202, 2))
    clf = _auto_with_ros(validation_size=0.1)
    with pytest.warns(UserWarning, match=r"only 0 row\(s\) of class 'c'"):
        clf.fit(X3, y3)
    assert clf.chosen_strategy_ == "none"


def test_auto_falls_back_with_a_warning_when_no_stratified_split_exists():
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = np.array([0] * 11 + [1])
    clf = AugmentedClassifier(
        LogisticRegression(), SyntheticAugmenter(ClassGaussian()), validation="auto"
    )
    with pytest.warns(UserWarning, match="falls back to no augmentation"):
        clf.fit(X, y)
    assert clf.chosen_strategy_ == "none"


# -------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"synthesizer": "vae"}, "'synthesizer'"),
        ({"sampling_strategy": "majority"}, "'sampling_strategy'"),
        ({"sampling_strategy": 1.5}, "'sampling_strategy'"),
        ({"sampling_strategy": {7: 500}}, r"'sampling_strategy'.*not present"),
        ({"sampling_strategy": {0: 10}}, r"'sampling_strategy'.*greater or equal"),
        ({"sampling_strategy": {1: 160.5}}, r"'sampling_strategy'.*whole numbers"),
        ({"sampling_strategy": lambda y: 3}, r"'sampling_strategy'.*does not fit"),
        ({"augment_ratio": -0.5}, "'augment_ratio'"),
        ({"augment_ratio": float("inf")}, "'augment_ratio'"),
        ({"random_state": -1}, "'random_state'"),
    ],
)
def test_bad_augmenter_parameters_name_the_argument(params, match):
    X, y = binary()
    aug = SyntheticAugmenter(**{"synthesizer": ClassGaussian(), **params})
    with pytest.raises(InvalidParameterError, match=match):
        aug.fit_resample(X, y)


def test_float_strategy_on_multiclass_names_the_argument():
    X, y = multiclass()
    with pytest.raises(InvalidParameterError, match=r"'sampling_strategy'.*binary"):
        SyntheticAugmenter(ClassGaussian(), sampling_strategy=0.5).fit_resample(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"estimator": None}, "'estimator'"),
        ({"augmenter": LogisticRegression()}, "'augmenter'"),
        ({"validation": "always"}, "'validation'"),
        ({"strengths": ()}, "'strengths'"),
        ({"strengths": (0.5, 0)}, "'strengths'"),
        ({"validation_size": 1.0}, "'validation_size'"),
        ({"scoring": 3}, "'scoring'"),
        ({"random_state": "seed"}, "'random_state'"),
        ({"augmenter": FunctionSampler(), "validation": "auto"}, "sampling_strategy"),
        # Removes rows: the candidates would not be the training rows plus k new ones.
        ({"augmenter": RandomUnderSampler(), "validation": "auto"}, "not an over-sampler"),
        ({"augmenter": SMOTEENN(random_state=0), "validation": "auto"}, "training rows first"),
    ],
)
def test_bad_classifier_parameters_name_the_argument(params, match):
    X, y = binary()
    base = {"estimator": LogisticRegression(), "augmenter": SyntheticAugmenter(ClassGaussian())}
    with pytest.raises(InvalidParameterError, match=match):
        AugmentedClassifier(**{**base, **params}).fit(X, y)


def test_bad_data_is_reported():
    X, y = binary()
    aug = SyntheticAugmenter(ClassGaussian())
    with pytest.raises(InvalidDataError, match="rows but y has"):
        aug.fit_resample(X, y[:-1])
    for validation in (None, "auto"):  # before the inner split indexes past the end
        clf = AugmentedClassifier(LogisticRegression(), aug, validation=validation)
        with pytest.raises(InvalidDataError, match="X has 199 rows but y has 200"):
            clf.fit(X[:-1], y)
    with pytest.raises(InvalidDataError, match="one class"):
        aug.fit_resample(X, np.zeros(len(X)))
    holes = pd.Series(np.where(y == 1, "b", "a"), dtype=object)
    holes[[3, 7]] = None  # "Unknown label type: unknown" from scikit-learn alone
    with pytest.raises(InvalidDataError, match="2 labels passed to SyntheticAugmenter are missing"):
        aug.fit_resample(X, holes)
    with pytest.raises(InvalidDataError, match="2-D"):
        aug.fit_resample(X[:, 0], y)


# ------------------------------------------------- scikit-learn / imblearn checks
CHECKED_CLASSIFIERS = [
    *(
        AugmentedClassifier(
            LogisticRegression(), SyntheticAugmenter(tiny_vae(), augment_ratio=0.2),
            validation=validation,
        )
        for validation in (None, "auto")
    ),
    # Sparse input of every format (COO has no row indexing) and tags from both parts.
    AugmentedClassifier(
        DecisionTreeClassifier(random_state=0), SMOTE(k_neighbors=1, random_state=0),
        validation="auto", random_state=0,
    ),
]


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    if isinstance(estimator.augmenter, SMOTE):
        return {
            "check_estimators_nan_inf": (
                "fit refuses NaN, as SMOTE does (so the allow_nan tag is False), but predict "
                "leaves NaN to the fitted tree, which accepts it"
            )
        }
    return {
        "check_dtype_object": (
            "genaug models object columns as categories, so an object array of numbers is "
            "valid input; the check's last step puts a dict in one cell, which the tabular "
            "codec rejects as unhashable rather than with scikit-learn's 'argument must be a "
            "string or a number' wording"
        )
    } if estimator.validation is None else {}


# The checks' tables are tiny: validation="auto" often holds out under 3 rows of a class and
# says so (the fallback it takes is what these checks then exercise).
@pytest.mark.filterwarnings("ignore:validation='auto' held out only:UserWarning")
@parametrize_with_checks(CHECKED_CLASSIFIERS, expected_failed_checks=expected_failed_checks)
def test_augmented_classifier_passes_sklearn_checks(estimator, check):
    check(estimator)


# imbalanced-learn's decorator parametrizes over a generator, which pytest deprecates.
_SAMPLER_CHECKS = imblearn_checks([SyntheticAugmenter(tiny_vae(), random_state=0)])


@pytest.mark.parametrize(_SAMPLER_CHECKS.args[0], list(_SAMPLER_CHECKS.args[1]),
                         **_SAMPLER_CHECKS.kwargs)
def test_synthetic_augmenter_passes_imblearn_sampler_checks(estimator, check):
    check(estimator)


def test_package_import_leaves_imbalanced_learn_for_first_use():
    # imbalanced-learn costs ~30 MB of resident memory; fitting and sampling must not load it,
    # and the integration's names must still resolve from the package on first use.
    code = (
        "import sys, genaug\n"
        "assert 'imblearn' not in sys.modules, 'imported eagerly'\n"
        "assert 'SyntheticAugmenter' in dir(genaug) and 'AugmentedClassifier' in genaug.__all__\n"
        "from genaug import SyntheticAugmenter\n"
        "import genaug.sklearn\n"
        "assert SyntheticAugmenter is genaug.sklearn.SyntheticAugmenter\n"
        "assert genaug.AugmentedClassifier is genaug.sklearn.AugmentedClassifier\n"
        "try:\n"
        "    genaug.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('unknown attribute resolved')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_input_tags_need_both_the_augmenter_and_the_estimator():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.utils import get_tags

    with_smote = AugmentedClassifier(HistGradientBoostingClassifier(), SMOTE())
    assert not get_tags(with_smote).input_tags.allow_nan  # SMOTE refuses NaN in fit
    with_genaug = AugmentedClassifier(
        HistGradientBoostingClassifier(), SyntheticAugmenter(tiny_vae())
    )
    assert get_tags(with_genaug).input_tags.allow_nan


def test_auto_accepts_over_samplers_that_add_about_the_asked_rows():
    from imblearn.over_sampling import ADASYN

    X, y = binary()
    clf = AugmentedClassifier(LogisticRegression(), ADASYN(random_state=0), validation="auto",
                              random_state=0).fit(X, y)
    assert set(clf.validation_scores_) == {0.0, 0.25, 0.5, 1.0}
