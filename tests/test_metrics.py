"""Known-answer tests of genaug.metrics, on small generated tables."""

from __future__ import annotations

import inspect
import json
import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import genaug.metrics as gm
from genaug.exceptions import InvalidDataError, InvalidParameterError
from genaug.metrics import evaluate
from genaug.metrics._evaluate import _LEVELS

_GOOD_FIDELITY = _LEVELS["fidelity"][0]


def mixed_table(n: int, seed: int = 0, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers, counts, strings, booleans and missing values, with a label tied to them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    z = 0.6 * x + rng.normal(size=n)
    cat = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    frame = pd.DataFrame(
        {
            "x": x,
            "z": z,
            "cat": pd.Series(cat, dtype=object),
            "count": rng.poisson(2.0, n),
            "flag": rng.random(n) < 0.3,
        }
    )
    frame.loc[rng.random(n) < 0.1, "z"] = np.nan
    frame.loc[rng.random(n) < 0.05, "cat"] = None
    y = np.where(x + 0.5 * rng.normal(size=n) > 0.3, "pos", "neg").astype(object)
    return frame, y


@pytest.fixture(scope="module")
def halves():
    frame, y = mixed_table(1200, seed=1)
    return frame.iloc[:600].reset_index(drop=True), frame.iloc[600:].reset_index(drop=True), y


# --------------------------------------------------------------------------- fidelity
def test_a_broken_strong_pair_keeps_fidelity_from_good():
    # Columns shuffled one by one keep every marginal but no dependency; with a dozen columns
    # mostly independent to begin with, the average pair difference stays small.
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=n)
    cats = rng.choice(list("abc"), n)
    real = pd.DataFrame(
        {"x": x, "z": x + 0.2 * rng.normal(size=n), "c": cats,
         "d": np.where(rng.random(n) < 0.9, cats, "a"),
         **{f"u{i}": rng.normal(size=n) for i in range(8)}}
    )
    shuffled = pd.DataFrame(
        {c: real[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(real)}
    )
    fresh = real.sample(frac=1, random_state=3)
    good = evaluate(real.iloc[:1000], fresh.iloc[1000:], metrics="fidelity", random_state=0)
    assert good.families["fidelity"].verdict.startswith("good")
    broken = evaluate(real.iloc[:1000], shuffled.iloc[1000:], metrics="fidelity", random_state=0)
    fidelity = broken.families["fidelity"]
    assert fidelity.score >= _GOOD_FIDELITY  # the average alone would say good
    assert fidelity.verdict.startswith("fair")
    assert "worst pair 'x' x 'z' (Spearman rho off by" in fidelity.verdict
    assert fidelity.metrics["pair_difference_max"] > 0.9


def test_ks_is_zero_for_equal_and_one_for_disjoint_columns():
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    assert gm.ks_statistics(real, real)["x"] == 0.0
    assert gm.ks_statistics(real, real + 10.0)["x"] == 1.0
    assert gm.ks_statistics(real, pd.DataFrame({"x": [3.0, 4.0, 5.0, 6.0]}))["x"] == 0.5


def test_tvd_and_missing_gap_known_values():
    real = pd.DataFrame({"c": ["a", "a", "b", "b"], "v": [1.0, np.nan, 3.0, 4.0]})
    synth = pd.DataFrame({"c": ["a", "a", "a", "b"], "v": [1.0, np.nan, np.nan, np.nan]})
    assert gm.tv_distances(real, synth)["c"] == pytest.approx(0.25)
    gaps = gm.missing_rate_gaps(real, synth)
    assert gaps["v"] == pytest.approx(0.5) and gaps["c"] == 0.0
    table = gm.column_fidelity(real, synth)
    assert table.loc["c", "statistic"] == "tvd" and table.loc["v", "statistic"] == "ks"


def test_unseen_synthetic_category_counts_in_tvd():
    real = pd.DataFrame({"c": ["a", "b"] * 10})
    synth = pd.DataFrame({"c": ["a", "zzz"] * 10})
    assert gm.tv_distances(real, synth)["c"] == pytest.approx(0.5)


def test_pairwise_differences_vanish_on_identical_tables_and_see_broken_dependencies():
    frame, _ = mixed_table(800, seed=2)
    assert np.nanmax(gm.correlation_difference(frame, frame).to_numpy()) == 0.0
    assert gm.cramers_v_difference(frame, frame).to_numpy().max() == 0.0
    assert gm.contingency_difference(frame, frame).to_numpy().max() == 0.0
    shuffled = frame.copy()
    shuffled["z"] = np.random.default_rng(0).permutation(shuffled["z"].to_numpy())
    rho = frame[["x", "z"]].corr(method="spearman").loc["x", "z"]
    diff = gm.correlation_difference(frame, shuffled).loc["x", "z"]
    assert diff == pytest.approx(abs(rho), abs=0.1) and diff > 0.3


def test_cramers_v_difference_of_a_deterministic_pair_is_one():
    real = pd.DataFrame({"a": list("xyz") * 50, "b": list("pqr") * 50})
    rng = np.random.default_rng(0)
    synth = pd.DataFrame({"a": rng.choice(list("xyz"), 150), "b": rng.choice(list("pqr"), 150)})
    assert gm.cramers_v_difference(real, synth).loc["a", "b"] > 0.8


def test_correlation_method_is_validated():
    frame, _ = mixed_table(50)
    with pytest.raises(InvalidParameterError, match="'method' parameter of correlation_diff"):
        gm.correlation_difference(frame, frame, method="kendall")


def test_datetime_columns_are_compared_as_numbers():
    stamps = pd.Series(pd.date_range("2020-01-01", periods=100, freq="D"))
    real = pd.DataFrame({"t": stamps, "v": np.arange(100.0)})
    synth = pd.DataFrame({"t": stamps + pd.Timedelta(days=50), "v": np.arange(100.0)})
    assert gm.ks_statistics(real, synth)["t"] == pytest.approx(0.5)
    assert gm.exact_copies(real, synth) == 0
    assert gm.exact_copies(real, real.iloc[:7]) == 7


# -------------------------------------------------------------------------- diversity
def test_real_vs_itself_split_in_halves_is_near_ideal(halves):
    first, second, _ = halves
    m = gm.manifold_metrics(first, second, random_state=0)
    assert m["precision"] > 0.85 and m["recall"] > 0.85
    assert m["coverage"] > 0.9 and 0.8 < m["density"] < 1.2
    assert abs(gm.detection_auc(first, second, random_state=0) - 0.5) < 0.08


def test_collapsed_synthetic_data_has_low_recall_and_coverage(halves):
    first, second, _ = halves
    collapsed = second[second["x"] > 1.0]  # one corner of the real data, repeated
    collapsed = pd.concat([collapsed] * 5, ignore_index=True)
    precision, recall = gm.precision_recall(first, collapsed, random_state=0)
    _, coverage = gm.density_coverage(first, collapsed, random_state=0)
    assert precision > 0.8
    assert recall < 0.5 and coverage < 0.5


def test_precomputed_features_are_used_as_given():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 8))
    same = gm.manifold_metrics(real, rng.normal(size=(400, 8)), features=True)
    far = gm.manifold_metrics(real, rng.normal(size=(400, 8)) + 5.0, features=True)
    assert same["coverage"] > 0.9 and far["coverage"] == 0.0 and far["precision"] == 0.0
    with pytest.raises(InvalidDataError, match="features=True"):
        gm.manifold_metrics(real, np.full((10, 8), np.nan), features=True)


def test_missing_class_has_coverage_zero():
    rng = np.random.default_rng(3)
    centers = {"a": 0.0, "b": 4.0, "c": 8.0}
    y_real = rng.choice(list(centers), 600).astype(object)
    real = pd.DataFrame({"u": [centers[c] for c in y_real] + rng.normal(size=600)})
    y_synth = rng.choice(["a", "b"], 400).astype(object)
    synth = pd.DataFrame({"u": [centers[c] for c in y_synth] + rng.normal(size=400)})
    table = gm.class_coverage(real, synth, y_real, y_synth, random_state=0)
    assert table.loc["c", "coverage"] == 0.0 and bool(table.loc["c", "missing"])
    assert table.loc["c", "n_synthetic"] == 0
    assert table.loc[["a", "b"], "coverage"].min() > 0.85
    assert not table.loc[["a", "b"], "missing"].any()


def test_class_coverage_without_synthetic_labels_uses_any_synthetic_row():
    rng = np.random.default_rng(4)
    y_real = np.repeat(np.array(["lo", "hi"], dtype=object), 200)
    real = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 10.0]
    synth = rng.normal(size=(300, 2))
    table = gm.class_coverage(real, synth, y_real, features=True, random_state=0)
    assert table.loc["hi", "coverage"] == 0.0 and bool(table.loc["hi", "missing"])
    assert table.loc["lo", "coverage"] > 0.9


def test_category_coverage_names_the_categories_never_generated():
    real = pd.DataFrame({"c": list("aabbcd"), "v": range(6)})
    synth = pd.DataFrame({"c": list("aabbbb"), "v": range(6)})
    table = gm.category_coverage(real, synth)
    gone = table[table["missing"]]
    assert sorted(gone["category"]) == ["c", "d"] and set(gone["column"]) == {"c"}


def test_k_larger_than_the_table_is_a_clear_error():
    real = np.random.default_rng(0).normal(size=(4, 2))
    with pytest.raises(InvalidDataError, match="k=5 need more than k"):
        gm.manifold_metrics(real, real, features=True)
    with pytest.raises(InvalidParameterError, match="'k' parameter of manifold_metrics"):
        gm.manifold_metrics(real, real, k=0, features=True)


# -------------------------------------------------------------------------- detection
def test_shifted_copy_is_detected(halves):
    first, _, _ = halves
    shifted = first.copy()
    shifted["x"] += 3.0
    assert gm.detection_auc(first, shifted, random_state=0) > 0.95


@pytest.mark.parametrize("as_array", [False, True])
def test_detection_accepts_frames_and_arrays(as_array):
    rng = np.random.default_rng(0)
    real, synth = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 2.0
    if not as_array:
        real, synth = pd.DataFrame(real), pd.DataFrame(synth)
    result = gm.detection_test(real, synth, random_state=0)
    assert result.auc > 0.95 and len(result.fold_aucs) == 3 and result.score < 0.1


def test_detection_auc_is_seeded_and_fast_on_a_few_thousand_rows():
    first, _ = mixed_table(2000, seed=5)
    second, _ = mixed_table(2000, seed=6)
    import time

    start = time.perf_counter()
    auc = gm.detection_auc(first, second, random_state=3)
    elapsed = time.perf_counter() - start
    assert auc == gm.detection_auc(first, second, random_state=3)
    # Well under a second on an idle machine; the bound only catches pathological slowness.
    assert elapsed < 5.0


# ---------------------------------------------------------------------------- privacy
@pytest.mark.parametrize("as_array", [False, True])
def test_exact_copies_are_counted_exactly(as_array):
    train, _ = mixed_table(300, seed=7)
    train = pd.concat([train, train.iloc[:20]], ignore_index=True)  # duplicated training rows
    rng = np.random.default_rng(0)
    copied = train.iloc[rng.choice(len(train), 37, replace=True)]
    fresh, _ = mixed_table(63, seed=8)
    fresh["x"] += 1e-9  # near, but not equal to, any training value
    synth = pd.concat([copied, fresh], ignore_index=True).sample(frac=1.0, random_state=0)
    if as_array:
        train, synth = train.to_numpy(dtype=object), synth.to_numpy(dtype=object)
    assert gm.exact_copies(train, synth) == 37
    assert gm.exact_copy_rate(train, synth) == pytest.approx(0.37)


def test_exact_copies_match_missing_values_and_equal_numbers_of_other_types():
    train = pd.DataFrame({"a": [1, 2, 0], "b": ["x", None, "z"]})
    synth = pd.DataFrame({"a": [1.0, 2.0, -0.0, 2.0], "b": ["x", np.nan, "z", "y"]})
    assert gm.exact_copies(train, synth) == 3


def test_copies_sit_at_distance_zero_with_nndr_zero():
    train, _ = mixed_table(200, seed=9)
    dcr = gm.distance_to_closest_record(train, train.iloc[:50])
    nndr = gm.nearest_neighbor_distance_ratio(train, train.iloc[:50])
    assert dcr.shape == (50,) and np.allclose(dcr, 0.0, atol=1e-6)
    assert np.all(nndr == 0.0)
    fresh, _ = mixed_table(50, seed=10)
    assert np.median(gm.nearest_neighbor_distance_ratio(train, fresh)) > 0.5


def test_holdout_privacy_tells_memorisation_from_generalisation():
    data, _ = mixed_table(1500, seed=11)
    train, holdout, fresh = data.iloc[:500], data.iloc[500:1000], data.iloc[1000:]
    assert gm.dcr_share(train, holdout, train, random_state=0) > 0.95
    assert gm.membership_inference_auc(train, holdout, train, random_state=0) > 0.95
    assert abs(gm.dcr_share(train, holdout, fresh, random_state=0) - 0.5) < 0.1
    assert abs(gm.membership_inference_auc(train, holdout, fresh, random_state=0) - 0.5) < 0.1


def test_holdout_privacy_takes_far_off_rows_as_ties_and_jittered_copies_as_copies():
    data, _ = mixed_table(1500, seed=11)
    train, holdout, fresh = data.iloc[:500], data.iloc[500:1000], data.iloc[1000:]
    # Beyond the training range in every number: each row's nearest real row would be the
    # data's corner, in the training rows or not by chance; such rows reveal no record.
    far = fresh.assign(x=train["x"].max() + 5.0 + np.abs(fresh["x"].to_numpy()),
                       count=train["count"].max() + 10 + fresh["count"])
    assert gm.dcr_share(train, holdout, far, random_state=0) == 0.5
    assert gm.membership_inference_auc(train, holdout, far, random_state=0) == 0.5
    report = evaluate(train, far, real_holdout=holdout, metrics="privacy", random_state=0)
    privacy = report.families["privacy"]
    assert privacy.metrics["far_from_real_rate"] == 1.0 and privacy.score == 1.0
    assert "100% of synthetic rows lie far from every real row" in privacy.verdict
    # Copies of training rows with a constant column jittered past its one value are still
    # copies, however far outside the range that column lies.
    const = train.assign(v=2.0)
    copies = const.assign(v=2.0 + np.random.default_rng(0).normal(scale=1e-3, size=500))
    hold = holdout.assign(v=2.0)
    assert gm.dcr_share(const, hold, copies, random_state=0) > 0.95
    assert gm.membership_inference_auc(const, hold, copies, random_state=0) > 0.95


def test_the_knn_space_continues_numbers_past_the_real_range():
    from genaug.metrics._encoding import KnnSpace

    real = pd.DataFrame({"x": np.linspace(0.0, 10.0, 101)})
    space = KnnSpace()
    z_real = space.fit_transform(real)
    unit = real["x"].std(ddof=0)
    z = space.transform(pd.DataFrame({"x": [10.0, 10.0 + unit, 10.0 + 3 * unit, -2 * unit]}))
    step = space.scale_[space.beyond_[0][1]]
    assert z[0, -1] == pytest.approx(z_real[-1, -1])
    assert z[1, -1] - z[0, -1] == pytest.approx(step) and z[2, -1] - z[0, -1] == pytest.approx(
        3 * step
    )
    assert z[3, -1] == pytest.approx(z_real[0, -1] - 2 * step)
    # Columns of point masses only (a 0/1/2 count, a constant) get a coordinate of their
    # own for numbers past their range: the codec alone puts 1000 on a point mass.
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"k": rng.integers(0, 3, 300), "c": 7.0, "x": rng.normal(size=300)})
    space = KnnSpace()
    z_real = space.fit_transform(real)
    row = real.iloc[[0]]
    z = space.transform(pd.concat([row, row.assign(k=1000), row.assign(c=7e9)]))
    assert z.shape[1] == z_real.shape[1] and np.allclose(z[0], z_real[0])
    assert np.linalg.norm(z[1] - z[0]) > 100 and np.linalg.norm(z[2] - z[0]) > 100
    # Between point masses: the nearest one, the rest of the way in the extra coordinate
    # (the codec alone takes an unseen value for its first point mass: 1.9 was a 0).
    two = real.index[real["k"] == 2][0]
    z = space.transform(real.loc[[two, two]].assign(k=[2.0, 1.9]))
    unit = real["k"].std(ddof=0)
    assert np.linalg.norm(z[1] - z[0]) == pytest.approx(0.1 / unit)


# ---------------------------------------------------------------------------- utility
def test_the_macro_f1_gain_interval_is_a_paired_bootstrap_of_the_holdout():
    from genaug.metrics.utility import macro_f1_gain_interval

    rng = np.random.default_rng(0)
    y = rng.choice(np.array(["a", "b", "c"], dtype=object), 400)
    before = y.copy()
    wrong = rng.choice(400, 80, replace=False)
    before[wrong] = np.where(y[wrong] == "a", "b", "a")
    assert macro_f1_gain_interval(y, before, before, rng) == (0.0, 0.0)
    # Ten rows put right and ten others put wrong: no gain that resampling could not make.
    after = before.copy()
    after[wrong[:10]] = y[wrong[:10]]
    right = np.setdiff1d(np.arange(400), wrong)[:10]
    after[right] = np.where(y[right] == "a", "c", "a")
    low, high = macro_f1_gain_interval(y, before, after, rng)
    assert low < 0 < high and high - low < 0.1
    # A tiny holdout: resamples that drew no row are skipped, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = macro_f1_gain_interval(y[:3], before[:3], y[:3], rng)
    assert np.isfinite(low) and np.isfinite(high)
    # Forty rows put right: every resample sees the gain.
    better = before.copy()
    better[wrong[:40]] = y[wrong[:40]]
    low, high = macro_f1_gain_interval(y, before, better, rng)
    assert 0 < low < high


def test_utility_of_one_class_rows_has_no_score_and_names_ranking_moves():
    # Rebalancing adds rows of the rare class only: no TSTR model, so no score (n/a rather
    # than 0); what they add to the real rows is still measured. 'pos' rows put where the
    # real 'neg' rows with low x lie move the ranking scores, which the verdict names.
    data, y = mixed_table(1500, seed=3)
    rare = data.iloc[:700][(y[:700] == "neg") & (data.iloc[:700]["x"] < -0.5)]
    report = evaluate(data.iloc[:700], rare, real_holdout=data.iloc[700:], y_real=y[:700],
                      y_synthetic=np.full(len(rare), "pos", dtype=object),
                      y_holdout=y[700:], metrics="utility")
    utility = report.families["utility"]
    assert np.isnan(utility.score) and utility.verdict.startswith("n/a: no classifier")
    table = utility.tables["utility"]
    assert table.at["gain_augmented", "roc_auc"] < -0.05
    assert "ROC-AUC " in utility.verdict and "PR-AUC " in utility.verdict


def test_utility_says_helps_only_when_the_interval_is_above_zero(monkeypatch):
    import genaug.metrics._evaluate as ev

    data, y = mixed_table(3000, seed=21)
    args = dict(real_holdout=data.iloc[2000:2400], y_real=y[:30], y_holdout=y[2000:2400],
                metrics="utility", random_state=0)
    # 30 real rows against 1,970 more: a large gain, measured.
    report = evaluate(data.iloc[:30], data.iloc[30:2000], y_synthetic=y[30:2000], **args)
    metrics = report.families["utility"].metrics
    gain = metrics["gain_augmented_macro_f1"]
    assert metrics["gain_augmented_macro_f1_low"] > 0.1 and gain > 0.1
    assert "real rows raises macro-F1 (" in report.families["utility"].verdict
    assert "95% interval over holdout resamples" in report.families["utility"].verdict
    # The same gain, with an interval that covers 0, is no measurable difference.
    monkeypatch.setattr(ev, "macro_f1_gain_interval", lambda *a, **k: (-0.01, 0.9))
    report = evaluate(data.iloc[:30], data.iloc[30:2000], y_synthetic=y[30:2000], **args)
    assert "changes macro-F1 by no more than resampling this holdout could" in (
        report.families["utility"].verdict
    )


def test_utility_reports_gain_over_the_real_baseline():
    data, y = mixed_table(1500, seed=12)
    train, y_train = data.iloc[:700], y[:700]
    holdout, y_holdout = data.iloc[700:], y[700:]
    noisy = np.random.default_rng(0).permutation(y_train)
    table = gm.utility_scores(train, y_train, train, noisy, holdout, y_holdout, random_state=0)
    assert list(table.index) == [
        "train_real",
        "train_synthetic",
        "train_augmented",
        "gap_synthetic",
        "gain_augmented",
    ]
    assert list(table.columns) == list(gm.UTILITY_METRICS)
    diff = table.loc["train_augmented"] - table.loc["train_real"]
    assert np.allclose(table.loc["gain_augmented"], diff)
    assert table.loc["train_real", "roc_auc"] > 0.75
    # Labels shuffled away from the rows: training on them alone learns nothing.
    assert table.loc["gap_synthetic", "roc_auc"] < -0.15


def test_tstr_roc_auc_on_encoded_rows():
    from genaug.metrics.utility import tstr_roc_auc

    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 3000)
    X = np.eye(3)[y] * 2.0 + rng.normal(size=(3000, 3))
    good = tstr_roc_auc(X[:1500], y[:1500], X[1500:], y[1500:], random_state=2**40)
    shuffled = tstr_roc_auc(X[:1500], rng.permutation(y[:1500]), X[1500:], y[1500:])
    assert good > 0.85 and abs(shuffled - 0.5) < 0.05
    # One class in the synthetic rows: nothing to learn, NaN rather than a number.
    assert np.isnan(tstr_roc_auc(X[:100], np.zeros(100, dtype=int), X[1500:], y[1500:]))


def test_classification_scores_known_values():
    y = np.array(["a", "a", "b", "b"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    scores = gm.classification_scores(y, y, proba, ["a", "b"], positive="b")
    assert scores == {"macro_f1": 1.0, "balanced_accuracy": 1.0, "roc_auc": 1.0, "pr_auc": 1.0}


@pytest.mark.parametrize(
    "make_labels",
    [
        lambda y: y.astype(np.int64),  # integer classes, as scikit-learn's bundled sets give
        lambda y: pd.Series(y.astype(np.int64)),
        lambda y: np.array([1 if v == y[0] else "other" for v in y], dtype=object),  # mixed
    ],
    ids=["int-array", "int-series", "mixed-object"],
)
def test_utility_scores_accept_integer_and_mixed_labels(make_labels):
    data, y = mixed_table(600, seed=3)
    codes = pd.factorize(np.asarray(y))[0]
    labels = make_labels(codes)

    def part(a, s):
        return a.iloc[s] if isinstance(a, pd.Series) else a[s]

    table = gm.utility_scores(
        data.iloc[:300], part(labels, slice(0, 300)), data.iloc[:300],
        part(labels, slice(0, 300)), data.iloc[300:], part(labels, slice(300, None)),
        random_state=0,
    )
    assert table.loc["train_real"].notna().all()
    assert table.loc["train_real", "roc_auc"] > 0.6


# --------------------------------------------------------------------------- evaluate
@pytest.fixture(scope="module")
def report():
    data, y = mixed_table(1400, seed=13)
    train, y_train = data.iloc[:600].reset_index(drop=True), y[:600]
    holdout, y_holdout = data.iloc[1000:].reset_index(drop=True), y[1000:]
    # Synthetic rows: fresh rows of class "neg" only, plus five copied training rows.
    fresh, y_fresh = data.iloc[600:1000], y[600:1000]
    keep = y_fresh == "neg"
    synth = pd.concat([fresh[keep], train.iloc[:5]], ignore_index=True)
    y_synth = np.r_[y_fresh[keep], np.array(["neg"] * 5, dtype=object)]
    return evaluate(
        train,
        synth,
        real_holdout=holdout,
        y_real=y_train,
        y_synthetic=y_synth,
        y_holdout=y_holdout,
        random_state=0,
    )


def test_evaluate_names_the_missing_class_in_the_summary(report, capsys):
    assert list(report.families) == list(gm.FAMILIES)
    classes = report.table("class_coverage")
    assert classes.loc["pos", "coverage"] == 0.0 and bool(classes.loc["pos", "missing"])
    report.summary()
    text = capsys.readouterr().out
    words = " ".join(text.split())
    assert "poor: missing classes 'pos';" in words
    assert "Missing classes (no synthetic rows): 'pos'" in words
    assert report["missing_classes"] == 1.0 and report["exact_copies"] == 5.0
    # The synthetic rows hold one class: no model can be trained on them alone, no score
    # (diversity's verdict names the missing class).
    assert np.isnan(report.scores["utility"]) and "(one class)" in words
    assert len(text.splitlines()) <= 30 and max(map(len, text.splitlines())) <= 100
    assert str(report) == text.rstrip("\n")


def test_report_frame_and_dict_hold_every_number_with_its_definition(report, tmp_path):
    frame = report.to_frame()
    assert list(frame.columns) == ["family", "metric", "value", "ideal", "definition"]
    assert (frame["definition"].str.len() > 0).all()
    path = report.to_json(tmp_path / "out" / "report.json")
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded == report.to_dict()
    assert set(loaded["families"]) == set(gm.FAMILIES)
    assert loaded["families"]["privacy"]["metrics"]["exact_copies"]["value"] == 5
    assert "class_coverage" in loaded["families"]["diversity"]["tables"]
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary left


def test_to_html_is_one_file_with_embedded_images(report, tmp_path):
    pytest.importorskip("matplotlib")
    path = report.to_html(tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]*src="([^"]*)"', text)
    assert len(images) >= 3 and all(s.startswith("data:image/png;base64,") for s in images)
    assert "Missing classes (no synthetic rows): &#x27;pos&#x27;" in text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_plot_returns_the_figures(report):
    pytest.importorskip("matplotlib")
    figures = report.plot()
    assert set(figures) == {
        "marginals",
        "correlation_difference",
        "class_coverage",
        "privacy_distances",
    }
    assert all(hasattr(f, "savefig") for f in figures.values())


def test_plot_without_matplotlib_says_how_to_install(report, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=re.escape("pip install genaug[plot]")):
        report.plot()
    text = report.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "matplotlib is not installed" in text and "<img" not in text
    with pytest.raises(ImportError, match="matplotlib"):
        report.to_html(tmp_path / "r2.html", figures=True)


def test_evaluate_is_seeded_and_leaves_global_random_state_alone(halves):
    first, second, _ = halves
    # The legacy global generator is read only to check that nothing drew from it.
    np_state = np.random.get_state()  # noqa: NPY002
    torch_state = torch.random.get_rng_state()
    runs = [
        evaluate(first, second, metrics=["diversity", "detection", "privacy"], random_state=4)
        for _ in range(2)
    ]
    values = [{n: f.metrics for n, f in r.families.items()} for r in runs]
    assert values[0] == values[1]
    after = np.random.get_state()  # noqa: NPY002
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1])
    assert torch.equal(torch_state, torch.random.get_rng_state())


def test_evaluate_subsamples_beyond_max_rows_and_says_so(halves):
    first, second, _ = halves
    report = evaluate(first, second, metrics=["diversity", "detection"], max_rows=200)
    assert report.info["max_rows"] == 200
    assert any("subsampled to 200 rows" in n for n in report.notes)


def test_evaluate_accepts_arrays_with_the_real_frames_names(halves):
    first, second, _ = halves
    numbers = first[["x", "count"]].fillna(0.0)
    report = evaluate(numbers, second[["x", "count"]].to_numpy(), metrics="fidelity")
    assert list(report.table("column_fidelity").index) == ["x", "count"]


def test_evaluate_on_precomputed_features():
    rng = np.random.default_rng(5)
    real, synth = rng.normal(size=(300, 40)), rng.normal(size=(300, 40))
    report = evaluate(real, synth, real_holdout=rng.normal(size=(300, 40)), features=True)
    assert report.info["features"] and report["coverage"] > 0.85
    assert abs(report["dcr_share"] - 0.5) < 0.1
    pytest.importorskip("matplotlib")
    heatmap = report.plot()["correlation_difference"]
    assert len(heatmap.axes[0].get_xticks()) == 30  # the 30 most different columns


def test_evaluate_skips_utility_without_its_inputs_and_says_why(halves):
    first, second, _ = halves
    report = evaluate(first, second, metrics=["fidelity", "detection"])
    assert "utility" not in report.families
    full = evaluate(first, second, metrics="all", max_rows=300)
    assert "utility" not in full.families
    assert any(n.startswith("utility skipped") and "real_holdout" in n for n in full.notes)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"metrics": "fidelty"}, InvalidParameterError, "'fidelty'.*Did you mean 'fidelity'"),
        (
            {"metrics": ["fidelity", "speed"]},
            InvalidParameterError,
            "Unknown metric family 'speed'",
        ),
        ({"metrics": []}, InvalidParameterError, "metrics must be"),
        ({"metrics": "utility"}, InvalidParameterError, "needs real_holdout, y_real"),
        ({"max_rows": 5}, InvalidParameterError, "'max_rows' parameter of evaluate"),
        ({"k": 0}, InvalidParameterError, "'k' parameter of evaluate"),
        ({"y_synthetic": ["a"]}, InvalidParameterError, "y_synthetic was given without y_real"),
        ({"y_real": ["a", "b"]}, InvalidDataError, "y_real has 2 labels, but its table has 600"),
    ],
)
def test_evaluate_error_messages_name_the_culprit(halves, kwargs, error, pattern):
    first, second, _ = halves
    with pytest.raises(error, match=pattern):
        evaluate(first, second, **kwargs)


def test_mismatched_columns_are_named(halves):
    first, second, _ = halves
    renamed = second.rename(columns={"z": "zz"})
    with pytest.raises(InvalidDataError, match=r"lacks \['z'\] and has columns \['zz'\]"):
        evaluate(first, renamed)
    with pytest.raises(
        InvalidDataError, match=r"synthetic must have the columns.*lacks \['flag'\]"
    ):
        gm.detection_auc(first, second.drop(columns="flag"))


def test_infinite_synthetic_values_are_named():
    real = np.random.default_rng(0).normal(size=(50, 3))
    fake = real.copy()
    fake[3, 1] = np.inf
    with pytest.raises(InvalidDataError, match="Column 1 of synthetic contains infinite"):
        gm.detection_auc(real, fake)


def test_a_numeric_column_given_as_text_is_named(halves):
    first, second, _ = halves
    text = second.assign(x=second["x"].astype(str))
    with pytest.raises(InvalidDataError, match="Column 'x' is numeric in the real table"):
        evaluate(first, text, metrics="fidelity")


def test_public_functions_have_numpydoc_docstrings():
    for name in gm.__all__:
        obj = getattr(gm, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        assert "Returns\n-------" in doc, name
        params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
        if "Parameters\n----------" in doc:
            for p in params:
                assert re.search(rf"\b{p}\b", doc), f"{name}: {p} undocumented"
