"""Fitting from Parquet files and Hugging Face Datasets without loading them whole."""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer, load
from genaug.data.streaming import TableStream, is_stream_source
from genaug.data.tabular import TabularCodec
from genaug.exceptions import InvalidDataError, InvalidParameterError

from .conftest import make_labelled, make_mixed_frame

datasets = pytest.importorskip("datasets")

# Small networks and few epochs: these tests check the mechanics of streaming.
FAST = {
    "VAESynthesizer": {"latent_dim": 8, "encoder_hidden": (32,), "decoder_hidden": (32,)},
    "VAEGANSynthesizer": {
        "latent_dim": 8,
        "encoder_hidden": (32,),
        "decoder_hidden": (32,),
        "discriminator_hidden": (32,),
    },
    "GANSynthesizer": {"latent_dim": 8, "generator_hidden": (32,), "discriminator_hidden": (32,)},
}
FAMILIES = [VAESynthesizer, VAEGANSynthesizer, GANSynthesizer]


def make(cls, **kw):
    return cls(**{"epochs": 2, "batch_size": 64, "random_state": 0, **FAST[cls.__name__], **kw})


def write(frame: pd.DataFrame, path: Path, row_group_size: int = 97) -> Path:
    """A Parquet file of several row groups (97 rows: blocks of uneven size)."""
    frame.to_parquet(path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def labelled_file(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    X, y = make_labelled(900)
    frame = X.assign(label=y)
    return write(frame, tmp_path_factory.mktemp("stream") / "labelled.parquet"), frame


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    frame = make_mixed_frame(700)
    return write(frame, tmp_path_factory.mktemp("stream") / "mixed.parquet"), frame


# ------------------------------------------------------------------ fit and sample
@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_fit_from_path_samples_the_file_columns_and_exact_classes(cls, labelled_file):
    path, frame = labelled_file
    syn = make(cls).fit(str(path), y="label")
    expected = pd.read_parquet(path).drop(columns="label")
    # The label column is not a feature; classes and rates are those of every row.
    assert list(syn.feature_names_in_) == list(expected.columns) and syn.n_features_in_ == 3
    counts = frame["label"].value_counts().sort_index()
    assert list(syn.classes_) == list(counts.index)
    np.testing.assert_allclose(syn.class_prior_, counts.to_numpy() / len(frame))
    X_new, y_new = syn.sample(40, y={"rare": 15, "common": 25}, random_state=0)
    assert list(X_new.columns) == list(expected.columns)
    assert X_new.dtypes.equals(expected.dtypes)
    assert y_new.value_counts().to_dict() == {"common": 25, "rare": 15}
    assert y_new.name == "label"
    assert len(syn.history_["epoch"]) == 2
    assert all(np.isfinite(v).all() for k, v in syn.history_.items())


def test_mixed_types_round_trip_through_a_stream_and_save(mixed_file, tmp_path):
    path, _ = mixed_file
    syn = make(VAESynthesizer).fit(path)  # a PathLike, no labels
    expected = pd.read_parquet(path)
    X_new = syn.sample(300, random_state=1)
    assert X_new.dtypes.equals(expected.dtypes)
    assert syn.classes_ is None
    # Categories come from the reservoir (here every row): none is made up.
    assert set(X_new["city"].dropna()) <= set(expected["city"].dropna())
    syn.save(tmp_path / "model")
    again = load(tmp_path / "model")
    pd.testing.assert_frame_equal(again.sample(50, random_state=3), syn.sample(50, random_state=3))


def test_list_of_paths_directory_glob_and_one_file_agree(labelled_file, tmp_path):
    path, frame = labelled_file
    parts = [
        write(frame.iloc[:400], tmp_path / "a.parquet"),
        write(frame.iloc[400:], tmp_path / "b.parquet"),
    ]
    (tmp_path / "notes.txt").write_text("not a table")  # ignored by the directory rule
    one = TableStream(path, reservoir_size=300).scan("label", seed=5)
    for source in (parts, tmp_path, str(tmp_path / "*.parquet")):
        stream = TableStream(source, reservoir_size=300)
        assert stream.n_rows == len(frame) and stream.files == parts
        split = stream.scan("label", seed=5)
        # Same rows in the same order: the same sample, whatever the files.
        np.testing.assert_array_equal(split.reservoir_rows, one.reservoir_rows)
        pd.testing.assert_frame_equal(split.reservoir, one.reservoir)
    syn = make(VAEGANSynthesizer).fit(parts, y="label")
    assert syn.sample(10, y="rare", random_state=0)[1].eq("rare").all()


@pytest.mark.parametrize("cls", [VAESynthesizer, GANSynthesizer], ids=lambda c: c.__name__)
def test_fit_from_an_arrow_backed_dataset(cls, labelled_file):
    path, frame = labelled_file
    ds = datasets.Dataset.from_parquet(str(path))
    assert isinstance(ds.data.table, pa.Table)  # memory-mapped Arrow
    syn = make(cls).fit(ds, y="label")
    np.testing.assert_allclose(syn.class_prior_[1], (frame["label"] == "rare").mean())
    X_new, _ = syn.sample(30, random_state=0)
    assert X_new.dtypes.equals(pd.read_parquet(path).drop(columns="label").dtypes)
    # A shuffled view (an indices mapping) is read through it: the same rows, other order.
    shuffled = TableStream(ds.shuffle(seed=0), reservoir_size=10_000).scan("label", seed=0)
    assert shuffled.reservoir["x"].sort_values().to_numpy().tolist() == sorted(frame["x"])


def test_seeded_fit_is_deterministic(labelled_file):
    path, _ = labelled_file
    source = TableStream(path, reservoir_size=200, shuffle_buffer=150, read_rows=40)
    first = make(VAESynthesizer, random_state=3).fit(source, y="label").sample(50, random_state=0)
    again = make(VAESynthesizer, random_state=3).fit(source, y="label").sample(50, random_state=0)
    other = make(VAESynthesizer, random_state=4).fit(source, y="label").sample(50, random_state=0)
    pd.testing.assert_frame_equal(first[0], again[0])
    assert not first[0].equals(other[0])


# --------------------------------------------------------------------- reservoir
def test_reservoir_is_a_uniform_sample_without_replacement(tmp_path):
    n, k, trials = 60, 12, 300
    frame = pd.DataFrame({"i": np.arange(n), "v": np.arange(n) % 7})
    path = write(frame, tmp_path / "t.parquet", row_group_size=9)
    # Reads of 7 rows: the sample is cut back to k rows several times per scan.
    stream = TableStream(path, reservoir_size=k, read_rows=7)
    hits = np.zeros(n)
    for seed in range(trials):
        scan = stream.scan(None, seed=seed)
        rows = scan.reservoir_rows
        assert len(np.unique(rows)) == k and np.all(np.diff(rows) > 0)
        # The sampled rows are the rows with those numbers.
        np.testing.assert_array_equal(scan.reservoir["i"].to_numpy(), rows)
        hits[rows] += 1
    # Every row is kept with probability k / n: a chi-square test of the inclusion counts
    # (59 degrees of freedom; 98.3 is the 0.1% critical value). Taking the first, the last or
    # every fifth row fails it by orders of magnitude.
    expected = trials * k / n
    chi2 = ((hits - expected) ** 2 / expected).sum()
    assert chi2 < 98.3, chi2


def test_reservoir_does_not_depend_on_row_groups_or_read_size(tmp_path):
    X, y = make_labelled(1000)
    frame = X.assign(label=y)
    a = TableStream(write(frame, tmp_path / "a.parquet", 50), reservoir_size=100, read_rows=13)
    b = TableStream(write(frame, tmp_path / "b.parquet", 1000), reservoir_size=100, read_rows=400)
    sa, sb = a.scan("label", seed=1), b.scan("label", seed=1)
    np.testing.assert_array_equal(sa.reservoir_rows, sb.reservoir_rows)
    pd.testing.assert_frame_equal(sa.reservoir, sb.reservoir)
    pd.testing.assert_series_equal(sa.reservoir_labels, sb.reservoir_labels)
    assert not np.array_equal(a.scan("label", seed=2).reservoir_rows, sa.reservoir_rows)
    # Label counts are over every row, not the sample.
    assert dict(zip(sa.label_values, sa.label_counts)) == frame["label"].value_counts().to_dict()


# ------------------------------------------------------------------------ stream
def test_each_epoch_visits_every_row_once_in_whole_batches(tmp_path):
    n = 700
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "v": np.arange(n) % 5})
    path = write(frame, tmp_path / "ids.parquet", row_group_size=60)
    stream = TableStream(path, shuffle_buffer=150, read_rows=25)
    codec = TabularCodec().fit(frame)
    source = stream.batches(codec, batch_size=64, device=torch.device("cpu"))
    span = codec.spans_[0]
    categories = np.asarray(codec.columns_[0]["categories"])
    gen = torch.Generator().manual_seed(0)
    orders = []
    for _ in range(2):
        batches = list(source.epoch(gen))
        assert len(batches) == source.n_batches == n // 64
        assert all(x.shape == (64, codec.output_dim_) and c is None for x, c in batches)
        ids = categories[torch.cat([x for x, _ in batches])[:, span.start : span.stop].argmax(1)]
        assert len(set(ids)) == len(ids) == n // 64 * 64  # no row twice; 60 left out
        orders.append(ids)
    assert not np.array_equal(orders[0], orders[1])  # a fresh order every epoch
    # Rows far apart in the file share batches: the order is not the file's.
    first = orders[0][:64]
    assert np.ptp([int(s[1:]) for s in first]) > 150


def test_the_stream_never_reads_a_whole_table(labelled_file, monkeypatch):
    path, _ = labelled_file

    def refuse(*args, **kwargs):
        raise AssertionError("the whole table was read")

    monkeypatch.setattr(pq, "read_table", refuse)
    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", refuse)
    monkeypatch.setattr(pd, "read_parquet", refuse)
    sizes: list[int] = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        for batch in original(self, *args, **kwargs):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    stream = TableStream(path, reservoir_size=100, shuffle_buffer=128, read_rows=32)
    syn = make(GANSynthesizer).fit(stream, y="label")
    assert max(sizes) <= 32
    # One scan and two epochs, each reading every row once.
    assert sum(sizes) == 3 * 900
    assert syn._category_counts.sum() == 100  # from the sample of 100 rows: column k


def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    """Python-side peak memory of a streamed fit is flat in the number of rows."""
    kw = {"reservoir_size": 200, "shuffle_buffer": 512, "read_rows": 256}
    peaks = []
    for n in (4000, 16000):
        X, y = make_labelled(n)
        path = write(X.assign(label=y), tmp_path / f"{n}.parquet", 500)
        make(VAESynthesizer, epochs=1).fit(TableStream(path, **kw), y="label")  # warm imports
        tracemalloc.start()
        try:
            make(VAESynthesizer, epochs=1, batch_size=256).fit(TableStream(path, **kw), y="label")
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # Four times the rows: an in-memory fit's encoded matrix alone grows by 4 x 16000 x 4
    # columns x 4 bytes; the streamed peak stays within noise of the small file's.
    assert peaks[1] < 1.3 * peaks[0] + 50_000, peaks


def test_values_missing_from_the_reservoir_are_unknown_and_warned(tmp_path):
    X, y = make_labelled(2000)
    X.loc[[1500, 1700], "k"] = "zzz"  # two rows of a value the sample of 50 rows misses
    path = write(X.assign(label=y), tmp_path / "rare.parquet", 400)
    with pytest.warns(UserWarning, match=r"'k': 2\}"):
        syn = make(VAESynthesizer, epochs=1).fit(TableStream(path, reservoir_size=50), y="label")
    assert "zzz" not in syn.codec_.columns_[1]["categories"]
    assert "zzz" not in set(syn.sample(500, random_state=0)[0]["k"])


def test_gan_conditional_vector_names_a_value_the_real_row_holds(labelled_file, monkeypatch):
    path, _ = labelled_file
    seen = []
    original = GANSynthesizer._draw_streamed

    def spy(self, size, generator):
        data, labels, k = original(self, size, generator)
        seen.append((data, k, self._tables["columns"]))
        return data, labels, k

    monkeypatch.setattr(GANSynthesizer, "_draw_streamed", spy)
    syn = make(GANSynthesizer, epochs=1).fit(path, y="label")
    assert seen
    named = []
    for data, k, columns in seen:
        col = columns[k.argmax(1)]
        assert torch.all(data[torch.arange(len(data)), col] == 1)  # each row holds its value
        named.append(k.argmax(1))
    # "b" of column k is rarer overall than "a"; the weights still name both.
    assert torch.cat(named).unique().numel() == syn._condition_dim
    X_new, _ = syn.sample(20, conditions={"k": "b"}, random_state=0)
    assert X_new["k"].eq("b").all()


# ------------------------------------------------------------------------ errors
def test_clear_errors_for_bad_sources(tmp_path, labelled_file):
    path, frame = labelled_file
    syn = make(VAESynthesizer)
    with pytest.raises(InvalidDataError, match=r"missing.parquet.*does not exist"):
        syn.fit(str(tmp_path / "missing.parquet"))
    text = tmp_path / "table.csv"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidDataError, match=r"table.csv.*not a readable Parquet"):
        syn.fit(text)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), empty)
    with pytest.raises(InvalidDataError, match=r"empty.parquet.*0 row"):
        syn.fit(empty)
    with pytest.raises(InvalidDataError, match=r"y='income' is not a column.*'label'"):
        syn.fit(path, y="income")
    with pytest.raises(InvalidDataError, match="y must be the name of its label column"):
        syn.fit(path, y=frame["label"])
    (tmp_path / "none").mkdir()
    with pytest.raises(InvalidDataError, match=r"holds no \*.parquet"):
        syn.fit(tmp_path / "none")
    with pytest.raises(InvalidDataError, match="No file matches"):
        syn.fit(str(tmp_path / "nothing-*.parquet"))
    other = write(frame.assign(x=frame["x"].astype(str)), tmp_path / "other.parquet")
    with pytest.raises(InvalidDataError, match=r"other.parquet.*same columns and types"):
        syn.fit([path, other], y="label")
    with pytest.raises(InvalidParameterError, match="reservoir_size"):
        TableStream(path, reservoir_size=1)


def test_missing_labels_and_unsupported_options_are_refused(tmp_path, labelled_file):
    path, frame = labelled_file
    holes = frame.copy()
    holes.loc[[3, 500], "label"] = None
    holed = write(holes, tmp_path / "holes.parquet")
    with pytest.raises(InvalidDataError, match="label column 'label' has 2 missing"):
        make(VAESynthesizer).fit(holed, y="label")
    one_class = write(frame.assign(label="same"), tmp_path / "one.parquet")
    with pytest.raises(InvalidDataError, match="single class"):
        make(VAESynthesizer).fit(one_class, y="label")
    with pytest.raises(InvalidParameterError, match="early_stopping=True"):
        make(VAEGANSynthesizer, early_stopping=True).fit(path, y="label")
    with pytest.raises(InvalidParameterError, match="checkpoint_dir"):
        make(VAESynthesizer).fit(path, y="label", checkpoint_dir=tmp_path / "ck")


def test_classlabel_minus_one_is_a_missing_label_and_containers_are_named():
    features = datasets.Features(
        {"x": datasets.Value("float64"), "label": datasets.ClassLabel(names=["a", "b"])}
    )
    ds = datasets.Dataset.from_dict(
        {"x": [0.1, 0.2, 0.3, 0.4, 0.5], "label": [0, 1, -1, 1, 0]}, features=features
    )
    # -1 is ClassLabel's "no label", not a third class to sample.
    with pytest.raises(InvalidDataError, match=r"'label' has 1 missing values \(null, or -1"):
        make(VAESynthesizer, epochs=1).fit(ds, y="label")
    with pytest.raises(InvalidDataError, match=r"DatasetDict of the splits \['train'\]"):
        make(VAESynthesizer, epochs=1).fit(datasets.DatasetDict(train=ds), y="label")
    with pytest.raises(InvalidDataError, match="streamed IterableDataset"):
        make(VAESynthesizer, epochs=1).fit(ds.to_iterable_dataset(), y="label")


def test_only_paths_and_datasets_are_streamed(labelled_file):
    path, frame = labelled_file
    assert is_stream_source(path) and is_stream_source(str(path)) and is_stream_source([path])
    assert not is_stream_source(frame) and not is_stream_source([[1, 2], [3, 4]])
    assert not is_stream_source([])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on an ordinary in-memory fit
        make(VAESynthesizer, epochs=1).fit(frame.drop(columns="label"), frame["label"])
