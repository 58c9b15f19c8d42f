"""Reversible encoding of image batches into the square float tensors that conv networks see.

The networks always see float32 ``N x C x S x S`` arrays in [-1, 1], where ``S`` is the
images' longer side rounded up to a multiple of ``multiple`` (8 by default, at least 8), so
that the stride-2 stages of :mod:`genaug.nn.conv` divide it evenly. Smaller sides are padded
by repeating the edge pixels, centred, and cropped off again on decoding, so padding never
shows in the output.

:class:`ImageCodec` remembers what the user gave and gives it back:

* the container: a numpy array, a torch tensor (its dtype; results come back on the CPU) or a
  list of PIL images (mode ``"L"`` or ``"RGB"``);
* the layout: ``"NHW"`` (grayscale without a channel axis), ``"NHWC"`` or ``"NCHW"``, with
  ``C`` equal to 1 or 3. It is inferred from the shape; a shape that fits two layouts (a side
  of 1 or 3 pixels) needs ``layout=``;
* the dtype and value range: ``uint8`` (and other integer dtypes holding 0..255) round-trip
  exactly; float images in [0, 1] or [-1, 1] come back in their range and dtype (through
  float32, so to float32 precision).

Images larger than ``max_size`` (128) pixels a side are refused with an error suggesting
``image_size``: with ``image_size=s`` every image is resized to ``s x s`` (bilinear, with
antialiasing) before encoding, and decoded images are resized back to the training size.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genaug.exceptions import InvalidDataError, InvalidParameterError, NotFittedError

__all__ = ["LAYOUTS", "ImageCodec", "as_nchw", "is_image_data"]

LAYOUTS = ("NHW", "NHWC", "NCHW")
_STATE_VERSION = 1
_CHANNELS = (1, 3)
# The torch dtypes an image tensor may come in, by name: a saved codec names one, and the name
# is looked up here rather than as an attribute of the torch module.
TORCH_DTYPES: dict[str, torch.dtype] = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    )
}
# Bounds a saved codec must respect, so that a hand-edited file cannot make sampling allocate
# images of unbounded size: the network side, and the original side images are resized back to.
MAX_SAVED_NETWORK_SIDE = 1024
MAX_SAVED_IMAGE_SIDE = 16384
_VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0))
# Float images may overshoot their range by rounding this much and still count as in range.
_RANGE_TOL = 1e-6


def _pil_image_class() -> Any:
    """PIL's ``Image`` class if PIL is already imported, else ``None``.

    An object can only be a PIL image if PIL was imported, so this never imports PIL itself.
    """
    module = sys.modules.get("PIL.Image")
    return None if module is None else module.Image


def _is_pil(obj: Any) -> bool:
    cls = _pil_image_class()
    return cls is not None and isinstance(obj, cls)


def is_image_data(X: Any) -> bool:
    """Whether ``X`` is a batch of images rather than a table.

    Images are numpy arrays and torch tensors with 3 or 4 dimensions, and lists or tuples of
    PIL images. A 2-D array, a DataFrame or anything else is a table.

    Parameters
    ----------
    X : object
        The data passed to ``fit``.

    Returns
    -------
    bool
    """
    if isinstance(X, (np.ndarray, torch.Tensor)):
        return X.ndim in (3, 4)
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return _is_pil(X[0])
    return False


def _infer_layout(shape: tuple[int, ...], layout: str | None) -> str:
    """The layout of an array of ``shape`` (``layout`` when given, after checking it fits)."""
    if len(shape) == 3:
        candidates = ["NHW"]
    else:
        candidates = [
            name
            for name, axis in (("NHWC", 3), ("NCHW", 1))
            if len(shape) == 4 and shape[axis] in _CHANNELS
        ]
    if layout is not None:
        if layout not in LAYOUTS:
            raise InvalidParameterError(f"layout must be one of {LAYOUTS}; got {layout!r}.")
        if layout not in candidates:
            raise InvalidDataError(
                f"Images of shape {shape} do not fit layout={layout!r}: NHW needs 3 "
                "dimensions, NHWC and NCHW need 4 with 1 or 3 channels."
            )
        return layout
    if not candidates:
        raise InvalidDataError(
            f"Images of shape {shape} have no channel axis of size 1 or 3; genaug models "
            "grayscale and RGB images as N x H x W, N x H x W x C or N x C x H x W arrays."
        )
    if len(candidates) > 1:
        raise InvalidDataError(
            f"Images of shape {shape} could be N x H x W x C or N x C x H x W; pass "
            "ImageCodec(layout='NHWC' or 'NCHW'), or move the channel axis last "
            "(np.moveaxis(X, 1, -1)) if the images are wider than 3 pixels."
        )
    return candidates[0]


def _pil_batch(images: list | tuple, image_size: int | None) -> np.ndarray:
    """Stack a list of PIL images into an N x H x W (L) or N x H x W x 3 (RGB) uint8 array."""
    modes = {im.mode for im in images}
    if not modes <= {"L", "RGB"} or len(modes) > 1:
        raise InvalidDataError(
            f"The PIL images have mode(s) {sorted(modes)}; genaug models a list of images that "
            "are all 'L' (grayscale) or all 'RGB'. Convert them first, e.g. "
            "[im.convert('RGB') for im in images]."
        )
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        if image_size is None:
            shown = sorted(sizes)[:3]
            raise InvalidDataError(
                f"The PIL images have {len(sizes)} different sizes (e.g. {shown}, width x "
                "height); pass image_size=S (e.g. VAESynthesizer(image_size=32)) to resize them "
                "all to S x S."
            )
        from PIL import Image

        images = [im.resize((image_size, image_size), Image.Resampling.BILINEAR) for im in images]
    # Decoding each image is unavoidable; the rest of the codec works on the stacked array.
    return np.stack([np.asarray(im) for im in images])


def _read(X: Any, layout: str | None, image_size: int | None) -> tuple[np.ndarray, dict]:
    """``X`` as an N x C x H x W numpy array of its own dtype, and what it came as."""
    info: dict[str, Any] = {"torch_dtype": None, "pil_mode": None}
    if isinstance(X, torch.Tensor):
        info["container"] = "torch"
        info["torch_dtype"] = str(X.dtype).removeprefix("torch.")
        t = X.detach().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.float()
        arr = t.numpy()
    elif isinstance(X, np.ndarray):
        info["container"] = "numpy"
        arr = X
    elif isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_pil(im) for im in X):
        info["container"] = "pil"
        arr = _pil_batch(X, image_size)
        info["pil_mode"] = "L" if arr.ndim == 3 else "RGB"
        layout = "NHW" if arr.ndim == 3 else "NHWC"
    else:
        raise InvalidDataError(
            f"Images must be a numpy array, a torch tensor or a list of PIL images; got "
            f"{type(X).__name__}."
        )
    if arr.ndim not in (3, 4):
        raise InvalidDataError(
            f"Images must have 3 or 4 dimensions (N x H x W, N x H x W x C or N x C x H x W); "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise InvalidDataError("The batch of images is empty.")
    info["layout"] = _infer_layout(arr.shape, layout)
    info["dtype"] = str(arr.dtype)
    return _to_nchw(arr, info["layout"]), info


def _to_nchw(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NHW":
        return arr[:, None]
    if layout == "NHWC":
        return arr.transpose(0, 3, 1, 2)
    return arr


def _from_nchw(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NHW":
        return arr[:, 0]
    if layout == "NHWC":
        return arr.transpose(0, 2, 3, 1)
    return arr


def as_nchw(X: Any, layout: str | None = None) -> np.ndarray:
    """Images in any supported form as an N x C x H x W numpy array of their own dtype.

    Parameters
    ----------
    X : ndarray, Tensor or list of PIL images
        Images as :class:`ImageCodec` accepts them.
    layout : {"NHW", "NHWC", "NCHW"}, optional
        The layout of an array whose shape fits two layouts.

    Returns
    -------
    ndarray of shape (n_images, channels, height, width)
        PIL images come back as uint8; bfloat16 tensors as float32.
    """
    return np.ascontiguousarray(_read(X, layout, None)[0])


def uint8_images(X: Any, scale: tuple[float, float], layout: str | None = None) -> np.ndarray:
    """Images as ``uint8`` N x H x W (grayscale) or N x H x W x 3 (RGB), for image files.

    Models fitted on ``uint8`` images sample ``uint8`` already; float images are mapped from
    the pixel range ``scale`` (the codec's ``scale_``) to 0..255.

    Parameters
    ----------
    X : ndarray, Tensor or list of PIL images
        Images in any layout :func:`as_nchw` reads.
    scale : tuple of float
        The pixel values that 0 and 255 stand for.
    layout : {"NHW", "NHWC", "NCHW"}, optional
        The layout of an array whose shape fits two layouts.

    Returns
    -------
    ndarray of uint8
    """
    arr = as_nchw(X, layout)
    if arr.dtype != np.uint8:
        low, high = scale
        arr = np.clip(np.rint((arr.astype(np.float32) - low) * (255.0 / (high - low))), 0, 255)
        arr = arr.astype(np.uint8)
    return arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)


class ImageCodec:
    """Reversible encoder between a batch of images and float32 ``N x C x S x S`` in [-1, 1].

    Parameters
    ----------
    layout : {"NHW", "NHWC", "NCHW"}, optional
        The arrays' layout; inferred from the shape when ``None``. Needed only for shapes that
        fit two layouts (a side of 1 or 3 pixels).
    image_size : int, optional
        Resize every image to ``image_size x image_size`` before encoding (and decoded images
        back to the training size). Required for images larger than ``max_size`` and for lists
        of PIL images of different sizes (whose samples then come back at this size).
    max_size : int, default=128
        Largest side accepted without ``image_size``.
    multiple : int, default=8
        The side ``S`` the networks see is the longer image side rounded up to a multiple of
        this (and at least 8).
    value_range : (0, 1) or (-1, 1), optional
        Range of float images; inferred when ``None``: (-1, 1) if any value is negative,
        else (0, 1).

    Attributes
    ----------
    container_ : {"numpy", "torch", "pil"}
    layout_ : {"NHW", "NHWC", "NCHW"}
    dtype_ : str
        numpy dtype of the images (``"uint8"`` for PIL images).
    torch_dtype_ : str or None
        torch dtype of a tensor input.
    pil_mode_ : {"L", "RGB"} or None
    channels_, height_, width_ : int
        The images' channels and size as given.
    scale_ : tuple of float
        Pixel values ``low, high`` mapped to -1 and 1 (``0, 255`` for integer images).
    size_ : int
        Side ``S`` of the square arrays the networks see.
    output_shape_ : tuple of int
        ``(channels_, size_, size_)``.
    output_dim_ : int
        Number of values per encoded image.

    Examples
    --------
    >>> import numpy as np
    >>> from genaug.data import ImageCodec
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    >>> codec = ImageCodec().fit(images)
    >>> codec.transform(images).shape
    (4, 1, 32, 32)
    >>> bool((codec.inverse_transform(codec.transform(images)) == images).all())
    True
    """

    def __init__(
        self,
        layout: str | None = None,
        image_size: int | None = None,
        max_size: int = 128,
        multiple: int = 8,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.layout = layout
        self.image_size = image_size
        self.max_size = max_size
        self.multiple = multiple
        self.value_range = value_range

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.layout is not None and self.layout not in LAYOUTS:
            raise InvalidParameterError(f"layout must be one of {LAYOUTS}; got {self.layout!r}.")
        for name, low in (("image_size", 4), ("max_size", 8), ("multiple", 1)):
            value = getattr(self, name)
            if name == "image_size" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                extra = " or None" if name == "image_size" else ""
                raise InvalidParameterError(
                    f"{name} must be an integer >= {low}{extra}; got {value!r}."
                )
        if self.value_range is not None and tuple(self.value_range) not in _VALUE_RANGES:
            raise InvalidParameterError(
                f"value_range must be (0, 1), (-1, 1) or None; got {self.value_range!r}."
            )

    def fit(self, X: Any) -> ImageCodec:
        """Learn the images' container, layout, dtype, value range and size.

        Parameters
        ----------
        X : ndarray, Tensor or list of PIL images
            The training images.

        Returns
        -------
        self : ImageCodec
        """
        self._fit(X)
        return self

    def fit_transform(self, X: Any) -> np.ndarray:
        """:meth:`fit` and :meth:`transform` in one pass over ``X``.

        Parameters
        ----------
        X : array-like, tensor or list of PIL images
            The images, as for :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_images, channels, size, size), float32 in [-1, 1]
        """
        return self._encode(self._fit(X))

    def _fit(self, X: Any) -> np.ndarray:
        self._check_params()
        arr, info = _read(X, self.layout, self.image_size)
        _, c, h, w = arr.shape
        if self.image_size is None and max(h, w) > self.max_size:
            raise InvalidDataError(
                f"The images are {h} x {w} pixels; genaug's convolutional networks are sized "
                f"for at most {self.max_size} pixels a side. Pass image_size to resize them, e.g. "
                "VAESynthesizer(image_size=64)."
            )
        self.container_ = info["container"]
        self.layout_ = info["layout"]
        self.dtype_ = info["dtype"]
        self.torch_dtype_ = info["torch_dtype"]
        self.pil_mode_ = info["pil_mode"]
        self.channels_, self.height_, self.width_ = int(c), int(h), int(w)
        self.scale_ = self._fit_scale(arr)
        content = max(h, w) if self.image_size is None else int(self.image_size)
        self.size_ = max(8, math.ceil(content / self.multiple) * self.multiple)
        self._build()
        return arr

    def _fit_scale(self, arr: np.ndarray) -> tuple[float, float]:
        kind = arr.dtype.kind
        if kind in "ui":
            low, high = int(arr.min()), int(arr.max())
            if low < 0 or high > 255:
                raise InvalidDataError(
                    f"Integer images must hold values in 0..255; these range over {low}..{high}. "
                    "Convert them to uint8, or to floats in [0, 1]."
                )
            return 0.0, 255.0
        if kind != "f":
            raise InvalidDataError(
                f"Images of dtype {arr.dtype} cannot be modelled; use uint8, or floats in "
                "[0, 1] or [-1, 1]."
            )
        if not np.isfinite(arr).all():
            raise InvalidDataError("The images hold NaN or infinite values.")
        low, high = float(arr.min()), float(arr.max())
        if self.value_range is not None:
            scale = tuple(float(v) for v in self.value_range)
        else:
            scale = (-1.0, 1.0) if low < 0 else (0.0, 1.0)
        if low < scale[0] - _RANGE_TOL or high > scale[1] + _RANGE_TOL:
            raise InvalidDataError(
                f"Float images must lie in [0, 1] or [-1, 1]; these range over "
                f"[{low:.4g}, {high:.4g}]. Divide 0..255 images by 255 (or pass uint8)."
            )
        return scale

    def _build(self) -> None:
        """Derived layout: the content size after resizing, the padding and output shape."""
        if self.image_size is None:
            self._content = (self.height_, self.width_)
        else:
            self._content = (int(self.image_size), int(self.image_size))
        ch, cw = self._content
        self._pad = ((self.size_ - ch) // 2, (self.size_ - cw) // 2)
        self.output_shape_ = (self.channels_, self.size_, self.size_)
        self.output_dim_ = int(np.prod(self.output_shape_))

    def _check_fitted(self) -> None:
        if not hasattr(self, "output_shape_"):
            raise NotFittedError("This ImageCodec is not fitted yet; call fit(images) first.")

    # ------------------------------------------------------------ transform
    def transform(self, X: Any) -> np.ndarray:
        """Encode images of the training form into what the networks see.

        Parameters
        ----------
        X : ndarray, Tensor or list of PIL images
            Images with the training channels, size and kind of dtype.

        Returns
        -------
        ndarray of shape (n_images, channels, size, size), float32 in [-1, 1]
        """
        self._check_fitted()
        arr, info = _read(X, self.layout_ if self.container_ != "pil" else None, self.image_size)
        _, c, h, w = arr.shape
        if (c, h, w) != (self.channels_, self.height_, self.width_) and not (
            c == self.channels_ and self.image_size is not None
        ):
            raise InvalidDataError(
                f"Expected images of {self.channels_} channel(s) and {self.height_} x "
                f"{self.width_} pixels, as in fit; got {c} channel(s) of {h} x {w}."
            )
        if (np.dtype(info["dtype"]).kind == "f") != (np.dtype(self.dtype_).kind == "f"):
            raise InvalidDataError(
                f"Expected images of dtype {self.dtype_}, as in fit; got {info['dtype']}."
            )
        return self._encode(arr)

    def _encode(self, arr: np.ndarray) -> np.ndarray:
        low, high = self.scale_
        z = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32, copy=False))
        z = (z - low) * (2.0 / (high - low)) - 1.0
        if tuple(z.shape[2:]) != self._content:
            z = F.interpolate(z, size=self._content, mode="bilinear", antialias=True)
        ch, cw = self._content
        top, left = self._pad
        bottom, right = self.size_ - ch - top, self.size_ - cw - left
        if top or left or bottom or right:
            # Edge replication: no artificial border for the convolutions to model.
            z = F.pad(z, (left, right, top, bottom), mode="replicate")
        return z.clamp_(-1.0, 1.0).numpy()

    # ---------------------------------------------------- inverse transform
    def inverse_transform(self, Z: np.ndarray) -> Any:
        """Decode network outputs back to images of the training form.

        Parameters
        ----------
        Z : ndarray of shape (n_images, channels, size, size)
            Values in [-1, 1] (others are clipped).

        Returns
        -------
        ndarray, Tensor or list of PIL images
            In the training container, layout, dtype and value range, at the training size.
        """
        self._check_fitted()
        Z = np.asarray(Z)
        if Z.ndim != 4 or tuple(Z.shape[1:]) != self.output_shape_:
            raise InvalidDataError(
                f"Expected encoded images of shape (n, {', '.join(map(str, self.output_shape_))})"
                f"; got {Z.shape}."
            )
        top, left = self._pad
        ch, cw = self._content
        z = torch.from_numpy(np.ascontiguousarray(Z[:, :, top : top + ch, left : left + cw]))
        z = z.float()
        if (ch, cw) != (self.height_, self.width_):
            z = F.interpolate(
                z, size=(self.height_, self.width_), mode="bilinear", antialias=True
            )
        low, high = self.scale_
        x = (z.clamp(-1.0, 1.0) + 1.0) * ((high - low) / 2.0) + low
        dtype = np.dtype(self.dtype_)
        arr = x.numpy()
        if dtype.kind in "ui":
            arr = np.clip(np.rint(arr), low, high)
        arr = np.ascontiguousarray(_from_nchw(arr.astype(dtype), self.layout_))
        if self.container_ == "numpy":
            return arr
        if self.container_ == "torch":
            return torch.from_numpy(arr).to(TORCH_DTYPES[self.torch_dtype_])
        from PIL import Image

        return [Image.fromarray(a) for a in arr]

    # ---------------------------------------------------------------- state
    def to_dict(self) -> dict:
        """JSON-serialisable state of the fitted codec (parameters included)."""
        self._check_fitted()
        return {
            "state_version": _STATE_VERSION,
            "params": {
                "layout": self.layout,
                "image_size": None if self.image_size is None else int(self.image_size),
                "max_size": int(self.max_size),
                "multiple": int(self.multiple),
                "value_range": None if self.value_range is None else list(self.value_range),
            },
            "container": self.container_,
            "input_layout": self.layout_,
            "dtype": self.dtype_,
            "torch_dtype": self.torch_dtype_,
            "pil_mode": self.pil_mode_,
            "channels": self.channels_,
            "height": self.height_,
            "width": self.width_,
            "scale": list(self.scale_),
            "size": self.size_,
        }

    @classmethod
    def from_dict(cls, state: dict) -> ImageCodec:
        """Rebuild a fitted codec from :meth:`to_dict`'s output.

        Raises
        ------
        ModelFileError
            If the state is not of a known version or is malformed.
        """
        from genaug.exceptions import ModelFileError

        try:
            if state.get("state_version") != _STATE_VERSION:
                raise ModelFileError(
                    f"Unknown image codec state version {state.get('state_version')!r}; "
                    f"this genaug reads version {_STATE_VERSION}."
                )
            params = dict(state["params"])
            if params["value_range"] is not None:
                params["value_range"] = tuple(params["value_range"])
            codec = cls(**params)
            codec._check_params()
            codec.container_ = state["container"]
            codec.layout_ = state["input_layout"]
            codec.dtype_ = state["dtype"]
            codec.torch_dtype_ = state["torch_dtype"]
            codec.pil_mode_ = state["pil_mode"]
            codec.channels_ = int(state["channels"])
            codec.height_, codec.width_ = int(state["height"]), int(state["width"])
            low, high = (float(v) for v in state["scale"])
            codec.scale_ = (low, high)
            codec.size_ = int(state["size"])
            dtype = np.dtype(codec.dtype_)
            valid = (
                dtype.kind in "uif"
                and dtype.itemsize <= 8
                and max(codec.height_, codec.width_) <= MAX_SAVED_IMAGE_SIDE
                and codec.size_ <= MAX_SAVED_NETWORK_SIDE
                and codec.container_ in ("numpy", "torch", "pil")
                and codec.layout_ in LAYOUTS
                and codec.channels_ in _CHANNELS
                and (codec.layout_ != "NHW" or codec.channels_ == 1)
                and min(codec.height_, codec.width_) >= 1
                and high > low
                and codec.size_ >= 8
                and (codec.container_ != "torch" or codec.torch_dtype_ in TORCH_DTYPES)
                and (codec.container_ != "pil" or codec.pil_mode_ in ("L", "RGB"))
            )
            if not valid:
                raise ValueError("inconsistent image codec fields")
            codec._build()
            if min(codec._pad) < 0:
                raise ValueError("the image is larger than the network size")
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"The image codec state is malformed: {exc!r}.") from exc
        return codec
