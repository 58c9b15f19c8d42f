"""VAEGANSynthesizer: mode coverage, exact labels, encode, seeding, save/load, early stopping."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import genaug
from genaug import VAEGANSynthesizer, VAESynthesizer
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
    TrainingDivergedError,
)

from .conftest import make_mixed_frame
from .test_gan import eight_gaussians, mode_counts

SMALL = {
    "encoder_hidden": (64, 64),
    "decoder_hidden": (64, 64),
    "discriminator_hidden": (64, 64),
    "latent_dim": 16,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, pd.Series]:
    return eight_gaussians()


@pytest.fixture(scope="module")
def fitted(toy) -> VAEGANSynthesizer:
    X, y = toy
    return VAEGANSynthesizer(epochs=200, random_state=0, **SMALL).fit(X, y)


def _tiny(**params) -> VAEGANSynthesizer:
    return VAEGANSynthesizer(**{**SMALL, "epochs": 3, "random_state": 0, **params})


def test_samples_cover_the_modes(fitted):
    X, _ = fitted.sample(2000, random_state=1)
    counts, _ = mode_counts(X)
    # Measured with seeds 0-2: all 8 modes hold >= 7% of the rows, and 73-81% of the rows lie
    # within 3 sd of a mode.
    assert (counts >= 20).sum() >= 7, counts
    assert counts.sum() >= 0.6 * len(X), counts


def test_label_counts_are_exact_and_followed(fitted):
    X, y = fitted.sample(1000, y={"even": 250, "odd": 750}, random_state=2)
    assert (y == "even").sum() == 250 and (y == "odd").sum() == 750
    assert y.name == "label"
    _, nearest = mode_counts(X)
    odd_rows = nearest[(np.asarray(y) == "odd") & (nearest >= 0)]
    assert (odd_rows % 2 == 1).mean() > 0.8


def test_history_records_every_loss_per_epoch(fitted):
    for key in ("discriminator", "kl", "feature", "categorical", "adversarial"):
        assert len(fitted.history_[key]) == 200 and np.isfinite(fitted.history_[key]).all()


def test_encode_gives_latent_means(fitted, toy):
    X, y = toy
    z = fitted.encode(X[:50], y[:50])
    assert z.shape == (50, 16) and np.isfinite(z).all()
    np.testing.assert_array_equal(z, fitted.encode(X[:50], y[:50]))
    with pytest.raises(InvalidDataError, match="pass y"):
        fitted.encode(X[:5])


def test_the_vae_shares_encode(toy):
    X, y = toy
    vae = VAESynthesizer(epochs=1, latent_dim=4, random_state=0, device="cpu").fit(X, y)
    assert vae.encode(X[:7], y[:7]).shape == (7, 4)


def test_feature_conditions_are_refused(fitted):
    with pytest.raises(InvalidParameterError, match="GANSynthesizer"):
        fitted.sample(5, conditions={"color": "red"})


def test_save_and_load_give_identical_samples_and_codes(fitted, toy, tmp_path):
    fitted.save(tmp_path / "vaegan")
    loaded = genaug.load(tmp_path / "vaegan")
    assert isinstance(loaded, VAEGANSynthesizer)
    X1, y1 = fitted.sample(400, y="odd", random_state=3)
    X2, y2 = loaded.sample(400, y="odd", random_state=3)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_series_equal(y1, y2)
    X, y = toy
    np.testing.assert_array_equal(fitted.encode(X[:20], y[:20]), loaded.encode(X[:20], y[:20]))


def test_same_seed_same_samples_and_global_rng_untouched(toy):
    X, y = toy
    torch_state, py_state = torch.get_rng_state(), random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global state must stay
    a = _tiny().fit(X, y)
    b = _tiny().fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
    assert random.getstate() == py_state
    Xa, ya = a.sample(500, random_state=4)
    Xb, yb = b.sample(500, random_state=4)
    pd.testing.assert_frame_equal(Xa, Xb)
    pd.testing.assert_series_equal(ya, yb)


def test_divergence_stops_with_a_clear_error(toy):
    X, y = toy
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        _tiny(learning_rate=1e30).fit(X, y)


def test_clone_and_parameter_validation(toy):
    syn = VAEGANSynthesizer(epochs=7, reconstruction_weight=0.5, adversarial_loss="wgan-gp")
    twin = clone(syn)
    assert twin.get_params() == syn.get_params() and twin is not syn
    with pytest.raises(NotFittedError):
        twin.sample(3)
    X, y = toy
    with pytest.raises(InvalidParameterError, match="'reconstruction_weight'"):
        VAEGANSynthesizer(reconstruction_weight=-1.0).fit(X, y)


def test_wgan_gp_objective_and_no_labels(toy):
    X, _ = toy
    syn = _tiny(adversarial_loss="wgan-gp").fit(X)
    assert "gradient_penalty" in syn.history_
    assert syn.sample(20, random_state=0).shape == (20, 3)


def test_mixed_types_come_back_in_the_input_form():
    frame = make_mixed_frame(400)
    syn = _tiny(epochs=2, continuous_encoding="mode").fit(frame)
    X = syn.sample(50, random_state=0)
    assert list(X.columns) == list(frame.columns) and X.dtypes.equals(frame.dtypes)
    assert syn.encode(frame[:5]).shape == (5, 16)


def test_early_stopping_with_the_detection_metric(toy):
    X, y = toy
    syn = _tiny(
        epochs=4,
        early_stopping=True,
        validation_every=2,
        patience=1,
        validation_metric="detection",
    ).fit(X, y)
    epochs = syn.history_["validation_epoch"]
    assert epochs in ([2], [2, 4]) and syn.best_epoch_ in epochs
    assert len(syn.history_["epoch"]) == epochs[-1]


def test_early_stopping_with_the_utility_metric(toy):
    X, y = toy
    syn = _tiny(epochs=4, early_stopping=True, validation_every=2, validation_metric="utility")
    syn.fit(X, y)
    curve = syn.history_["validation_utility_auc"]
    assert len(curve) == 2 and all(0.0 <= v <= 1.0 for v in curve)
    assert syn.best_epoch_ == syn.history_["validation_epoch"][int(np.argmax(curve))]


def test_auto_metric_is_detection_for_the_vaegan(toy):
    X, y = toy
    syn = _tiny(epochs=2, early_stopping=True, validation_every=1).fit(X, y)
    assert len(syn.history_["validation_detection_auc"]) == 2
    assert "validation_utility_auc" not in syn.history_
