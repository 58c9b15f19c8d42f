"""Plots for looking at samples (matplotlib, installed with ``pip install genaug[plot]``).

matplotlib is imported when a function is called, so ``import genaug.plot`` works without it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genaug.data.images import as_nchw
from genaug.exceptions import InvalidParameterError

__all__ = ["image_grid"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "genaug.plot needs matplotlib; install it with: pip install genaug[plot]"
        ) from exc
    return plt


def _unit_range(arr: np.ndarray) -> np.ndarray:
    """Pixel values scaled to [0, 1]: integers from 0..255, floats from [0, 1] or [-1, 1]."""
    if arr.dtype.kind in "ui":
        return arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    if arr.size and arr.min() < 0:
        arr = (arr + 1.0) / 2.0
    return np.clip(arr, 0.0, 1.0)


def image_grid(
    images: Any,
    labels: Any = None,
    ncols: int = 8,
    ax: Any = None,
    *,
    layout: str | None = None,
    border: int = 1,
) -> Any:
    """Draw images side by side in a grid, optionally with their labels.

    Parameters
    ----------
    images : ndarray, Tensor or list of PIL images
        Images in any form a synthesizer accepts (N x H x W, N x H x W x C or N x C x H x W,
        uint8 or float in [0, 1] or [-1, 1]), e.g. the output of ``sample``.
    labels : array-like of shape (n_images,), optional
        Written in the corner of each tile, e.g. the labels returned by ``sample``.
    ncols : int, default=8
        Tiles per row.
    ax : matplotlib Axes, optional
        Where to draw; a new figure sized to the grid when ``None``.
    layout : {"NHW", "NHWC", "NCHW"}, optional
        For arrays whose shape fits two layouts.
    border : int, default=1
        Pixels of white between tiles.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from genaug.plot import image_grid
    >>> images = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    >>> ax = image_grid(images, labels=np.arange(16) % 4, ncols=8)  # doctest: +SKIP
    """
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise InvalidParameterError(f"ncols must be a positive integer; got {ncols!r}.")
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise InvalidParameterError(f"border must be a non-negative integer; got {border!r}.")
    arr = _unit_range(as_nchw(images, layout))  # (N, C, H, W) in [0, 1]
    n, c, h, w = arr.shape
    if labels is not None:
        labels = np.asarray(labels).ravel()
        if labels.shape[0] != n:
            raise InvalidParameterError(
                f"labels has {labels.shape[0]} entries but there are {n} images."
            )
    plt = _pyplot()
    ncols = int(min(ncols, n))
    nrows = math.ceil(n / ncols)
    # Empty tiles and borders are white; each tile gets its border on the top and left, and
    # the mosaic one more row and column at the bottom and right.
    tiles = np.ones((nrows * ncols, c, h + border, w + border), dtype=np.float32)
    tiles[:n, :, border:, border:] = arr
    mosaic = tiles.reshape(nrows, ncols, c, h + border, w + border)
    mosaic = mosaic.transpose(0, 3, 1, 4, 2).reshape(nrows * (h + border), ncols * (w + border), c)
    mosaic = np.pad(mosaic, ((0, border), (0, border), (0, 0)), constant_values=1.0)
    if ax is None:
        tile_inches = 0.6 if max(h, w) <= 32 else 1.0
        _, ax = plt.subplots(figsize=(ncols * tile_inches + 0.2, nrows * tile_inches + 0.2))
    if c == 1:
        ax.imshow(mosaic[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    if labels is not None:
        rows, cols = np.divmod(np.arange(n), ncols)
        for label, r, col in zip(labels.tolist(), rows, cols):  # one text per tile
            ax.text(
                col * (w + border) + border + 0.5,
                r * (h + border) + border + 0.5,
                str(label),
                color="yellow",
                fontsize=7,
                va="top",
                ha="left",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0},
            )
    return ax
