"""Edge cases of genaug.metrics found in review: copies, offsets, odd labels and dtypes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import genaug.metrics as gm
from genaug.exceptions import InvalidDataError, InvalidParameterError
from genaug.metrics import evaluate
from genaug.metrics._neighbors import kth_neighbor_distance, nearest
from genaug.metrics.detection import DetectionResult
from genaug.metrics.diversity import _manifold


def small_table(n: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.lognormal(size=n),
            "c": rng.choice(list("abc"), n),
        }
    )


# --------------------------------------------------------------------------- detection
def test_detection_of_an_exact_copy_is_chance_not_separable():
    real = small_table(300)
    result = gm.detection_test(real, real.copy(), random_state=0)
    # Copies split over folds with opposite labels: below 0.5, which scores as chance.
    assert result.auc < 0.5 and result.score == 1.0
    verdict = evaluate(real, real.copy(), metrics="detection").families["detection"].verdict
    assert verdict.startswith("good")


def test_detection_sees_collapse_onto_real_rows_and_discrete_frequency_shifts():
    rng = np.random.default_rng(0)
    real = small_table(1000)
    collapsed = pd.concat([real.iloc[[0, 1]]] * 500, ignore_index=True)
    assert gm.detection_test(real, collapsed, random_state=0).auc > 0.9
    cats = ["a", "b", "c"]
    before = pd.DataFrame({"k": rng.choice(cats, 1000, p=[0.8, 0.1, 0.1])})
    after = pd.DataFrame({"k": rng.choice(cats, 1000, p=[0.1, 0.1, 0.8])})
    assert gm.detection_test(before, after, random_state=0).auc > 0.8


def test_detection_score_counts_an_auc_below_one_half_as_chance():
    assert DetectionResult(auc=0.3).score == 1.0
    assert DetectionResult(auc=0.9).score == pytest.approx(0.2)


def test_detection_still_separates_constant_tables_with_different_values():
    zeros = np.zeros((40, 2))
    assert gm.detection_test(zeros, zeros + 1.0, random_state=0).auc == 1.0


# --------------------------------------------------------------------------- plots
def test_report_figures_draw_dollar_signs_literally():
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    n = 80
    cats = ["$0_to_$25k", "$25k_to_$50k", "over_$50k"]

    def table():
        return pd.DataFrame(
            {"cost $_{x": rng.normal(size=n), "z": rng.normal(size=n), "c": rng.choice(cats, n)}
        )

    labels = ["$a_$", "b"]
    report = evaluate(
        table(),
        table(),
        metrics=["fidelity", "diversity"],
        y_real=rng.choice(labels, n),
        y_synthetic=rng.choice(labels, n),
    )
    figures = report.plot()
    assert {"marginals", "correlation_difference", "class_coverage"} <= set(figures)
    for fig in figures.values():
        fig.savefig(io.BytesIO(), format="png")  # math text would fail here
    marginals = figures["marginals"].axes
    texts = [t.get_text() for ax in marginals for t in ax.get_xticklabels()]
    assert "\\$0_to_\\$25k" in texts
    assert any(ax.get_title().startswith("cost \\$_{x") for ax in marginals)


# --------------------------------------------------------------------------- neighbours
def _exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))


def _exact_manifold(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    def radii(x):
        d = _exact(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    rr, rf, d = radii(real), radii(fake), _exact(real, fake)
    return {
        "precision": (d <= rr[:, None]).any(axis=0).mean(),
        "recall": (d <= rf[None, :]).any(axis=1).mean(),
        "density": (d <= rr[:, None]).sum(axis=0).mean() / k,
        "coverage": (d.min(axis=1) <= rr).mean(),
    }


def _cases() -> dict:
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(120, 3)), rng.normal(size=(120, 3)) + 1.5
    outlier = fake.copy()
    outlier[0, 0] = 3e4
    dup = np.repeat(rng.integers(0, 3, size=(24, 3)).astype(float), 5, axis=0)
    return {
        "offset": (real + 1e5, fake + 1e5),
        "outlier": (real, outlier),
        # Five equal rows each: k=5 radii of 0, and near-copies 1e-7 away that lie outside.
        "duplicates and near-copies": (dup, dup + rng.normal(size=dup.shape) * 1e-7),
        "copies": (real, real[::-1].copy()),
        # One reference row far out: a mean centre would move and widen every tolerance.
        "far reference": (np.r_[real[:-1], [[1e8, 0.0, 0.0]]], fake),
        "float32": (real.astype(np.float32) + 50, real[::-1].astype(np.float32) + 50),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_knn_metrics_equal_an_exact_pairwise_computation(case):
    real, fake = _cases()[case]
    m = _manifold(real, fake, 5)
    expected = _exact_manifold(real, fake, 5)
    got = {"precision": m.precision, "recall": m.recall, "density": m.density}
    got["coverage"] = m.coverage
    assert got == pytest.approx(expected, abs=1e-12)
    dcr = nearest(fake, real, 2)
    exact = np.sort(_exact(fake, real), axis=1)[:, :2]
    np.testing.assert_allclose(dcr, exact, rtol=1e-6, atol=1e-15)
    assert np.array_equal(dcr[:, 0] == 0.0, exact[:, 0] == 0.0)
    d = _exact(real, real)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(
        kth_neighbor_distance(real, 5), np.sort(d, axis=1)[:, 4], rtol=1e-6, atol=1e-15
    )


def test_dcr_is_unaffected_by_an_offset_or_an_outlier():
    rng = np.random.default_rng(0)
    real, query = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    plain = gm.distance_to_closest_record(real, query, features=True)
    shifted = gm.distance_to_closest_record(real + 1e5, query + 1e5, features=True)
    np.testing.assert_allclose(shifted, plain, rtol=1e-5)
    far = query.copy()
    far[0, 0] = 3e4
    with_outlier = gm.distance_to_closest_record(real, far, features=True)
    np.testing.assert_allclose(with_outlier[1:], plain[1:], rtol=1e-9)
    assert (with_outlier > 0).all()


# --------------------------------------------------------------------------- dtypes
def test_an_all_missing_datetime_column_in_the_synthetic_table_is_missing():
    rng = np.random.default_rng(0)
    n = 80
    real = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "t": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D"),
        }
    )
    synth = real.copy()
    synth["t"] = np.nan
    assert gm.exact_copies(real, synth) == 0
    assert 0.0 <= gm.manifold_metrics(real, synth, random_state=0)["recall"] <= 1.0
    report = evaluate(real, synth, metrics=["fidelity", "diversity", "privacy"])
    assert report.families["fidelity"].tables["column_fidelity"].at["t", "missing_gap"] == 1.0


def test_exact_copies_keep_large_integers_apart():
    train = pd.DataFrame({"id": pd.Series([2**53 + 1, 10], dtype="int64"), "c": ["a", "b"]})
    synth = pd.DataFrame({"id": pd.Series([2**53, 11], dtype="int64"), "c": ["a", "b"]})
    assert gm.exact_copies(train, synth) == 0
    # Equal numbers still match across integer and float columns, and missing matches missing.
    nullable = pd.DataFrame({"id": pd.array([2**53 + 1, None, 3], dtype="Int64")})
    floats = pd.DataFrame({"id": [float(2**53 + 1), np.nan, 3.0]})
    assert gm.exact_copies(nullable, floats) == 2  # float(2**53 + 1) is 2**53
    big = pd.DataFrame({"id": pd.Series([2**63], dtype="uint64")})
    assert gm.exact_copies(big, pd.DataFrame({"id": [2.0**63]})) == 1


def test_duplicate_synthetic_column_names_are_named():
    rng = np.random.default_rng(0)
    real = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    synth = pd.DataFrame(rng.normal(size=(30, 4)), columns=["a", "b", "b", "c"])
    pattern = r"synthetic has duplicate column names: \['b'\]"
    with pytest.raises(InvalidDataError, match=pattern):
        gm.ks_statistics(real, synth)
    with pytest.raises(InvalidDataError, match=pattern):
        evaluate(real, synth, metrics="fidelity")


@pytest.mark.parametrize(
    "call",
    [
        lambda t: gm.tv_distances(t, t, discrete_columns="ab"),
        lambda t: gm.ks_statistics(t, t, discrete_columns="a"),
        lambda t: gm.manifold_metrics(t, t, discrete_columns="a"),
        lambda t: gm.detection_test(t, t, discrete_columns="a"),
    ],
)
def test_a_bare_string_of_discrete_columns_is_refused(call):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.integers(0, 5, 40), "ab": rng.normal(size=40)})
    with pytest.raises(InvalidParameterError, match="discrete_columns must be a list"):
        call(table)


# --------------------------------------------------------------------------- fidelity
def test_spearman_with_missing_values_ranks_the_pairwise_complete_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    real = pd.DataFrame({"x": x, "y": np.exp(x + 0.5 * rng.normal(size=300))})
    real.loc[np.abs(real["x"]) < 0.6, "x"] = np.nan
    # The complete pairs of the real table: the same correlation, so no difference.
    diff = gm.correlation_difference(real, real.dropna().reset_index(drop=True))
    assert diff.loc["x", "y"] < 1e-12
    other = real.assign(y=real["y"].where(rng.random(300) < 0.8))
    rho = other.corr(method="spearman").loc["x", "y"]
    full = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    rho_full = full.corr(method="spearman").loc["x", "y"]
    assert gm.correlation_difference(other, full).loc["x", "y"] == pytest.approx(
        abs(rho - rho_full), abs=1e-12
    )


# --------------------------------------------------------------------------- privacy
def test_near_copies_count_as_copies_without_a_holdout():
    real = small_table(300)
    rounded = real.astype({"x": "float32", "y": "float32"})
    privacy = evaluate(real, rounded, metrics="privacy").families["privacy"]
    assert privacy.metrics["exact_copies"] == 0.0
    assert privacy.metrics["near_copy_rate"] > 0.5
    assert privacy.score == 0.0 and privacy.verdict.startswith("poor")
    assert "near-copies" in privacy.verdict
    fresh = evaluate(real, small_table(300, seed=1), metrics="privacy").families["privacy"]
    assert fresh.metrics["near_copy_rate"] == 0.0 and fresh.score == 1.0
    # Values beyond the real range meet at its end after the encoding's clipping: no copies.
    rng = np.random.default_rng(2)
    beyond = small_table(300, seed=3)
    beyond.loc[:99, "x"] = rng.uniform(200.0, 1e4, 100) + beyond["x"].max()
    wide = evaluate(real, beyond, metrics="privacy").families["privacy"]
    assert wide.metrics["near_copy_rate"] == 0.0 and wide.score == 1.0


def test_near_copy_range_is_relative_to_the_width_and_int64_minimum_keys():
    real = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=300, freq="12s")})
    later = pd.DataFrame({"t": real["t"].max() + pd.to_timedelta(np.arange(1, 301), "s")})
    privacy = evaluate(real, later, metrics="privacy").families["privacy"]
    assert privacy.metrics["near_copy_rate"] == 0.0
    low = pd.DataFrame({"v": pd.Series([-(2**63)], dtype="int64")})
    assert gm.exact_copies(low, pd.DataFrame({"v": [-(2.0**63)]})) == 1


def test_a_float32_copy_with_a_constant_column_is_a_near_copy():
    real = small_table(300).assign(c=0.1)
    rounded = real.astype({"x": "float32", "y": "float32", "c": "float32"})
    privacy = evaluate(real, rounded, metrics="privacy").families["privacy"]
    assert privacy.metrics["near_copy_rate"] > 0.5 and privacy.score == 0.0


def test_unix_seconds_beyond_the_real_range_are_not_near_copies():
    real = pd.DataFrame({"t": 1_704_067_200 + 12 * np.arange(300)})
    later = pd.DataFrame({"t": real["t"].max() + np.arange(1, 301)})
    privacy = evaluate(real, later, metrics="privacy").families["privacy"]
    assert privacy.metrics["near_copy_rate"] == 0.0 and privacy.score == 1.0
