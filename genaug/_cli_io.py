"""Files for the command line: tables (CSV/Parquet) and image folders, read whole and
written atomically in chunks.

Kept apart from :mod:`genaug.cli` so that the commands read as calls to the public API.

An *image folder* is a folder of class sub-folders of images, the layout of torchvision's
``ImageFolder``: the labels are the sub-folder names, and images may sit at any depth inside
their class folder. :func:`read_image_folder` reads one into a single ``uint8`` array (one
image size, one colour mode; see there for the policy). :func:`write_image_folder` writes
synthetic images (and copies of real ones) as ``CLASS/synthetic_000123.png`` files with a
``manifest.csv`` of ``path,label,is_synthetic``, into a temporary folder that is renamed onto
the target only once complete.
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import lzma
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genaug.data.images import uint8_images
from genaug.exceptions import InvalidDataError
from genaug.io import atomic_write_file, holds_genaug_model, replace_folder

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_HEADER",
    "MANIFEST_NAME",
    "TABLE_FORMATS",
    "ImageFolder",
    "ImageFolderWriter",
    "UsageError",
    "check_columns",
    "check_model_output",
    "check_output",
    "check_output_folder",
    "chunk_frame",
    "csv_compression",
    "is_table_path",
    "listing",
    "read_data",
    "read_image_folder",
    "read_table",
    "require_path",
    "split_label",
    "synthetic_name_clash",
    "table_format",
    "write_image_folder",
    "write_table",
]

# File extension -> format. Anything else is refused with an error naming the file.
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# A CSV file may be compressed: the last suffix -> pandas' name of the compression
# (".csv.gz"). Parquet compresses its own column chunks, so ".parquet.gz" is refused.
CSV_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
_KNOWN_EXTENSIONS = (
    f"{', '.join(TABLE_FORMATS)} (CSV may be compressed: "
    f"{', '.join('.csv' + s for s in CSV_COMPRESSIONS)})"
)
_PARQUET_HINT = "Parquet files need pyarrow: pip install 'genaug[parquet]'"
_ZSTD_HINT = ".zst files need zstandard: pip install zstandard"
_VISION_HINT = "image folders need pillow: pip install 'genaug[vision]'"
# The image files read from a class folder (torchvision's ImageFolder reads the same set);
# other files (notes, .DS_Store) are skipped.
IMAGE_EXTENSIONS = (
    ".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp",
)  # fmt: skip
# PIL modes read as grayscale; a folder where every image has one of them stays grayscale.
_GRAY_MODES = frozenset({"1", "L", "LA"})
# PIL modes of more than 8 bits per channel (16-bit and 32-bit integer, float).
_DEEP_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
MANIFEST_NAME = "manifest.csv"
MANIFEST_HEADER = ("path", "label", "is_synthetic")
_SYNTHETIC_NAME = re.compile(r"synthetic_\d+\.png")


class UsageError(Exception):
    """The command line cannot be acted on as written (exit code 2)."""


def require_path(path: str | os.PathLike, option: str) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, or raise if nothing exists there.

    Parameters
    ----------
    path : str or path-like
        The path given on the command line.
    option : str
        The argument or option it was given to (named in the error).

    Returns
    -------
    Path

    Raises
    ------
    UsageError
        If ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{option} {str(path)!r} does not exist; check the path.")
    return path


def _extension(path: str | os.PathLike) -> tuple[str, str | None]:
    """The table extension of ``path`` and its compression suffix: ``(".csv", ".gz")``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CSV_COMPRESSIONS:
        return Path(path.stem).suffix.lower(), suffix
    return suffix, None


def _format_of(path: str | os.PathLike) -> str | None:
    """The format a table path names, or ``None``."""
    suffix, packed = _extension(path)
    fmt = TABLE_FORMATS.get(suffix)
    return None if packed is not None and fmt != "csv" else fmt


def table_format(path: str | os.PathLike, option: str) -> str:
    """The format of a table file from its extension: ``"csv"`` or ``"parquet"``.

    A ``.csv`` file may be compressed (:data:`CSV_COMPRESSIONS`, e.g. ``.csv.gz``).

    Raises
    ------
    UsageError
        If the extension is not one of :data:`TABLE_FORMATS`, or one of them followed by a
        compression suffix other than ``.csv``'s.
    """
    fmt = _format_of(path)
    if fmt is None:
        suffix, packed = _extension(path)
        shown = suffix + (packed or "")
        raise UsageError(
            f"{option} {str(path)!r} has an unsupported extension {shown or '(none)'!r}; "
            f"use a table file ending in {_KNOWN_EXTENSIONS}."
        )
    return fmt


def csv_compression(path: str | os.PathLike) -> str | None:
    """pandas' name of the compression of a CSV path (``"gzip"`` for ``.csv.gz``), or ``None``.

    Given to pandas explicitly: the temporary file of an atomic write has another name.
    """
    suffix, packed = _extension(path)
    return CSV_COMPRESSIONS[packed] if packed is not None and suffix == ".csv" else None


def is_table_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends in a table extension (:data:`TABLE_FORMATS`, CSV maybe compressed)."""
    return _format_of(path) is not None


def listing(values: Iterable[Any], limit: int = 20) -> str:
    """``['a', 'b', ...] (+5 more)``: the first ``limit`` values as text, and how many remain."""
    values = [str(v) for v in values]
    more = f" (+{len(values) - limit} more)" if len(values) > limit else ""
    return f"{values[:limit]}{more}"


def read_data(path: str | os.PathLike, option: str = "DATA") -> pd.DataFrame:
    """Read a table given as ``option``: a CSV or Parquet file, never an image folder.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet`` or ``.pq`` file; a ``.csv`` file may be compressed
        (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``).
    option : str, default="DATA"
        Name of the argument, for error messages.

    Returns
    -------
    DataFrame

    Raises
    ------
    UsageError
        If the path is missing, has another extension, or is a folder.
    InvalidDataError
        If the file cannot be parsed.
    """
    path = require_path(path, option)
    if path.is_dir():
        raise UsageError(
            f"{option} {str(path)!r} is a folder; this command reads a table: pass a CSV or "
            "Parquet file."
        )
    return read_table(path, option)


# -------------------------------------------------------------------- image folders
def _require_pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise UsageError(f"reading or writing {_VISION_HINT}.") from exc
    return Image


@dataclass
class ImageFolder:
    """The images of a folder of class sub-folders, as :func:`read_image_folder` read them.

    Attributes
    ----------
    root : Path
        The folder.
    images : ndarray of uint8, shape (n, height, width) or (n, height, width, 3)
        Grayscale images without a channel axis, colour images as RGB.
    labels : ndarray of str, shape (n,)
        Each image's class: the name of its sub-folder.
    paths : list of Path
        Each image's file, relative to ``root``, in the order of ``images``.
    resized : int
        How many images were resized to the common size.
    """

    root: Path
    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    resized: int = 0

    @property
    def classes(self) -> list[str]:
        """The class names, sorted."""
        return sorted(set(self.labels.tolist()))

    def describe(self) -> str:
        """``"24 images (8 x 8 pixels, RGB)"``, for status lines."""
        n, h, w = self.images.shape[:3]
        mode = "grayscale" if self.images.ndim == 3 else "RGB"
        return f"{n} images ({w} x {h} pixels, {mode})"


def _walk_images(folder: Path, root: Path) -> Iterator[Path]:
    """Image files under ``folder``, relative to ``root``, in a reproducible (sorted) order."""
    for dirpath, dirnames, names in os.walk(folder):
        # Pruning in place steers os.walk: sorted, and hidden folders skipped.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                yield Path(dirpath, name).relative_to(root)


def _image_files(root: Path, option: str) -> tuple[list[Path], list[str]]:
    """The image files under each class sub-folder of ``root`` (sorted) and their labels."""
    if not root.is_dir():
        raise UsageError(f"{option} {str(root)!r} is not a folder.")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not class_dirs:
        what = "is empty" if not entries else "has no class sub-folders"
        raise InvalidDataError(
            f"{option} {str(root)!r} {what}; an image folder holds one sub-folder of images "
            "per class (e.g. cats/001.png, dogs/002.png)."
        )
    if loose:
        raise InvalidDataError(
            f"{option} {str(root)!r} has images outside the class sub-folders (e.g. "
            f"{loose[0].name!r}); move each into the sub-folder of its class."
        )
    files: list[Path] = []
    labels: list[str] = []
    for class_dir in class_dirs:
        found = list(_walk_images(class_dir, root))
        if not found:
            raise InvalidDataError(
                f"the class folder {str(class_dir)!r} of {option} holds no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder."
            )
        files += found
        labels += [class_dir.name] * len(found)
    return files, labels


def read_image_folder(
    path: str | os.PathLike,
    option: str = "DATA",
    image_size: int | None = None,
    max_size: int | None = None,
    like: ImageFolder | None = None,
) -> ImageFolder:
    """Read a folder of class sub-folders of images into one ``uint8`` array.

    The labels are the sub-folder names; images may sit at any depth inside their class
    folder; hidden files and files without an image extension (:data:`IMAGE_EXTENSIONS`) are
    skipped. One array needs one size and one colour mode, so:

    * mode: if every image is grayscale (PIL mode ``1``, ``L`` or ``LA``) the images are read
      as grayscale ``H x W``; otherwise all are converted to RGB (alpha is dropped, palettes
      are expanded);
    * size: with ``image_size=S`` every image is resized to ``S x S``; otherwise images whose
      size differs from the most common one (the first met in sorted order on a tie) are
      resized to it. Resizing is bilinear, with antialiasing.

    Parameters
    ----------
    path : str or path-like
        The folder.
    option : str, default="DATA"
        Name of the argument, for error messages.
    image_size : int, optional
        Side of the square images to resize every image to.
    max_size : int, optional
        Without ``image_size``, refuse images larger than this a side (checked on the file
        headers, before any image is decoded).
    like : ImageFolder, optional
        Read the images in ``like``'s size and colour mode instead (resizing and converting
        as needed), so that two folders can be compared pixel by pixel.

    Returns
    -------
    ImageFolder

    Raises
    ------
    UsageError
        If pillow is not installed or ``path`` is not a folder.
    InvalidDataError
        If the folder is empty, has no class sub-folders, has images outside them or an
        empty class folder, an image file cannot be read (the message names it), or the
        images are larger than ``max_size`` (the message suggests ``--image-size``).
    """
    Image = _require_pil()
    root = Path(path)
    files, labels = _image_files(root, option)

    def unreadable(rel: Path, exc: BaseException) -> InvalidDataError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return InvalidDataError(
            f"cannot read the image {str(root / rel)!r} of {option}: {reason}. Replace or "
            "remove the file."
        )

    # First pass: headers only (PIL opens lazily), to choose one mode and one size.
    sizes, modes = [], []
    for rel in files:
        try:
            with Image.open(root / rel) as im:
                sizes.append(im.size)
                modes.append(im.mode)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise unreadable(rel, exc) from exc
    deep = sorted({m for m in modes if m in _DEEP_MODES})
    if deep:
        # PIL would clip these to 8 bits when converting (16-bit PNGs come out white).
        raise InvalidDataError(
            f"{option} {str(root)!r} holds images of {', '.join(deep)} mode (16-bit or "
            "floating-point pixels), which the command line reads as 8-bit only; convert "
            "them to 8-bit, or fit in Python on an array of their pixel values."
        )
    mode = "L" if set(modes) <= _GRAY_MODES else "RGB"
    size = (image_size, image_size) if image_size else Counter(sizes).most_common(1)[0][0]
    if like is not None:
        mode = "L" if like.images.ndim == 3 else "RGB"
        size = (like.images.shape[2], like.images.shape[1])
    width, height = size
    if max_size is not None and not image_size and max(size) > max_size:
        raise InvalidDataError(
            f"the images of {option} {str(root)!r} are {width} x {height} pixels; genaug's "
            f"networks take at most {max_size} pixels a side: pass --image-size S (e.g. "
            "--image-size 64) to resize them to S x S."
        )
    shape = (len(files), height, width) if mode == "L" else (len(files), height, width, 3)
    images = np.empty(shape, dtype=np.uint8)  # filled in place: no list of arrays
    # Decoding each file is unavoidable; everything after works on the stacked array.
    for i, rel in enumerate(files):
        try:
            with Image.open(root / rel) as im:
                im = im.convert(mode)
                if im.size != size:
                    im = im.resize(size, Image.Resampling.BILINEAR)
                images[i] = np.asarray(im)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise unreadable(rel, exc) from exc
    resized = sum(s != size for s in sizes)
    return ImageFolder(root, images, np.asarray(labels), files, resized)


def _folder_name(label: Any) -> str:
    """The sub-folder name of a class label, refused when it cannot be one."""
    name = str(label)
    if name in ("", ".", "..") or any(sep in name for sep in ("/", "\\", os.sep, "\0")):
        raise InvalidDataError(
            f"the class label {label!r} cannot be a folder name; image folders need labels "
            "that are plain names (no '/', not '.' or '..')."
        )
    return name


class ImageFolderWriter:
    """Fills a (temporary) folder with class sub-folders of images and a manifest.

    Made by :func:`write_image_folder`, which hands it to the caller's ``write`` function.
    Synthetic images are numbered in the order they are added: ``CLASS/synthetic_000123.png``
    (``synthetic_000123.png`` at the top for a model fitted without labels).

    Parameters
    ----------
    root : Path
        The folder to write into.
    digits : int, default=6
        Zero-padding of the synthetic file numbers.

    Attributes
    ----------
    n_real, n_synthetic : int
        Images written so far.
    """

    def __init__(self, root: Path, digits: int = 6) -> None:
        self._Image = _require_pil()
        self.root = root
        self.digits = digits
        self.n_real = 0
        self.n_synthetic = 0
        self._dirs: set[str] = set()
        self._manifest = open(root / MANIFEST_NAME, "w", newline="", encoding="utf-8")
        self._rows = csv.writer(self._manifest)
        self._rows.writerow(MANIFEST_HEADER)

    def _dir(self, label: Any) -> str:
        name = "" if label is None else _folder_name(label)
        if name not in self._dirs:
            (self.root / name).mkdir(parents=True, exist_ok=True)
            self._dirs.add(name)
        return name

    def add_real(self, source: Path, rel: Path, label: str) -> None:
        """Copy the real image file ``source`` unchanged to ``rel`` (relative to the root)."""
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, self.root / rel)
        self._rows.writerow((rel.as_posix(), label, False))
        self.n_real += 1

    def add_synthetic(self, X: Any, y: Any, scale: tuple[float, float]) -> None:
        """Write one ``iter_sample`` chunk of images ``X`` with labels ``y`` (or ``None``)."""
        images = uint8_images(X, scale)
        labels = [None] * len(images) if y is None else np.asarray(y).tolist()
        rows = []
        for image, label in zip(images, labels):
            rel = f"synthetic_{self.n_synthetic:0{self.digits}d}.png"
            folder = self._dir(label)
            rel = f"{folder}/{rel}" if folder else rel
            self._Image.fromarray(image).save(self.root / rel, format="PNG")
            rows.append((rel, "" if label is None else label, True))
            self.n_synthetic += 1
        self._rows.writerows(rows)

    def close(self) -> None:
        """Flush the manifest."""
        self._manifest.close()


def _is_image_output(path: Path) -> bool:
    """Whether ``path`` is a folder that genaug wrote: its manifest has genaug's header."""
    try:
        with open(path / MANIFEST_NAME, newline="", encoding="utf-8") as fh:
            return tuple(next(csv.reader(fh), ())) == MANIFEST_HEADER
    except (OSError, UnicodeDecodeError):
        return False


def check_output_folder(path: str | os.PathLike, option: str, force: bool) -> Path:
    """Refuse an output folder that exists (unless ``force``) or that genaug did not write.

    Raises
    ------
    UsageError
        If ``path`` is a file or a table file name, or a non-empty folder and ``force`` is
        false, or a non-empty folder without genaug's ``manifest.csv`` (never replaced, even
        with ``--force``, so that a typo cannot delete a data set).
    """
    path = Path(path)
    if is_table_path(path) or path.is_file():
        raise UsageError(
            f"{option} {str(path)!r} is a file name; images are written to a folder of class "
            "sub-folders: give a folder."
        )
    if path.is_dir() and any(path.iterdir()):
        if not _is_image_output(path):
            raise UsageError(
                f"{option} {str(path)!r} is a non-empty folder that genaug did not write (no "
                f"{MANIFEST_NAME}); genaug does not replace it: choose another folder."
            )
        if not force:
            raise UsageError(
                f"{option} {str(path)!r} already exists; pass --force to replace it or choose "
                "another folder."
            )
    return path


def write_image_folder(
    path: str | os.PathLike, write: Callable[[ImageFolderWriter], None], digits: int = 6
) -> ImageFolderWriter:
    """Call ``write(writer)`` on a temporary folder, then rename it onto ``path``.

    The temporary folder sits beside ``path``; an interrupted or failed ``write`` removes it
    and leaves any previous ``path`` as it was. A previous ``path`` is replaced only after the
    new folder is complete (check it first with :func:`check_output_folder`).

    Parameters
    ----------
    path : str or path-like
        The output folder.
    write : callable
        Adds the images through the :class:`ImageFolderWriter` it is given.
    digits : int, default=6
        Zero-padding of the synthetic file numbers.

    Returns
    -------
    ImageFolderWriter
        Closed; its counts say what was written.
    """
    path = Path(path)
    written: list[ImageFolderWriter] = []

    def fill(tmp: Path) -> None:
        writer = ImageFolderWriter(tmp, digits)
        written.append(writer)
        try:
            write(writer)
        finally:
            writer.close()

    replace_folder(path, fill)
    writer = written[0]
    writer.root = path
    return writer


def synthetic_name_clash(folder: ImageFolder) -> Path | None:
    """A real image whose path could clash with a synthetic file name, or ``None``."""
    for rel in folder.paths:
        if len(rel.parts) == 2 and _SYNTHETIC_NAME.fullmatch(rel.name):
            return rel
    return None


def read_table(path: str | os.PathLike, option: str = "DATA") -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame, choosing the format by extension.

    Raises
    ------
    UsageError
        For an unsupported extension, or Parquet without pyarrow.
    InvalidDataError
        If the file cannot be parsed; the message names it.
    """
    fmt = table_format(path, option)
    compression = csv_compression(path)
    try:
        if fmt == "csv":
            return _read_csv(path, compression)
        return pd.read_parquet(path)
    except ImportError as exc:
        hint = _ZSTD_HINT if compression == "zstd" else _PARQUET_HINT
        raise UsageError(f"cannot read {str(path)!r}: {hint}.") from exc
    # Parser errors, empty or truncated files; corrupt compressed data (EOFError: a stream
    # cut short, LZMAError: bad .xz data).
    except (ValueError, OSError, EOFError, lzma.LZMAError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidDataError(
            f"cannot read {option} {str(path)!r} as {fmt.upper()}: {reason}. "
            f"Check that it is a valid {fmt.upper()} file."
        ) from exc


# Cells that mean "missing" in a numeric CSV column (R's NA, pandas' NaN, SQL's NULL...).
# In a text column they stay text: "NA" is Namibia's code and "None" can be a category.
_CSV_MISSING = frozenset(
    {"NA", "N/A", "n/a", "#N/A", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>"}
)
# Numbers written with a leading zero ("00501", "+0.5" is fine): identifiers such as zip
# codes, which a numeric column would rewrite ("501").
_LEADING_ZERO = r"^\s*[+-]?0\d"
_CSV_BOOLS = {"True": True, "False": False, "TRUE": True, "FALSE": False, "true": True,
              "false": False}


def _all_whole(values: np.ndarray) -> bool:
    """Whether the present values are whole numbers within int64's range."""
    present = values[~np.isnan(values)]
    return bool(
        present.size
        and np.all(np.abs(present) < 2.0**63)
        and np.all(np.floor(present) == present)
    )


def _read_csv(path: str | os.PathLike, compression: str | None = None) -> pd.DataFrame:
    """A CSV file as pandas reads it, but with its text kept as written.

    Only empty cells are missing in text columns, a column of integers written with
    leading zeros stays text, and one of integers with missing cells is ``Int64`` (not
    float), so that ``augment`` gives the real rows back unchanged; a
    column of numbers (or of True/False) with missing markers (``NA``, ``NULL``...) is
    numeric (boolean) with those cells missing. A column of markers only stays text.
    ``compression`` is pandas' name of the file's compression (:func:`csv_compression`).
    """
    # low_memory=False: one type per column, not one per block of rows.
    options = {
        "keep_default_na": False,
        "na_values": [""],
        "low_memory": False,
        "compression": compression,
    }
    frame = pd.read_csv(path, **options)
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "iufb" or isinstance(column.dtype, pd.CategoricalDtype):
            continue
        marked = column.isin(_CSV_MISSING)
        if not marked.any():
            continue
        given = column[~marked & column.notna()].astype(str)
        if given.empty:
            continue
        if given.isin(_CSV_BOOLS).all():
            frame[name] = column.mask(marked).map(_CSV_BOOLS).astype("boolean")
        elif pd.to_numeric(given, errors="coerce").notna().all() and not (
            given.str.match(_LEADING_ZERO).any()
        ):
            frame[name] = pd.to_numeric(column.mask(marked), errors="coerce")
    # Columns of whole numbers (a float column of them has missing cells: zip codes with
    # gaps); fractions written with leading zeros ("007.5") are left to the parser.
    whole = [
        c
        for c in frame.columns
        if frame[c].dtype.kind in "iu"
        or (frame[c].dtype.kind == "f" and _all_whole(frame[c].to_numpy()))
    ]
    if whole:
        text = pd.read_csv(path, usecols=whole, dtype=str, **options)
        for name in whole:
            written = text[name]
            present = written.notna().to_numpy()
            digits = np.char.str_len(
                np.nan_to_num(frame[name].to_numpy()).astype(np.int64).astype(str)
            )
            # The text of an integer is longer than its digits only with a sign, spaces, a
            # decimal point or leading zeros: the pattern runs on those rows alone.
            longer = present & (written.str.len().fillna(0).to_numpy() > digits)
            if longer.any() and written[longer].str.match(_LEADING_ZERO).any():
                frame[name] = written
            elif frame[name].dtype.kind == "f":
                values = written.where(frame[name].notna())
                if not values.str.contains(r"[.eE]", na=False).any():
                    # Integers that are floats only because of their gaps: as nullable
                    # integers they stay integers (exact beyond 2**53, too) and are
                    # written back as written, "3" and not "3.0". (A "+" is dropped first:
                    # pyarrow's cast refuses it.) Text no cast takes stays a float column.
                    try:
                        frame[name] = values.str.strip().str.lstrip("+").astype("Int64")
                    except (ValueError, TypeError, OverflowError):
                        pass
    return frame


def split_label(
    frame: pd.DataFrame, label: str, path: str | os.PathLike
) -> tuple[pd.DataFrame, pd.Series]:
    """Split the ``label`` column off ``frame``.

    Raises
    ------
    InvalidDataError
        If ``frame`` has no such column (the message names the file and lists its columns),
        or the column has missing cells (the message says how many and where the first is).
    """
    check_columns(frame, [label], "--label", path)
    y = frame[label]
    missing = y.isna().to_numpy()
    if missing.any():
        first, count = int(np.flatnonzero(missing)[0]), int(missing.sum())
        rows = "1 row" if count == 1 else f"{count} rows"
        raise InvalidDataError(
            f"--label {label!r}: {rows} of {str(path)!r} {'has' if count == 1 else 'have'} no "
            f"label (the first is data row {first + 1}); drop those rows or fill in their "
            "labels."
        )
    return frame.drop(columns=[label]), y


def check_columns(
    frame: pd.DataFrame, names: Iterable[str], option: str, path: str | os.PathLike
) -> None:
    """Raise unless every name is a column of ``frame`` (read from ``path``).

    Raises
    ------
    InvalidDataError
        Naming the option, the missing columns, the file and the columns it has.
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InvalidDataError(
            f"{option} names {missing[0]!r}, which is not a column of {str(path)!r}; its "
            f"columns are {listing(frame.columns)}."
        )


def check_output(path: str | os.PathLike, option: str, force: bool) -> Path:
    """Refuse an output path that exists, unless ``force``; it must not be a folder.

    Raises
    ------
    UsageError
        If ``path`` exists and ``force`` is false, or ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a folder; give a file name.")
    if path.exists() and not force:
        raise UsageError(
            f"{option} {str(path)!r} already exists; pass --force to overwrite it "
            "or choose another name."
        )
    # Before any training: a missing writer must not cost a whole fit.
    if is_table_path(path) and table_format(path, option) == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError(f"cannot write {option} {str(path)!r}: {_PARQUET_HINT}.") from None
    if csv_compression(path) == "zstd":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise UsageError(f"cannot write {option} {str(path)!r}: {_ZSTD_HINT}.") from None
    return path


def check_model_output(path: str | os.PathLike, force: bool) -> Path:
    """Refuse a model folder that exists (unless ``force``) or holds something else.

    Checked before training, so that a long fit does not end in a refused save.

    Raises
    ------
    UsageError
        If ``path`` is a file, holds a model and ``force`` is false, or is a non-empty folder
        without a genaug model (never replaced, even with ``--force``).
    """
    path = Path(path)
    if not path.exists():
        return path
    if not path.is_dir():
        raise UsageError(f"-o {str(path)!r} is a file; a model is saved as a folder.")
    if any(path.iterdir()) and not holds_genaug_model(path):
        raise UsageError(
            f"-o {str(path)!r} is a non-empty folder without a genaug model; genaug does not "
            "replace it: choose another folder."
        )
    if any(path.iterdir()) and not force:
        raise UsageError(
            f"-o {str(path)!r} already holds a model; pass --force to replace it "
            "or choose another folder."
        )
    return path


def chunk_frame(chunk: Any) -> pd.DataFrame:
    """One ``iter_sample`` chunk of a table model, ``X`` or ``(X, y)``, as a frame.

    The labels go in a last column named after the training labels (a named ``Series``),
    else ``label``.

    Raises
    ------
    InvalidDataError
        If that name is also a feature column.
    """
    X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
    if not isinstance(X, pd.DataFrame):  # a model fitted on an array
        X = pd.DataFrame(X, columns=[str(i) for i in range(np.shape(X)[1])])
    if y is not None:
        name = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "label"
        if name in X.columns:
            raise InvalidDataError(
                f"the model's labels would be written to column {name!r}, which is also one of "
                "its feature columns; refit with labels named otherwise (a named y Series)."
            )
        y = y.set_axis(X.index) if isinstance(y, pd.Series) else pd.Series(y, index=X.index)
        X.insert(X.shape[1], name, y)
    return X


class _CsvChunkWriter:
    """Appends frames to one CSV file; the first one writes the header."""

    def __init__(self, path: Path, null_types: dict[str, Any] | None = None) -> None:
        del null_types  # CSV cells carry no type
        self.path = path
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        first = self.rows == 0
        frame.to_csv(self.path, index=False, mode="w" if first else "a", header=first)
        self.rows += len(frame)

    def close(self) -> None:
        """Nothing to flush: each chunk is written and closed by ``to_csv``."""


class _ParquetChunkWriter:
    """Writes frames as the row groups of one Parquet file, with the first frame's schema."""

    def __init__(self, path: Path, null_types: dict[str, Any] | None = None) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise UsageError(f"cannot write {str(path)!r}: {_PARQUET_HINT}.") from exc
        self._pa, self._pq = pa, pq
        self._null_types = null_types or {}
        self.path = path
        self.rows = 0
        self._schema = None
        self._writer = None

    def write(self, frame: pd.DataFrame) -> None:
        # Later chunks take the first chunk's schema, so that a chunk where a text column
        # happens to be all missing still matches.
        table = self._pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if self._writer is None:
            pa = self._pa
            # A column with no value in the first chunk is typed null, which later chunks'
            # values (and other shards' schemas) would not match: it takes the type of its
            # values as the model knows them (null_types), else text.
            fields = [
                field.with_type(self._null_types.get(field.name, pa.string()))
                if pa.types.is_null(field.type)
                else field
                for field in table.schema
            ]
            schema = pa.schema(fields, metadata=table.schema.metadata)
            table = table.cast(schema)
            self._schema = schema
            self._writer = self._pq.ParquetWriter(str(self.path), schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        """Write the Parquet footer."""
        if self._writer is not None:
            self._writer.close()


def _open_zstd(path: Path, mode: str, **options: Any) -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise UsageError(f"cannot write {str(path)!r}: {_ZSTD_HINT}.") from exc
    return zstandard.open(path, mode, **options)


# Text-mode openers by pandas' compression names. gzip at level 6 (the gzip tool's default):
# level 9, Python's default, is several times slower for a file a few percent smaller.
_OPENERS: dict[str, Callable[..., Any]] = {
    "gzip": functools.partial(gzip.open, compresslevel=6),
    "bz2": bz2.open,
    "xz": lzma.open,
    "zstd": _open_zstd,
}


class _CompressedCsvChunkWriter:
    """Writes frames as one compressed CSV stream, header first.

    One stream held open across the chunks: appending each chunk through pandas would make
    a file of many gzip members or zstd frames, which some readers stop reading after the
    first (python-zstandard, as pandas calls it, does).
    """

    def __init__(self, path: Path, compression: str) -> None:
        self.path = path
        self.rows = 0
        self._header = True
        self._handle = _OPENERS[compression](path, "wt", encoding="utf-8", newline="")

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self._handle, index=False, header=self._header)
        self._header = False
        self.rows += len(frame)

    def close(self) -> None:
        """Flush the compressor and close the file."""
        self._handle.close()


_WRITERS = {"csv": _CsvChunkWriter, "parquet": _ParquetChunkWriter}


def arrow_types(model: Any) -> dict[str, Any]:
    """The Arrow type of each categorical column's values, from a table model's codec.

    For :func:`write_table`'s ``null_types``: an object column of a model (bools, ints or
    text with missing values) may have no value in a first chunk.
    """
    try:
        import pyarrow as pa
    except ImportError:  # CSV output on an install without the Parquet extra
        return {}
    types = {}
    for info in getattr(model.codec_, "columns_", []):
        if info["kind"] != "categorical":
            continue
        values = [c for c in info["categories"] if c is not None]
        try:
            types[str(info["name"])] = pa.array(values).type
        except (pa.ArrowException, TypeError, ValueError):
            continue  # mixed types: text, as without a hint
    return types


def write_table(
    path: str | os.PathLike,
    frames: Iterable[pd.DataFrame],
    option: str = "-o",
    null_types: dict[str, Any] | None = None,
) -> int:
    """Write ``frames`` one after another into the table file ``path``, atomically.

    The frames are written to a temporary file beside ``path`` (CSV: appended; Parquet: one
    row group each), which is renamed onto ``path`` only once all are written: an interrupted
    or failed run leaves no partial file and keeps any previous ``path``.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet`` or ``.pq`` file; a ``.csv`` file may be compressed
        (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``).
    frames : iterable of DataFrame
        Chunks with the same columns; consumed lazily, so memory is bounded by one chunk.
    option : str, default="-o"
        Name of the option, for error messages.
    null_types : dict, optional
        Parquet: the Arrow type of a column whose first chunk holds no value (see
        :func:`arrow_types`); text by default.

    Returns
    -------
    int
        Number of rows written.
    """
    writer_class = _WRITERS[table_format(path, option)]
    compression = csv_compression(path)
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        # The compression is the output's: the temporary file's name does not end in .gz.
        writer = (
            writer_class(tmp, null_types)
            if compression is None
            else _CompressedCsvChunkWriter(tmp, compression)
        )
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.close()
        rows = writer.rows

    atomic_write_file(path, write)
    return rows
