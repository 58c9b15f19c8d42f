"""Helpers shared by the benchmarks: machine description, result files, table formatting."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genaug._version import __version__
from genaug.io import atomic_write_file


def machine_description() -> dict[str, Any]:
    """What the figures were measured on."""
    import pandas as pd
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "genaug": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically."""
    text = json.dumps(payload, indent=1, default=_jsonable)
    return atomic_write_file(path, lambda p: Path(p).write_text(text + "\n", encoding="utf-8"))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically."""
    return atomic_write_file(path, lambda p: Path(p).write_text(text, encoding="utf-8"))


def write_results(stem: str | os.PathLike, payload: dict[str, Any], markdown: str) -> None:
    """Write a benchmark's ``stem.json`` and ``stem.md`` (creating the folder) and print the
    Markdown."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_json(stem.with_name(stem.name + ".json"), payload)
    write_text(stem.with_name(stem.name + ".md"), markdown)
    print(markdown)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} to JSON")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``"m ± s"`` of the values."""
    arr = np.asarray(values, dtype=float)
    return f"{arr.mean():.{digits}f} ± {arr.std(ddof=1) if arr.size > 1 else 0.0:.{digits}f}"


def two_class_toy(n: int = 600, seed: int = 0) -> tuple[Any, Any]:
    """A two-class table where the class shifts a numeric column and a category.

    About a quarter of the rows are ``"rare"``: ``x`` ~ N(3, 0.5) and ``k`` is ``"a"`` with
    probability 0.9; the ``"common"`` rows have ``x`` ~ N(-1, 0.5) and ``"a"`` with 0.1; ``m``
    is an integer column unrelated to the class. The tests' small labelled table and
    ``benchmarks/latent_probe.py``'s toy.

    Returns
    -------
    X : DataFrame with columns ``x``, ``k``, ``m``
    y : Series named ``"label"``
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.25, "rare", "common")
    rare = y == "rare"
    X = pd.DataFrame(
        {
            "x": rng.normal(np.where(rare, 3.0, -1.0), 0.5),
            "k": np.where(
                rare,
                rng.choice(["a", "b"], n, p=[0.9, 0.1]),
                rng.choice(["a", "b"], n, p=[0.1, 0.9]),
            ),
            "m": rng.integers(0, 100, n),
        }
    )
    return X, pd.Series(y, name="label")
