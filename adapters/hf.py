"""Hugging Face ``datasets`` adapter: grow a ``Dataset`` or ``DatasetDict`` with synthetic rows.

:func:`augment_dataset`
    Fits a clone of a synthesizer on one split, conditioned on its label column, and returns
    the split followed by synthetic rows, with the split's schema (``Value`` dtypes,
    ``ClassLabel`` names and ids) and a boolean column flagging the synthetic rows. The other
    splits of a ``DatasetDict`` are given back as the very same objects.
:func:`synthesize_dataset`
    Draws rows from a fitted synthesizer into a new ``Dataset``.

Synthetic rows are drawn with ``synthesizer.iter_sample`` and written chunk by chunk as Arrow
record batches to a file in the ``datasets`` cache, which the returned ``Dataset`` memory-maps,
so memory stays bounded by one chunk however many rows are asked for. (``Dataset.from_generator``
would bound memory too, but it encodes and writes one example at a time: about 40,000 rows a
second against 2.5 million for whole record batches, measured on 200,000 five-column rows.)

``datasets`` and ``pyarrow`` are imported when a function is called, so that
``import genaug.adapters.hf`` works without them; install them with ``pip install genaug[hf]``.
"""

from __future__ import annotations

import itertools
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd
from sklearn.base import clone

from genaug._random import derive_seed, resolve_seed
from genaug._validation import Satisfies, is_path_like, validate_params
from genaug.data.images import ImageCodec, uint8_images
from genaug.exceptions import InvalidDataError, InvalidParameterError
from genaug.sklearn import SyntheticAugmenter

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset, DatasetDict, Features

__all__ = ["augment_dataset", "synthesize_dataset"]

# Rows per record batch of the synthetic Arrow file: a multiple of the synthesizers' internal
# sampling chunk (8192), large enough that the codec's per-chunk overhead does not matter.
DEFAULT_CHUNK_SIZE = 65_536

_EXCLUDED_POLICIES = ("null", "drop")


def _import_datasets() -> Any:
    """The ``datasets`` module, or an ImportError that says how to install it."""
    try:
        import datasets
        import pyarrow  # noqa: F401  (a dependency of datasets; checked for a clear message)
    except ImportError as exc:
        raise ImportError(
            "genaug.adapters.hf needs the Hugging Face 'datasets' package (and pyarrow); "
            "install them with: pip install genaug[hf]"
        ) from exc
    return datasets


# ------------------------------------------------------------------ public functions
def augment_dataset(
    ds_or_dd: Dataset | DatasetDict,
    synthesizer: Any,
    label_column: str,
    *,
    split: str = "train",
    n: int | None = None,
    sampling_strategy: float | str | Mapping | Callable = "auto",
    augment_ratio: float | None = None,
    exclude_columns: Iterable[str] | None = None,
    excluded_policy: str = "null",
    synthetic_column: str = "is_synthetic",
    random_state: Any = None,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset | DatasetDict:
    """Append synthetic rows to a Hugging Face ``Dataset`` or to one split of a ``DatasetDict``.

    A clone of ``synthesizer`` is fitted on the rows of the split (``synthesizer`` itself is
    never fitted), conditioned on ``label_column``, and draws exact numbers of rows per class.
    The result holds the split's rows unchanged and in order, then the synthetic rows grouped by
    class, with the split's features plus a boolean ``synthetic_column``. When the modelled
    column is an ``Image`` column (the others excluded), the synthesizer is fitted on its
    decoded images and the synthetic rows hold PNG-encoded synthetic images.

    Parameters
    ----------
    ds_or_dd : Dataset or DatasetDict
        The data. With a ``DatasetDict``, only ``ds_or_dd[split]`` grows; the other splits of
        the returned ``DatasetDict`` are the very same ``Dataset`` objects.
    synthesizer : BaseSynthesizer
        An unfitted genaug synthesizer, e.g. ``VAESynthesizer(epochs=100)``.
    label_column : str
        The class column the synthesizer conditions on: a ``ClassLabel`` (names and integer
        ids are kept) or an integer, string or bool ``Value``. It may hold no missing labels.
    split : str, default="train"
        The split of a ``DatasetDict`` to grow; ignored for a ``Dataset``.
    n : int, optional
        Number of synthetic rows, shared among the classes in proportion to their counts in
        the split (largest remainders, so the shares add up to ``n`` exactly). Give either
        ``n`` or ``sampling_strategy`` / ``augment_ratio``.
    sampling_strategy : float, str, dict or callable, default="auto"
        Class sizes after augmentation, as in :class:`genaug.SyntheticAugmenter` (and
        imbalanced-learn): ``"auto"`` grows every class but the majority to the majority's
        size; ``{}`` adds rows through ``augment_ratio`` only.
    augment_ratio : float, optional
        Grow every class further by this share of its size after ``sampling_strategy``, as in
        :class:`genaug.SyntheticAugmenter` (``1.0`` doubles each class).
    exclude_columns : list of str, optional
        Columns not to model, such as ids, free text or images. They are never copied from
        real rows onto synthetic ones; see ``excluded_policy``.
    excluded_policy : {"null", "drop"}, default="null"
        ``"null"`` keeps the excluded columns and leaves them empty (null) on synthetic rows;
        ``"drop"`` removes them from the result, real rows included.
    synthetic_column : str, default="is_synthetic"
        Name of the added bool column: ``False`` on the split's rows, ``True`` on synthetic
        ones. It must not be a column of the split already.
    random_state : int, numpy Generator or None, default=None
        Seed of the synthesizer's training and of the sample: the same seed gives the same
        rows. ``None`` leaves the synthesizer's own ``random_state`` in charge.
    cache_dir : str or path, optional
        Folder for the Arrow file of the synthetic rows (default: a ``genaug`` folder in the
        ``datasets`` cache, ``datasets.config.HF_DATASETS_CACHE``).

    Returns
    -------
    Dataset or DatasetDict
        Of the same kind as ``ds_or_dd``.

    Raises
    ------
    InvalidDataError
        If the split is empty, the label column is missing, float-valued or has missing
        labels, or a column that is not excluded cannot be modelled (lists, nested
        features, audio; an ``Image`` column must be the only modelled column besides the
        label).
    InvalidParameterError
        If ``split`` is not a split of ``ds_or_dd``, ``synthetic_column`` already exists, an
        excluded column does not exist, or the counts are given both ways.

    Examples
    --------
    >>> from datasets import ClassLabel, Dataset, Features, Value
    >>> from genaug import VAESynthesizer
    >>> from genaug.adapters.hf import augment_dataset
    >>> features = Features({"x": Value("float32"), "label": ClassLabel(names=["no", "yes"])})
    >>> ds = Dataset.from_dict(
    ...     {"x": [float(i) for i in range(40)], "label": [0] * 30 + [1] * 10}, features=features
    ... )
    >>> out = augment_dataset(ds, VAESynthesizer(epochs=2), "label", random_state=0)
    >>> out.num_rows, sum(out["is_synthetic"]), out.features["label"].names
    (60, 20, ['no', 'yes'])
    """
    hf = _import_datasets()
    _check_cache_dir(cache_dir, "augment_dataset")
    options = {
        "label_column": label_column,
        "n": n,
        "sampling_strategy": sampling_strategy,
        "augment_ratio": augment_ratio,
        "exclude_columns": exclude_columns,
        "excluded_policy": excluded_policy,
        "synthetic_column": synthetic_column,
        "random_state": random_state,
        "cache_dir": cache_dir,
    }
    if isinstance(ds_or_dd, hf.DatasetDict):
        if not isinstance(split, str) or split not in ds_or_dd:
            raise InvalidParameterError(
                f"split={split!r} is not a split of this DatasetDict; its splits are "
                f"{list(ds_or_dd)}."
            )
        grown = _augment_split(hf, ds_or_dd[split], f"split {split!r}", synthesizer, **options)
        return hf.DatasetDict(
            {name: grown if name == split else part for name, part in ds_or_dd.items()}
        )
    if isinstance(ds_or_dd, hf.Dataset):
        return _augment_split(hf, ds_or_dd, "the Dataset", synthesizer, **options)
    _reject_input(hf, ds_or_dd)


def synthesize_dataset(
    fitted_synthesizer: Any,
    n: int,
    *,
    y: Any = None,
    label_column: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    random_state: Any = None,
    features: Features | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Draw ``n`` rows from a fitted synthesizer into a memory-mapped ``Dataset``.

    The rows come from ``fitted_synthesizer.iter_sample(n, y, random_state=random_state,
    chunk_size=chunk_size)`` and are written to disk one chunk at a time, so memory is bounded
    by ``chunk_size`` rows however large ``n`` is. A synthesizer fitted on images gives an
    ``Image`` column of PNG-encoded 8-bit images (float pixels mapped from the training
    range), named ``"image"`` or after the ``Image`` column of ``features``.

    Parameters
    ----------
    fitted_synthesizer : BaseSynthesizer
        A fitted genaug synthesizer.
    n : int
        Number of rows.
    y : label, dict of {label: count}, or None
        As in ``sample``: ``None`` draws labels at the training class rates, a label gives
        ``n`` rows of that class, a dict exact counts per class (adding up to ``n``).
    label_column : str, optional
        Name of the label column, for a synthesizer fitted with labels. Default: the name of
        the labels it was fitted with (a named Series), else ``"label"``.
    chunk_size : int, default=65536
        Rows generated and written at a time.
    random_state : int or None, default=None
        Seed of the draw: the same seed gives the same rows. ``None`` continues the
        synthesizer's own sequence of draws.
    features : Features or dict, optional
        Pin the schema, e.g. to the training ``Dataset``'s ``features``: columns are cast to
        their types, labels to ``ClassLabel`` ids (from ids or from names). Columns of
        ``features`` that the synthesizer does not produce (excluded ids or text) are left
        null. By default the schema follows the synthesizer's column dtypes.
    cache_dir : str or path, optional
        Folder for the Arrow file (default: a ``genaug`` folder in the ``datasets`` cache).

    Returns
    -------
    Dataset
        ``n`` rows, memory-mapped from an Arrow file with one record batch per chunk.

    Raises
    ------
    InvalidParameterError
        If ``features`` lacks a column that the synthesizer produces (or, for images, has
        not exactly one ``Image`` column), ``label_column`` names a feature column or the
        images' column, or ``fitted_synthesizer`` has no ``iter_sample``.
    InvalidDataError
        If a sampled value does not fit its feature (e.g. a label missing from a
        ``ClassLabel``'s names).
    NotFittedError
        If the synthesizer is not fitted.
    """
    hf = _import_datasets()
    _check_cache_dir(cache_dir, "synthesize_dataset")
    if not callable(getattr(fitted_synthesizer, "iter_sample", None)):
        raise InvalidParameterError(
            "synthesize_dataset needs a genaug synthesizer with an iter_sample method; got "
            f"{type(fitted_synthesizer).__name__}."
        )
    if isinstance(features, Mapping) and not isinstance(features, hf.Features):
        features = hf.Features(features)
    if features is not None and not isinstance(features, hf.Features):
        raise InvalidParameterError(
            f"features must be a datasets.Features (e.g. train_ds.features); got "
            f"{type(features).__name__}."
        )
    if label_column is not None and not isinstance(label_column, str):
        raise InvalidParameterError(f"label_column must be a str; got {label_column!r}.")
    chunks = fitted_synthesizer.iter_sample(n, y, random_state=random_state, chunk_size=chunk_size)
    codec = getattr(fitted_synthesizer, "codec_", None)
    if isinstance(codec, ImageCodec):
        frames, features = _image_frames(hf, chunks, codec, label_column, features)
    else:
        frames = (_chunk_frame(chunk, label_column) for chunk in chunks)
    return _write_dataset(hf, frames, features, cache_dir)


def _image_frames(
    hf: Any,
    chunks: Iterator[Any],
    codec: ImageCodec,
    label_column: str | None,
    features: Features | None,
) -> tuple[Iterator[pd.DataFrame], Features]:
    """An image model's chunks as frames of PNG-encoded ``Image`` values, and their features.

    The images go into the one ``Image`` column of ``features``, or into ``"image"`` (an
    ``Image`` feature, the label's type read from the first chunk) without ``features``.
    """
    if features is None:
        column = "image"
    else:
        columns = [name for name, f in features.items() if isinstance(f, hf.Image)]
        if len(columns) != 1:
            raise InvalidParameterError(
                "features must have exactly one Image column for the images of an image "
                f"synthesizer; it has {len(columns)}: {columns}."
            )
        column = columns[0]
    encoder = hf.Image()
    layout = None if codec.container_ == "pil" else codec.layout_

    def frame(chunk: Any) -> pd.DataFrame:
        X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
        # One encode per image (a PNG each), as datasets itself stores them.
        images = [encoder.encode_example(image) for image in uint8_images(X, codec.scale_, layout)]
        out = _chunk_frame((pd.DataFrame(index=range(len(images))), y), label_column)
        if column in out.columns:
            raise InvalidParameterError(
                f"The label column name {column!r} is also the images' column; pass another "
                "label_column."
            )
        out.insert(0, column, images)
        return out

    frames = map(frame, chunks)
    if features is not None:
        return frames, features
    first = next(frames)
    inferred = _infer_features(hf, first.drop(columns=[column]))
    features = hf.Features({column: hf.Image(), **inferred})
    return itertools.chain([first], frames), features


def _check_cache_dir(cache_dir: Any, owner: str) -> None:
    # Checked before any training, so that a bad folder argument does not cost a fit.
    validate_params(
        {"cache_dir": cache_dir},
        {"cache_dir": [None, Satisfies(is_path_like, "a folder name (str or os.PathLike)")]},
        owner,
    )


# ------------------------------------------------------------------ one split
def _augment_split(
    hf: Any,
    ds: Dataset,
    where: str,
    synthesizer: Any,
    *,
    label_column: str,
    n: int | None,
    sampling_strategy: Any,
    augment_ratio: float | None,
    exclude_columns: Iterable[str] | None,
    excluded_policy: str,
    synthetic_column: str,
    random_state: Any,
    cache_dir: str | os.PathLike | None,
) -> Dataset:
    """:func:`augment_dataset` on one ``Dataset``; ``where`` names it in error messages."""
    excluded = _check_arguments(
        ds,
        where,
        label_column=label_column,
        n=n,
        sampling_strategy=sampling_strategy,
        augment_ratio=augment_ratio,
        exclude_columns=exclude_columns,
        excluded_policy=excluded_policy,
        synthetic_column=synthetic_column,
    )
    if not callable(getattr(synthesizer, "iter_sample", None)):
        raise InvalidParameterError(
            "augment_dataset needs a genaug synthesizer (with fit and iter_sample); got "
            f"{type(synthesizer).__name__}."
        )
    if ds.num_rows == 0:
        raise InvalidDataError(f"{where} is empty (0 rows); there is nothing to learn from.")
    _check_label_feature(hf, ds.features, label_column, where)
    tabular, images = _partition_columns(hf, ds.features, label_column, excluded, where)
    if images:
        return _augment_images(
            hf,
            ds,
            where,
            images,
            tabular,
            synthesizer,
            label_column=label_column,
            n=n,
            sampling_strategy=sampling_strategy,
            augment_ratio=augment_ratio,
            excluded=excluded,
            excluded_policy=excluded_policy,
            synthetic_column=synthetic_column,
            random_state=random_state,
            cache_dir=cache_dir,
        )
    if not tabular:
        raise InvalidDataError(
            f"{where} has no column to model besides the label {label_column!r} (the others "
            f"are excluded: {sorted(excluded)}); a synthesizer needs at least one feature."
        )
    X, y = _split_to_frame(hf, ds, tabular, label_column, where)
    seed = None if random_state is None else resolve_seed(random_state)
    counts = _synthetic_counts(synthesizer, X, y, n, sampling_strategy, augment_ratio)

    real = _real_rows(hf, ds, excluded, excluded_policy, synthetic_column)
    n_new = sum(counts.values())
    if n_new == 0:
        labels, sizes = np.unique(y, return_counts=True)
        warnings.warn(
            f"augment_dataset: the counts asked for add no row to {where} (class sizes "
            f"{dict(zip(labels.tolist(), sizes.tolist()))}); it is returned with the "
            f"{synthetic_column!r} column only.",
            UserWarning,
            stacklevel=3,
        )
        return _like_input(hf, ds, [real])

    fitted = clone(synthesizer)
    if seed is not None and "random_state" in fitted.get_params(deep=False):
        fitted.set_params(random_state=derive_seed(seed, 0))
    fitted.fit(X, pd.Series(y, name=label_column))
    chunks = fitted.iter_sample(
        n_new,
        counts,
        random_state=None if seed is None else derive_seed(seed, 1),
        chunk_size=DEFAULT_CHUNK_SIZE,
    )
    frames = (
        _chunk_frame(chunk, label_column).assign(**{synthetic_column: True}) for chunk in chunks
    )
    synthetic = _write_dataset(hf, frames, real.features, cache_dir)
    return _like_input(hf, ds, [real, synthetic])


def _real_rows(
    hf: Any, ds: Dataset, excluded: set[str], excluded_policy: str, synthetic_column: str
) -> Dataset:
    """The split's rows, unformatted, without dropped columns, flagged as not synthetic."""
    real = ds.with_format(None)
    if excluded_policy == "drop" and excluded:
        real = real.remove_columns(sorted(excluded))
    return real.add_column(
        synthetic_column, np.zeros(real.num_rows, dtype=bool), feature=hf.Value("bool")
    )


def _like_input(hf: Any, ds: Dataset, parts: list[Dataset]) -> Dataset:
    """``parts`` (unformatted) as one Dataset with ``ds``'s split and format.

    ``concatenate_datasets`` would drop the split and the format (``with_format("torch")``,
    a ``with_transform``) of the real part: they are put back, and a format limited to some
    columns keeps those that are still there.
    """
    out = parts[0] if len(parts) == 1 else hf.concatenate_datasets(parts, split=ds.split)
    fmt = ds.format
    columns = fmt["columns"]
    if columns is not None and set(columns) >= set(ds.column_names):
        columns = None  # every column: the default, which takes in the new ones too
    if columns is not None:
        columns = [c for c in columns if c in out.column_names]
    if fmt["type"] is None and columns is None and not fmt["format_kwargs"]:
        return out
    return out.with_format(
        fmt["type"],
        columns=columns,
        output_all_columns=fmt["output_all_columns"],
        **fmt["format_kwargs"],
    )


def _check_arguments(
    ds: Dataset,
    where: str,
    *,
    label_column: Any,
    n: Any,
    sampling_strategy: Any,
    augment_ratio: Any,
    exclude_columns: Any,
    excluded_policy: Any,
    synthetic_column: Any,
) -> set[str]:
    """Validate the arguments that do not need the data; return the excluded column names."""
    columns = ds.column_names
    if not isinstance(label_column, str):
        raise InvalidParameterError(
            f"label_column must be a column name (str); got {label_column!r}."
        )
    if label_column not in columns:
        raise InvalidDataError(
            f"label_column={label_column!r} is not a column of {where}; its columns are {columns}."
        )
    if not isinstance(synthetic_column, str) or not synthetic_column:
        raise InvalidParameterError(
            f"synthetic_column must be a non-empty str; got {synthetic_column!r}."
        )
    if synthetic_column in columns:
        raise InvalidParameterError(
            f"synthetic_column={synthetic_column!r} is already a column of {where}; pass "
            "another name, e.g. synthetic_column='is_synthetic_genaug'."
        )
    if excluded_policy not in _EXCLUDED_POLICIES:
        raise InvalidParameterError(
            f"excluded_policy must be one of {_EXCLUDED_POLICIES}; got {excluded_policy!r}."
        )
    if exclude_columns is None:
        excluded: list = []
    elif isinstance(exclude_columns, (list, tuple, set, frozenset)) and all(
        isinstance(c, str) for c in exclude_columns
    ):
        excluded = list(exclude_columns)
    else:
        raise InvalidParameterError(
            f"exclude_columns must be a list of column names; got {exclude_columns!r}."
        )
    unknown = [c for c in excluded if c not in columns]
    if unknown:
        raise InvalidParameterError(
            f"exclude_columns names {unknown}, which {where} lacks; its columns are {columns}."
        )
    if label_column in excluded:
        raise InvalidParameterError(
            f"The label column {label_column!r} cannot be excluded: the synthesizer "
            "conditions on it."
        )
    if n is not None:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidParameterError(f"n must be a positive integer or None; got {n!r}.")
        if not (isinstance(sampling_strategy, str) and sampling_strategy == "auto") or (
            augment_ratio is not None
        ):
            raise InvalidParameterError(
                "Give the number of synthetic rows either as n or through sampling_strategy / "
                f"augment_ratio, not both; got n={n}, sampling_strategy={sampling_strategy!r}, "
                f"augment_ratio={augment_ratio!r}."
            )
    return set(excluded)


def _reject_input(hf: Any, data: Any) -> NoReturn:
    if isinstance(data, (hf.IterableDataset, hf.IterableDatasetDict)):
        raise InvalidDataError(
            f"augment_dataset needs a Dataset or DatasetDict; got a streamed "
            f"{type(data).__name__}. The synthesizer trains on the whole split at once, so "
            "load it without streaming=True (or materialise it with "
            "Dataset.from_generator(lambda: (yield from ids), features=ids.features))."
        )
    raise InvalidDataError(
        f"augment_dataset needs a datasets.Dataset or DatasetDict; got {type(data).__name__}. "
        "For a DataFrame or array, use genaug.SyntheticAugmenter(...).fit_resample(X, y)."
    )


# ------------------------------------------------------------------ features
def _is_value(hf: Any, feature: Any, *predicates: Callable[[pa.DataType], bool]) -> bool:
    return isinstance(feature, hf.Value) and any(p(feature.pa_type) for p in predicates)


def _is_text(t: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _check_label_feature(hf: Any, features: Features, label_column: str, where: str) -> None:
    import pyarrow as pa

    feature = features[label_column]
    if isinstance(feature, hf.ClassLabel):
        return
    if _is_value(hf, feature, pa.types.is_floating, pa.types.is_decimal):
        raise InvalidDataError(
            f"The label column {label_column!r} of {where} holds floats ({feature}); genaug "
            "conditions on classes, not on a continuous target. Cast it first, e.g. "
            f"ds.cast_column({label_column!r}, ClassLabel(names=[...])) or Value('int64')."
        )
    if not _is_value(hf, feature, pa.types.is_integer, pa.types.is_boolean, _is_text):
        raise InvalidDataError(
            f"The label column {label_column!r} of {where} is {feature}; it must be a "
            "ClassLabel or an integer, string or bool Value."
        )


def _is_tabular(hf: Any, feature: Any) -> bool:
    """Whether a tabular synthesizer models this feature (else it must be excluded)."""
    import pyarrow as pa

    return isinstance(feature, hf.ClassLabel) or _is_value(
        hf,
        feature,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        _is_text,
        pa.types.is_timestamp,
        pa.types.is_date,
    )


def _partition_columns(
    hf: Any, features: Features, label_column: str, excluded: set[str], where: str
) -> tuple[list[str], list[str]]:
    """The modelled columns, split into tabular ones and ``Image`` ones, in schema order."""
    tabular, images, other = [], [], []
    for name, feature in features.items():  # a loop over columns, not rows
        if name == label_column or name in excluded:
            continue
        if isinstance(feature, hf.Image):
            images.append(name)
        elif _is_tabular(hf, feature):
            tabular.append(name)
        else:
            other.append(f"{name!r} ({feature})")
    if other:
        raise InvalidDataError(
            f"Columns {', '.join(other)} of {where} cannot be modelled by a tabular "
            "synthesizer (it models numbers, strings, bools, dates and ClassLabels). Leave them "
            f"out with exclude_columns=[...] and excluded_policy='null' or 'drop'."
        )
    return tabular, images


# Synthetic images per chunk of iter_sample: PNG-encoded, so far larger than table rows.
IMAGE_CHUNK_SIZE = 1024


def _augment_images(
    hf: Any,
    ds: Dataset,
    where: str,
    image_columns: list[str],
    tabular: list[str],
    synthesizer: Any,
    *,
    label_column: str,
    n: int | None,
    sampling_strategy: Any,
    augment_ratio: float | None,
    excluded: set[str],
    excluded_policy: str,
    synthetic_column: str,
    random_state: Any,
    cache_dir: str | os.PathLike | None,
) -> Dataset:
    """The path of ``Image`` columns: synthetic images of one ``Image`` column, per class.

    A genaug synthesizer given images models them with convolutional networks, conditioned on
    the label; it models one image column and nothing else, so the split's other columns must
    be excluded (null on synthetic rows, or dropped). The images are decoded to PIL (converted
    to RGB unless all are grayscale), a clone of the synthesizer is fitted on them, and the
    synthetic images are written back PNG-encoded into the same ``Image`` feature.
    """
    others = image_columns[1:] + tabular
    if others:
        raise InvalidDataError(
            f"Column(s) {image_columns[:1]} hold images (Image feature), which a genaug image "
            f"synthesizer models with the label {label_column!r} alone; {where} also has the "
            f"columns {others}. Exclude them to synthesize images (exclude_columns={others!r} "
            f"with excluded_policy='null' or 'drop'), or exclude {image_columns} to model the "
            "other columns as a table."
        )
    column = image_columns[0]
    _, y = _split_to_frame(hf, ds, [], label_column, where)
    # Without the user's format or transform (torch tensors, numpy arrays, ...) and with
    # decoding on: PIL images, decoded by datasets one by one.
    pixels = ds.select_columns([column]).with_format(None)
    if not getattr(pixels.features[column], "decode", True):
        pixels = pixels.cast_column(column, hf.Image(decode=True))
    images = list(pixels[column])
    missing = sum(im is None for im in images)
    if missing:
        raise InvalidDataError(
            f"Column {column!r} of {where} has {missing} rows without an image; drop them "
            "first, e.g. with ds.filter(...)."
        )
    if {im.mode for im in images} not in ({"L"}, {"RGB"}):
        images = [im.convert("RGB") for im in images]
    counts = _synthetic_counts(
        synthesizer, np.zeros((len(y), 1)), y, n, sampling_strategy, augment_ratio
    )
    real = _real_rows(hf, ds, excluded, excluded_policy, synthetic_column)
    n_new = sum(counts.values())
    if n_new == 0:
        warnings.warn(
            f"augment_dataset: the counts asked for add no row to {where}; it is returned with "
            f"the {synthetic_column!r} column only.",
            UserWarning,
            stacklevel=3,
        )
        return _like_input(hf, ds, [real])
    seed = None if random_state is None else resolve_seed(random_state)
    fitted = clone(synthesizer)
    if seed is not None and "random_state" in fitted.get_params(deep=False):
        fitted.set_params(random_state=derive_seed(seed, 0))
    fitted.fit(images, y)
    feature = ds.features[column]
    chunks = fitted.iter_sample(
        n_new,
        counts,
        random_state=None if seed is None else derive_seed(seed, 1),
        chunk_size=IMAGE_CHUNK_SIZE,
    )
    frames = (
        pd.DataFrame(
            {
                column: [feature.encode_example(im) for im in chunk_images],
                label_column: np.asarray(labels),
                synthetic_column: True,
            }
        )
        for chunk_images, labels in chunks
    )
    synthetic = _write_dataset(hf, frames, real.features, cache_dir)
    return _like_input(hf, ds, [real, synthetic])


# ------------------------------------------------------------------ Arrow <-> pandas
def _nullable_dtype(t: pa.DataType) -> Any:
    """The pandas nullable dtype for an Arrow type, so that nulls keep ints and bools intact."""
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    if _is_text(t):
        return pd.StringDtype()
    if pa.types.is_integer(t):
        prefix = "UInt" if pa.types.is_unsigned_integer(t) else "Int"
        return pd.api.types.pandas_dtype(f"{prefix}{t.bit_width}")
    return None


def _split_to_frame(
    hf: Any, ds: Dataset, columns: list[str], label_column: str, where: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The modelled columns as a DataFrame (ClassLabels as categoricals) and the labels."""
    table = ds.select_columns([*columns, label_column]).with_format("arrow")[:]
    labels = table.column(label_column)
    y = labels.to_numpy(zero_copy_only=False)
    missing = labels.null_count
    if not missing and isinstance(ds.features[label_column], hf.ClassLabel):
        missing = int(np.count_nonzero(y < 0))  # ClassLabel's id for "no label"
    if missing:
        raise InvalidDataError(
            f"The label column {label_column!r} of {where} has {missing} rows without a label "
            "(null or -1); drop them first, e.g. with ds.filter(...)."
        )
    frame = table.drop_columns([label_column]).to_pandas(
        types_mapper=_nullable_dtype, date_as_object=False
    )
    for name in columns:  # ClassLabel ids are categories, not numbers
        feature = ds.features[name]
        if isinstance(feature, hf.ClassLabel):
            seen = frame[name].dropna().unique().to_numpy(dtype=np.int64)
            categories = np.union1d(np.arange(feature.num_classes), seen)
            frame[name] = pd.Categorical(frame[name], categories=categories)
    return frame, y


def _synthetic_counts(
    synthesizer: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    n: int | None,
    sampling_strategy: Any,
    augment_ratio: float | None,
) -> dict[Any, int]:
    """Synthetic rows per class, as :class:`SyntheticAugmenter` works them out."""
    labels, counts = np.unique(y, return_counts=True)
    if labels.size < 2:
        raise InvalidDataError(
            f"augment_dataset conditions the synthesizer on the label column, which holds a "
            f"single class ({labels.tolist()}) here; it needs at least two."
        )
    if n is not None:
        share = int(n) * counts / counts.sum()
        extra = np.floor(share).astype(np.int64)
        # Largest remainders get the rows that flooring left over (ties: label order).
        order = np.argsort(-(share - extra), kind="stable")
        extra[order[: int(n) - int(extra.sum())]] += 1
        sampling_strategy = dict(zip(labels.tolist(), (counts + extra).tolist()))
        augment_ratio = None
    augmenter = SyntheticAugmenter(
        synthesizer, sampling_strategy=sampling_strategy, augment_ratio=augment_ratio
    )
    return dict(augmenter.fit(X, y).sampling_strategy_)


def _chunk_frame(chunk: Any, label_column: str | None) -> pd.DataFrame:
    """One item of ``iter_sample`` (``X`` or ``(X, y)``) as a DataFrame with str columns."""
    X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    frame.columns = [str(c) for c in frame.columns]
    if y is None:
        return frame
    name = label_column
    if name is None:
        name = y.name if isinstance(y, pd.Series) and isinstance(y.name, str) else "label"
    if name in frame.columns:
        raise InvalidParameterError(
            f"The label column name {name!r} is also a feature column; pass another label_column."
        )
    frame[name] = np.asarray(y)
    return frame


def _to_arrow(series: pd.Series) -> pa.Array:
    import pyarrow as pa

    array = pa.array(series, from_pandas=True)
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _class_ids(series: pd.Series, feature: Any, name: str) -> pa.Array:
    """ClassLabel ids of sampled labels given as ids or as names."""
    import pyarrow as pa

    array = _to_arrow(series)
    if _is_text(array.type):
        values = array.to_numpy(zero_copy_only=False)
        ids = pd.Categorical(values, categories=feature.names).codes.astype(np.int64)
        unknown = (ids < 0) & ~pd.isna(values)
        if unknown.any():
            raise InvalidDataError(
                f"Column {name!r} has labels {pd.unique(values[unknown])[:5].tolist()} that are "
                f"not names of its ClassLabel {feature.names}."
            )
        return pa.array(ids, mask=ids < 0)
    if not (pa.types.is_integer(array.type) or pa.types.is_null(array.type)):
        raise InvalidDataError(
            f"Column {name!r} is a ClassLabel in features but was sampled as {array.type}; "
            "give ClassLabel columns as integer ids or as names."
        )
    ids = array.cast(pa.int64())
    values = ids.to_numpy(zero_copy_only=False)
    bad = ~pd.isna(values) & ((values < -1) | (values >= feature.num_classes))
    if bad.any():
        raise InvalidDataError(
            f"Column {name!r} has ids {pd.unique(values[bad])[:5].tolist()} outside its "
            f"ClassLabel's {feature.num_classes} classes."
        )
    return ids


def _to_table(hf: Any, frame: pd.DataFrame, features: Features, schema: pa.Schema) -> pa.Table:
    """A chunk as an Arrow table of ``schema``; columns absent from ``frame`` are null."""
    import pyarrow as pa

    extra = [c for c in frame.columns if c not in features]
    if extra:
        raise InvalidParameterError(
            f"features lacks column(s) {extra} that the synthesizer produces; add them to "
            "features or pass features=None."
        )
    arrays = []
    for name, feature in features.items():  # a loop over columns, not rows
        target = schema.field(name).type
        if name not in frame.columns:
            arrays.append(pa.nulls(len(frame), target))
        elif isinstance(feature, hf.ClassLabel):
            arrays.append(_class_ids(frame[name], feature, name))
        else:
            array = _to_arrow(frame[name])
            # Dates and coarser timestamps drop the sub-unit part of a sampled time.
            temporal = pa.types.is_temporal(target)
            try:
                arrays.append(array.cast(target, safe=not temporal))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidDataError(
                    f"Sampled values of column {name!r} ({array.type}) do not fit its feature "
                    f"{feature}: {exc}"
                ) from exc
    return pa.Table.from_arrays(arrays, schema=schema)


def _infer_features(hf: Any, frame: pd.DataFrame) -> Features:
    import pyarrow as pa

    table = pa.table({name: _to_arrow(frame[name]) for name in frame.columns})
    return hf.Features.from_arrow_schema(table.schema)


def _write_dataset(
    hf: Any,
    frames: Iterator[pd.DataFrame],
    features: Features | None,
    cache_dir: str | os.PathLike | None,
) -> Dataset:
    """Write the frames as record batches of one Arrow file and memory-map it as a Dataset.

    The file is written under a temporary name and renamed when complete, so an interrupted
    run leaves no truncated file under the final name.
    """
    import pyarrow as pa

    folder = (
        os.fspath(cache_dir)
        if cache_dir is not None
        else os.path.join(hf.config.HF_DATASETS_CACHE, "genaug")
    )
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"synthetic-{uuid.uuid4().hex}.arrow")
    partial = path + ".incomplete"
    try:
        with pa.OSFile(partial, "wb") as sink:
            writer = None
            for frame in frames:
                if writer is None:
                    if features is None:
                        features = _infer_features(hf, frame)
                    schema = features.arrow_schema
                    writer = pa.ipc.new_stream(sink, schema)
                writer.write_table(_to_table(hf, frame, features, schema))
            if writer is None:  # iter_sample yields at least one chunk for n >= 1
                raise InvalidDataError("The synthesizer yielded no rows.")
            writer.close()
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return hf.Dataset.from_file(path)
