"""Tables larger than memory: Parquet files or Arrow-backed Hugging Face datasets, read a
block at a time.

``fit`` accepts such a source in place of a DataFrame (see :class:`TableStream` for what
counts as one). Nothing ever holds the whole table:

1. **One scan** reads every block once, in the source's order, and keeps a *reservoir*: a
   uniform random sample without replacement of ``reservoir_size`` rows. Each row gets a
   uniform key from a seeded ``numpy.random.Generator`` as the blocks go by, and the rows with
   the ``reservoir_size`` smallest keys are kept. The same scan counts the label column's
   values (exact class counts over all rows) and checks it for missing labels.
2. The :class:`~genaug.data.TabularCodec` is fitted on the reservoir (categories, quantiles,
   point masses, ranges), and so is any state a model family derives from "the whole data".
3. **Training streams** (:class:`StreamBatches`): every epoch reads the blocks again, in a
   fresh random order, encodes them block by block and shuffles rows within a bounded
   buffer before cutting whole batches.

Memory is bounded by ``2 * reservoir_size`` rows during the scan (candidates are gathered
until there are twice as many as needed, then cut back), ``shuffle_buffer`` encoded rows in
training and one read of ``read_rows`` rows, whatever the size of the source
(``benchmarks/streaming_memory.py`` measures it).

``pyarrow`` is imported when a stream is opened, so that ``import genaug`` works without it
(it ships with ``datasets`` and with ``pip install genaug[hf]``).
"""

from __future__ import annotations

import glob
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from genaug.exceptions import InvalidDataError, InvalidParameterError

if TYPE_CHECKING:
    import pyarrow as pa

    from genaug.data.tabular import TabularCodec

__all__ = [
    "DEFAULT_READ_ROWS",
    "DEFAULT_RESERVOIR_SIZE",
    "DEFAULT_SHUFFLE_BUFFER",
    "ScanResult",
    "StreamBatches",
    "TableStream",
    "is_stream_source",
]

# The codec's quantiles (1000 of them) and the 5% point-mass threshold are estimated to well
# under 1% from 100,000 rows, and a value as rare as 1 in 20,000 is in the sample with
# probability above 99%; as a pandas frame, 100,000 rows of a 15-column table take ~50 MB.
DEFAULT_RESERVOIR_SIZE = 100_000
# Rows mixed together before batches are cut: 64 Ki encoded rows of 150 float32 columns are
# ~40 MB, and a window of that many rows spans several row groups of a typical file.
DEFAULT_SHUFFLE_BUFFER = 65_536
# Rows decoded from Parquet (or sliced from a Dataset) at a time.
DEFAULT_READ_ROWS = 16_384


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_hf_dataset(value: Any) -> bool:
    # A datasets.Dataset can only exist if the module was imported: no import here.
    datasets = sys.modules.get("datasets")
    return datasets is not None and isinstance(value, datasets.Dataset)


def check_not_hf_container(X: Any) -> None:
    """Raise a clear error for the ``datasets`` objects ``fit`` cannot read.

    A ``DatasetDict`` holds several splits (which one to fit on is the caller's choice), and
    an ``IterableDataset`` has no length or random access for the reservoir pass; both
    would otherwise reach the in-memory checks and fail as "not 2-D".
    """
    datasets = sys.modules.get("datasets")
    if datasets is None:
        return
    if isinstance(X, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise InvalidDataError(
            f"X is a {type(X).__name__} of the splits {list(X)}; fit on one split, e.g. "
            "X=dd['train']."
        )
    if isinstance(X, datasets.IterableDataset):
        raise InvalidDataError(
            "X is a streamed IterableDataset, which fit cannot read; load it as a Dataset "
            "(load_dataset(..., streaming=False)) or write it to Parquet files and pass their "
            "paths."
        )


def is_stream_source(X: Any) -> bool:
    """Whether ``fit`` should stream ``X`` rather than treat it as an in-memory table.

    True for a :class:`TableStream`, a path (``str`` or ``os.PathLike``), a non-empty list or
    tuple of paths, and a Hugging Face ``datasets.Dataset``. None of these was a valid table
    before streaming existed (a string or a list of strings is not 2-D), so no in-memory input
    changes meaning.
    """
    if isinstance(X, TableStream) or _is_path(X) or _is_hf_dataset(X):
        return True
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_path(p) for p in X)


def _import_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # the submodule, reached as pyarrow.parquet below
    except ImportError as exc:  # pragma: no cover - pyarrow is installed with the hf extra
        raise ImportError(
            "Fitting from Parquet files or a Hugging Face Dataset needs pyarrow; install it "
            "with: pip install genaug[hf]"
        ) from exc
    return pyarrow


def _check_count(value: Any, name: str, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
        raise InvalidParameterError(f"{name} must be an integer >= {lowest}; got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class _Block:
    """A unit of the shuffled reading order: one Parquet row group, or one Dataset slice."""

    part: int  # file number (Parquet) or 0 (Dataset)
    index: int  # row group number (Parquet) or slice start (Dataset)
    n_rows: int
    start: int  # global number of the block's first row, in the source's order


@dataclass
class ScanResult:
    """What :meth:`TableStream.scan` learned in its pass over the source.

    Attributes
    ----------
    n_rows : int
        Rows in the source.
    reservoir : DataFrame
        The sampled rows' feature columns, in the source's row order.
    reservoir_rows : ndarray of int64
        Their row numbers in the source (0-based, files in order).
    reservoir_labels : Series or None
        Their labels, when a label column was named.
    label_values : Series or None
        Every distinct label of the whole source, in the label column's pandas dtype.
    label_counts : ndarray of int64 or None
        How many rows hold each of ``label_values``.
    """

    n_rows: int
    reservoir: pd.DataFrame
    reservoir_rows: np.ndarray
    reservoir_labels: pd.Series | None
    label_values: pd.Series | None
    label_counts: np.ndarray | None


class TableStream:
    """A table read a block at a time from Parquet files or an Arrow-backed ``Dataset``.

    Pass one to ``fit`` to choose the sizes below; a plain path, list of paths or
    ``Dataset`` passed to ``fit`` is wrapped in a ``TableStream`` with the defaults.

    Parameters
    ----------
    source : str, os.PathLike, list of them, or datasets.Dataset
        * A Parquet file.
        * A directory: the ``*.parquet`` files directly inside it, in sorted name order (not
          recursive: Hive-style partition folders hold column values in their names, which
          are not read).
        * A glob pattern (a string with ``*``, ``?`` or ``[``): the matching files, sorted.
        * A list or tuple of Parquet files, read in the order given.
        * A Hugging Face ``datasets.Dataset`` (always Arrow-backed; memory-mapped when loaded
          from disk or the hub), read through ``Dataset.with_format("arrow")`` slices, so an
          ``indices`` mapping from ``select`` or ``shuffle`` is honoured.

        Every file must have the same columns with the same Arrow types. Index columns that
        pandas stored in the file (``__index_level_0__``...) are not features.
    reservoir_size : int, default=100_000
        Rows of the uniform sample the codec (and any whole-data state of the model) is fitted
        on. A category absent from the sample is unknown to the model: its rows are encoded as
        an all-zero span (a warning names the column) and it is never sampled. A value of
        frequency ``p`` is missed with probability about ``exp(-p * reservoir_size)``.
    shuffle_buffer : int, default=65_536
        Rows shuffled together in training. Each epoch visits the blocks (row groups, or
        ``read_rows`` slices of a Dataset) in a fresh random order and permutes the rows of
        each window of about ``shuffle_buffer`` rows (with the fewer than one batch of rows
        left over from the window before), so rows mix within a window, not across the whole
        table. Write files with row groups well below ``shuffle_buffer`` rows
        (``row_group_size=`` in pyarrow and pandas) for a well-mixed order: a file of one
        huge row group is read in its own order and mixed only window by window.
    read_rows : int, default=16_384
        Rows decoded at a time from a row group (and the slice size of a Dataset's blocks).

    Attributes
    ----------
    columns : list of str
        The source's columns (index columns excluded).
    n_rows : int
        Its number of rows, from the Parquet footers or the Dataset's length.
    files : list of Path
        The Parquet files, in reading order (empty for a Dataset).

    Raises
    ------
    InvalidDataError
        If a file is missing, is not Parquet, a directory or pattern has no Parquet files,
        the files' schemas differ, or the source has fewer than two rows.

    Notes
    -----
    The reservoir depends on the seed, ``reservoir_size`` and the order of the rows in the
    source (files in the order above, rows in file order); it does not depend on how the rows
    are split into row groups, files or reads, because the keys are drawn one per row, in
    that order, from a single generator. The training order depends on the seed and on the
    block boundaries as well.
    """

    def __init__(
        self,
        source: Any,
        *,
        reservoir_size: int = DEFAULT_RESERVOIR_SIZE,
        shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
        read_rows: int = DEFAULT_READ_ROWS,
    ) -> None:
        self.reservoir_size = _check_count(reservoir_size, "reservoir_size", 2)
        self.shuffle_buffer = _check_count(shuffle_buffer, "shuffle_buffer", 1)
        self.read_rows = _check_count(read_rows, "read_rows", 1)
        pa = _import_pyarrow()
        self._dataset = None
        self._selected: dict[tuple, Any] = {}
        self.files: list[Path] = []
        self._metadata: list[Any] = []
        # Label columns whose -1 means "no label" (a Dataset's ClassLabel features).
        self._class_labels: set[str] = set()
        if _is_hf_dataset(source):
            self._dataset = source.with_format("arrow")
            class_label = sys.modules["datasets"].ClassLabel
            self._class_labels = {
                name for name, f in source.features.items() if isinstance(f, class_label)
            }
            schema = source.data.schema
            self.n_rows = len(source)
            self._blocks = [
                _Block(0, start, min(self.read_rows, self.n_rows - start), start)
                for start in range(0, self.n_rows, self.read_rows)
            ]
        else:
            self.files = _resolve_files(source)
            schema = self._open_files(pa)
        # pandas stores a non-default index as columns named in its metadata ("range" indexes
        # are stored as a dict and take no column).
        meta = schema.pandas_metadata or {}
        index_cols = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
        self.columns = [name for name in schema.names if name not in index_cols]
        self._schema = schema
        if self.n_rows < 2:
            raise InvalidDataError(
                f"{self._describe()} has {self.n_rows} row(s); a synthesizer needs at least two."
            )
        if len(set(self.columns)) != len(self.columns):
            raise InvalidDataError(f"{self._describe()} has duplicate column names.")

    def _describe(self) -> str:
        if self._dataset is not None:
            return "The Dataset"
        if len(self.files) == 1:
            return f"Parquet file {str(self.files[0])!r}"
        return f"The {len(self.files)} Parquet files"

    def _open_files(self, pa: Any) -> Any:
        """Read every footer (row groups, schema); no data pages are read."""
        pq = pa.parquet
        schema = None
        blocks, start = [], 0
        for part, path in enumerate(self.files):
            try:
                meta = pq.read_metadata(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InvalidDataError(
                    f"{str(path)!r} is not a readable Parquet file ({exc}). Pass Parquet "
                    "files, or load other formats with pandas and fit on the DataFrame."
                ) from exc
            file_schema = meta.schema.to_arrow_schema()
            if schema is None:
                schema = file_schema
            elif not file_schema.equals(schema, check_metadata=False):
                raise InvalidDataError(
                    f"Parquet file {str(path)!r} has the schema {_short(file_schema)}, unlike "
                    f"{str(self.files[0])!r} ({_short(schema)}); all files of a source need "
                    "the same columns and types."
                )
            self._metadata.append(meta)
            for rg in range(meta.num_row_groups):
                n = meta.row_group(rg).num_rows
                if n:  # an empty row group adds nothing to the reading order
                    blocks.append(_Block(part, rg, n, start))
                    start += n
        self._blocks = blocks
        self.n_rows = start
        return schema

    # ------------------------------------------------------------- reading
    def _read(self, block: _Block, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """The rows of ``block`` as record batches of at most ``read_rows`` rows."""
        if self._dataset is not None:
            key = tuple(columns)
            if key not in self._selected:
                self._selected[key] = self._dataset.select_columns(columns)
            table = self._selected[key][block.index : block.index + block.n_rows]
            yield from table.to_batches(max_chunksize=self.read_rows)
            return
        pq = sys.modules["pyarrow.parquet"]
        path = self.files[block.part]
        # The footer parsed in __init__ is reused; the file is opened for this block only, so
        # that a source of thousands of files never holds thousands of descriptors.
        with pq.ParquetFile(path, metadata=self._metadata[block.part]) as reader:
            yield from reader.iter_batches(
                batch_size=self.read_rows, row_groups=[block.index], columns=columns
            )

    def check_label(self, label: Any) -> None:
        """Raise unless ``label`` names one of the source's columns."""
        if not isinstance(label, str):
            raise InvalidDataError(
                "When X is a Parquet file, a list of them or a Dataset, y must be the name of "
                f"its label column (a str) or None; got {type(label).__name__}."
            )
        if label not in self.columns:
            raise InvalidDataError(
                f"y={label!r} is not a column of {self._describe().lower()}; its columns are "
                f"{self.columns[:30]}."
            )

    def feature_columns(self, label: str | None) -> list[str]:
        """The columns the model is fitted on: all but the label column."""
        return [c for c in self.columns if c != label]

    # ---------------------------------------------------------------- scan
    def scan(self, label: str | None, seed: int) -> ScanResult:
        """One pass over the source: the reservoir sample and the label counts.

        Parameters
        ----------
        label : str or None
            The label column, excluded from the features and counted over every row.
        seed : int
            Seed of the sample's keys.

        Returns
        -------
        ScanResult

        Raises
        ------
        InvalidDataError
            If the label column has missing values, or a feature column is entirely missing
            in the sample.
        """
        pa = sys.modules["pyarrow"]
        if label is not None:
            self.check_label(label)
        features = self.feature_columns(label)
        if not features:
            raise InvalidDataError(
                f"{self._describe()} has no column besides the label {label!r}; nothing to model."
            )
        columns = features + ([label] if label is not None else [])
        k = self.reservoir_size
        rng = np.random.default_rng(seed)
        # The reservoir: rows (an Arrow table), their keys and row numbers. Candidates whose
        # key is below the k-th smallest key so far are appended to `pending` and the lot is
        # cut back to k rows only when `pending` holds k rows, so each row is copied O(1)
        # times on average instead of once per block.
        kept: list[Any] = []
        keys = np.empty(0)
        rows = np.empty(0, dtype=np.int64)
        n_pending = 0
        threshold = np.inf
        counts: pd.Series | None = None
        n_missing = 0
        label_dtype = None
        for block in self._blocks:
            offset = block.start
            for batch in self._read(block, columns):
                n = batch.num_rows
                batch_keys = rng.random(n)  # one key per row, in row order
                batch_rows = np.arange(offset, offset + n, dtype=np.int64)
                offset += n
                if label is not None:
                    values = batch.column(label).to_pandas()
                    if label in self._class_labels:
                        values = values.mask(values < 0)  # ClassLabel's id for "no label"
                    n_missing += int(values.isna().sum())
                    tally = values.value_counts(dropna=True)
                    counts = tally if counts is None else counts.add(tally, fill_value=0)
                take = np.flatnonzero(batch_keys < threshold)
                if take.size == 0:
                    continue
                if take.size < n:
                    batch = batch.take(pa.array(take))
                kept.append(pa.Table.from_batches([batch]))
                keys = np.concatenate([keys, batch_keys[take]])
                rows = np.concatenate([rows, batch_rows[take]])
                n_pending += take.size
                if n_pending >= 2 * k:
                    kept, keys, rows, threshold = _cut(pa, kept, keys, rows, k)
                    n_pending = k
        if label is not None and n_missing:
            raise InvalidDataError(
                f"The label column {label!r} has {n_missing} missing values (null, or -1 in "
                "a ClassLabel); drop those rows or fill them before fitting."
            )
        kept, keys, rows, _ = _cut(pa, kept, keys, rows, k)
        # In the source's row order, so that the sample does not depend on the keys' order.
        order = np.argsort(rows, kind="stable")
        table = pa.concat_tables(kept).take(pa.array(order)) if kept else None
        frame = table.to_pandas() if table is not None else pd.DataFrame(columns=columns)
        frame = frame.reset_index(drop=True)
        labels = None
        label_values = label_counts = None
        if label is not None:
            labels = frame.pop(label)
            label_dtype = labels.dtype
            counts = counts[counts > 0]
            label_values = pd.Series(counts.index, name=label)
            try:
                label_values = label_values.astype(label_dtype)
            except (TypeError, ValueError):
                pass  # keep value_counts' dtype; the classes themselves are the same
            label_counts = counts.to_numpy(dtype=np.int64)
        return ScanResult(
            n_rows=self.n_rows,
            reservoir=frame[features],
            reservoir_rows=rows[order],
            reservoir_labels=labels,
            label_values=label_values,
            label_counts=label_counts,
        )

    # ------------------------------------------------------------- batches
    def batches(
        self,
        codec: TabularCodec,
        batch_size: int,
        device: torch.device,
        *,
        label: str | None = None,
        encode_labels: Callable[[pd.Series], np.ndarray] | None = None,
        n_classes: int = 0,
    ) -> StreamBatches:
        """The training batch source over this stream; see :class:`StreamBatches`."""
        return StreamBatches(
            self,
            codec,
            batch_size,
            device,
            label=label,
            encode_labels=encode_labels,
            n_classes=n_classes,
        )


def _short(schema: Any) -> str:
    return "{" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "}"


def _cut(pa: Any, kept: list, keys: np.ndarray, rows: np.ndarray, k: int):
    """Keep the ``k`` rows of smallest key; returns them and the new key threshold."""
    if keys.size <= k:
        return kept, keys, rows, np.inf
    # argpartition gives the k smallest in arbitrary order; sorting them by row number makes
    # the kept table independent of that order.
    best = np.sort(np.argpartition(keys, k - 1)[:k])
    table = pa.concat_tables(kept).take(pa.array(best))
    keys, rows = keys[best], rows[best]
    return [table], keys, rows, float(keys.max())


def _resolve_files(source: Any) -> list[Path]:
    """The Parquet files of a path, directory, glob pattern or list of paths, in order."""
    if isinstance(source, (list, tuple)):
        paths = [Path(p) for p in source]
    else:
        text = os.fspath(source)
        if isinstance(source, str) and any(ch in text for ch in "*?["):
            paths = [Path(p) for p in sorted(glob.glob(text))]
            if not paths:
                raise InvalidDataError(f"No file matches the pattern {text!r}.")
        elif Path(text).is_dir():
            paths = sorted(p for p in Path(text).iterdir() if p.suffix == ".parquet")
            if not paths:
                raise InvalidDataError(f"Directory {text!r} holds no *.parquet file.")
        else:
            paths = [Path(text)]
    for path in paths:
        if not path.exists():
            raise InvalidDataError(f"Parquet file {str(path)!r} does not exist.")
        if path.is_dir():
            raise InvalidDataError(
                f"{str(path)!r} is a directory; in a list, name Parquet files (or pass the "
                "directory alone)."
            )
    return paths


class StreamBatches:
    """Batch source that encodes a :class:`TableStream` block by block, each epoch.

    Each epoch visits every row once: the blocks in a fresh random order, their rows encoded
    with ``codec`` (a ``read_rows`` record batch at a time) into a buffer; when the buffer
    holds ``shuffle_buffer`` rows it is permuted and cut into whole batches, and the rows left
    over join the next window. The last partial batch of the epoch is dropped, so every epoch
    has ``n_rows // batch`` steps, where ``batch`` is
    :func:`~genaug.synthesizers._batches.effective_batch_size` of ``batch_size``.

    Values the codec did not see in the reservoir are encoded with
    ``handle_unknown="ignore"`` (an all-zero span); after the first epoch a warning names the
    columns concerned and their number of rows.

    Parameters
    ----------
    stream : TableStream
    codec : TabularCodec
        Fitted on the stream's reservoir.
    batch_size : int
        Requested rows per step.
    device : torch.device
        Where the batches are put.
    label : str, optional
        The label column.
    encode_labels : callable, optional
        Maps a block's labels (a Series) to integer class codes; required with ``label``.
    n_classes : int, default=0
        Width of the one-hot labels.
    """

    def __init__(
        self,
        stream: TableStream,
        codec: TabularCodec,
        batch_size: int,
        device: torch.device,
        *,
        label: str | None = None,
        encode_labels: Callable[[pd.Series], np.ndarray] | None = None,
        n_classes: int = 0,
    ) -> None:
        from genaug.synthesizers._batches import effective_batch_size

        if label is not None and encode_labels is None:
            raise InvalidParameterError("encode_labels is required with a label column.")
        self.stream = stream
        self.codec = codec
        self.device = torch.device(device)
        self.label = label
        self.encode_labels = encode_labels
        self.n_classes = int(n_classes)
        self.features = stream.feature_columns(label)
        self.n_rows = stream.n_rows
        self.batch_size = effective_batch_size(batch_size, self.n_rows)
        self.n_batches = max(1, self.n_rows // self.batch_size)
        self._epochs_done = 0
        # Start of each span, for summing every span of a block in one reduceat call, and
        # which of them are one-hot (an all-zero one-hot span is a value the codec lacks).
        spans = codec.spans_
        self._span_starts = np.asarray([s.start for s in spans], dtype=np.intp)
        self._one_hot = np.asarray([s.kind == "categorical" for s in spans])
        self._span_columns = np.asarray([s.column for s in spans], dtype=object)

    def _encode(self, batch: Any, rng: np.random.Generator, unseen: np.ndarray | None):
        frame = batch.to_pandas()
        x = self.codec.transform(
            frame[self.features],
            handle_unknown="ignore",
            random_state=int(rng.integers(2**63 - 1)),
        )
        if unseen is not None and self._span_starts.size:
            empty = np.add.reduceat(x, self._span_starts, axis=1) == 0
            unseen += (empty & self._one_hot).sum(axis=0)
        codes = None
        if self.label is not None:
            codes = np.asarray(self.encode_labels(frame[self.label]), dtype=np.int64)
        return x, codes

    def _cut(self, xs: list, cs: list, rng: np.random.Generator, last: bool):
        """Permute the buffer and split it into whole batches and the rows left over."""
        x = np.concatenate(xs) if len(xs) > 1 else xs[0]
        c = None if self.label is None else (np.concatenate(cs) if len(cs) > 1 else cs[0])
        perm = rng.permutation(x.shape[0])
        n_whole = x.shape[0] // self.batch_size * self.batch_size
        batches = []
        for start in range(0, n_whole, self.batch_size):
            idx = perm[start : start + self.batch_size]
            xb = torch.from_numpy(x[idx]).to(self.device)
            cb = None
            if c is not None:
                cb = (
                    torch.nn.functional.one_hot(torch.from_numpy(c[idx]), self.n_classes)
                    .float()
                    .to(self.device)
                )
            batches.append((xb, cb))
        rest = perm[n_whole:]
        if last or rest.size == 0:
            return batches, [], []
        return batches, [x[rest]], [] if c is None else [c[rest]]

    def epoch(
        self, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield ``n_batches`` batches covering the rows once, in a fresh shuffled order.

        All randomness (block order, permutations, the codec's component draws) comes from
        one number drawn from ``generator``.
        """
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        rng = np.random.default_rng(seed)
        stream = self.stream
        columns = self.features + ([self.label] if self.label is not None else [])
        unseen = np.zeros(len(self._span_starts), dtype=np.int64) if not self._epochs_done else None
        xs: list[np.ndarray] = []
        cs: list[np.ndarray] = []
        buffered = 0
        for b in rng.permutation(len(stream._blocks)):
            for batch in stream._read(stream._blocks[b], columns):
                x, c = self._encode(batch, rng, unseen)
                xs.append(x)
                if c is not None:
                    cs.append(c)
                buffered += x.shape[0]
                if buffered >= stream.shuffle_buffer:
                    batches, xs, cs = self._cut(xs, cs, rng, last=False)
                    buffered = sum(a.shape[0] for a in xs)
                    yield from batches
        if xs:
            batches, _, _ = self._cut(xs, cs, rng, last=True)
            yield from batches
        if unseen is not None:
            self._warn_unseen(unseen)
        self._epochs_done += 1

    def _warn_unseen(self, unseen: np.ndarray) -> None:
        hit = np.flatnonzero(unseen)
        if hit.size == 0:
            return
        shown = {str(self._span_columns[i]): int(unseen[i]) for i in hit[:10]}
        warnings.warn(
            f"Rows with values that the reservoir sample of {self.stream.reservoir_size} rows "
            f"did not contain (or missing where it had none), by column: {shown}. They were "
            "encoded as unknown and the model will not generate those values; pass "
            "TableStream(..., reservoir_size=...) with a larger sample to include them.",
            stacklevel=2,
        )
