"""Images: ImageCodec round trips, the three synthesizers on scikit-learn's digits, save/load,
seeding, and the image grid."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits

import genaug
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.data import ImageCodec, as_nchw, is_image_data
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
)
from genaug.nn.conv import conv_plan

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

TINY = {
    VAESynthesizer: {"encoder_hidden": (16,), "decoder_hidden": (16,)},
    GANSynthesizer: {"generator_hidden": (16,), "discriminator_hidden": (16,)},
    VAEGANSynthesizer: {
        "encoder_hidden": (16,),
        "decoder_hidden": (16,),
        "discriminator_hidden": (16,),
    },
}
FAMILIES = list(TINY)


def tiny(cls, **params):
    defaults = {"epochs": 2, "batch_size": 64, "latent_dim": 8, "device": "cpu"}
    return cls(**{**defaults, **TINY[cls], **params})


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as uint8 images (0..16 rescaled to 0..255) and labels."""
    data = load_digits()
    images = np.rint(data.images * (255 / 16)).astype(np.uint8)
    return images[:600], data.target[:600]


@pytest.fixture(scope="module")
def fitted(digits) -> dict:
    X, y = digits
    return {cls: tiny(cls, random_state=0).fit(X, y) for cls in FAMILIES}


# ------------------------------------------------------------------ the codec
def make_images(layout: str, channels: int, kind: str, n: int = 5, h: int = 7, w: int = 10):
    rng = np.random.default_rng(0)
    shape = {"NHW": (n, h, w), "NHWC": (n, h, w, channels), "NCHW": (n, channels, h, w)}[layout]
    if kind == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == "float01":
        return rng.random(shape, dtype=np.float32)
    return (rng.random(shape) * 2 - 1).astype(np.float64)


LAYOUT_CASES = [("NHW", 1), ("NHWC", 1), ("NHWC", 3), ("NCHW", 1), ("NCHW", 3)]


@pytest.mark.parametrize("container", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["uint8", "float01", "float11"])
@pytest.mark.parametrize(("layout", "channels"), LAYOUT_CASES)
def test_codec_round_trip_keeps_layout_dtype_and_values(layout, channels, kind, container):
    X = make_images(layout, channels, kind)
    if container == "torch":
        X = torch.from_numpy(X)
    codec = ImageCodec().fit(X)
    assert codec.layout_ == layout
    Z = codec.transform(X)
    assert Z.dtype == np.float32 and Z.shape == (5, channels, 16, 16)
    assert Z.min() >= -1.0 and Z.max() <= 1.0
    back = codec.inverse_transform(Z)
    assert type(back) is type(X)
    assert back.shape == X.shape and back.dtype == X.dtype
    if kind == "uint8":
        assert (np.asarray(back) == np.asarray(X)).all()  # exact
    else:
        np.testing.assert_allclose(np.asarray(back), np.asarray(X), atol=1e-6)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_codec_round_trip_of_pil_images_is_exact(mode):
    X = make_images("NHW" if mode == "L" else "NHWC", 3, "uint8")
    images = [Image.fromarray(a) for a in X]
    codec = ImageCodec().fit(images)
    back = codec.inverse_transform(codec.transform(images))
    assert isinstance(back, list) and len(back) == len(images)
    assert all(b.mode == mode and b.size == (10, 7) for b in back)
    assert (np.stack([np.asarray(b) for b in back]) == X).all()


def test_integer_images_of_other_dtypes_round_trip():
    X = make_images("NHW", 1, "uint8").astype(np.int64)
    codec = ImageCodec().fit(X)
    back = codec.inverse_transform(codec.transform(X))
    assert back.dtype == np.int64 and (back == X).all()


@pytest.mark.parametrize(
    ("shape", "side"), [((3, 28, 28), 32), ((3, 5, 5), 8), ((3, 28, 20, 3), 32), ((3, 8, 8), 8)]
)
def test_images_are_padded_to_a_multiple_of_8_and_cropped_back(shape, side):
    X = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    codec = ImageCodec().fit(X)
    Z = codec.transform(X)
    assert Z.shape[2:] == (side, side)
    assert (codec.inverse_transform(Z) == X).all()
    assert conv_plan(side)[1] >= 4


def test_padding_repeats_the_edge_pixels():
    X = np.zeros((2, 5, 5), dtype=np.uint8)
    X[:, :, -1] = 255
    Z = ImageCodec().fit(X).transform(X)
    assert (Z[:, 0, :, -1] == 1.0).all()  # the right border repeats the white column
    assert (Z[:, 0, :, 0] == -1.0).all()


def test_ambiguous_shapes_need_an_explicit_layout():
    X = np.zeros((4, 3, 5, 3), dtype=np.uint8)
    with pytest.raises(InvalidDataError, match="could be N x H x W x C or N x C x H x W"):
        ImageCodec().fit(X)
    codec = ImageCodec(layout="NCHW").fit(X)
    assert codec.output_shape_ == (3, 8, 8)
    assert ImageCodec(layout="NHWC").fit(X).output_shape_ == (3, 8, 8)
    assert (codec.inverse_transform(codec.transform(X)) == X).all()
    with pytest.raises(InvalidDataError, match="do not fit layout='NHW'"):
        ImageCodec(layout="NHW").fit(X)


def test_large_images_need_image_size_which_resizes_and_restores():
    X = np.random.default_rng(0).integers(0, 256, (2, 150, 140, 3), dtype=np.uint8)
    with pytest.raises(InvalidDataError, match=r"150 x 140.*image_size"):
        ImageCodec().fit(X)
    codec = ImageCodec(image_size=32).fit(X)
    Z = codec.transform(X)
    assert Z.shape == (2, 3, 32, 32)
    back = codec.inverse_transform(Z)
    assert back.shape == X.shape and back.dtype == np.uint8


def test_pil_images_of_different_sizes_need_image_size():
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))
        for h, w in ((10, 12), (9, 9), (16, 8))
    ]
    with pytest.raises(InvalidDataError, match=r"different sizes.*image_size"):
        ImageCodec().fit(images)
    codec = ImageCodec(image_size=12).fit(images)
    back = codec.inverse_transform(codec.transform(images))
    assert [b.size for b in back] == [(12, 12)] * 3


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.full((2, 8, 8), 2.0), r"\[0, 1\] or \[-1, 1\]"),
        (np.full((2, 8, 8), 300, dtype=np.int32), "0..255"),
        (np.zeros((2, 8, 8), dtype=bool), "dtype bool"),
        (np.full((2, 8, 8), np.nan), "NaN"),
        (np.zeros((2, 8, 8, 5)), "channel axis of size 1 or 3"),
        ([Image.new("RGBA", (4, 4))] * 2, r"mode\(s\) \['RGBA'\].*convert"),
    ],
    ids=["float-range", "int-range", "bool", "nan", "channels", "pil-mode"],
)
def test_unusable_images_are_refused_with_a_clear_error(X, match):
    with pytest.raises(InvalidDataError, match=match):
        ImageCodec().fit(X)


def test_codec_checks_its_parameters_and_fitting():
    with pytest.raises(InvalidParameterError, match="layout must be one of"):
        ImageCodec(layout="HWC").fit(np.zeros((2, 4, 4)))
    with pytest.raises(InvalidParameterError, match="value_range"):
        ImageCodec(value_range=(0, 255)).fit(np.zeros((2, 4, 4)))
    with pytest.raises(NotFittedError):
        ImageCodec().transform(np.zeros((2, 4, 4)))
    codec = ImageCodec().fit(np.zeros((2, 4, 4), dtype=np.uint8))
    with pytest.raises(InvalidDataError, match="Expected images of 1 channel"):
        codec.transform(np.zeros((2, 5, 4), dtype=np.uint8))
    with pytest.raises(InvalidDataError, match="dtype uint8"):
        codec.transform(np.zeros((2, 4, 4), dtype=np.float32))


def test_value_range_can_be_given_for_nonnegative_minus_one_to_one_images():
    X = np.random.default_rng(0).random((3, 6, 6)).astype(np.float32)  # no negative value
    assert ImageCodec().fit(X).scale_ == (0.0, 1.0)
    codec = ImageCodec(value_range=(-1, 1)).fit(X)
    np.testing.assert_allclose(codec.transform(X), np.pad(X, ((0, 0), (1, 1), (1, 1)), "edge")[
        :, None
    ], atol=1e-6)


def test_codec_state_round_trips_through_json():
    X = torch.from_numpy(make_images("NCHW", 3, "float01"))
    codec = ImageCodec().fit(X)
    state = json.loads(json.dumps(codec.to_dict()))
    again = ImageCodec.from_dict(state)
    Z = codec.transform(X)
    assert torch.equal(again.inverse_transform(Z), codec.inverse_transform(Z))
    for key, value in (("state_version", 99), ("channels", 2), ("size", 4), ("container", "x")):
        with pytest.raises(ModelFileError):
            ImageCodec.from_dict({**state, key: value})
    with pytest.raises(ModelFileError, match="malformed"):
        ImageCodec.from_dict({k: v for k, v in state.items() if k != "scale"})


def test_image_data_is_told_from_tables():
    assert is_image_data(np.zeros((2, 4, 4)))
    assert is_image_data(torch.zeros(2, 1, 4, 4))
    assert is_image_data([Image.new("L", (4, 4))])
    assert not is_image_data(np.zeros((2, 4)))
    assert not is_image_data(pd.DataFrame({"a": [1, 2]}))
    assert not is_image_data([[1, 2], [3, 4]])
    assert as_nchw([Image.new("RGB", (5, 4))]).shape == (1, 3, 4, 5)


# ------------------------------------------------------------------ synthesizers
@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_synthesizers_train_on_digits_and_sample_exact_classes(cls, fitted):
    syn = fitted[cls]
    assert syn.codec_.output_shape_ == (1, 8, 8)
    assert syn.layout_ is None
    losses = {k: v for k, v in syn.history_.items() if k != "epoch"}
    assert losses and all(np.isfinite(v).all() for v in losses.values())
    images, labels = syn.sample(30, y=3, random_state=0)
    assert images.shape == (30, 8, 8) and images.dtype == np.uint8
    assert (labels == 3).all()
    images, labels = syn.sample(25, y={0: 5, 7: 20}, random_state=0)
    assert images.shape == (25, 8, 8)
    assert labels.tolist() == [0] * 5 + [7] * 20
    _, labels = syn.sample(200, random_state=0)
    assert set(labels.tolist()) <= set(range(10))
    # The label reaches the networks: the classes' mean images differ.
    zeros = syn.sample(50, y=0, random_state=1)[0].astype(float).mean(0)
    ones = syn.sample(50, y=1, random_state=1)[0].astype(float).mean(0)
    assert np.abs(zeros - ones).max() > 1.0


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_training_steps_change_every_network(cls, digits):
    X, y = digits
    one = tiny(cls, random_state=0, epochs=1).fit(X[:256], y[:256])
    two = tiny(cls, random_state=0, epochs=2).fit(X[:256], y[:256])  # same init, more steps
    for name, module in one._modules().items():
        after = two._modules()[name].state_dict()
        changed = [
            not torch.equal(v, after[k])
            for k, v in module.state_dict().items()
            if v.is_floating_point()
        ]
        assert any(changed), name


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_save_and_load_give_identical_samples(cls, fitted, tmp_path):
    syn = fitted[cls]
    syn.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["state"]["codec_kind"] == "image"
    again = genaug.load(tmp_path / "model")
    assert isinstance(again.codec_, ImageCodec)
    a, la = syn.sample(40, random_state=5)
    b, lb = again.sample(40, random_state=5)
    assert (a == b).all() and (la == lb).all()


def test_loading_checks_weights_against_the_image_networks(fitted, tmp_path):
    fitted[VAESynthesizer].save(tmp_path / "model")
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text())
    config["state"]["codec"]["size"] = 16  # networks for 16 x 16 images: other shapes
    path.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"model\.safetensors|data_dim"):
        genaug.load(tmp_path / "model")
    config["state"]["codec_kind"] = "audio"
    path.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="unknown codec kind 'audio'"):
        genaug.load(tmp_path / "model")


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_same_seed_same_images_and_global_rng_untouched(cls, digits):
    X, y = digits
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - the global state must stay
    a = tiny(cls, random_state=3, epochs=1).fit(X[:200], y[:200]).sample(20, random_state=1)[0]
    b = tiny(cls, random_state=3, epochs=1).fit(X[:200], y[:200]).sample(20, random_state=1)[0]
    c = tiny(cls, random_state=4, epochs=1).fit(X[:200], y[:200]).sample(20, random_state=1)[0]
    assert (a == b).all() and not (a == c).all()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert (np.random.get_state()[1] == np_state).all()  # noqa: NPY002


def test_input_form_comes_back_for_tensors_and_pil(digits):
    X, y = digits
    tensor = torch.from_numpy(X[:128, None].astype(np.float32) / 255)  # N x 1 x 8 x 8 in [0, 1]
    syn = tiny(VAESynthesizer, random_state=0, epochs=1).fit(tensor, y[:128])
    images, _ = syn.sample(6, y=2, random_state=0)
    assert isinstance(images, torch.Tensor) and images.shape == (6, 1, 8, 8)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    rgb = [Image.fromarray(np.repeat(a[..., None], 3, axis=2)) for a in X[:128]]
    syn = tiny(GANSynthesizer, random_state=0, epochs=1).fit(rgb)
    images = syn.sample(3, random_state=0)  # no labels: images only
    assert isinstance(images, list) and images[0].mode == "RGB" and images[0].size == (8, 8)


def test_iter_sample_chunks_equal_one_sample(fitted):
    syn = fitted[VAEGANSynthesizer]
    whole, labels = syn.sample(300, random_state=2)
    chunks = list(syn.iter_sample(300, random_state=2, chunk_size=128))
    assert [len(c[0]) for c in chunks] == [128, 128, 44]
    assert (np.concatenate([c[0] for c in chunks]) == whole).all()
    assert (np.concatenate([c[1] for c in chunks]) == labels).all()


def test_encode_gives_latent_means_of_images(fitted, digits):
    X, y = digits
    codes = fitted[VAEGANSynthesizer].encode(X[:7], y[:7])
    assert codes.shape == (7, 8) and np.isfinite(codes).all()
    with pytest.raises(InvalidDataError, match="pass y"):
        fitted[VAESynthesizer].encode(X[:7])


def test_gan_refuses_feature_conditions_on_images(fitted):
    with pytest.raises(InvalidParameterError, match="fitted on images"):
        fitted[GANSynthesizer].sample(4, conditions={"pixel": 1})


def test_image_options_are_validated(digits):
    X, y = digits
    with pytest.raises(InvalidParameterError, match="'image_size' parameter"):
        tiny(VAESynthesizer, image_size=2).fit(X, y)
    with pytest.raises(InvalidDataError, match="one image"):
        tiny(VAESynthesizer).fit(X[:1])
    with pytest.raises(InvalidDataError, match="X has 600 rows but y has 3"):
        tiny(VAESynthesizer).fit(X, y[:3])


def test_image_size_resizes_for_the_networks_and_back(digits):
    X, y = digits
    syn = tiny(VAESynthesizer, image_size=16, random_state=0, epochs=1).fit(X[:128], y[:128])
    assert syn.codec_.output_shape_ == (1, 16, 16)
    assert syn.sample(4, y=1, random_state=0)[0].shape == (4, 8, 8)


def test_gan_with_packing_dropout_and_early_stopping_on_images(digits):
    X, y = digits
    syn = tiny(
        GANSynthesizer,
        pac=2,
        discriminator_dropout=0.2,
        early_stopping=True,
        validation_every=1,
        random_state=0,
    ).fit(X[:300], y[:300])
    assert len(syn.history_["validation_detection_auc"]) == 2
    assert syn.best_epoch_ in (1, 2)
    assert syn.sample(4, y=5, random_state=0)[0].shape == (4, 8, 8)


def test_utility_early_stopping_is_refused_on_images(digits):
    X, y = digits
    syn = tiny(GANSynthesizer, early_stopping=True, validation_metric="utility")
    with pytest.raises(InvalidParameterError, match="images are scored by detection"):
        syn.fit(X[:100], y[:100])


def test_vaegan_with_wgan_gp_on_images(digits):
    X, y = digits
    syn = tiny(VAEGANSynthesizer, adversarial_loss="wgan-gp", random_state=0, epochs=1)
    syn.fit(X[:200], y[:200])
    assert "gradient_penalty" in syn.history_ and "categorical" not in syn.history_


# ------------------------------------------------------------------ plots
def test_image_grid_draws_one_tile_per_image_with_labels(digits):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genaug.plot import image_grid

    X, y = digits
    ax = image_grid(X[:10], labels=y[:10], ncols=4)
    mosaic = ax.get_images()[0].get_array()
    assert mosaic.shape[:2] == (3 * 9 + 1, 4 * 9 + 1)  # 3 rows of 4 tiles, 1-pixel borders
    assert [t.get_text() for t in ax.texts] == [str(v) for v in y[:10]]
    _, axes = plt.subplots(1, 2)
    rgb = np.random.default_rng(0).random((3, 3, 6, 5))  # N x C x H x W floats
    assert image_grid(rgb, ax=axes[1]) is axes[1]
    plt.close("all")
    with pytest.raises(InvalidParameterError, match="labels has 2 entries"):
        image_grid(X[:10], labels=[1, 2])


def test_image_grid_says_how_to_install_matplotlib(monkeypatch, digits):
    from genaug.plot import image_grid

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install genaug\[plot\]"):
        image_grid(digits[0][:4])
