"""Atomic writes and the safe model format (JSON + safetensors, never pickle)."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genaug.exceptions import ModelFileError

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
# A config larger than this is not one genaug wrote; refusing it bounds the memory a hostile
# file can make the JSON parser use.
MAX_CONFIG_BYTES = 64 * 2**20
# The JSON header of genaug's safetensors files holds one short entry per tensor (a few KiB in
# all); a larger one is refused before it is read.
MAX_WEIGHTS_HEADER_BYTES = 4 * 2**20
# More dimensions than any of genaug's networks use; bounds the work done per header entry.
MAX_TENSOR_DIMS = 8
# Bytes per element of the dtypes a genaug model can hold.
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "I16": 2,
    "I32": 4,
    "I64": 8,
    "F16": 2,
    "BF16": 2,
    "F32": 4,
    "F64": 8,
}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_file(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the finished file onto ``path`` in one rename.

    If ``write`` raises, the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


# The files of a model folder or a checkpoint ("training.safetensors": optimizer state).
_MODEL_FILES = frozenset({CONFIG_NAME, WEIGHTS_NAME, "training.safetensors"})


def holds_genaug_model(path: str | os.PathLike) -> bool:
    """Whether the folder ``path`` holds a genaug model or checkpoint and nothing else.

    Its files must all be ones genaug writes, and its ``config.json`` genaug's (a JSON object
    with genaug's format keys): a folder that merely has a ``config.json`` (an application's
    settings, a Hugging Face model) is not one, and is never replaced by a save.
    """
    path = Path(path)
    try:
        names = {entry.name for entry in path.iterdir()}
        config = path / CONFIG_NAME
        if CONFIG_NAME not in names or not names <= _MODEL_FILES or not config.is_file():
            return False
        if config.stat().st_size > MAX_CONFIG_BYTES:
            return False
        content = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        return False
    return isinstance(content, dict) and {"format_version", "genaug_version", "class"} <= set(
        content
    )


def atomic_write_dir(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Fill a temporary folder with ``write(tmp_dir)`` and rename it onto ``path``.

    An existing ``path`` is replaced only if it is empty or holds a genaug model
    (:func:`holds_genaug_model`); any other folder is refused so that a typo cannot delete
    user data.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder.")
    if path.is_dir() and any(path.iterdir()) and not holds_genaug_model(path):
        raise FileExistsError(
            f"{path} is a non-empty folder that does not hold a genaug model (only "
            f"{CONFIG_NAME} and {WEIGHTS_NAME} written by genaug); refusing to replace it."
        )
    replace_folder(path, write)
    return path


def _fsync_tree(root: Path) -> None:
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(Path(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(dirpath))


def replace_folder(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Fill a new temporary folder beside ``path`` with ``write(tmp)``, then rename it onto
    ``path``, replacing any folder there only once the new one is complete.

    If ``write`` raises (or the process is interrupted), the temporary folder is removed and
    ``path`` is as it was. Callers decide beforehand whether ``path`` may be replaced.

    Parameters
    ----------
    path : str or path-like
        The folder to create or replace.
    write : callable
        Writes the folder's content into the temporary folder it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_current_umask())  # mkdtemp makes it private
        write(tmp)
        _fsync_tree(tmp)
        if path.exists():
            # Two renames: the old folder is gone only once the new one is in place.
            old = path.parent / f".{path.name}.{uuid.uuid4().hex}.old"
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def write_model_folder(
    path: str | os.PathLike, config: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` atomically into ``path``."""

    def write(tmp: Path) -> None:
        text = json.dumps(config, indent=1, allow_nan=False)
        (tmp / CONFIG_NAME).write_text(text, encoding="utf-8")
        save_file(
            {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
            str(tmp / WEIGHTS_NAME),
            metadata={"format": "pt", "genaug_format_version": str(FORMAT_VERSION)},
        )

    return atomic_write_dir(path, write)


# Largest element a saved dtype may declare: a string label or cell of 16,384 characters.
MAX_SAVED_ITEMSIZE = 2**16


def check_saved_dtype(name: Any, what: str) -> None:
    """Refuse a dtype name from a model file that would make decoding allocate without bound.

    A name pandas does not parse passes (the decoders fall back to objects for names from
    another pandas version, and to Python storage for "string[pyarrow]" where pyarrow is not
    installed); a parsed numpy dtype must not be a void/structured type, whose size the file
    chooses, nor have elements over ``MAX_SAVED_ITEMSIZE`` bytes.

    Raises
    ------
    ModelFileError
        Naming ``what`` (e.g. "the dtype of column 'age'").
    """
    if not isinstance(name, str) or len(name) > 200:
        raise ModelFileError(f"config.json gives {what} as {str(name)[:40]!r}, not a dtype name.")
    try:
        dtype = pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError, ImportError):  # ImportError: an Arrow dtype, no pyarrow
        return
    if isinstance(dtype, np.dtype) and (dtype.kind == "V" or dtype.itemsize > MAX_SAVED_ITEMSIZE):
        raise ModelFileError(
            f"config.json gives {what} as {name[:40]!r}, which genaug never saves."
        )


def _reject_constant(name: str) -> Any:
    # genaug writes config.json with allow_nan=False: NaN or Infinity means an edited file.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    # 1e999 parses to inf without passing through parse_constant.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of the range of a float")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_safetensors_header(path: str | os.PathLike) -> None:
    """Validate a safetensors file's header against the file's size, reading only the header.

    Every tensor must have a known dtype, at most ``MAX_TENSOR_DIMS`` non-negative dimensions,
    and data offsets inside the file whose length matches its shape and dtype. A header that
    claims terabytes is refused here, before anything is allocated for it.

    Raises
    ------
    ModelFileError
        Naming the file and the first entry that is wrong.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise ModelFileError(f"{path} is not a valid safetensors file: it is truncated.")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_WEIGHTS_HEADER_BYTES or 8 + length > size:
            raise ModelFileError(
                f"{path} is not a valid safetensors file: its header declares {length} bytes "
                f"(the file has {size}; at most {MAX_WEIGHTS_HEADER_BYTES} are accepted)."
            )
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path} is not a valid safetensors file: bad header: {exc}") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is not a valid safetensors file: its header is not a map.")
    data_bytes = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(v, str) for v in entry.values()
            ):
                raise ModelFileError(f"{path}: the header's __metadata__ must map str to str.")
            continue
        where = f"{path}: tensor {name[:80]!r}"
        if not isinstance(entry, dict):
            raise ModelFileError(f"{where} has no description in the header.")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _DTYPE_BYTES:
            raise ModelFileError(f"{where} has an unsupported dtype {str(dtype)[:20]!r}.")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_TENSOR_DIMS
            or not all(_is_count(d) for d in shape)
        ):
            raise ModelFileError(
                f"{where} has an invalid shape (at most {MAX_TENSOR_DIMS} non-negative integers)."
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(o) for o in offsets)
            or not offsets[0] <= offsets[1] <= data_bytes
        ):
            raise ModelFileError(
                f"{where} has data offsets outside the file's {data_bytes} data bytes."
            )
        # Python integers: a shape that claims terabytes cannot overflow this product.
        expected = math.prod(shape) * _DTYPE_BYTES[dtype]
        if offsets[1] - offsets[0] != expected:
            raise ModelFileError(
                f"{where} declares shape {shape[:MAX_TENSOR_DIMS]} of {dtype} ({expected} bytes) "
                f"but {offsets[1] - offsets[0]} bytes of data."
            )


def read_model_folder(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a model folder without running any code from it.

    Raises
    ------
    ModelFileError
        If the folder or a file is missing, too large, truncated or not valid JSON/safetensors,
        or if the weights' header declares tensors that the file does not hold (checked
        before any tensor is read, so memory stays bounded by the file's size).
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"No model folder at {str(path)!r}.")
    config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
    for p in (config_path, weights_path):
        if not p.is_file():
            raise ModelFileError(f"The model folder {str(path)!r} lacks {p.name}.")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{config_path} is larger than {MAX_CONFIG_BYTES} bytes.")
    try:
        config = json.loads(
            config_path.read_text(encoding="utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, NaN/Infinity and integers of over 4300 digits;
        # RecursionError a deeply nested document.
        raise ModelFileError(f"{config_path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelFileError(f"{config_path} must hold a JSON object.")
    check_safetensors_header(weights_path)
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelFileError(f"{weights_path} is not a valid safetensors file: {exc}") from exc
    return config, tensors
