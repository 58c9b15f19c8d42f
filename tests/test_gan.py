"""GANSynthesizer: mode coverage, conditional sampling, seeding, save/load, early stopping."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import genaug
import genaug.metrics.detection
from genaug import GANSynthesizer
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
    TrainingDivergedError,
)
from genaug.synthesizers._batches import effective_batch_size

from .conftest import make_mixed_frame

N_MODES = 8
RADIUS, SIGMA = 2.0, 0.1
CENTERS = RADIUS * np.stack(
    [
        np.cos(2 * np.pi * np.arange(N_MODES) / N_MODES),
        np.sin(2 * np.pi * np.arange(N_MODES) / N_MODES),
    ],
    axis=1,
)

# Small networks for a toy of 2,000 rows that trains in seconds. The auxiliary classifier is
# off: the toy's label is a function of the position, and the classifier term pulls rows away
# from the modes towards where the label is most certain (measured with seeds 0-2: 36-48% of
# the rows within 3 sd of a mode with it, 77-80% without).
SMALL = {
    "generator_hidden": (64, 64),
    "discriminator_hidden": (64, 64),
    "latent_dim": 16,
    "learning_rate": 1e-3,
    "pac": 1,
    "discriminator_dropout": 0.0,
    "auxiliary_classifier": False,
    "device": "cpu",
}


def eight_gaussians(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A ring of 8 Gaussians (sd 0.1, radius 2) labelled by the parity of their mode, with a
    colour column: "blue"/"green" at random, "red" on 1% of the rows (all in mode 0) and
    "violet" on a single row (in mode 4)."""
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, N_MODES, n)
    xy = CENTERS[mode] + rng.normal(0.0, SIGMA, (n, 2))
    color = rng.choice(np.array(["blue", "green"], dtype=object), n)
    color[np.flatnonzero(mode == 0)[: n // 100]] = "red"
    color[np.flatnonzero(mode == 4)[0]] = "violet"
    X = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "color": color})
    return X, pd.Series(np.where(mode % 2 == 0, "even", "odd"), name="label")


def mode_counts(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows within 3 sd of each mode, and the nearest mode of each row (-1 when none)."""
    dist = np.linalg.norm(X[["x", "y"]].to_numpy(float)[:, None, :] - CENTERS[None], axis=2)
    nearest = np.where(dist.min(axis=1) < 3 * SIGMA, dist.argmin(axis=1), -1)
    return np.bincount(nearest[nearest >= 0], minlength=N_MODES), nearest


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, pd.Series]:
    return eight_gaussians()


@pytest.fixture(scope="module")
def fitted(toy) -> GANSynthesizer:
    X, y = toy
    return GANSynthesizer(epochs=200, random_state=0, **SMALL).fit(X, y)


def _tiny(**params) -> GANSynthesizer:
    return GANSynthesizer(**{**SMALL, "epochs": 3, "random_state": 0, **params})


def test_samples_cover_the_modes(fitted):
    X, y = fitted.sample(2000, random_state=1)
    counts, _ = mode_counts(X)
    # Measured with seeds 0-2: all 8 modes hold >= 7% of the rows, and 77-80% of the rows lie
    # within 3 sd of a mode (the rest are between modes).
    assert (counts >= 20).sum() >= 7, counts
    assert counts.sum() >= 0.6 * len(X), counts
    assert set(y) == {"even", "odd"}


def test_label_conditioning_is_exact_and_followed(fitted):
    X, y = fitted.sample(1000, y={"odd": 700, "even": 300}, random_state=2)
    assert (y == "odd").sum() == 700 and (y == "even").sum() == 300
    _, nearest = mode_counts(X)
    odd_rows = nearest[(np.asarray(y) == "odd") & (nearest >= 0)]
    # Measured 97-98% of the odd rows near a mode are near an odd mode (seeds 0-2).
    assert (odd_rows % 2 == 1).mean() > 0.9


def test_rare_category_is_sampled_at_the_requested_count(fitted, toy):
    X_train, _ = toy
    assert (X_train["color"] == "red").mean() == 0.01
    X, _ = fitted.sample(300, conditions={"color": "red"}, random_state=3)
    assert len(X) == 300 and (X["color"] == "red").all()
    # Real red rows are all in mode 0; the conditional vector carries that over (measured
    # 51-64% of the conditioned rows in mode 0 with seeds 0-2, against 12.5% by chance).
    counts, _ = mode_counts(X)
    assert counts[0] >= 0.3 * len(X), counts


def test_category_seen_once_and_label_together(fitted):
    X, y = fitted.sample(50, y="even", conditions={"color": "violet"}, random_state=4)
    assert (X["color"] == "violet").all() and (y == "even").all()


def test_unseen_value_or_unknown_column_is_a_clear_error(fitted):
    with pytest.raises(InvalidParameterError, match=r"'pink'.*'color'"):
        fitted.sample(5, conditions={"color": "pink"})
    with pytest.raises(InvalidParameterError, match="'colour'"):
        fitted.sample(5, conditions={"colour": "red"})
    with pytest.raises(InvalidParameterError, match="'x', which is numeric"):
        fitted.sample(5, conditions={"x": 1.0})
    with pytest.raises(InvalidParameterError, match="had none"):
        fitted.sample(5, conditions={"color": None})
    with pytest.raises(InvalidParameterError, match="dict"):
        fitted.sample(5, conditions=[("color", "red")])


def test_conditions_on_a_table_without_categorical_columns_say_so():
    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    model = GANSynthesizer(epochs=1, batch_size=20, random_state=0).fit(X)
    with pytest.raises(InvalidParameterError, match=r"'a', which is numeric.*trained on none"):
        model.sample(5, conditions={"a": 3.0})
    with pytest.raises(InvalidParameterError, match="'colour', which is not a column"):
        model.sample(5, conditions={"colour": "red"})


def test_history_records_both_losses_per_epoch(fitted):
    history = fitted.history_
    assert history["epoch"] == list(range(1, 201))
    for key in ("generator", "discriminator", "gradient_penalty", "conditional"):
        assert len(history[key]) == 200 and np.isfinite(history[key]).all()


def test_sampling_runs_in_eval_mode_without_touching_the_networks(fitted):
    before = {k: v.clone() for k, v in fitted.generator_.state_dict().items()}
    a = fitted.sample(300, random_state=5)
    b = fitted.sample(300, random_state=5)
    pd.testing.assert_frame_equal(a[0], b[0])
    after = fitted.generator_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included
    assert not fitted.generator_.training


def test_networks_put_back_in_training_mode_between_chunks_still_sample_in_eval_mode(fitted):
    whole = fitted.sample(5000, random_state=8)[0]
    chunks = fitted.iter_sample(5000, random_state=8, chunk_size=2500)
    first = next(chunks)[0]
    fitted._set_train(True)  # batch statistics would change the generator's output
    second = next(chunks)[0]
    pd.testing.assert_frame_equal(pd.concat([first, second], ignore_index=True), whole)
    assert not fitted.generator_.training


def test_a_refit_on_other_columns_samples_their_values(toy):
    # The unconditional draw's value probabilities are kept between passes: a refit on
    # another table must not reuse the old ones.
    X, y = toy
    model = _tiny().fit(X, y)
    model.sample(100, random_state=0)
    other = pd.DataFrame({"x": X["x"], "shape": np.where(X["y"] > 0, "round", "square")})
    out = model.fit(other, y).sample(3000, random_state=0)[0]
    assert list(out.columns) == ["x", "shape"]
    assert set(out["shape"]) == {"round", "square"}


def test_save_load_and_pickle_give_identical_samples(fitted, tmp_path):
    fitted.save(tmp_path / "gan")
    loaded = genaug.load(tmp_path / "gan")
    assert isinstance(loaded, GANSynthesizer)
    for kwargs in ({}, {"conditions": {"color": "red"}, "y": "even"}):
        X1, y1 = fitted.sample(400, random_state=6, **kwargs)
        X2, y2 = loaded.sample(400, random_state=6, **kwargs)
        pd.testing.assert_frame_equal(X1, X2)
        pd.testing.assert_series_equal(y1, y2)
    assert loaded.history_ == fitted.history_
    copied = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(
        copied.sample(50, random_state=8)[0], fitted.sample(50, random_state=8)[0]
    )


def test_same_seed_same_samples_and_global_rng_untouched(toy):
    X, y = toy
    torch_state, np_state, py_state = (
        torch.get_rng_state(),
        np.random.get_state(),  # noqa: NPY002 - the legacy global state is what must stay
        random.getstate(),
    )
    a = _tiny(discriminator_dropout=0.3, pac=2).fit(X, y)
    b = _tiny(discriminator_dropout=0.3, pac=2).fit(X, y)
    Xa, ya = a.sample(500, conditions={"color": "green"}, random_state=7)
    Xb, yb = b.sample(500, conditions={"color": "green"}, random_state=7)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
    assert random.getstate() == py_state
    pd.testing.assert_frame_equal(Xa, Xb)
    pd.testing.assert_series_equal(ya, yb)
    c = _tiny(discriminator_dropout=0.3, pac=2, random_state=1).fit(X, y)
    assert not c.sample(500, random_state=7)[0].equals(a.sample(500, random_state=7)[0])


def test_divergence_stops_with_a_clear_error(toy):
    X, y = toy
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        _tiny(learning_rate=1e30).fit(X, y)


def test_clone_and_parameter_validation(toy):
    syn = GANSynthesizer(epochs=7, pac=5, batch_size=100, auxiliary_classifier=True)
    twin = clone(syn)
    assert twin.get_params() == syn.get_params() and twin is not syn
    with pytest.raises(NotFittedError):
        twin.sample(3)
    X, y = toy
    with pytest.raises(InvalidParameterError, match="multiple of pac"):
        GANSynthesizer(batch_size=500, pac=3).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'adversarial_loss'"):
        GANSynthesizer(adversarial_loss="hinge").fit(X, y)


def test_auxiliary_classifier_trains_and_round_trips(toy, tmp_path):
    X, y = toy
    syn = _tiny(auxiliary_classifier=True).fit(X, y)
    assert "classifier" in syn.history_ and "classifier_" in syn._module_names
    syn.save(tmp_path / "aux")
    X1, _ = syn.sample(100, random_state=0)
    X2, _ = genaug.load(tmp_path / "aux").sample(100, random_state=0)
    pd.testing.assert_frame_equal(X1, X2)
    # Without labels there is nothing to classify: the option is ignored.
    assert "classifier_" not in _tiny(auxiliary_classifier=True).fit(X)._module_names


def test_mixed_types_and_conditioning_on_missing_values():
    frame = make_mixed_frame(400)
    syn = _tiny(epochs=2, pac=2, batch_size=100).fit(frame)
    X = syn.sample(60, conditions={"city": None, "member": True}, random_state=0)
    assert list(X.columns) == list(frame.columns) and X.dtypes.equals(frame.dtypes)
    assert X["city"].isna().all() and X["member"].all()


def test_early_stopping_keeps_best_weights_and_records_the_curve(toy, monkeypatch):
    X, y = toy
    syn = _tiny(
        epochs=50,
        early_stopping=True,
        validation_every=2,
        patience=2,
        validation_metric="detection",
    )
    scores = iter([0.9, 0.7, 0.8, 0.85, 0.6])
    seen = []

    def scripted_auc(real, synthetic, *, n_splits=3, max_rows=5000, random_state=None):
        assert real.shape == synthetic.shape and real.shape[0] == 200  # 10% held out
        seen.append({k: v.clone() for k, v in syn.generator_.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(genaug.metrics.detection, "detection_auc", scripted_auc)
    syn.fit(X, y)
    # Best at the 2nd check (epoch 4); the 3rd and 4th are worse: patience 2 stops at epoch 8.
    assert syn.history_["validation_epoch"] == [2, 4, 6, 8]
    assert syn.history_["validation_detection_auc"] == [0.9, 0.7, 0.8, 0.85]
    assert syn.history_["epoch"] == list(range(1, 9)) and syn.best_epoch_ == 4
    kept = syn.generator_.state_dict()
    assert all(torch.equal(kept[k], seen[1][k]) for k in kept)
    assert not all(torch.equal(kept[k], seen[3][k]) for k in kept)


def test_early_stopping_with_the_detection_metric(toy, tmp_path):
    X, y = toy
    syn = _tiny(epochs=4, early_stopping=True, validation_every=2, validation_metric="detection")
    syn.fit(X, y)
    curve = syn.history_["validation_detection_auc"]
    assert len(curve) == 2 and all(0.0 <= v <= 1.0 for v in curve)
    assert syn.best_epoch_ in (2, 4)
    syn.save(tmp_path / "es")
    assert genaug.load(tmp_path / "es").best_epoch_ == syn.best_epoch_


def test_early_stopping_scores_rows_as_decoded(monkeypatch):
    # Integer and rounded columns take few values once decoded; the generator's raw output
    # does not, and a detector separated the two on that alone (AUC 1.0 at every check).
    frame = make_mixed_frame(n=400, seed=2)
    labels = pd.Series(np.arange(400) % 2)
    syn = _tiny(epochs=2, early_stopping=True, validation_every=1, validation_metric="detection")
    captured = []

    def capture(real, synthetic, *, n_splits=3, max_rows=5000, random_state=None):
        captured.append(synthetic[:, : syn.data_dim_])
        return 0.9

    monkeypatch.setattr(genaug.metrics.detection, "detection_auc", capture)
    syn.fit(frame, labels)
    assert len(captured) == 2
    for rows in captured:
        again = syn.codec_.transform(syn.codec_.inverse_transform(rows))
        np.testing.assert_allclose(again, rows, atol=1e-6)


def test_early_stopping_on_utility_keeps_the_highest_auc(toy, monkeypatch):
    import genaug.metrics.utility

    X, y = toy
    syn = _tiny(epochs=50, early_stopping=True, validation_every=2, patience=2)
    syn.set_params(validation_metric="utility")
    scores = iter([0.6, 0.8, 0.7, 0.75, 0.9])
    seen = []

    def scripted_auc(X_syn, y_syn, X_real, y_real, *, random_state=0):
        # Balanced synthetic rows of both classes, scored on the 200 held-out rows' labels.
        assert X_syn.shape == (genaug.synthesizers._mixins.MAX_VALIDATION_ROWS, X_real.shape[1])
        assert np.array_equal(np.bincount(y_syn), [2500, 2500])
        assert X_real.shape[0] == len(y_real) == 200 and set(y_real) == {0, 1}
        seen.append({k: v.clone() for k, v in syn.generator_.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(genaug.metrics.utility, "tstr_roc_auc", scripted_auc)
    syn.fit(X, y)
    # Higher is better: best at the 2nd check (epoch 4); patience 2 stops at epoch 8.
    assert syn.history_["validation_utility_auc"] == [0.6, 0.8, 0.7, 0.75]
    assert "validation_detection_auc" not in syn.history_
    assert syn.history_["epoch"] == list(range(1, 9)) and syn.best_epoch_ == 4
    kept = syn.generator_.state_dict()
    assert all(torch.equal(kept[k], seen[1][k]) for k in kept)


def test_early_stopping_with_the_utility_metric(toy, tmp_path):
    X, y = toy
    syn = _tiny(epochs=4, early_stopping=True, validation_every=2, validation_metric="utility")
    syn.fit(X, y)
    curve = syn.history_["validation_utility_auc"]
    assert len(curve) == 2 and all(0.0 <= v <= 1.0 for v in curve)
    assert syn.best_epoch_ == syn.history_["validation_epoch"][int(np.argmax(curve))]
    syn.save(tmp_path / "es")
    again = genaug.load(tmp_path / "es")
    assert again.validation_metric == "utility" and again.best_epoch_ == syn.best_epoch_


def test_auto_metric_is_utility_on_labelled_tables_else_detection(toy):
    X, y = toy
    labelled = _tiny(epochs=2, early_stopping=True, validation_every=1).fit(X, y)
    assert labelled.validation_metric == "auto"
    assert "validation_utility_auc" in labelled.history_
    assert "validation_detection_auc" not in labelled.history_
    unlabelled = _tiny(epochs=2, early_stopping=True, validation_every=1).fit(X)
    assert len(unlabelled.history_["validation_detection_auc"]) == 2
    # A held-out slice of one class has no ROC-AUC: detection instead of an error.
    few = pd.Series(np.where(np.arange(len(y)) < 2, "odd", "even"), name="label")
    rare = _tiny(epochs=2, early_stopping=True, validation_every=1).fit(X, few)
    assert len(rare.history_["validation_detection_auc"]) == 2


def test_utility_metric_needs_labels_of_two_classes(toy):
    X, y = toy
    with pytest.raises(InvalidParameterError, match=r"validation_metric='utility'.*fit with y"):
        _tiny(early_stopping=True, validation_metric="utility").fit(X)
    with pytest.raises(InvalidParameterError, match="validation_metric"):
        _tiny(early_stopping=True, validation_metric="tstr").fit(X, y)
    # Two rows of the second class, both outside the 10 % held out with this seed.
    few = pd.Series(np.where(np.arange(len(y)) < 2, "odd", "even"), name="label")
    with pytest.raises(InvalidDataError, match="all of one class"):
        _tiny(early_stopping=True, validation_metric="utility").fit(X, few)


def _classifier_decay(syn: GANSynthesizer) -> float:
    return syn._make_optimizers()["classifier_"].param_groups[0]["weight_decay"]


def test_classifier_weight_decay_reaches_the_classifier_only(toy):
    X, y = toy
    syn = _tiny(auxiliary_classifier=True, epochs=1, weight_decay=1e-5).fit(X, y)
    assert _classifier_decay(syn) == genaug.synthesizers.gan.TABLE_CLASSIFIER_WEIGHT_DECAY
    optimizers = syn._make_optimizers()
    assert optimizers["generator_"].param_groups[0]["weight_decay"] == 1e-5
    assert optimizers["discriminator_"].param_groups[0]["weight_decay"] == 1e-5
    syn.set_params(classifier_weight_decay=0.25)
    assert _classifier_decay(syn) == 0.25
    with pytest.raises(InvalidParameterError, match="classifier_weight_decay"):
        _tiny(classifier_weight_decay=-1.0).fit(X, y)


def test_classifier_weight_decay_on_images_defaults_to_weight_decay():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.rint(data.images[:200] * (255 / 16)).astype(np.uint8)
    syn = GANSynthesizer(
        epochs=1, batch_size=50, latent_dim=8, generator_hidden=(8,),
        discriminator_hidden=(8,), weight_decay=3e-4, device="cpu", random_state=0,
    ).fit(images, data.target[:200])
    assert _classifier_decay(syn) == 3e-4


def test_sampling_runs_the_averaged_generator(toy):
    X, y = toy
    averaged = _tiny(epochs=2).set_params(generator_ema=None).fit(X, y)
    assert "generator_ema_" in averaged._module_names
    # One update per step: the average has followed every step of the fit.
    steps = len(X) // effective_batch_size(averaged.batch_size, len(X))
    assert float(averaged.generator_ema_.updates) == 2 * steps
    before = averaged.sample(200, random_state=0)[0]
    with torch.no_grad():
        for p in averaged.generator_.parameters():
            p.add_(1.0)  # the trained generator no longer matters for sampling
    pd.testing.assert_frame_equal(before, averaged.sample(200, random_state=0)[0])

    plain = _tiny(epochs=2, generator_ema=0.0).fit(X, y)
    assert "generator_ema_" not in plain._module_names
    before = plain.sample(200, random_state=0)[0]
    with torch.no_grad():
        for p in plain.generator_.parameters():
            p.add_(1.0)
    assert not before.equals(plain.sample(200, random_state=0)[0])


def test_averaged_generator_round_trips_and_old_files_load(toy, tmp_path):
    import json

    X, y = toy
    syn = _tiny(epochs=2, generator_ema=0.9).fit(X, y)
    syn.save(tmp_path / "ema")
    loaded = genaug.load(tmp_path / "ema")
    pd.testing.assert_frame_equal(
        syn.sample(100, random_state=1)[0], loaded.sample(100, random_state=1)[0]
    )
    # A file written before generator_ema existed has neither the parameter nor the tensors.
    plain = _tiny(epochs=2, generator_ema=0.0).fit(X, y)
    plain.save(tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["params"]["generator_ema"]
    config_path.write_text(json.dumps(config))
    old = genaug.load(tmp_path / "old")
    assert old.generator_ema == 0.0 and "generator_ema_" not in old._module_names
    pd.testing.assert_frame_equal(
        plain.sample(100, random_state=1)[0], old.sample(100, random_state=1)[0]
    )


def test_images_have_no_averaged_generator_by_default():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.rint(data.images[:100] * (255 / 16)).astype(np.uint8)
    small = dict(epochs=1, batch_size=50, latent_dim=8, generator_hidden=(8,),
                 discriminator_hidden=(8,), device="cpu", random_state=0)
    assert "generator_ema_" not in GANSynthesizer(**small).fit(images)._module_names
    averaged = GANSynthesizer(generator_ema=0.99, **small).fit(images)
    assert "generator_ema_" in averaged._module_names
    assert averaged.sample(3, random_state=0).shape == (3, 8, 8)


@pytest.mark.parametrize("labelled", [True, False])
def test_sampling_reads_one_hot_inputs_as_lookups_of_the_same_function(labelled, monkeypatch):
    from genaug.nn.mlp import ResidualMLP

    frame = make_mixed_frame(300)
    y = np.where(frame["age"] > 50, "old", "young") if labelled else None
    syn = _tiny(epochs=2, pac=2, batch_size=100).fit(frame, y)
    c = None
    if labelled:
        c = torch.nn.functional.one_hot(torch.arange(40) % 2, 2).float()
    calls = []
    lookup = ResidualMLP.forward_one_hot

    def recorded(self, dense, active, groups=None):
        out = lookup(self, dense, active, groups)
        calls.append((self, dense, active, out))
        # Unconditional draws look up combinations of the label and the condition column.
        assert groups == ([2] if labelled else []) + [syn._condition_dim] or (
            groups is None and active.shape[1] > 1 + labelled
        )
        return out

    monkeypatch.setattr(ResidualMLP, "forward_one_hot", recorded)
    conditions = {"city": "Lima", "member": True}
    with torch.no_grad():
        syn._generate(40, c, torch.Generator().manual_seed(5), None)
        syn._generate(40, c, torch.Generator().manual_seed(5), conditions)
    n_cond = syn._condition_dim
    asked_columns = torch.as_tensor(syn._resolve_conditions(conditions))
    fixed = torch.zeros(n_cond).index_fill_(0, asked_columns, 1.0)
    for (net, dense, active, out), asked in zip(calls, [None, fixed]):
        ones = torch.zeros(40, syn.cond_dim_ + n_cond).scatter_(1, active, 1.0)
        # The one-hot part is the label, then the condition vector: one value of one column
        # per row, or the asked values.
        if labelled:
            torch.testing.assert_close(ones[:, :2], c)
        if asked is None:
            assert (ones[:, syn.cond_dim_ :].sum(1) == 1).all()
        else:
            torch.testing.assert_close(ones[:, syn.cond_dim_ :], asked.expand(40, -1))
        with torch.no_grad():
            ref = net(torch.cat([dense, ones], dim=1))
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_labels_of_conditioned_rows_follow_the_condition(tmp_path):
    from .conftest import make_labelled

    X, y = make_labelled(800)
    X["k2"] = X["k"]  # a second column with the same values: two conditions at once
    syn = _tiny(epochs=1).fit(X, y)
    _, labels = syn.sample(4000, conditions={"k": "a"}, random_state=0)
    real = (y[X["k"] == "a"] == "rare").mean()  # ~0.75, against a class rate of ~0.25
    assert abs((labels == "rare").mean() - real) < 0.03
    # Two values: P(y) prod P(v | y) from the training counts.
    rows = y.value_counts()
    a = y[X["k"] == "a"].value_counts()
    weights = {c: a[c] ** 2 / rows[c] for c in ("common", "rare")}
    expected = weights["rare"] / (weights["rare"] + weights["common"])
    got = syn._label_weights({"k": "a", "k2": "a"})
    assert np.isclose(got[list(syn.classes_).index("rare")], expected)
    syn.save(str(tmp_path / "m"))  # the counts are saved
    _, again = genaug.load(str(tmp_path / "m")).sample(4000, conditions={"k": "a"}, random_state=0)
    assert again.equals(labels)


def test_a_condition_no_training_row_holds_keeps_the_class_rates():
    syn = _tiny(epochs=1)
    from .conftest import make_labelled

    X, y = make_labelled(300)
    syn.fit(X, y)
    syn._label_category_counts[:, :] = 0  # as for a value only in early stopping's held-out rows
    assert syn._label_weights({"k": "a"}) is None
    _, labels = syn.sample(50, conditions={"k": "a"}, random_state=0)
    assert len(labels) == 50
