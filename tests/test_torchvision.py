"""The torchvision adapter: lazy reproducible SyntheticDataset (also in DataLoader workers),
augment_dataset counts, classes and mask, and fitting from an ImageFolder of PNGs written to
a temporary folder."""

from __future__ import annotations

import pickle
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

torchvision = pytest.importorskip("torchvision")
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from torchvision.datasets import ImageFolder  # noqa: E402
from torchvision.transforms import ToTensor  # noqa: E402

from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer  # noqa: E402
from genaug.adapters.torchvision import (  # noqa: E402
    AugmentedDataset,
    SyntheticDataset,
    augment_dataset,
    fit_from_dataset,
)
from genaug.exceptions import (  # noqa: E402
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
)

TINY = {
    "epochs": 1,
    "batch_size": 32,
    "latent_dim": 8,
    "encoder_hidden": (16,),
    "decoder_hidden": (16,),
    "device": "cpu",
}


def tiny_vae(**params) -> VAESynthesizer:
    return VAESynthesizer(**{**TINY, **params})


@pytest.fixture(scope="module")
def digits_syn() -> VAESynthesizer:
    data = load_digits()
    X = np.rint(data.images[:400] * (255 / 16)).astype(np.uint8)
    return tiny_vae(random_state=0).fit(X, data.target[:400])


CLASSES = ("cat", "dog", "owl")


@pytest.fixture
def image_folder(tmp_path):
    """Three class folders of small RGB PNGs whose colour depends on the class."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (tmp_path / name).mkdir()
        for i in range(8 + 4 * k):
            pixels = rng.integers(0, 60, (8, 8, 3), dtype=np.uint8)
            pixels[..., k] += 180
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    return tmp_path


def as_tensor(item) -> torch.Tensor:
    return item if isinstance(item, torch.Tensor) else torch.from_numpy(np.asarray(item))


# ------------------------------------------------------------------ SyntheticDataset
def test_items_are_pil_images_with_labels_and_transforms_apply(digits_syn):
    ds = SyntheticDataset(digits_syn, 10, y=3, random_state=0)
    image, label = ds[0]
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (8, 8)
    assert label == 3 and len(ds) == 10
    ds = SyntheticDataset(
        digits_syn, 10, y=3, transform=ToTensor(), target_transform=str, random_state=0
    )
    image, label = ds[-1]
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32 and label == "3"
    with pytest.raises(IndexError):
        ds[10]


def test_items_do_not_depend_on_the_access_order_or_batch_cache(digits_syn):
    forward = SyntheticDataset(digits_syn, 70, random_state=1, batch_size=16)
    backward = SyntheticDataset(digits_syn, 70, random_state=1, batch_size=16)
    items_f = [forward[i] for i in range(70)]
    items_b = [backward[i] for i in reversed(range(70))][::-1]
    for (a, la), (b, lb) in zip(items_f, items_b):
        assert np.array_equal(np.asarray(a), np.asarray(b)) and la == lb
    other = SyntheticDataset(digits_syn, 70, random_state=2, batch_size=16)
    assert not all(np.array_equal(np.asarray(a), np.asarray(other[i][0]))
                   for i, (a, _) in enumerate(items_f))


def test_dataloader_with_two_workers_gives_the_same_items(digits_syn):
    ds = SyntheticDataset(
        digits_syn, 50, y={0: 20, 7: 30}, transform=ToTensor(), random_state=0, batch_size=16
    )
    serial = list(DataLoader(ds, batch_size=8, num_workers=0))
    parallel = list(DataLoader(ds, batch_size=8, num_workers=2))
    assert torch.equal(torch.cat([b[0] for b in serial]), torch.cat([b[0] for b in parallel]))
    labels = torch.cat([b[1] for b in parallel])
    assert labels.tolist() == [0] * 20 + [7] * 30


def test_labels_given_per_item_are_followed(digits_syn):
    y = np.array([5, 1, 5, 2, 9, 1] * 5)
    ds = SyntheticDataset(digits_syn, 30, y=y, random_state=0, batch_size=8)
    assert [ds[i][1] for i in range(30)] == y.tolist()
    # An item's image is the one drawn for its label in its batch: class means differ.
    fives = np.mean([np.asarray(ds[i][0], float) for i in np.flatnonzero(y == 5)], axis=0)
    ones = np.mean([np.asarray(ds[i][0], float) for i in np.flatnonzero(y == 1)], axis=0)
    assert np.abs(fives - ones).max() > 1.0


def test_the_dataset_pickles_without_its_cache(digits_syn):
    ds = SyntheticDataset(digits_syn, 20, random_state=0, batch_size=8)
    first = ds[3]
    again = pickle.loads(pickle.dumps(ds))
    assert again._cache == {}
    assert np.array_equal(np.asarray(again[3][0]), np.asarray(first[0]))
    assert again[3][1] == first[1]


def test_float_tensor_synthesizers_give_tensor_items():
    X = torch.rand(64, 1, 8, 8)
    syn = tiny_vae(random_state=0).fit(X)  # no labels: items are images alone
    item = SyntheticDataset(syn, 5, random_state=0)[2]
    assert isinstance(item, torch.Tensor) and item.shape == (1, 8, 8)
    assert item.dtype == torch.float32


def test_synthetic_dataset_errors_say_what_to_do(digits_syn):
    with pytest.raises(NotFittedError, match="not fitted"):
        SyntheticDataset(tiny_vae(), 5)
    table = tiny_vae(random_state=0).fit(np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(InvalidParameterError, match="fitted on a table"):
        SyntheticDataset(table, 5)
    with pytest.raises(InvalidParameterError, match="add up to 4, not n=5"):
        SyntheticDataset(digits_syn, 5, y={1: 4})
    with pytest.raises(InvalidParameterError, match=r"not seen in fit: \[11\]"):
        SyntheticDataset(digits_syn, 5, y=11)
    with pytest.raises(InvalidParameterError, match="n must be an integer >= 1"):
        SyntheticDataset(digits_syn, 0)


def test_labels_are_checked_before_taking_the_classes_dtype():
    X = np.random.default_rng(0).integers(0, 256, (12, 8, 8), dtype=np.uint8)
    named = tiny_vae(random_state=0).fit(X, np.array(["cat", "dog"] * 6))  # classes "<U3"
    # "dogfish" would be cut to "dog" by a "<U3" array, 1.7 rounded down to the class 1.
    for y in ("dogfish", {"cats": 3}, ["cats", "dog", "cat"]):
        with pytest.raises(InvalidParameterError, match="not seen in fit"):
            SyntheticDataset(named, 3, y=y, random_state=0)
    numbered = tiny_vae(random_state=0).fit(X, np.arange(12) % 2)
    for y in (1.7, {0.5: 3}):
        with pytest.raises(InvalidParameterError, match="not seen in fit"):
            SyntheticDataset(numbered, 3, y=y, random_state=0)
    assert SyntheticDataset(named, 3, y={"dog": 2, "cat": 1}).labels.tolist() == [
        "dog", "dog", "cat"
    ]
    assert SyntheticDataset(numbered, 2, y=1.0).labels.tolist() == [1, 1]


def test_unseeded_items_follow_the_synthesizers_seed(digits_syn):
    data = load_digits()
    X = np.rint(data.images[:200] * (255 / 16)).astype(np.uint8)

    def first_items():
        syn = tiny_vae(random_state=3).fit(X, data.target[:200])
        one, two = SyntheticDataset(syn, 4), SyntheticDataset(syn, 4)
        return [np.asarray(ds[i][0]) for ds in (one, two) for i in range(4)]

    a, b = first_items(), first_items()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))  # a seeded fit: reproducible
    # Two unseeded data sets of one synthesizer differ, as two unseeded sample() calls do.
    assert not all(np.array_equal(u, v) for u, v in zip(a[:4], a[4:]))


def test_out_of_range_message_names_the_index_given(digits_syn):
    ds = SyntheticDataset(digits_syn, 5, random_state=0)
    with pytest.raises(IndexError, match="index -6 is out of range for 5 items"):
        ds[-6]


# ------------------------------------------------------------------ ImageFolder
def test_fit_from_an_image_folder_reads_raw_images(image_folder):
    folder = ImageFolder(str(image_folder), transform=ToTensor())
    syn = fit_from_dataset(tiny_vae(random_state=0), folder)
    assert syn.classes_.tolist() == [0, 1, 2]
    assert syn.codec_.container_ == "pil" and syn.codec_.pil_mode_ == "RGB"
    images, _ = syn.sample(6, y=2, random_state=0)
    assert all(im.mode == "RGB" and im.size == (8, 8) for im in images)


def test_augment_an_image_folder_keeps_classes_and_marks_synthetic_items(image_folder):
    folder = ImageFolder(str(image_folder), transform=ToTensor())
    unfitted = tiny_vae()
    aug = augment_dataset(folder, unfitted, n_per_class=5, random_state=0)
    assert not hasattr(unfitted, "codec_")  # a clone was fitted
    assert isinstance(aug, AugmentedDataset)
    assert len(aug) == len(folder) + 15
    assert aug.classes == list(CLASSES) and aug.class_to_idx == folder.class_to_idx
    assert aug.synthetic_mask.sum() == 15 and not aug.synthetic_mask[: len(folder)].any()
    assert not aug.is_synthetic(0) and aug.is_synthetic(len(folder))
    assert aug.targets == list(folder.targets) + [0] * 5 + [1] * 5 + [2] * 5
    image, label = aug[len(aug) - 1]  # the folder's transform applies to synthetic images
    assert isinstance(image, torch.Tensor) and image.shape == (3, 8, 8) and label == 2
    batches = list(DataLoader(aug, batch_size=16, shuffle=False, num_workers=0))
    assert sum(len(b[1]) for b in batches) == len(aug)
    again = augment_dataset(folder, tiny_vae(), n_per_class=5, random_state=0)
    assert torch.equal(again[len(aug) - 1][0], image)


def test_counts_per_class_by_name_or_index(image_folder, digits_syn):
    folder = ImageFolder(str(image_folder))
    syn = fit_from_dataset(tiny_vae(random_state=0), folder)
    aug = augment_dataset(folder, syn, n_per_class={"owl": 3, 0: 2}, random_state=1)
    assert aug.synthetic.labels.tolist() == [2, 2, 2, 0, 0]
    assert isinstance(aug[len(folder)][0], Image.Image)  # no transform on either
    with pytest.raises(InvalidParameterError, match="'bat', which is not a class"):
        augment_dataset(folder, syn, n_per_class={"bat": 3})
    with pytest.raises(InvalidParameterError, match="no synthetic image"):
        augment_dataset(folder, syn, n_per_class=0)
    with pytest.raises(InvalidParameterError, match="transform must be a callable"):
        augment_dataset(folder, syn, n_per_class=1, transform="same")


def test_fit_from_any_dataset_of_image_label_pairs():
    X = torch.rand(48, 1, 8, 8)
    y = torch.arange(48) % 3
    syn = fit_from_dataset(tiny_vae(random_state=0), TensorDataset(X, y))
    assert syn.classes_.tolist() == [0, 1, 2]
    aug = augment_dataset(TensorDataset(X, y), syn, n_per_class=2, random_state=0)
    image, label = aug[len(aug) - 1]
    assert isinstance(image, torch.Tensor) and image.shape == (1, 8, 8) and label == 2
    # Tensor targets like the real ones': a DataLoader batch may mix both kinds of item.
    assert isinstance(label, torch.Tensor) and label.dtype == y.dtype
    targets = torch.cat([batch[1] for batch in DataLoader(aug, batch_size=50)])
    assert torch.equal(targets, torch.cat([y, torch.tensor([0, 0, 1, 1, 2, 2])]))
    column = TensorDataset(X, y[:, None])  # targets of shape (1,): the same for synthetic ones
    batch = list(DataLoader(augment_dataset(column, syn, n_per_class=1, random_state=0),
                            batch_size=51))[-1]
    assert batch[1].shape == (51, 1)
    unlabeled = fit_from_dataset(tiny_vae(random_state=0), TensorDataset(X), labels=False)
    assert unlabeled.classes_ is None
    with pytest.raises(InvalidDataError, match="labels=False"):
        fit_from_dataset(tiny_vae(), [X[0], X[1]])


@pytest.mark.parametrize(
    "dtype, shape",
    [
        (torch.uint8, (1, 8, 8)),
        (torch.uint8, (8, 8)),
        (torch.float32, (8, 8)),
        (torch.float32, (8, 8, 1)),
        (torch.float64, (1, 8, 8)),
    ],
)
def test_synthetic_items_take_the_form_of_tensor_items(dtype, shape):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (48, *shape), generator=g, dtype=torch.uint8)
    X = X if dtype == torch.uint8 else (X / 255).to(dtype)
    real = TensorDataset(X, torch.arange(48) % 3)
    aug = augment_dataset(real, tiny_vae(), n_per_class=2, random_state=0)
    image = aug[len(real)][0]
    assert isinstance(image, torch.Tensor) and image.dtype == dtype and image.shape == shape
    if dtype != torch.uint8:
        assert 0 <= image.min() and image.max() <= 1  # the real items' value range
    images, _ = next(iter(DataLoader(aug, batch_size=len(aug))))  # real and synthetic batch
    assert images.shape == (54, *shape)
    # A transform gets the images as SyntheticDataset gives them, as documented.
    given = augment_dataset(real, aug.synthetic.synthesizer, 1, transform=type, random_state=0)
    assert given[len(real)][0] is (Image.Image if dtype == torch.uint8 else torch.Tensor)


def test_synthetic_items_take_the_form_of_array_items():
    X = np.random.default_rng(0).integers(0, 256, (24, 8, 8, 3), dtype=np.uint8)
    real = [(x, i % 2) for i, x in enumerate(X)]
    aug = augment_dataset(real, tiny_vae(), n_per_class=1, random_state=0)
    image, label = aug[len(real)]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (8, 8, 3)
    assert label == 0


class ArrayPairs(torch.utils.data.Dataset):
    """(image, target) items as numpy values, as a data set over arrays returns them."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


@pytest.mark.parametrize(
    "targets", [np.arange(36)[:, None] % 3, (np.arange(36) % 3).astype(np.int32)]
)
def test_synthetic_targets_take_the_form_of_numpy_targets(targets):
    X = np.random.default_rng(0).random((36, 1, 8, 8), dtype=np.float32)
    real = ArrayPairs(X, targets)
    aug = augment_dataset(real, tiny_vae(), n_per_class=2, random_state=0)
    target = aug[len(real)][1]
    assert type(target) is type(real[0][1]) and target.dtype == targets.dtype
    assert np.shape(target) == np.shape(real[0][1])
    images, labels = next(iter(DataLoader(aug, batch_size=len(aug))))  # one batch
    assert images.shape == (42, 1, 8, 8) and labels.shape == (42, *targets.shape[1:])
    assert labels.dtype == torch.from_numpy(targets).dtype


def test_items_that_cannot_take_the_real_form_are_warned_about(digits_syn):
    # A model fitted on uint8 images gives PIL images; the real items are float tensors.
    X = torch.rand(30, 8, 8)
    real = TensorDataset(X, torch.arange(30) % 3)
    with pytest.warns(UserWarning, match=r"PIL images.*will not batch them together"):
        aug = augment_dataset(real, digits_syn, n_per_class=1, random_state=0)
    assert isinstance(aug[len(real)][0], Image.Image)
    with warnings.catch_warnings():  # a transform may make them alike: no warning
        warnings.simplefilter("error")
        augment_dataset(real, digits_syn, n_per_class=1, transform=ToTensor(), random_state=0)


def no_fit(*args, **kwargs):
    raise AssertionError("fitted before checking n_per_class")


def test_n_per_class_is_checked_against_any_datasets_labels_before_the_fit(monkeypatch):
    real = TensorDataset(torch.rand(12, 1, 8, 8), torch.arange(12) % 3)
    monkeypatch.setattr(VAESynthesizer, "fit", no_fit)
    for n_per_class, key in (({7: 1}, "7"), ({"cat": 2}, "'cat'")):
        with pytest.raises(InvalidParameterError, match=rf"n_per_class names {key}, which"):
            augment_dataset(real, tiny_vae(), n_per_class=n_per_class)


@pytest.fixture
def digit_folder(tmp_path):
    """Class folders named "1", "2", "3": the class named "1" has the index 0."""
    rng = np.random.default_rng(0)
    for name in ("1", "2", "3"):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(
                tmp_path / name / f"{i}.png"
            )
    return tmp_path


def test_class_names_are_looked_up_before_indices_and_checked_before_the_fit(
    digit_folder, monkeypatch
):
    folder = ImageFolder(str(digit_folder))
    syn = fit_from_dataset(tiny_vae(random_state=0), folder)
    # np.isin("1", [0, 1, 2]) is True: the name "1" must still mean the index 0.
    aug = augment_dataset(folder, syn, n_per_class={"1": 2, "3": 1}, random_state=0)
    assert aug.synthetic.labels.tolist() == [0, 0, 2]
    assert aug.targets[len(folder):] == [0, 0, 2]

    monkeypatch.setattr(VAESynthesizer, "fit", no_fit)  # the fit is not reached
    with pytest.raises(InvalidParameterError, match=r"n_per_class names 3, which is not a"):
        augment_dataset(folder, tiny_vae(), n_per_class={"1": 2, 3: 1})
    with pytest.raises(InvalidParameterError, match=r"n_per_class\['1'\] must be"):
        augment_dataset(folder, tiny_vae(), n_per_class={"1": -1})


def test_a_class_named_twice_in_n_per_class_is_an_error(image_folder, monkeypatch):
    folder = ImageFolder(str(image_folder))
    monkeypatch.setattr(VAESynthesizer, "fit", no_fit)  # the fit is not reached
    with pytest.raises(InvalidParameterError, match=r"class 2 twice, as 'owl' and as 2"):
        augment_dataset(folder, tiny_vae(), n_per_class={"owl": 2, 2: 5})


@pytest.mark.parametrize("cls", [GANSynthesizer, VAEGANSynthesizer])
def test_other_families_work_in_the_adapter(cls, image_folder):
    widths = {"generator_hidden": (16,), "discriminator_hidden": (16,)}
    if cls is VAEGANSynthesizer:
        widths = {"encoder_hidden": (16,), "decoder_hidden": (16,), "discriminator_hidden": (16,)}
    syn = cls(epochs=1, batch_size=8, latent_dim=8, device="cpu", **widths)
    aug = augment_dataset(ImageFolder(str(image_folder)), syn, n_per_class=2, random_state=0)
    assert aug.synthetic_mask.sum() == 6


def test_missing_torchvision_gives_an_install_hint(monkeypatch, digits_syn):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(ImportError, match=r"pip install genaug\[vision\]"):
        SyntheticDataset(digits_syn, 5)
