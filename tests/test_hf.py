"""The Hugging Face datasets adapter: schema kept, only the chosen split grows, synthetic rows
flagged, exclusion policies, counts, chunked generation, seeding and clear errors.

Everything runs offline on tiny files written to a temporary folder."""

from __future__ import annotations

import os

# Before datasets is imported: its config reads these once.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sys

import numpy as np
import pandas as pd
import pytest

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")

from datasets import (  # noqa: E402
    ClassLabel,
    Dataset,
    DatasetDict,
    Features,
    IterableDataset,
    List,
    Value,
)

from genaug import SyntheticAugmenter, VAESynthesizer  # noqa: E402
from genaug.adapters.hf import augment_dataset, synthesize_dataset  # noqa: E402
from genaug.data.images import uint8_images  # noqa: E402
from genaug.exceptions import InvalidDataError, InvalidParameterError  # noqa: E402

TINY = {"epochs": 2, "latent_dim": 4, "encoder_hidden": (16,), "decoder_hidden": (16,)}
FEATURES = Features(
    {
        "id": Value("string"),
        "x": Value("float32"),
        "k": Value("int32"),
        "s": Value("string"),
        "c": ClassLabel(names=["u", "v", "w"]),
        "label": ClassLabel(names=["no", "yes"]),
    }
)


def tiny_vae(**params) -> VAESynthesizer:
    return VAESynthesizer(**{**TINY, **params})


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No network, and nothing written outside the test's temporary folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    datasets.disable_progress_bars()


def make_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A 3:1 imbalanced table with an id, a float, a nullable int, a nullable string, a
    categorical code and a string label."""
    rng = np.random.default_rng(seed)
    label = np.where(np.arange(n) % 4 == 0, "yes", "no")
    k = pd.array(rng.integers(0, 9, n), dtype="Int32")
    k[rng.random(n) < 0.1] = pd.NA
    s = pd.array(rng.choice(["a", "b"], n), dtype="string")
    s[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(n)],
            "x": rng.normal(np.where(label == "yes", 2.0, -1.0), 0.5).astype("float32"),
            "k": k,
            "s": s,
            "c": rng.integers(0, 3, n),
            "label": label,
        }
    )


def make_dataset(n: int = 120, seed: int = 0) -> Dataset:
    """``make_frame`` as a Dataset with ClassLabel ``c`` and ``label``."""
    frame = make_frame(n, seed)
    frame["label"] = (frame["label"] == "yes").astype(int)
    return Dataset.from_pandas(frame, features=FEATURES, preserve_index=False)


def arrow(ds: Dataset) -> pa.Table:
    """The rows of ``ds`` as an Arrow table (its indices mapping applied)."""
    return ds.with_format("arrow")[:]


def row_hashes(ds: Dataset) -> np.ndarray:
    return pd.util.hash_pandas_object(ds.to_pandas(), index=False).to_numpy()


def real_part(out: Dataset, n_real: int, flag: str = "is_synthetic") -> pa.Table:
    return arrow(out.select(range(n_real)).remove_columns(flag))


# ------------------------------------------------------------------ Dataset in, Dataset out
def test_dataset_grows_with_schema_kept_and_flagged_rows(tmp_path):
    ds = make_dataset().shuffle(seed=0)  # an indices mapping, as after shuffle or select
    syn = tiny_vae()
    out = augment_dataset(ds, syn, "label", exclude_columns=["id"], random_state=0,
                          cache_dir=tmp_path)

    assert isinstance(out, Dataset)
    assert out.features == Features({**ds.features, "is_synthetic": Value("bool")})
    assert real_part(out, ds.num_rows).equals(arrow(ds))  # real rows unchanged, in order
    flags = np.asarray(out["is_synthetic"])
    labels = np.asarray(out["label"])
    assert not flags[: ds.num_rows].any() and flags[ds.num_rows :].all()
    # "auto" grows the minority ("yes", id 1: 30 rows) to the majority's 90.
    assert flags.sum() == 60
    assert np.bincount(labels).tolist() == [90, 90]
    assert set(labels[flags].tolist()) == {1}
    assert not hasattr(syn, "codec_")  # a clone was fitted, not the synthesizer passed


def test_classlabel_names_and_ids_round_trip(tmp_path):
    ds = make_dataset()
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"], n=40,
                          random_state=0, cache_dir=tmp_path)
    synthetic = out.filter(lambda batch: batch["is_synthetic"], batched=True)
    assert out.features["label"].names == ["no", "yes"]
    assert out.features["c"].names == ["u", "v", "w"]
    assert set(synthetic["c"]) <= {0, 1, 2}
    assert set(synthetic["label"]) == {0, 1}
    assert set(out.features["c"].int2str(synthetic["c"])) <= {"u", "v", "w"}


# ------------------------------------------------------------------ DatasetDict from files
def write_splits(tmp_path, suffix: str) -> dict[str, str]:
    files = {}
    for name, (n, seed) in {"train": (120, 0), "test": (40, 1)}.items():
        frame = make_frame(n, seed)
        path = tmp_path / f"{name}.{suffix}"
        if suffix == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        files[name] = str(path)
    return files


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_only_the_chosen_split_grows(tmp_path, kind):
    files = write_splits(tmp_path, kind)
    dd = datasets.load_dataset(kind, data_files=files, cache_dir=str(tmp_path / "cache"))
    train, test = dd["train"], dd["test"]
    test_hashes, test_fingerprint = row_hashes(test), test._fingerprint

    out = augment_dataset(dd, tiny_vae(), "label", exclude_columns=["id"], random_state=0,
                          cache_dir=tmp_path / "synthetic")

    assert isinstance(out, DatasetDict) and list(out) == ["train", "test"]
    assert out["test"] is test
    assert out["test"]._fingerprint == test_fingerprint
    assert np.array_equal(row_hashes(out["test"]), test_hashes)
    assert out["train"].features == Features({**train.features, "is_synthetic": Value("bool")})
    assert real_part(out["train"], train.num_rows).equals(arrow(train))
    assert sum(out["train"]["is_synthetic"]) == 60
    assert pd.Series(out["train"]["label"]).value_counts().to_dict() == {"no": 90, "yes": 90}


def test_other_split_by_name_and_value_dtypes_kept(tmp_path):
    frame = make_frame()
    features = Features({**FEATURES, "label": Value("string"), "c": Value("int8")})
    dd = DatasetDict(
        train=Dataset.from_pandas(frame.head(20), features=features, preserve_index=False),
        extra=Dataset.from_pandas(frame, features=features, preserve_index=False),
    )
    out = augment_dataset(dd, tiny_vae(), "label", split="extra", exclude_columns=["id"],
                          random_state=0, cache_dir=tmp_path)
    assert out["train"] is dd["train"]
    assert out["extra"].features == Features({**features, "is_synthetic": Value("bool")})
    synthetic = out["extra"].select(range(120, out["extra"].num_rows)).to_pandas()
    assert synthetic["label"].eq("yes").all()
    assert synthetic["k"].dropna().eq(synthetic["k"].dropna().round()).all()


# ------------------------------------------------------------------ excluded columns
def test_excluded_columns_are_null_on_synthetic_rows(tmp_path):
    ds = make_dataset()
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id", "s"],
                          random_state=0, cache_dir=tmp_path)
    table = arrow(out)
    n = ds.num_rows
    assert table.column("id").slice(0, n).equals(arrow(ds).column("id"))
    assert table.column("id").slice(n).null_count == out.num_rows - n
    assert table.column("s").slice(n).null_count == out.num_rows - n
    assert out.features["id"] == Value("string")


def test_excluded_columns_are_dropped(tmp_path):
    ds = make_dataset()
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"],
                          excluded_policy="drop", random_state=0, cache_dir=tmp_path)
    assert "id" not in out.column_names
    assert out.features == Features(
        {**ds.remove_columns("id").features, "is_synthetic": Value("bool")}
    )


# ------------------------------------------------------------------ counts
def test_n_is_shared_by_class_rate(tmp_path):
    ds = make_dataset()  # 90 "no", 30 "yes"
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"], n=30,
                          random_state=0, cache_dir=tmp_path)
    labels = np.asarray(out["label"])[ds.num_rows :]
    # 22.5 and 7.5 rows: the tie of remainders goes to the first class.
    assert np.bincount(labels).tolist() == [23, 7]


def test_counts_follow_synthetic_augmenter(tmp_path):
    ds = make_dataset()
    syn = tiny_vae()
    out = augment_dataset(ds, syn, "label", exclude_columns=["id"], sampling_strategy={1: 60},
                          augment_ratio=0.5, random_state=0, cache_dir=tmp_path)
    frame = ds.to_pandas().drop(columns=["id", "label"])
    expected = SyntheticAugmenter(syn, sampling_strategy={1: 60}, augment_ratio=0.5).fit(
        frame, np.asarray(ds["label"])
    ).sampling_strategy_
    got = pd.Series(out["label"][ds.num_rows :]).value_counts().to_dict()
    assert got == {int(k): v for k, v in expected.items()} == {0: 45, 1: 60}


def test_no_rows_asked_warns_and_flags_the_split(tmp_path):
    frame = make_frame(60)
    frame["label"] = np.arange(60) % 2  # balanced: "auto" adds nothing
    ds = Dataset.from_pandas(frame, features=FEATURES, preserve_index=False)
    with pytest.warns(UserWarning, match="add no row"):
        out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"],
                              cache_dir=tmp_path)
    assert out.num_rows == 60 and not any(out["is_synthetic"])


# ------------------------------------------------------------------ seeding
def test_same_seed_same_rows(tmp_path):
    ds = make_dataset()
    runs = [
        augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"], random_state=seed,
                        cache_dir=tmp_path)
        for seed in (3, 3, 4)
    ]
    assert arrow(runs[0]).equals(arrow(runs[1]))
    assert not arrow(runs[0]).equals(arrow(runs[2]))


# ------------------------------------------------------------------ synthesize_dataset
@pytest.fixture
def fitted() -> VAESynthesizer:
    frame = make_frame()
    return tiny_vae(random_state=0).fit(frame[["x", "k", "s"]], frame["label"])


def test_synthesize_dataset_writes_chunk_by_chunk(tmp_path, fitted, monkeypatch):
    chunk_sizes = []
    iter_sample = fitted.iter_sample

    def spy(*args, **kwargs):
        for chunk in iter_sample(*args, **kwargs):
            chunk_sizes.append(len(chunk[0]))
            yield chunk

    monkeypatch.setattr(fitted, "iter_sample", spy)
    ds = synthesize_dataset(fitted, 2500, chunk_size=1000, random_state=1, cache_dir=tmp_path)
    assert chunk_sizes == [1000, 1000, 500]
    assert ds.num_rows == 2500
    assert [b.num_rows for b in ds.data.to_batches()] == [1000, 1000, 500]
    # The chunking does not change the rows a seed gives.
    whole = synthesize_dataset(fitted, 2500, chunk_size=2500, random_state=1,
                               cache_dir=tmp_path)
    assert arrow(ds).equals(arrow(whole))
    assert ds.column_names == ["x", "k", "s", "label"]


def test_synthesize_dataset_is_reproducible(tmp_path, fitted):
    a, b, c = (synthesize_dataset(fitted, 50, random_state=seed, cache_dir=tmp_path)
               for seed in (7, 7, 8))
    assert arrow(a).equals(arrow(b))
    assert not arrow(a).equals(arrow(c))


def test_synthesize_dataset_without_labels(tmp_path):
    frame = make_frame()
    fitted = tiny_vae(random_state=0).fit(frame[["x", "k", "s"]])
    ds = synthesize_dataset(fitted, 10, random_state=0, cache_dir=tmp_path,
                            features={"x": Value("float32"), "k": Value("int32"),
                                      "s": Value("string")})
    assert ds.column_names == ["x", "k", "s"] and ds.num_rows == 10
    assert ds.features["k"] == Value("int32")


def test_synthesize_dataset_pins_features(tmp_path, fitted):
    features = Features({**FEATURES, "c": Value("int8")})
    ds = synthesize_dataset(fitted, 200, y={"yes": 150, "no": 50}, features=features,
                            random_state=2, cache_dir=tmp_path)
    assert ds.features == features
    assert ds["label"] == [1] * 150 + [0] * 50  # names mapped to ClassLabel ids
    assert arrow(ds).column("id").null_count == 200  # not produced: null, never copied
    assert arrow(ds).column("c").null_count == 200
    X, _ = fitted.sample(200, y={"yes": 150, "no": 50}, random_state=2)
    assert np.allclose(ds["x"], X["x"].to_numpy(dtype=float), equal_nan=True)


def test_synthesize_dataset_rejects_features_missing_a_column(tmp_path, fitted):
    features = Features({"x": Value("float32"), "label": Value("string")})
    with pytest.raises(InvalidParameterError, match=r"lacks column\(s\) \['k', 's'\]"):
        synthesize_dataset(fitted, 10, features=features, cache_dir=tmp_path)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".incomplete")]


# ------------------------------------------------------------------ images
def write_imagefolder(root) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for label, count in (("cat", 12), ("dog", 4)):
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
            rows.append(
                {"file_name": f"{label}/{i}.png", "weight": float(rng.normal(5, 1)), "label": label}
            )
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)


def test_image_columns_need_an_image_synthesizer(tmp_path):
    write_imagefolder(tmp_path / "images")
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "images"),
                               cache_dir=str(tmp_path / "cache"), split="train")
    ds = ds.cast_column("label", ClassLabel(names=["cat", "dog"]))
    assert isinstance(ds.features["image"], datasets.Image)
    with pytest.raises(InvalidDataError, match=r"\['image'\].*image synthesizer"):
        augment_dataset(ds, tiny_vae(), "label", cache_dir=tmp_path)
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["image"],
                          random_state=0, cache_dir=tmp_path)
    assert out.features == Features({**ds.features, "is_synthetic": Value("bool")})
    assert arrow(out).column("image").slice(ds.num_rows).null_count == 8
    assert out[ds.num_rows]["image"] is None


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"label_column": "nope"}, InvalidDataError, "'nope' is not a column"),
        ({"label_column": "x"}, InvalidDataError, "'x'.*floats"),
        ({"synthetic_column": "id"}, InvalidParameterError, "'id' is already a column"),
        ({"exclude_columns": ["ghost"]}, InvalidParameterError, r"\['ghost'\]"),
        ({"exclude_columns": ["label"]}, InvalidParameterError, "'label' cannot be excluded"),
        ({"excluded_policy": "copy"}, InvalidParameterError, "excluded_policy"),
        ({"n": 10, "augment_ratio": 1.0}, InvalidParameterError, "not both"),
        ({"n": 0}, InvalidParameterError, "n must be a positive integer"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    options = {"label_column": "label", "exclude_columns": ["id"], **kwargs}
    with pytest.raises(error, match=match):
        augment_dataset(make_dataset(), tiny_vae(), cache_dir=tmp_path, **options)


def test_missing_split_is_named(tmp_path):
    dd = DatasetDict(train=make_dataset())
    with pytest.raises(InvalidParameterError, match=r"split='validation'.*\['train'\]"):
        augment_dataset(dd, tiny_vae(), "label", split="validation", cache_dir=tmp_path)


def test_empty_split_is_named(tmp_path):
    dd = DatasetDict(train=make_dataset().select([]))
    with pytest.raises(InvalidDataError, match="split 'train' is empty"):
        augment_dataset(dd, tiny_vae(), "label", exclude_columns=["id"], cache_dir=tmp_path)


def test_missing_labels_are_refused(tmp_path):
    frame = make_frame()
    frame.loc[3, "label"] = None
    ds = Dataset.from_pandas(frame, preserve_index=False)
    with pytest.raises(InvalidDataError, match=r"'label'.*1 rows without a label"):
        augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"], cache_dir=tmp_path)


def test_unmodellable_column_must_be_excluded(tmp_path):
    ds = make_dataset().add_column("tokens", [[1, 2]] * 120, feature=List(Value("int64")))
    with pytest.raises(InvalidDataError, match=r"'tokens'.*exclude_columns"):
        augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"], cache_dir=tmp_path)


def test_streamed_and_foreign_inputs_are_refused(tmp_path):
    streamed = IterableDataset.from_generator(lambda: iter([{"x": 1.0, "label": 0}]))
    with pytest.raises(InvalidDataError, match="streamed IterableDataset"):
        augment_dataset(streamed, tiny_vae(), "label", cache_dir=tmp_path)
    with pytest.raises(InvalidDataError, match="SyntheticAugmenter"):
        augment_dataset(make_frame(), tiny_vae(), "label", cache_dir=tmp_path)


def test_a_single_class_is_refused_by_name(tmp_path):
    ds = make_dataset().filter(lambda row: row["label"] == 0)
    for counts in ({}, {"n": 3}):
        with pytest.raises(InvalidDataError, match=r"augment_dataset.*single class \(\[0\]\)"):
            augment_dataset(ds, tiny_vae(), "label", exclude_columns=["id"],
                            cache_dir=tmp_path, **counts)


@pytest.mark.parametrize("how", ["torch", "numpy", "transform"])
def test_the_format_and_split_of_the_input_are_kept(tmp_path, how):
    ds = Dataset.from_pandas(
        make_frame().drop(columns=["id", "s", "k"]).assign(label=lambda f: f["label"] == "yes"),
        preserve_index=False,
        split=datasets.Split.TRAIN,
    )
    if how == "transform":
        formatted = ds.with_transform(lambda batch: {"x2": [2 * v for v in batch["x"]]})
    else:
        formatted = ds.with_format(how)
    out = augment_dataset(formatted, tiny_vae(), "label", n=6, random_state=0,
                          cache_dir=tmp_path)
    assert out.split == datasets.Split.TRAIN and out.num_rows == ds.num_rows + 6
    if how == "transform":
        assert out[-3:] == {"x2": [2 * v for v in out.with_format(None)[-3:]["x"]]}
    else:
        assert out.format["type"] == how
        assert type(out[-3:]["x"]) is type(formatted[:3]["x"])


@pytest.mark.parametrize("how", ["torch", "undecoded"])
def test_image_columns_are_read_whatever_the_format(tmp_path, how):
    write_plain_imagefolder(tmp_path / "images")
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "images"),
                               cache_dir=str(tmp_path / "cache"), split="train")
    if how == "torch":
        given = ds.with_format("torch")
    else:
        given = ds.cast_column("image", datasets.Image(decode=False))
    out = augment_dataset(given, tiny_vae(), "label", n=4, random_state=0, cache_dir=tmp_path)
    expected = augment_dataset(ds, tiny_vae(), "label", n=4, random_state=0, cache_dir=tmp_path)
    synthetic = out.with_format(None).cast_column("image", datasets.Image())
    assert [np.asarray(im).tolist() for im in synthetic.select(range(16, 20))["image"]] == [
        np.asarray(im).tolist() for im in expected.select(range(16, 20))["image"]
    ]
    assert out.format["type"] == given.format["type"]


def test_missing_datasets_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install genaug\[hf\]"):
        augment_dataset(None, tiny_vae(), "label")


def write_plain_imagefolder(root) -> None:
    """Class folders of 6 x 6 grayscale PNGs, no metadata: the label comes from the folder."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for k, (label, count) in enumerate((("cat", 10), ("dog", 6))):
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 100, (6, 6), dtype=np.uint8) + 120 * k
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / f"{i}.png")


def test_image_columns_get_synthetic_images_per_class(tmp_path):
    write_plain_imagefolder(tmp_path / "images")
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "images"),
                               cache_dir=str(tmp_path / "cache"), split="train")
    assert isinstance(ds.features["image"], datasets.Image)
    out = augment_dataset(ds, tiny_vae(), "label", n=8, random_state=0, cache_dir=tmp_path)
    assert out.features == Features({**ds.features, "is_synthetic": Value("bool")})
    assert out.num_rows == ds.num_rows + 8
    synthetic = out.select(range(ds.num_rows, out.num_rows))
    assert all(synthetic["is_synthetic"])
    assert sorted(synthetic["label"]) == [0] * 5 + [1] * 3  # shares of 10 and 6
    images = list(synthetic["image"])
    assert all(im.mode == "L" and im.size == (6, 6) for im in images)
    again = augment_dataset(ds, tiny_vae(), "label", n=8, random_state=0, cache_dir=tmp_path)
    assert [np.asarray(im).tolist() for im in again.select(range(16, 24))["image"]] == [
        np.asarray(im).tolist() for im in images
    ]


@pytest.mark.parametrize("form", ["uint8 NHW", "float NCHW", "pil"])
def test_synthesize_dataset_writes_an_image_model_s_images(tmp_path, form):
    from PIL import Image

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (16, 6, 6), dtype=np.uint8)
    images = {
        "uint8 NHW": pixels,
        "float NCHW": pixels[:, None].astype(np.float32) / 255.0,
        "pil": [Image.fromarray(a) for a in pixels],
    }[form]
    labels = np.array(["cat"] * 10 + ["dog"] * 6)
    model = tiny_vae(random_state=0).fit(images, labels)
    ds = synthesize_dataset(model, 9, y={"cat": 4, "dog": 5}, random_state=1,
                            cache_dir=tmp_path)
    assert list(ds.features) == ["image", "label"]
    assert ds.features["image"] == datasets.Image()
    assert ds.features["label"].dtype in ("string", "large_string")
    assert sorted(ds["label"]) == ["cat"] * 4 + ["dog"] * 5
    got = [np.asarray(im) for im in ds["image"]]
    assert all(im.dtype == np.uint8 and im.shape == (6, 6) for im in got)
    # The images sample() gives for the same seed, as 8-bit pixels.
    X, y = model.sample(9, y={"cat": 4, "dog": 5}, random_state=1)
    expected = uint8_images(X, model.codec_.scale_)
    assert np.array_equal(np.stack(got), expected) and list(ds["label"]) == list(y)
    # Pinned to a data set's features: the label becomes ClassLabel ids.
    pinned = Features({"label": ClassLabel(names=["cat", "dog"]), "photo": datasets.Image()})
    ds = synthesize_dataset(model, 9, y={"cat": 4, "dog": 5}, random_state=1,
                            features=pinned, cache_dir=tmp_path)
    assert ds.features == pinned and sorted(ds["label"]) == [0] * 4 + [1] * 5
    assert np.array_equal(np.stack([np.asarray(im) for im in ds["photo"]]), expected)
    with pytest.raises(InvalidParameterError, match="exactly one Image column"):
        synthesize_dataset(model, 3, features=Features({"label": Value("string")}),
                           cache_dir=tmp_path)


def test_a_label_column_named_as_the_image_column_is_refused(tmp_path):
    # Refused by name, as for a table's feature column, not by pandas' "already exists".
    X = np.random.default_rng(0).integers(0, 256, (12, 6, 6), dtype=np.uint8)
    model = tiny_vae(random_state=0).fit(X, np.arange(12) % 2)
    with pytest.raises(InvalidParameterError, match=r"label column name 'image'.*label_column"):
        synthesize_dataset(model, 4, label_column="image", cache_dir=tmp_path)
    photo = Features({"photo": datasets.Image(), "label": Value("int64")})
    with pytest.raises(InvalidParameterError, match=r"label column name 'photo'"):
        synthesize_dataset(model, 4, label_column="photo", features=photo, cache_dir=tmp_path)


def test_image_columns_with_other_columns_need_exclusion(tmp_path):
    write_imagefolder(tmp_path / "images")  # with a numeric 'weight' column from metadata
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "images"),
                               cache_dir=str(tmp_path / "cache"), split="train")
    ds = ds.cast_column("label", ClassLabel(names=["cat", "dog"]))
    with pytest.raises(InvalidDataError, match=r"also has the columns \['weight'\]"):
        augment_dataset(ds, tiny_vae(), "label", cache_dir=tmp_path)
    out = augment_dataset(ds, tiny_vae(), "label", exclude_columns=["weight"],
                          random_state=0, cache_dir=tmp_path)
    assert arrow(out).column("weight").slice(ds.num_rows).null_count == 8
    assert out[ds.num_rows]["image"].mode == "RGB"
