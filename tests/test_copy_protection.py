"""Copy protection: sample(..., reject_copies=True) redraws rows too close to training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genaug
from genaug import GANSynthesizer, VAESynthesizer
from genaug.exceptions import CopyProtectionError, InvalidDataError, InvalidParameterError
from genaug.metrics import distance_to_closest_record

N_ROWS = 30


@pytest.fixture(scope="module")
def memorised():
    """A VAE trained long on a tiny table, with a weak KL term: it reproduces its rows."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=N_ROWS).round(2),
            "b": rng.choice(["x", "y", "z"], N_ROWS),
            "c": rng.normal(size=N_ROWS).round(2),
        }
    )
    y = np.array(["big"] * 20 + ["small"] * 10)
    model = VAESynthesizer(
        epochs=60,
        learning_rate=5e-3,
        latent_dim=4,
        encoder_hidden=(64,),
        decoder_hidden=(64,),
        beta=0.05,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    return model, X, y


def _dcr(X, rows) -> np.ndarray:
    # The public privacy metric, computed independently of the sampler's own check.
    return distance_to_closest_record(X, rows, max_rows=10_000)


def test_off_by_default_and_the_model_does_copy(memorised):
    model, X, _ = memorised
    X_plain, _ = model.sample(400, random_state=1)
    assert model.copy_report_ is None
    model.sample(10, random_state=1, reject_copies=True, reference=X)
    threshold = model.copy_report_.threshold
    assert threshold > 0
    # Without protection the memorising model puts rows within the threshold.
    assert (_dcr(X, X_plain) <= threshold).sum() >= 20


def test_rejected_rows_are_replaced_with_the_same_labels(memorised):
    model, X, _ = memorised
    X_plain, y_plain = model.sample(400, random_state=1)
    X_safe, y_safe = model.sample(400, random_state=1, reject_copies=True, reference=X)
    report = model.copy_report_
    d_plain, d_safe = _dcr(X, X_plain), _dcr(X, X_safe)
    close = d_plain <= report.threshold
    # None of the returned rows is within the threshold of a training row.
    assert d_safe.min() > report.threshold
    # 400 rows are one generated chunk: exactly the close rows were redrawn, in place, with
    # their labels; the other rows are those of the unprotected sample.
    assert report.n_replaced == close.sum() > 0
    assert report.n_rows == 400 and report.n_redrawn >= report.n_replaced
    assert 1 <= report.max_rounds <= 20
    assert np.array_equal(np.asarray(y_safe), np.asarray(y_plain))
    pd.testing.assert_frame_equal(
        X_safe[~close].reset_index(drop=True), X_plain[~close].reset_index(drop=True)
    )
    per_class = pd.Series(np.asarray(y_plain)[close]).value_counts().to_dict()
    assert report.replaced_per_class == {
        "big": per_class.get("big", 0),
        "small": per_class.get("small", 0),
    }
    assert report.replaced_rate == pytest.approx(close.mean())


def test_exact_class_counts_are_kept(memorised):
    model, X, _ = memorised
    X_safe, y_safe = model.sample(
        300, y={"small": 200, "big": 100}, random_state=2, reject_copies=True, reference=X
    )
    assert pd.Series(np.asarray(y_safe)).value_counts().to_dict() == {"small": 200, "big": 100}
    assert _dcr(X, X_safe).min() > model.copy_report_.threshold
    assert model.copy_report_.replaced_per_class["small"] > 0


def test_deterministic_for_a_seed_whatever_the_chunks(memorised):
    model, X, _ = memorised
    a = model.sample(250, random_state=3, reject_copies=True, reference=X)
    report_a = model.copy_report_
    b = model.sample(250, random_state=3, reject_copies=True, reference=X)
    pd.testing.assert_frame_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1]) and model.copy_report_ == report_a
    chunks = list(
        model.iter_sample(250, random_state=3, chunk_size=37, reject_copies=True, reference=X)
    )
    joined = pd.concat([c[0] for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, a[0])
    assert model.copy_report_ == report_a


def test_works_after_save_and_load_without_stored_rows(memorised, tmp_path):
    model, X, _ = memorised
    model.save(tmp_path / "m")
    loaded = genaug.load(tmp_path / "m")
    before = model.sample(200, random_state=4, reject_copies=True, reference=X)
    after = loaded.sample(200, random_state=4, reject_copies=True, reference=X)
    pd.testing.assert_frame_equal(before[0], after[0])
    assert loaded.copy_report_.n_replaced == model.copy_report_.n_replaced > 0


def test_explicit_threshold(memorised):
    model, X, _ = memorised
    model.sample(300, random_state=5, reject_copies=True, reference=X, copy_threshold=0.0)
    exact_only = model.copy_report_
    assert exact_only.threshold == 0.0
    X_wide, _ = model.sample(
        300, random_state=5, reject_copies=True, reference=X, copy_threshold=0.3
    )
    assert model.copy_report_.threshold == 0.3
    assert model.copy_report_.n_replaced > exact_only.n_replaced
    assert _dcr(X, X_wide).min() > 0.3
    # A higher quantile gives a higher default threshold.
    model.sample(10, random_state=5, reject_copies=True, reference=X, copy_quantile=0.5)
    assert model.copy_report_.threshold > 0.3


def test_numpy_tables_and_gan():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=60), rng.integers(0, 3, 60)])
    model = GANSynthesizer(
        epochs=2,
        latent_dim=4,
        generator_hidden=(8,),
        discriminator_hidden=(8,),
        batch_size=10,
        discrete_columns=[1],
        random_state=0,
        device="cpu",
    ).fit(X)
    rows = model.sample(100, random_state=0, reject_copies=True, reference=X)
    report = model.copy_report_
    assert isinstance(rows, np.ndarray) and rows.shape == (100, 2)
    assert report.replaced_per_class is None and report.n_reference == 60
    assert distance_to_closest_record(X, rows, discrete_columns=[1]).min() > report.threshold


def test_impossible_protection_is_a_clear_error():
    # Two categorical columns with four combinations, all in the data: every row the model
    # can make is an exact copy.
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"p": rng.choice(["a", "b"], 40), "q": rng.choice(["u", "v"], 40)})
    model = VAESynthesizer(
        epochs=1, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,), random_state=0
    ).fit(X)
    with pytest.raises(
        CopyProtectionError, match=r"50 of 50 generated rows were still within"
    ) as e:
        model.sample(50, random_state=0, reject_copies=True, reference=X)
    assert "holds all 4 combinations of its columns' values" in str(e.value)


def test_impossible_protection_names_the_cause_with_numbers_and_duplicates():
    import itertools

    # k's values are all point masses: the model makes no other number, so the six
    # combinations (each in the data twice) are all it can make.
    grid = pd.DataFrame(list(itertools.product(["a", "b"], [1, 2, 3])), columns=["c", "k"])
    X = pd.concat([grid, grid], ignore_index=True)
    small = dict(epochs=1, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,))
    model = VAESynthesizer(**small, random_state=0).fit(X)
    with pytest.raises(CopyProtectionError, match="holds all 6 combinations"):
        model.sample(20, random_state=0, reject_copies=True, reference=X, copy_threshold=0.0)
    # A reference of duplicated rows that is not every combination: the cause is named, and
    # no threshold below 0 is suggested.
    from genaug.synthesizers._copies import CopyFilter

    twice = pd.concat([grid.iloc[:4]] * 2, ignore_index=True)
    why = CopyFilter(model, twice, 0.0, 0.01)._why()
    assert "100% of the reference rows are exact duplicates" in why and "below" not in why


def _half_grid():
    """Half of the 1,728 combinations of six categorical columns (car evaluation's shape),
    and the other half: every row of either is one category away from rows of the first."""
    import itertools

    values = [list("abcd")] * 3 + [list("xyz")] * 3
    grid = pd.DataFrame(list(itertools.product(*values)), columns=list("pqrstu"))
    keep = np.random.default_rng(0).permutation(len(grid)) < len(grid) // 2
    return grid[keep].reset_index(drop=True), grid[~keep].reset_index(drop=True)


def test_rows_at_the_threshold_count_as_copies_whatever_their_rounding():
    # One category apart is a distance of exactly 1, which the expanded form computes as 1.0,
    # 0.9999999999999998 or 0.9999999999999996 from row to row; the default threshold comes
    # from those same distances. Every new row one category away must get one decision.
    from genaug.synthesizers._copies import CopyFilter

    reference, others = _half_grid()
    model = VAESynthesizer(
        epochs=1, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,), random_state=0
    ).fit(reference)
    copies = CopyFilter(model, reference, None, 0.01)
    assert copies.threshold == pytest.approx(1.0, abs=1e-12)
    flagged = copies.too_close(model.codec_.transform(others))
    assert flagged.all()
    with pytest.raises(CopyProtectionError) as e:
        model.sample(50, random_state=0, reject_copies=True, reference=reference)
    message = str(e.value)
    assert "100% of the reference rows are themselves within that distance" in message
    assert "Pass a copy_threshold below 1, " in message
    # Below that distance only exact copies are rejected, and new rows exist.
    rows = model.sample(
        50, random_state=0, reject_copies=True, reference=reference, copy_threshold=0.5
    )
    assert not rows.merge(reference, how="inner").shape[0]


def test_argument_errors(memorised):
    model, X, _ = memorised
    with pytest.raises(InvalidParameterError, match="needs reference=X_train"):
        model.sample(5, reject_copies=True)
    with pytest.raises(InvalidParameterError, match="only apply with reject_copies=True"):
        model.sample(5, reference=X)
    with pytest.raises(InvalidParameterError, match="copy_threshold"):
        model.sample(5, reject_copies=True, reference=X, copy_threshold=-1.0)
    with pytest.raises(InvalidParameterError, match="copy_quantile"):
        model.sample(5, reject_copies=True, reference=X, copy_quantile=2)
    with pytest.raises(InvalidParameterError, match="reject_copies must be a bool"):
        model.sample(5, reject_copies="yes", reference=X)
    with pytest.raises(InvalidDataError, match="training columns"):
        model.sample(5, reject_copies=True, reference=X.rename(columns={"a": "z"}))


@pytest.mark.parametrize("size", [8, 12])
@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_images_with_a_reference_of_their_own_sample(size, threshold):
    # The reference is the model's own unprotected sample: every first draw is an exact copy
    # of a reference image, so every image must be redrawn, also at threshold 0. At 12 x 12
    # the codec pads the images to 16 x 16: the copies are measured as returned.
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (20, size, size), dtype=np.uint8)
    model = VAESynthesizer(
        epochs=1, latent_dim=4, encoder_hidden=(8,), decoder_hidden=(8,), random_state=0
    ).fit(images, np.array([0, 1] * 10))
    plain, y_plain = model.sample(30, random_state=0)
    safe, y_safe = model.sample(
        30, random_state=0, reject_copies=True, reference=plain, copy_threshold=threshold
    )
    assert model.copy_report_.n_replaced == 30
    assert np.array_equal(y_safe, y_plain) and safe.shape == plain.shape
    assert not (safe[:, None] == plain[None]).all(axis=(2, 3)).any()
    a = model.codec_.transform(safe).reshape(30, -1).astype(float)
    b = model.codec_.transform(plain).reshape(30, -1).astype(float)
    assert np.sqrt(((a[:, None] - b[None]) ** 2).sum(axis=2)).min() > threshold


def _memorising_vae():
    params = dict(epochs=60, learning_rate=5e-3, latent_dim=4, encoder_hidden=(64,))
    return VAESynthesizer(**params, decoder_hidden=(64,), beta=0.05, device="cpu")


def test_the_augmenter_redraws_copies_of_its_training_rows(memorised):
    from genaug import SyntheticAugmenter

    _, X, y = memorised
    plain = SyntheticAugmenter(_memorising_vae(), augment_ratio=3.0, random_state=0)
    X_plain, _ = plain.fit_resample(X, y)
    assert plain.copy_report_ is None
    guarded = SyntheticAugmenter(
        _memorising_vae(), augment_ratio=3.0, random_state=0, reject_copies=True
    )
    X_res, y_res = guarded.fit_resample(X, y)
    report = guarded.copy_report_
    assert report.n_replaced > 0
    synthetic = X_res[guarded.synthetic_mask_]
    assert (_dcr(X, synthetic) > report.threshold).all()
    assert (_dcr(X, X_plain[plain.synthetic_mask_]) <= report.threshold).sum() > 0
    # Exact counts are kept: the same labels as the unprotected run.
    np.testing.assert_array_equal(y_res, plain.fit_resample(X, y)[1])


def test_the_augmenter_refuses_a_non_bool_reject_copies(memorised):
    from genaug import SyntheticAugmenter

    _, X, y = memorised
    with pytest.raises(InvalidParameterError, match="reject_copies"):
        SyntheticAugmenter(_memorising_vae(), reject_copies="yes").fit_resample(X, y)


def test_each_iterator_counts_into_the_report_made_for_it(memorised):
    model, X, _ = memorised
    first = model.iter_sample(400, random_state=1, reject_copies=True, reference=X)
    report = model.copy_report_
    model.sample(10, random_state=2)  # replaces copy_report_ (with None) before first is read
    rows = pd.concat([chunk[0] for chunk in first])
    assert len(rows) == 400 and report.n_rows == 400 and report.n_replaced > 0
    second = model.iter_sample(50, random_state=3, reject_copies=True, reference=X)
    third = model.iter_sample(60, random_state=3, reject_copies=True, reference=X)
    list(second)
    list(third)
    assert model.copy_report_.n_rows == 60  # third's; second counted into its own
