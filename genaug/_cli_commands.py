"""What each ``genaug`` command does, as calls to the public Python API.

Every ``run_*`` function takes the parsed arguments and returns the exit code. Errors are
raised, never printed: :func:`genaug.cli.main` turns them into one line on standard error.
A :class:`~genaug._cli_io.UsageError` means the command line cannot be acted on as written
(exit code 2); a :class:`~genaug.exceptions.GenaugError` or ``ValueError`` raised once the
files are read means their content does not fit (exit code 1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from genaug._cli_io import (
    MANIFEST_NAME,
    ImageFolder,
    UsageError,
    arrow_types,
    check_columns,
    check_model_output,
    check_output,
    check_output_folder,
    chunk_frame,
    is_table_path,
    listing,
    read_data,
    read_image_folder,
    read_table,
    require_path,
    split_label,
    synthetic_name_clash,
    table_format,
    write_image_folder,
    write_table,
)
from genaug._random import derive_seed
from genaug.data.images import ImageCodec
from genaug.exceptions import GenaugError, InvalidDataError
from genaug.sklearn import SyntheticAugmenter
from genaug.synthesizers import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer, load

__all__ = [
    "BENCHMARKS_DIR_ENV",
    "BENCHMARK_SUITES",
    "MODELS",
    "SCRIPT_SUITES",
    "benchmarks_dir",
    "run_augment",
    "run_benchmark",
    "run_evaluate",
    "run_fit",
    "run_sample",
]

MODELS = {"vae": VAESynthesizer, "gan": GANSynthesizer, "vaegan": VAEGANSynthesizer}
# The suites run from the scripts of the repository's benchmarks/ folder, in the order of "all".
SCRIPT_SUITES = {
    "tabular": "tabular.py",
    "quality": "quality.py",
    "images": "images.py",
    "speed": "speed.py",
}
BENCHMARK_SUITES = ("quick", *SCRIPT_SUITES, "all")
BENCHMARKS_DIR_ENV = "GENAUG_BENCHMARKS_DIR"
SYNTHETIC_FLAG = "is_synthetic"
# Default --chunk-size: rows of a table, or images (64 x 64 RGB: 12 MiB), held at a time.
TABLE_CHUNK, IMAGE_CHUNK = 65_536, 1_024
# Neighbours of the diversity metrics (genaug.metrics.evaluate's k): given explicitly so
# that the command's own check of the row counts uses the same number.
KNN_K = 5


def _printer(args: argparse.Namespace) -> Callable[[str], None]:
    """``print`` for status lines, or a no-op under ``--quiet``."""
    return (lambda _message: None) if args.quiet else print


def _make_synthesizer(args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {
        "random_state": args.seed,
        "device": args.device,
        "verbose": bool(args.verbose),
    }
    if args.epochs is not None:
        params["epochs"] = args.epochs
    if args.discrete:
        params["discrete_columns"] = list(args.discrete)
    return MODELS[args.model](**params)


def _data_is_folder(args: argparse.Namespace) -> bool:
    """Whether DATA is an image folder, after checking the options that depend on it."""
    folder = require_path(args.data, "DATA").is_dir()
    if folder:
        if args.label is not None:
            raise UsageError(
                f"--label names a table column, but DATA {str(args.data)!r} is an image folder, "
                "whose labels are its sub-folder names: drop --label."
            )
        if args.discrete:
            raise UsageError(
                f"--discrete names table columns, but DATA {str(args.data)!r} is an image "
                "folder: drop --discrete."
            )
    else:
        if args.label is None:
            raise UsageError(
                f"--label is required when DATA is a table: name the class label column of "
                f"{str(args.data)!r}."
            )
        if args.image_size is not None:
            raise UsageError(
                f"--image-size resizes the images of an image folder, but DATA "
                f"{str(args.data)!r} is a table: drop --image-size."
            )
    return folder


def _read_images(args: argparse.Namespace) -> ImageFolder:
    return read_image_folder(
        args.data, "DATA", image_size=args.image_size, max_size=ImageCodec().max_size
    )


def _resized_note(folder: ImageFolder, image_size: int | None = None) -> str:
    h, w = folder.images.shape[1:3]
    if image_size is not None:
        return f"; every image was brought to {w} x {h} (--image-size)"
    if not folder.resized:
        return ""
    were = "image of another size was" if folder.resized == 1 else "images of other sizes were"
    return f"; {folder.resized} {were} resized to {w} x {h}"


def _check_discrete_label(args: argparse.Namespace) -> None:
    """Refuse --discrete naming the --label column (before any file is read)."""
    if args.label is not None and args.label in (args.discrete or []):
        raise UsageError(
            f"--discrete names the --label column {args.label!r}; labels are always "
            "categorical: leave it out of --discrete."
        )


def _check_discrete(data: pd.DataFrame, args: argparse.Namespace, path: str) -> None:
    """Refuse --discrete naming the label or a column that ``data`` (read from ``path``,
    label included) lacks."""
    _check_discrete_label(args)
    check_columns(data, args.discrete or [], "--discrete", path)


def _refuse_output_nested_in_data(args: argparse.Namespace, what: str) -> None:
    """Refuse -o inside, around or equal to the image folder DATA (``what`` names -o's role).

    Checked before the other output checks, so the message names the nesting.
    """
    data, out = Path(args.data).resolve(), Path(args.output).resolve()
    if out == data or data in out.parents or out in data.parents:
        # Inside DATA, the output would be read as one more class by the next fit; around
        # it, replacing the output would delete DATA.
        where = "is" if out == data else "is inside" if data in out.parents else "holds"
        raise UsageError(
            f"-o {str(args.output)!r} {where} DATA {str(args.data)!r}: write {what} "
            "outside DATA."
        )


# ------------------------------------------------------------------------------ fit
def run_fit(args: argparse.Namespace) -> int:
    """``genaug fit``: train a synthesizer on a table and save it as a model folder."""
    say = _printer(args)
    folder = _data_is_folder(args)
    if folder:
        _refuse_output_nested_in_data(args, "the model folder")
    check_model_output(args.output, args.force)
    if folder:
        images = _read_images(args)
        synthesizer = _make_synthesizer(args).fit(images.images, images.labels)
        synthesizer.save(args.output)
        say(
            f"Fitted {type(synthesizer).__name__} on {images.describe()} of {args.data} "
            f"({len(images.classes)} classes: {', '.join(images.classes[:10])})"
            f"{_resized_note(images, args.image_size)}; saved to {args.output}."
        )
        return 0
    data = read_table(args.data)
    X, y = split_label(data, args.label, args.data)
    _check_discrete(data, args, args.data)
    synthesizer = _make_synthesizer(args).fit(X, y)
    synthesizer.save(args.output)
    say(
        f"Fitted {type(synthesizer).__name__} on {len(X)} rows of {args.data} "
        f"({len(synthesizer.classes_)} classes of {args.label!r}); saved to {args.output}."
    )
    return 0


# --------------------------------------------------------------------------- sample
def _from_text(text: str, known: Iterable[Any]) -> Any:
    """The value among ``known`` written as ``text`` on the command line, else ``None``.

    Matches the value's ``str``; a number also matches its numeric value ("1" and "1.0").
    """
    known = list(known)
    for value in known:
        if str(value) == text:
            return value
    numbers = [v for v in known if isinstance(v, (int, float)) and not isinstance(v, bool)]
    try:
        number = float(text)
    except ValueError:
        return None
    return next((v for v in numbers if v == number), None)


def _to_label(text: str, model: Any, args: argparse.Namespace, option: str) -> Any:
    """Convert a label typed on the command line to the model's label type (``classes_``)."""
    if model.classes_ is None:
        raise InvalidDataError(
            f"the model in {args.model_dir!r} was fitted without labels; drop {option}."
        )
    classes = np.asarray(model.classes_).tolist()
    value = _from_text(text, classes)
    if value is None:
        raise InvalidDataError(
            f"{option} {text!r} is not a class of the model in {args.model_dir!r}; "
            f"its classes are {listing(classes)}."
        )
    return value


def _label_name(model: Any) -> Any:
    """The name of the label column a table model was fitted with, or ``None``.

    The public API gives it only as the name of the sampled labels: one row is drawn (an
    error path only, so its cost does not matter).
    """
    if model.classes_ is None:
        return None
    _, y = model.sample(1, random_state=0)
    return getattr(y, "name", None)


def _to_conditions(
    pairs: list[tuple[str, str]], model: Any, args: argparse.Namespace
) -> dict[str, Any] | None:
    """``--condition COL=V`` values converted to the type of the column's categories.

    Values that match no category are passed on as typed: the synthesizer's error then names
    the column and the values it has seen. The label column is refused here, with the
    options that choose it.
    """
    if not pairs:
        return None
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(
            f"--condition gives column(s) {repeated} more than once; a row holds one value "
            "per column."
        )
    if not isinstance(model, GANSynthesizer):
        raise UsageError(
            f"--condition needs a GAN model (fit with --model gan); this one is a "
            f"{type(model).__name__}."
        )
    categories = {
        info["name"]: info["categories"]
        for info in model.codec_.columns_
        if info["kind"] == "categorical"
    }
    features = {info["name"] for info in model.codec_.columns_}
    unknown = [name for name in names if name not in features]
    label = _label_name(model) if unknown else None
    if label is not None and str(label) in unknown:
        raise UsageError(
            f"--condition names {str(label)!r}, the label column of the model in "
            f"{str(args.model_dir)!r}; choose its class with --label-value V (or "
            "--class-counts V=N,... for rows of several classes) instead."
        )
    conditions = {}
    for name, text in pairs:
        value = _from_text(text, categories.get(name, []))
        conditions[name] = text if value is None else value
    return conditions


def _sample_size(args: argparse.Namespace) -> int:
    if args.class_counts is None:
        if args.n is None:
            raise UsageError("-n is required: the number of rows to draw (or give --class-counts).")
        return args.n
    total = sum(args.class_counts.values())
    if args.n is not None and args.n != total:
        raise UsageError(
            f"--class-counts add up to {total}, but -n is {args.n}; make them agree or drop -n."
        )
    if total == 0:
        raise UsageError("--class-counts add up to 0; ask for at least one row.")
    return total


def _frames(chunks: Iterable[Any], bar: tqdm) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        frame = chunk_frame(chunk)
        bar.update(len(frame))
        yield frame


def _is_image_model(model: Any) -> bool:
    return isinstance(model.codec_, ImageCodec)


def _sample_labels(args: argparse.Namespace, model: Any) -> Any:
    """``y`` of ``iter_sample`` from --label-value or --class-counts (``None`` without them)."""
    if args.label_value is not None:
        return _to_label(args.label_value, model, args, "--label-value")
    if args.class_counts is not None:
        return {
            _to_label(text, model, args, "--class-counts"): count
            for text, count in args.class_counts.items()
        }
    return None


def _check_shard_options(args: argparse.Namespace) -> None:
    if args.shards is None:
        for option, value in (("--workers", args.workers), ("--dask-scheduler", args.scheduler)):
            if value is not None:
                raise UsageError(f"{option} runs sharded sampling; it needs --shards K.")
        return
    if is_table_path(args.output) or Path(args.output).is_file():
        raise UsageError(
            f"with --shards, -o is a folder of Parquet files (part-00000.parquet, ...); "
            f"{str(args.output)!r} is a file name: give a folder."
        )


def run_sample(args: argparse.Namespace) -> int:
    """``genaug sample``: draw rows from a saved model, in chunks.

    A table model writes a CSV or Parquet file, or with ``--shards`` a folder of Parquet
    shards written by Dask tasks; an image model writes an image folder.
    """
    _check_shard_options(args)
    n = _sample_size(args)
    if args.shards is None and is_table_path(args.output):
        check_output(args.output, "-o", args.force)  # before loading the model: fail fast
    model = load(str(require_path(args.model_dir, "MODEL_DIR")))
    if _is_image_model(model):
        if args.condition:
            raise UsageError(
                f"--condition fixes table columns, but the model in {str(args.model_dir)!r} "
                "was fitted on images: drop --condition."
            )
        if args.shards is not None:
            raise UsageError(
                f"--shards writes Parquet tables, but the model in {str(args.model_dir)!r} "
                "was fitted on images: drop --shards to write an image folder."
            )
        if is_table_path(args.output):
            raise UsageError(
                f"the model in {str(args.model_dir)!r} was fitted on images and writes an image "
                f"folder, but -o {str(args.output)!r} names a table file: give a folder."
            )
        return _sample_images(args, model, n)
    if args.shards is not None:
        return _sample_shards(args, model, n)
    if not Path(args.output).suffix:
        raise UsageError(
            f"the model in {str(args.model_dir)!r} was fitted on a table and writes a .csv or "
            f".parquet file, but -o {str(args.output)!r} has no extension; name a file, or "
            "pass --shards K to write a folder of Parquet shards."
        )
    table_format(args.output, "-o")
    check_output(args.output, "-o", args.force)
    chunks = model.iter_sample(
        n,
        _sample_labels(args, model),
        conditions=_to_conditions(args.condition, model, args),
        random_state=args.seed,
        chunk_size=args.chunk_size or TABLE_CHUNK,
    )
    with tqdm(total=n, unit="row", desc="sample", disable=not args.verbose) as bar:
        rows = write_table(args.output, _frames(chunks, bar), null_types=arrow_types(model))
    _printer(args)(f"Wrote {rows} synthetic rows to {args.output}.")
    return 0


def _add_synthetic_images(
    writer: Any, chunks: Iterable[Any], n: int, scale: Any, verbose: bool
) -> None:
    """Write the sampled chunks' images through ``writer``, with a progress bar."""
    with tqdm(total=n, unit="image", desc="sample", disable=not verbose) as bar:
        for chunk in chunks:
            X, labels = _split_chunk(chunk)
            writer.add_synthetic(X, labels, scale)
            bar.update(len(X))


def _split_chunk(chunk: Any) -> tuple[Any, Any]:
    return chunk if isinstance(chunk, tuple) else (chunk, None)


def _sample_images(args: argparse.Namespace, model: Any, n: int) -> int:
    """Write ``n`` sampled images as ``CLASS/synthetic_000123.png`` plus ``manifest.csv``."""
    check_output_folder(args.output, "-o", args.force)
    chunks = model.iter_sample(
        n,
        _sample_labels(args, model),
        random_state=args.seed,
        chunk_size=args.chunk_size or IMAGE_CHUNK,
    )

    def write(writer: Any) -> None:
        _add_synthetic_images(writer, chunks, n, model.codec_.scale_, args.verbose)

    write_image_folder(args.output, write, digits=max(6, len(str(n - 1))))
    _printer(args)(
        f"Wrote {n} synthetic images to {args.output} (a sub-folder per class, {MANIFEST_NAME})."
    )
    return 0


def _sample_shards(args: argparse.Namespace, model: Any, n: int) -> int:
    """``genaug sample --shards K``: Parquet shards written by Dask tasks (genaug.sharding)."""
    if args.shards > n:
        raise UsageError(f"--shards {args.shards} is more than the {n} rows to draw; lower it.")
    try:
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "--shards runs on Dask, which is not installed: pip install 'genaug[dask]'."
        ) from exc
    from genaug.sharding import ShardJobError, sample_shards

    try:
        report = sample_shards(
            args.model_dir,
            n,
            args.output,
            shards=args.shards,
            seed=args.seed,
            y=_sample_labels(args, model),
            conditions=_to_conditions(args.condition, model, args),
            workers=args.workers,
            scheduler_address=args.scheduler,
            chunk_size=args.chunk_size or TABLE_CHUNK,
            overwrite=args.force,
            verbose=bool(args.verbose),
        )
    except ShardJobError as exc:  # -o holds another job or other files: the command line's fault
        raise UsageError(f"-o: {exc}") from exc
    say = _printer(args)
    if not report.written:
        say(f"All {args.shards} shards in {args.output} are complete already; nothing to do.")
        return 0
    skipped = f"; {len(report.skipped)} were complete already" if report.skipped else ""
    rate = report.rows_written / report.seconds
    say(
        f"Wrote {report.rows_written} synthetic rows in {len(report.written)} of {args.shards} "
        f"shards to {args.output} (seed {report.seed}){skipped}; {report.seconds:.1f} s, "
        f"{rate:,.0f} rows/s."
    )
    return 0


# -------------------------------------------------------------------------- augment
def run_augment(args: argparse.Namespace) -> int:
    """``genaug augment``: append synthetic rows to a table, flagged in ``is_synthetic``;
    or write an image folder's images plus synthetic ones, listed in ``manifest.csv``."""
    say = _printer(args)
    if _data_is_folder(args):
        if args.reject_copies:
            raise UsageError(
                "--reject-copies works on tables: in pixel space no default threshold tells a "
                "copy from a blurry image. Use sample(..., reject_copies=True, "
                "copy_threshold=...) in Python for images."
            )
        return _augment_images(args)
    table_format(args.output, "-o")
    check_output(args.output, "-o", args.force)
    data = read_table(args.data)
    X, y = split_label(data, args.label, args.data)
    _check_discrete(data, args, args.data)
    if SYNTHETIC_FLAG in data.columns:
        raise InvalidDataError(
            f"{str(args.data)!r} already has a column {SYNTHETIC_FLAG!r}; genaug adds its own: "
            "rename or drop it."
        )
    augmenter = SyntheticAugmenter(
        _make_synthesizer(args),
        # --ratio grows every class without rebalancing ({}: no target sizes).
        sampling_strategy={} if args.ratio is not None else args.strategy,
        augment_ratio=args.ratio,
        random_state=args.seed,
        reject_copies=args.reject_copies,
    )
    X_res, y_res = augmenter.fit_resample(X, y)
    out = pd.concat([X_res, y_res], axis=1)[list(data.columns)]
    out[SYNTHETIC_FLAG] = augmenter.synthetic_mask_
    if not _is_default_index(data.index):
        # A Parquet file's index (e.g. ids): not modelled, kept for the real rows as the
        # leading column(s), empty on synthetic ones.
        ids = data.index.to_frame(index=False)
        names = data.index.names
        ids.columns = [
            str(n) if n is not None else ("index" if len(names) == 1 else f"level_{i}")
            for i, n in enumerate(names)
        ]
        # Nullable dtypes before the empty synthetic rows are added: int64 ids through
        # float64 would lose their digits beyond 2**53 (and print as 100.0).
        kinds = {c: ids[c].dtype.kind for c in ids}
        ids = ids.astype({c: _NULLABLE[k] for c, k in kinds.items() if k in _NULLABLE})
        clash = sorted(set(ids.columns) & set(out.columns))
        if clash:
            raise InvalidDataError(
                f"{str(args.data)!r} has an index named {clash} like one of its columns; "
                "rename one of them."
            )
        out = pd.concat([ids.reindex(range(len(out))), out], axis=1)
    write_table(args.output, [out])
    added = {str(k): v for k, v in augmenter.sampling_strategy_.items()}
    redrawn = ""
    if augmenter.copy_report_ is not None:
        redrawn = (
            f" ({augmenter.copy_report_.n_replaced} too close to a real row were redrawn, "
            f"threshold {augmenter.copy_report_.threshold:.3g})"
        )
    say(
        f"Added {int(augmenter.synthetic_mask_.sum())} synthetic rows {added}{redrawn} to the "
        f"{len(X)} rows of {args.data}; wrote {args.output}."
    )
    return 0


_NULLABLE = {"i": "Int64", "u": "UInt64", "b": "boolean"}


def _is_default_index(index: pd.Index) -> bool:
    """Whether ``index`` is the 0..n-1 RangeIndex a CSV or plain Parquet file is read with."""
    return (
        isinstance(index, pd.RangeIndex)
        and index.name is None
        and index.start == 0
        and index.step == 1
    )


def _augment_images(args: argparse.Namespace) -> int:
    """Copy the real images unchanged and add ``CLASS/synthetic_000123.png`` files.

    How many images each class gains comes from :class:`SyntheticAugmenter`'s own rules
    (``fit`` on the labels alone), so --strategy and --ratio mean what they mean for tables.
    """
    if is_table_path(args.output):
        raise UsageError(
            f"DATA {str(args.data)!r} is an image folder, so the augmented data set is a "
            f"folder too, but -o {str(args.output)!r} names a table file: give a folder."
        )
    _refuse_output_nested_in_data(args, "the augmented folder")
    check_output_folder(args.output, "-o", args.force)
    folder = _read_images(args)
    clash = synthetic_name_clash(folder)
    if clash is not None:
        raise InvalidDataError(
            f"the real image {str(folder.root / clash)!r} has the name genaug gives synthetic "
            "images (synthetic_NNN.png); rename it."
        )
    synthesizer = _make_synthesizer(args).fit(folder.images, folder.labels)
    counts = (
        SyntheticAugmenter(
            synthesizer,
            sampling_strategy={} if args.ratio is not None else args.strategy,
            augment_ratio=args.ratio,
        )
        .fit(np.zeros((len(folder.labels), 1)), folder.labels)
        .sampling_strategy_
    )
    total = sum(counts.values())
    seed = None if args.seed is None else derive_seed(args.seed, 1)

    def write(writer: Any) -> None:
        for rel, label in zip(folder.paths, folder.labels.tolist()):
            writer.add_real(folder.root / rel, rel, label)
        if total == 0:
            return
        chunks = synthesizer.iter_sample(total, counts, random_state=seed, chunk_size=IMAGE_CHUNK)
        _add_synthetic_images(writer, chunks, total, synthesizer.codec_.scale_, args.verbose)

    write_image_folder(args.output, write, digits=max(6, len(str(total - 1))))
    added = {str(k): v for k, v in counts.items()}
    _printer(args)(
        f"Added {total} synthetic images {added} to the {folder.describe()} of {args.data}"
        f"{_resized_note(folder, args.image_size)}; wrote {args.output} with {MANIFEST_NAME}."
    )
    return 0


# ------------------------------------------------------------------------- evaluate
def _split(frame: pd.DataFrame, label: str | None, path: str) -> tuple[pd.DataFrame, Any]:
    return (frame, None) if label is None else split_label(frame, label, path)


def _pixels(folder: ImageFolder) -> pd.DataFrame:
    """A folder's images as one row of pixel values in [0, 1] each (channels last)."""
    flat = folder.images.reshape(len(folder.images), -1).astype(np.float32) / 255.0
    return pd.DataFrame(flat, columns=[f"pixel_{i}" for i in range(flat.shape[1])])


def _image_tables(args: argparse.Namespace) -> tuple[Any, ...]:
    """REAL, SYNTH and --holdout as image folders, in REAL's size and colour mode."""
    for option, value in (("--label", args.label), ("--discrete", args.discrete)):
        if value:
            raise UsageError(
                f"{option} names table columns, but REAL {str(args.real)!r} is an image "
                f"folder, whose labels are its sub-folder names: drop {option}."
            )
    real = read_image_folder(args.real, "REAL", max_size=ImageCodec().max_size)
    tables = [_pixels(real), real.labels]
    for path, option in ((args.synthetic, "SYNTH"), (args.holdout, "--holdout")):
        if path is None:
            tables += [None, None]
            continue
        if not Path(require_path(path, option)).is_dir():
            raise UsageError(
                f"REAL is an image folder, so {option} must be one too; {str(path)!r} is a file."
            )
        folder = read_image_folder(path, option, like=real)
        tables += [_pixels(folder), folder.labels]
    return tuple(tables)


def _check_knn_rows(
    args: argparse.Namespace, real: pd.DataFrame, synthetic: pd.DataFrame, images: bool
) -> None:
    """Refuse REAL or SYNTH with too few rows for the diversity metrics' neighbours.

    Checked here so that the message names the command's files and options (the metrics'
    own error suggests a smaller ``k``, which the command does not offer).
    """
    from genaug.metrics import FAMILIES

    asked = list(FAMILIES) if args.metrics == "all" else list(args.metrics)
    if "diversity" not in asked:
        return
    for option, path, frame in (("REAL", args.real, real), ("SYNTH", args.synthetic, synthetic)):
        if len(frame) > KNN_K:
            continue
        usable = args.holdout is not None and (args.label is not None or images)
        others = [f for f in asked if f != "diversity" and (f != "utility" or usable)]
        others = others or [f for f in FAMILIES if f not in ("diversity", "utility")]
        rows = "images" if images else "rows"
        raise InvalidDataError(
            f"{option} {str(path)!r} has {len(frame)} {rows}; the diversity metrics compare "
            f"each {rows[:-1]} with its {KNN_K} nearest neighbours and need at least "
            f"{KNN_K + 1} {rows} in REAL and in SYNTH: pass more {rows}, or leave diversity "
            f"out (--metrics {','.join(others)})."
        )


def run_evaluate(args: argparse.Namespace) -> int:
    """``genaug evaluate``: score a synthetic table against the real one; print the summary.

    Image folders are compared in pixel space: every image becomes a row of its pixel values
    in [0, 1] (the other folders are read in REAL's size and colour mode) and the labels are
    the sub-folder names.
    """
    from genaug.metrics import evaluate

    wanted = args.metrics if isinstance(args.metrics, list) else [args.metrics]
    # An image folder's labels are its sub-folder names, so it needs no --label.
    if "utility" in wanted and Path(args.real).is_dir():
        if args.holdout is None:
            raise UsageError(
                "--metrics utility trains a classifier on the synthetic images and scores it "
                "on real ones: it needs --holdout FOLDER (labelled by its sub-folders)."
            )
    elif "utility" in wanted and (args.holdout is None or args.label is None):
        raise UsageError(
            "--metrics utility trains a classifier on the synthetic rows and scores it on real "
            "ones: it needs --holdout FILE and --label COL."
        )
    for option in ("html", "json"):
        if getattr(args, option) is not None:
            check_output(getattr(args, option), f"--{option}", args.force)
    images = Path(require_path(args.real, "REAL")).is_dir()
    if images:
        real, y_real, synthetic, y_synthetic, holdout, y_holdout = _image_tables(args)
    else:
        _check_discrete_label(args)
        real, y_real = _split(read_data(args.real, "REAL"), args.label, args.real)
        synthetic, y_synthetic = _split(
            read_data(args.synthetic, "SYNTH"), args.label, args.synthetic
        )
        holdout = y_holdout = None
        if args.holdout is not None:
            holdout, y_holdout = _split(
                read_data(args.holdout, "--holdout"), args.label, args.holdout
            )
        check_columns(real, args.discrete or [], "--discrete", args.real)
    _check_knn_rows(args, real, synthetic, images)
    report = evaluate(
        real,
        synthetic,
        real_holdout=holdout,
        y_real=y_real,
        y_synthetic=y_synthetic,
        y_holdout=y_holdout,
        metrics=args.metrics,
        random_state=args.seed,
        k=KNN_K,
        discrete_columns=args.discrete,
        # Pixel values as they are: standardised per pixel, a near-constant border pixel
        # would weigh as much as the digit's strokes.
        features=images,
    )
    report.summary()  # the command's result: printed under --quiet too
    say = _printer(args)
    if args.json is not None:
        say(f"Wrote {report.to_json(args.json)}.")
    if args.html is not None:
        say(f"Wrote {report.to_html(args.html)}.")
    return 0


# ------------------------------------------------------------------------ benchmark
def benchmarks_dir() -> Path:
    """The repository's ``benchmarks/`` folder, which holds the scripts of the full suites.

    ``GENAUG_BENCHMARKS_DIR`` overrides it; otherwise it is the folder beside the ``genaug``
    package, which exists in a source checkout (``pip install -e .``) and not in a wheel.

    Returns
    -------
    Path
        The folder, which need not exist.
    """
    override = os.environ.get(BENCHMARKS_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return _package_root() / "benchmarks"


def _package_root() -> Path:
    """The folder that holds the ``genaug`` package this command runs from."""
    import genaug

    return Path(genaug.__file__).resolve().parent.parent


def _script(suite: str) -> Path:
    """The script of ``suite``, or a :class:`UsageError` that says where it was looked for."""
    folder = benchmarks_dir()
    if not folder.is_dir():
        raise UsageError(
            f"--suite {suite} runs the scripts of the source tree's benchmarks/ folder, which this "
            f"installation lacks ({folder} does not exist); clone the genaug repository and "
            f"'pip install -e .' it, or set {BENCHMARKS_DIR_ENV} to the folder. "
            "'genaug benchmark --quick' works from any install."
        )
    script = folder / SCRIPT_SUITES[suite]
    if not script.is_file():
        raise UsageError(
            f"--suite {suite} needs {script}, which is absent from {folder}; this checkout has "
            f"no {suite} benchmark yet."
        )
    return script


def _check_results(out: str | None, suite: str, force: bool) -> None:
    """Refuse to overwrite the results of ``suite`` in an explicit ``--out`` without --force."""
    if out is None or force:
        return
    for name in (f"{suite}.json", f"{suite}.md"):
        if (Path(out) / name).exists():
            raise UsageError(
                f"--out {str(out)!r} already holds {name}; pass --force to overwrite the results "
                "or choose another folder."
            )


def _run_quick(args: argparse.Namespace, out: str | None) -> int:
    from genaug.bench.quick import run_quick

    result = run_quick(
        repeats=args.repeats,
        epochs=args.epochs,
        seed=args.seed,
        out_dir=out,
        log=None if args.quiet else print,
    )
    if args.quiet:
        print(result["table"])  # the command's result: printed under --quiet too
    return 0


def _run_script(suite: str, script: Path, args: argparse.Namespace) -> int:
    """Run one suite's script with this Python; its exit status, 0 on success."""
    command = [sys.executable, str(script)]
    if args.out is not None:
        command += ["--out", str(Path(args.out).resolve())]
    if args.budget is not None:
        command += ["--budget", f"{args.budget:g}"]
    if args.quick:
        command.append("--quick")
    command += list(args.script_args)
    # The script imports the genaug that runs this command, even from an uninstalled checkout.
    env = dict(os.environ)
    package_root = str(_package_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    say = _printer(args)
    say(f"genaug benchmark: running {' '.join(command[1:])}")
    stdout = subprocess.DEVNULL if args.quiet else None
    completed = subprocess.run(command, env=env, stdout=stdout, check=False)
    if completed.returncode == 0:
        results = Path(args.out) if args.out is not None else script.parent / "results"
        print(f"{suite}: results in {results / (suite + '.md')} and .json")
    return completed.returncode


def _suites(args: argparse.Namespace) -> list[str]:
    suite = args.suite
    if suite is None:
        if args.quick and args.script_args:
            # 'benchmark --quick my_table.csv' ran the built-in tables and said nothing.
            raise UsageError(
                "the quick benchmark runs on its built-in tables (breast_cancer, wine, adult) "
                f"and takes no arguments; got {' '.join(args.script_args)!r}. To measure "
                "augmentation on your own table, use AugmentedClassifier(validation='auto') "
                "or 'genaug evaluate' with --holdout and --label."
            )
        if args.quick:
            return ["quick"]
        raise UsageError(
            "choose a benchmark: --quick, or --suite NAME with NAME among "
            f"{list(BENCHMARK_SUITES)}."
        )
    if suite not in BENCHMARK_SUITES:
        raise UsageError(
            f"--suite {suite!r} is not a benchmark suite; available: {list(BENCHMARK_SUITES)}."
        )
    if args.script_args and suite in ("quick", "all"):
        raise UsageError(
            f"arguments after '--' go to one suite's script; --suite {suite} takes none "
            f"(got {' '.join(args.script_args)!r})."
        )
    return ["quick", *SCRIPT_SUITES] if suite == "all" else [suite]


def run_benchmark(args: argparse.Namespace) -> int:
    """``genaug benchmark``: run a benchmark suite, or all of them, and report where results are.

    ``quick`` runs in this process from :mod:`genaug.bench`, so it works from any install.
    The other suites are the scripts of the repository's ``benchmarks/`` folder (see
    :func:`benchmarks_dir`), each run as ``python benchmarks/<suite>.py`` with this Python and
    given ``--out DIR``, ``--budget SECONDS`` and ``--quick`` when the command has them, plus
    any arguments after ``--``. ``all`` runs quick and every script present, says which are
    absent, and exits with 1 when one was absent or failed.
    """
    suites = _suites(args)
    if suites == ["quick"] and args.budget is not None:
        raise UsageError("--budget is for the script suites; the quick suite takes --epochs.")
    run_all = args.suite == "all"
    for suite in suites:
        _check_results(args.out, suite, args.force)
    scripts: dict[str, Path] = {}
    missing: list[str] = []
    for suite in suites:
        if suite == "quick":
            continue
        try:
            scripts[suite] = _script(suite)
        except UsageError as exc:
            if not run_all or not benchmarks_dir().is_dir():
                raise
            missing.append(suite)
            print(f"genaug benchmark: skipping {suite}: {exc}", file=sys.stderr)
    failed: list[str] = []
    for suite in suites:
        if suite == "quick":
            out = args.out
            if out is None and run_all:
                out = str(benchmarks_dir() / "results")
            _run_quick(args, out)
        elif suite in scripts:
            code = _run_script(suite, scripts[suite], args)
            if code != 0:
                if not run_all:
                    raise GenaugError(
                        f"{scripts[suite]} exited with status {code}; its output above says why."
                    )
                failed.append(f"{suite} failed (exit status {code})")
    if missing or failed:
        raise GenaugError(
            "not every suite ran: "
            + "; ".join([f"{s} absent" for s in missing] + failed)
            + "; the other suites' results were written."
        )
    return 0
