"""Files for the command line: read CSV/Parquet tables, write them atomically in chunks.

Kept apart from :mod:`genaug.cli` so that the commands read as calls to the public API. Each
input kind has one reader function, chosen by :func:`read_data`: a new kind (the image folders
of the image synthesizers) replaces :func:`read_image_folder` and touches nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from genaug.exceptions import InvalidDataError
from genaug.io import CONFIG_NAME, atomic_write_file

__all__ = [
    "TABLE_FORMATS",
    "UsageError",
    "check_columns",
    "check_model_output",
    "check_output",
    "read_data",
    "read_image_folder",
    "read_table",
    "require_path",
    "split_label",
    "table_format",
    "write_table",
]

# File extension -> format. Anything else is refused with an error naming the file.
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PARQUET_HINT = "Parquet files need pyarrow: pip install 'genaug[parquet]'"


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


def table_format(path: str | os.PathLike, option: str) -> str:
    """The format of a table file from its extension: ``"csv"`` or ``"parquet"``.

    Raises
    ------
    UsageError
        If the extension is not one of :data:`TABLE_FORMATS`.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        known = ", ".join(TABLE_FORMATS)
        raise UsageError(
            f"{option} {str(path)!r} has an unsupported extension {suffix or '(none)'!r}; "
            f"use a table file ending in {known}."
        )
    return TABLE_FORMATS[suffix]


def read_data(path: str | os.PathLike, option: str = "DATA") -> pd.DataFrame:
    """Read the training data given as ``option``: a CSV or Parquet file, or an image folder.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet`` or ``.pq`` file, or a folder of class sub-folders of images.
    option : str, default="DATA"
        Name of the argument, for error messages.

    Returns
    -------
    DataFrame

    Raises
    ------
    UsageError
        If the path is missing, has another extension, or is an image folder.
    InvalidDataError
        If the file cannot be parsed.
    """
    path = require_path(path, option)
    if path.is_dir():
        return read_image_folder(path, option)
    return read_table(path, option)


def read_image_folder(path: Path, option: str = "DATA") -> Any:
    """Read a folder of class sub-folders of images.

    Raises
    ------
    UsageError
        Always, in this release: the commands read tables only. Image folders are read by the
        Python API (:func:`genaug.adapters.torchvision.fit_from_dataset`).
    """
    raise UsageError(
        f"{option} {str(path)!r} is a folder; the command line does not train the image "
        "synthesizers on image folders yet. Pass a CSV or Parquet file, or use Python: "
        "genaug.adapters.torchvision.fit_from_dataset(VAESynthesizer(), "
        "torchvision.datasets.ImageFolder(path))."
    )


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
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except ImportError as exc:
        raise UsageError(f"cannot read {str(path)!r}: {_PARQUET_HINT}.") from exc
    except (ValueError, OSError) as exc:  # parser errors, empty or truncated files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidDataError(
            f"cannot read {option} {str(path)!r} as {fmt.upper()}: {reason}. "
            f"Check that it is a valid {fmt.upper()} file."
        ) from exc


def split_label(
    frame: pd.DataFrame, label: str, path: str | os.PathLike
) -> tuple[pd.DataFrame, pd.Series]:
    """Split the ``label`` column off ``frame``.

    Raises
    ------
    InvalidDataError
        If ``frame`` has no such column; the message names the file and lists its columns.
    """
    check_columns(frame, [label], "--label", path)
    return frame.drop(columns=[label]), frame[label]


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
        shown = [str(c) for c in frame.columns[:20]]
        raise InvalidDataError(
            f"{option} names {missing[0]!r}, which is not a column of {str(path)!r}; its "
            f"columns are {shown}."
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
    if any(path.iterdir()) and not (path / CONFIG_NAME).exists():
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


class _CsvChunkWriter:
    """Appends frames to one CSV file; the first one writes the header."""

    def __init__(self, path: Path) -> None:
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

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise UsageError(f"cannot write {str(path)!r}: {_PARQUET_HINT}.") from exc
        self._pa, self._pq = pa, pq
        self.path = path
        self.rows = 0
        self._schema = None
        self._writer = None

    def write(self, frame: pd.DataFrame) -> None:
        # Later chunks take the first chunk's schema, so that a chunk where a text column
        # happens to be all missing still matches.
        table = self._pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = self._pq.ParquetWriter(str(self.path), table.schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        """Write the Parquet footer."""
        if self._writer is not None:
            self._writer.close()


_WRITERS = {"csv": _CsvChunkWriter, "parquet": _ParquetChunkWriter}


def write_table(path: str | os.PathLike, frames: Iterable[pd.DataFrame], option: str = "-o") -> int:
    """Write ``frames`` one after another into the table file ``path``, atomically.

    The frames are written to a temporary file beside ``path`` (CSV: appended; Parquet: one
    row group each), which is renamed onto ``path`` only once all are written: an interrupted
    or failed run leaves no partial file and keeps any previous ``path``.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet`` or ``.pq`` file.
    frames : iterable of DataFrame
        Chunks with the same columns; consumed lazily, so memory is bounded by one chunk.
    option : str, default="-o"
        Name of the option, for error messages.

    Returns
    -------
    int
        Number of rows written.
    """
    writer_class = _WRITERS[table_format(path, option)]
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = writer_class(tmp)
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.close()
        rows = writer.rows

    atomic_write_file(path, write)
    return rows
