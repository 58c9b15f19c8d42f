"""VAESynthesizer: learning, exact conditioning, seeding, estimator rules, errors."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from genaug import VAESynthesizer
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
    TrainingDivergedError,
)

from .conftest import make_labelled, make_mixed_frame

# Small networks for the tests that check mechanics rather than what the model learned.
FAST = {"epochs": 5, "latent_dim": 8, "encoder_hidden": (32,), "decoder_hidden": (32,)}


@pytest.fixture(scope="module")
def fitted() -> tuple[VAESynthesizer, pd.DataFrame, pd.Series]:
    X, y = make_labelled()
    # Default networks: 60 epochs of 10 steps learn the toy problem (seeds 0-2 measured:
    # rare-class mean of x 2.87-2.91 for 3.0, share of "a" 0.83-0.85 for 0.9).
    return VAESynthesizer(random_state=0, epochs=60, batch_size=64).fit(X, y), X, y


def test_class_conditional_samples_follow_their_class(fitted):
    syn, _, _ = fitted
    for label, x_mean, share_a in [("rare", 3.0, 0.9), ("common", -1.0, 0.1)]:
        Xs, ys = syn.sample(2000, y=label, random_state=1)
        assert (ys == label).all() and len(Xs) == 2000
        assert abs(Xs["x"].mean() - x_mean) < 0.6, label
        assert abs((Xs["k"] == "a").mean() - share_a) < 0.15, label


def test_unconditional_marginals_and_label_rates(fitted):
    syn, X, y = fitted
    Xs, ys = syn.sample(4000, random_state=2)
    assert abs((ys == "rare").mean() - (y == "rare").mean()) < 0.03
    real = X["k"].value_counts(normalize=True)
    fake = Xs["k"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert 0.5 * np.abs(real - fake).sum() < 0.1
    assert Xs["m"].between(X["m"].min(), X["m"].max()).all()
    assert Xs.dtypes.equals(X.dtypes) and ys.name == "label"


def test_exact_counts_from_a_dict(fitted):
    syn, _, _ = fitted
    Xs, ys = syn.sample(7, y={"rare": 5, "common": 2}, random_state=0)
    assert ys.tolist() == ["rare"] * 5 + ["common"] * 2
    assert len(Xs) == 7


def test_same_seed_same_rows_and_global_rng_untouched():
    X, y = make_labelled(n=200)
    torch_state = torch.get_rng_state().clone()
    # The legacy global numpy state is what must stay untouched, hence NPY002.
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    py_state = random.getstate()
    a = VAESynthesizer(random_state=3, **FAST).fit(X, y).sample(300, random_state=9)
    b = VAESynthesizer(random_state=3, **FAST).fit(X, y).sample(300, random_state=9)
    c = VAESynthesizer(random_state=4, **FAST).fit(X, y).sample(300, random_state=9)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])  # noqa: NPY002
    assert py_state == random.getstate()
    pd.testing.assert_frame_equal(a[0], b[0])
    assert not a[0].equals(c[0])


def test_sample_seed_does_not_depend_on_earlier_calls(fitted):
    syn, _, _ = fitted
    first = syn.sample(50, random_state=11)[0]
    syn.sample(123)
    syn.sample(10, y="rare")
    again = syn.sample(50, random_state=11)[0]
    pd.testing.assert_frame_equal(first, again)
    assert not syn.sample(50)[0].equals(syn.sample(50)[0])


def test_iter_sample_chunks_concatenate_to_sample(fitted):
    syn, _, _ = fitted
    whole_X, whole_y = syn.sample(20_000, random_state=5)
    chunks = list(syn.iter_sample(20_000, random_state=5, chunk_size=7_000))
    assert [len(c[0]) for c in chunks] == [7_000, 7_000, 6_000]
    pd.testing.assert_frame_equal(pd.concat([c[0] for c in chunks], ignore_index=True), whole_X)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), whole_y.to_numpy())


def test_mixed_types_without_labels_returns_only_x():
    frame = make_mixed_frame(n=300)
    syn = VAESynthesizer(random_state=0, **{**FAST, "epochs": 5}).fit(frame)
    out = syn.sample(100, random_state=0)
    assert isinstance(out, pd.DataFrame)
    assert out.dtypes.equals(frame.dtypes)
    assert out["color"].cat.categories.tolist() == frame["color"].cat.categories.tolist()
    assert 0 < out["income"].isna().mean() < 0.35
    with pytest.raises(InvalidParameterError, match="without labels"):
        syn.sample(5, y="rare")


def test_numpy_input_gives_numpy_output():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = rng.integers(0, 2, 200)
    Xs, ys = (
        VAESynthesizer(random_state=0, **{**FAST, "epochs": 3})
        .fit(X, y)
        .sample(10, y=1, random_state=0)
    )
    assert isinstance(Xs, np.ndarray) and Xs.shape == (10, 3) and Xs.dtype == X.dtype
    assert isinstance(ys, np.ndarray) and (ys == 1).all() and ys.dtype == y.dtype


def test_estimator_rules(fitted):
    syn, _, _ = fitted
    params = syn.get_params()
    assert params["epochs"] == 60 and params["random_state"] == 0
    fresh = clone(syn)
    assert not hasattr(fresh, "codec_") and fresh.get_params() == params
    restored = pickle.loads(pickle.dumps(syn))
    pd.testing.assert_frame_equal(
        restored.sample(30, random_state=1)[0], syn.sample(30, random_state=1)[0]
    )
    assert syn.encode(make_labelled(n=20)[0], make_labelled(n=20)[1]).shape == (20, 128)


def test_verbose_shows_a_progress_bar(capsys):
    X, y = make_labelled(n=100)
    VAESynthesizer(random_state=0, verbose=True, **{**FAST, "epochs": 2}).fit(X, y)
    err = capsys.readouterr().err
    assert "VAESynthesizer" in err and "loss=" in err


class _Diverging(VAESynthesizer):
    def _train_step(self, x, c, optimizers, generator):
        losses = super()._train_step(x, c, optimizers, generator)
        return {**losses, "loss": losses["loss"] * float("nan")}


def test_nan_loss_stops_with_epoch_and_advice():
    X, y = make_labelled(n=100)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1.*lower learning_rate"):
        _Diverging(random_state=0, **FAST).fit(X, y)


def test_a_failed_fit_leaves_the_model_unfitted_and_a_refit_starts_clean():
    X, y = make_labelled(n=100)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y)
    assert hasattr(syn, "prior_") and list(syn.feature_names_in_) == ["x", "k", "m"]
    broken = _Diverging(random_state=0, **FAST)
    broken.__dict__.update(syn.__dict__)  # fitted, as if by an earlier fit
    with pytest.raises(TrainingDivergedError):
        broken.fit(X, y)
    with pytest.raises(NotFittedError):
        broken.sample(5)  # not NaN rows from the diverged weights
    # A refit on unlabelled, unnamed data keeps nothing of the labelled frame's fit.
    syn.fit(X[["x", "m"]].to_numpy())
    assert not hasattr(syn, "feature_names_in_") and not hasattr(syn, "prior_")
    assert syn.classes_ is None and syn.n_features_in_ == 2


class _Overflowing(VAESynthesizer):
    def _train_step(self, x, c, optimizers, generator):
        losses = super()._train_step(x, c, optimizers, generator)
        with torch.no_grad():
            self.decoder_.net.head.bias.fill_(float("inf"))  # finite losses, broken weights
        return {k: v.nan_to_num(0.0) for k, v in losses.items()}


def test_non_finite_weights_stop_the_fit_and_cannot_be_saved(tmp_path):
    X, y = make_labelled(n=100)
    with pytest.raises(TrainingDivergedError, match=r"'.*' became non-finite in epoch 1"):
        _Overflowing(random_state=0, **FAST).fit(X, y)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y)
    with torch.no_grad():
        syn.decoder_.net.head.bias.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="cannot be saved"):
        syn.save(str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_devices_this_build_lacks_are_named():
    X, y = make_labelled(n=100)
    for device in ("mps", "meta"):
        with pytest.raises(InvalidParameterError, match=f"device='{device}' is not available"):
            VAESynthesizer(device=device, **FAST).fit(X, y)


def test_sample_errors(fitted):
    syn, _, _ = fitted
    with pytest.raises(InvalidParameterError, match="n must be a positive integer"):
        syn.sample(0)
    with pytest.raises(InvalidParameterError, match="n must be"):
        syn.sample(2.5)
    with pytest.raises(InvalidParameterError, match="'unknown' was not seen"):
        syn.sample(5, y="unknown")
    with pytest.raises(InvalidParameterError, match="add up to 3"):
        syn.sample(5, y={"rare": 3})
    with pytest.raises(NotFittedError, match="not fitted"):
        VAESynthesizer().sample(5)
    with pytest.raises(InvalidParameterError, match="cannot condition on feature"):
        syn.sample(5, conditions={"k": "a"})


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (pd.DataFrame({"a": []}), None, "empty"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [0, 1], "3 rows but y has 2"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), ["x", "x", "x"], "single class"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), ["x", None, "y"], "missing labels"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [0.5, 1.0, 2.0], "non-integer"),
        (pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, np.nan]}), None, "'b'.*missing"),
        (pd.DataFrame({"a": [1.0, np.inf, 2.0]}), None, "'a'.*infinite"),
        (pd.DataFrame({"a": [1.0]}), None, "one row"),
        (np.zeros(5), None, "2-D"),
    ],
)
def test_bad_fit_input(X, y, match):
    with pytest.raises(InvalidDataError, match=match):
        VAESynthesizer(epochs=1).fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("epochs", 0),
        ("epochs", 1.5),
        ("batch_size", 1),
        ("learning_rate", -1.0),
        ("beta", 0.0),
        ("encoder_hidden", (0,)),
        ("continuous_encoding", "gmm"),
        ("random_state", -3),
        ("verbose", "yes"),
    ],
)
def test_bad_parameters_name_the_parameter(param, value):
    X, y = make_labelled(n=50)
    with pytest.raises(InvalidParameterError, match=repr(param)):
        VAESynthesizer(**{param: value}).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_without_gpu_is_a_clear_error():
    X, y = make_labelled(n=50)
    with pytest.raises(InvalidParameterError, match="no GPU"):
        VAESynthesizer(epochs=1, device="cuda").fit(X, y)
    assert VAESynthesizer(epochs=1, device="auto").fit(X, y).device_.type == "cpu"


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", object, "category"])
def test_labels_come_back_in_their_dtype(dtype):
    if dtype == "string[pyarrow]":
        pytest.importorskip("pyarrow")
    X, y = make_labelled(200)
    y = y.astype(dtype)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y)
    _, ys = syn.sample(50, y={"rare": 20, "common": 30}, random_state=0)
    assert ys.dtype == y.dtype and ys.name == "label"
    assert ys.tolist() == ["rare"] * 20 + ["common"] * 30


def test_categorical_labels_keep_their_categories_and_order_through_save(tmp_path):
    import genaug

    X, y = make_labelled(200)
    y = y.astype(pd.CategoricalDtype(["rare", "common", "unused"], ordered=True))
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y)
    syn.save(str(tmp_path / "m"))
    for model in (syn, genaug.load(str(tmp_path / "m"))):
        _, ys = model.sample(5, y={"rare": 2, "common": 3}, random_state=0)
        assert ys.dtype == y.dtype  # categories, their order and ordered=True
        assert (ys < "common").tolist() == [True, True, False, False, False]


@pytest.mark.parametrize(
    "edit",
    [
        {"name": ["a", "b"]},  # not a name: sample() failed on it after load
        {"categories": ["common"], "ordered": False},  # misses a class
        {"categories": ["rare", "common"], "ordered": "yes"},
    ],
)
def test_edited_label_metadata_is_refused_on_load(tmp_path, edit):
    import json

    import genaug
    from genaug.exceptions import ModelFileError

    X, y = make_labelled(200)
    y = y.astype(pd.CategoricalDtype(["rare", "common"]))
    VAESynthesizer(random_state=0, **FAST).fit(X, y).save(str(tmp_path / "m"))
    config = tmp_path / "m" / "config.json"
    content = json.loads(config.read_text())
    content["state"]["labels"].update(edit)
    config.write_text(json.dumps(content))
    with pytest.raises(ModelFileError, match="label"):
        genaug.load(str(tmp_path / "m"))


def test_arrow_string_labels_load_without_pyarrow(tmp_path, monkeypatch):
    import genaug

    pytest.importorskip("pyarrow")
    X, y = make_labelled(200)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y.astype("string[pyarrow]"))
    syn.save(str(tmp_path / "m"))
    real = pd.api.types.pandas_dtype

    def without_pyarrow(dtype):
        if isinstance(dtype, str) and "pyarrow" in dtype:
            raise ImportError("pyarrow>=10.0.1 is required for PyArrow backed StringArray.")
        return real(dtype)

    monkeypatch.setattr(pd.api.types, "pandas_dtype", without_pyarrow)
    _, ys = genaug.load(str(tmp_path / "m")).sample(4, y={"rare": 4}, random_state=0)
    assert ys.dtype == pd.StringDtype("python") and ys.tolist() == ["rare"] * 4


def test_tuple_names_in_discrete_columns_survive_save(tmp_path):
    import genaug

    X, y = make_labelled(200)
    X.columns = pd.MultiIndex.from_tuples([("num", name) for name in X.columns])
    discrete = [X.columns[-1]]
    syn = VAESynthesizer(random_state=0, discrete_columns=discrete, **FAST).fit(X, y)
    syn.save(str(tmp_path / "m"))
    loaded = genaug.load(str(tmp_path / "m"))
    assert loaded.discrete_columns == discrete
    # The copy check encodes the reference with the saved parameters (lists failed there).
    rows, _ = loaded.sample(10, y={"rare": 10}, random_state=0, reject_copies=True, reference=X)
    assert list(rows.columns) == list(X.columns)


def test_labels_of_types_that_do_not_sort_are_named():
    X, _ = make_labelled(200)
    mixed = np.array([1, "a"] * 100, dtype=object)
    with pytest.raises(InvalidDataError, match=r"y mixes label types.*int, str.*astype\(str\)"):
        VAESynthesizer(**FAST).fit(X, mixed)


def _prior_and_reference():
    from genaug.synthesizers.vae import _ConditionalPrior

    torch.manual_seed(0)
    prior = _ConditionalPrior(3, 8)
    labels = torch.tensor([2, 0, 1, 2, 2])
    eps = torch.randn(5, 8)
    with torch.no_grad():
        mu, logvar = prior(torch.nn.functional.one_hot(labels, 3).float())
        expected = mu + torch.exp(0.5 * logvar) * eps
    return prior, torch.nn.functional.one_hot(labels, 3).float(), eps, expected


def _exact_lookup(prior, c, eps):
    mu, logvar = prior.table.weight.t().chunk(2, dim=1)
    labels = c.argmax(1)
    return torch.addcmul(mu[labels], torch.exp(0.5 * logvar)[labels], eps)


def test_the_priors_draw_by_lookup_equals_the_one_hot_product():
    prior, c, eps, expected = _prior_and_reference()
    with torch.no_grad():
        torch.testing.assert_close(prior.draw(c, eps), expected)
        # The lookup by products is exact: the same bits as gathering each row's class.
        assert torch.equal(prior.draw(c, eps), _exact_lookup(prior, c, eps))


@pytest.mark.parametrize("setting", ["reduced_matmul", "autocast", "infinite_mean", "huge_scale"])
def test_the_priors_draw_stays_exact_where_products_would_round(setting):
    prior, c, eps, _ = _prior_and_reference()
    with torch.no_grad():
        if setting in ("infinite_mean", "huge_scale"):
            # Another class's non-finite mean or scale must not reach these rows (0 * inf
            # is NaN): class 1's first mean, or its first log-variance (exp(5,000) = inf).
            row = 0 if setting == "infinite_mean" else 8
            prior.table.weight[row, 1] = float("inf") if row == 0 else 1e4
            c = c[c[:, 1] == 0]
            eps = eps[: len(c)]
        expected = _exact_lookup(prior, c, eps)
        if setting == "reduced_matmul":
            before = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision("medium")
            try:
                got = prior.draw(c, eps)
            finally:
                torch.set_float32_matmul_precision(before)
        elif setting == "autocast":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                got = prior.draw(c, eps)
        else:
            got = prior.draw(c, eps)
    assert got.dtype == torch.float32 and torch.equal(got, expected)


@pytest.mark.parametrize("exact", [True, False])
def test_the_priors_draw_gathers_rows_where_products_may_round(monkeypatch, exact):
    import genaug.synthesizers.vae as vae_module

    prior, c, eps, _ = _prior_and_reference()
    gathered = []
    embedding = torch.nn.functional.embedding

    def spy(*args, **kwargs):
        gathered.append(True)
        return embedding(*args, **kwargs)

    monkeypatch.setattr(vae_module, "exact_float32_products", lambda device: exact)
    monkeypatch.setattr(torch.nn.functional, "embedding", spy)
    with torch.no_grad():
        got = prior.draw(c, eps)
    assert bool(gathered) is not exact
    assert torch.equal(got, _exact_lookup(prior, c, eps))


def test_an_interrupted_fit_leaves_the_model_unfitted():
    class _Interrupted(VAESynthesizer):
        def _train_step(self, x, c, optimizers, generator):
            raise KeyboardInterrupt

    X, y = make_labelled(n=100)
    syn = _Interrupted(random_state=0, **FAST)
    with pytest.raises(KeyboardInterrupt):
        syn.fit(X, y)
    with pytest.raises(NotFittedError):
        syn.sample(5)


def test_a_tuple_label_name_survives_save(tmp_path):
    import genaug

    X, y = make_labelled(200)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y.rename(("t", "y")))
    syn.save(str(tmp_path / "m"))
    _, ys = genaug.load(str(tmp_path / "m")).sample(3, random_state=0)
    assert ys.name == ("t", "y")
