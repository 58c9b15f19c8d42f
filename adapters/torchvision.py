"""torchvision adapter: synthetic images as a lazy, reproducible ``Dataset``, and real data sets
grown with them.

:class:`SyntheticDataset`
    ``n`` images drawn from a fitted image synthesizer, generated in batches when first
    indexed. Batch ``b`` is drawn with a seed derived from ``(seed, b)``, so item ``i`` is the
    same whatever the access order, the ``DataLoader`` workers or their number.
:func:`augment_dataset`
    A real data set followed by synthetic images per class, as one ``Dataset`` that keeps
    ``classes`` / ``class_to_idx`` and marks the synthetic items.
:func:`fit_from_dataset`
    Fits a synthesizer on the images of an ``ImageFolder`` (read without its transform) or of
    any data set of ``(image, label)`` items.

Items are what torchvision's own data sets give: a PIL image when the synthesizer was fitted
on integer images (uint8 arrays or tensors, PIL images), so that the usual transforms apply;
otherwise a ``C x H x W`` tensor in the training dtype and value range. Labeled synthesizers
give ``(image, label)`` items, unlabeled ones the image alone. :func:`augment_dataset` gives
the synthetic items of a data set of tensors or arrays (a ``TensorDataset``, say) the real
items' form instead.

torchvision and pillow are imported when a function is called (``pip install genaug[vision]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from torch.utils.data import ConcatDataset, Dataset

from genaug._random import derive_seed, resolve_seed
from genaug._validation import Satisfies, is_callable_or_none, validate_params
from genaug.data.images import TORCH_DTYPES, ImageCodec, as_nchw
from genaug.exceptions import InvalidDataError, InvalidParameterError, NotFittedError

__all__ = ["AugmentedDataset", "SyntheticDataset", "augment_dataset", "fit_from_dataset"]

_TRANSFORM_CONSTRAINTS = {
    "transform": [Satisfies(is_callable_or_none, "a callable or None")],
    "target_transform": [Satisfies(is_callable_or_none, "a callable or None")],
}

# Images generated per forward pass (and per cached block) of a SyntheticDataset.
DEFAULT_BATCH_SIZE = 256
INHERIT = "inherit"


def _require_vision() -> None:
    """Import torchvision and pillow, or raise an ImportError that says how to install them."""
    try:
        import PIL.Image  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "genaug.adapters.torchvision needs torchvision and pillow; install them with: "
            "pip install genaug[vision]"
        ) from exc


def _check_count(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an integer >= {low}; got {value!r}.")
    if value < low:
        raise InvalidParameterError(f"{name} must be an integer >= {low}; got {value}.")
    return int(value)


def _image_codec(synthesizer: Any) -> ImageCodec:
    if not callable(getattr(synthesizer, "sample", None)):
        raise InvalidParameterError(
            f"Expected a genaug synthesizer; got {type(synthesizer).__name__}."
        )
    codec = getattr(synthesizer, "codec_", None)
    if codec is None:
        raise NotFittedError(
            f"This {type(synthesizer).__name__} is not fitted yet; fit it on images first "
            "(or use fit_from_dataset)."
        )
    if not isinstance(codec, ImageCodec):
        raise InvalidParameterError(
            f"This {type(synthesizer).__name__} was fitted on a table; SyntheticDataset needs "
            "a synthesizer fitted on images."
        )
    return codec


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, (np.generic, torch.Tensor)) else value


def _object_array(values: list) -> np.ndarray:
    """A 1-D object array of Python scalars, whatever their types (no common dtype forced)."""
    out = np.empty(len(values), dtype=object)
    out[:] = [_scalar(v) for v in values]
    return out


class SyntheticDataset(Dataset):
    """``n`` synthetic images from a fitted synthesizer, generated lazily and reproducibly.

    Parameters
    ----------
    synthesizer : BaseSynthesizer
        A genaug synthesizer fitted on images.
    n : int
        Number of items.
    y : label, dict of {label: count}, array-like of n labels, or None
        Labels of the items: ``None`` draws them at the training class rates (batch by
        batch); a single label gives every item that class; a dict gives contiguous blocks of
        those counts (adding up to ``n``) in the dict's order; an array gives item ``i`` the
        label ``y[i]``. Only ``None`` for a synthesizer fitted without labels.
    transform : callable, optional
        Applied to each image, as in torchvision's data sets.
    target_transform : callable, optional
        Applied to each label.
    random_state : int, numpy Generator or None, default=None
        Seed of the images; resolved once here, so that copies of the data set (in
        ``DataLoader`` workers) give the same items.
    batch_size : int, default=256
        Images generated per forward pass; each batch is kept once generated (memory grows
        with the images touched, up to the whole data set).

    Attributes
    ----------
    seed_ : int
        The seed of batch ``b`` is derived from ``(seed_, b)``.
    labels : ndarray or None
        The label of every item when ``y`` fixes them (``None`` otherwise).

    Examples
    --------
    >>> from torch.utils.data import DataLoader  # doctest: +SKIP
    >>> from torchvision.transforms import ToTensor  # doctest: +SKIP
    >>> ds = SyntheticDataset(syn, 10_000, transform=ToTensor(), random_state=0)  # doctest: +SKIP
    >>> loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        synthesizer: Any,
        n: int,
        y: Any = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_state: Any = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        _require_vision()
        self._codec = _image_codec(synthesizer)
        self.synthesizer = synthesizer
        self.n = _check_count(n, "n")
        self.batch_size = _check_count(batch_size, "batch_size")
        validate_params(
            {"transform": transform, "target_transform": target_transform},
            _TRANSFORM_CONSTRAINTS,
            type(self).__name__,
        )
        self.transform = transform
        self.target_transform = target_transform
        if random_state is None and callable(getattr(synthesizer, "sample_seed", None)):
            # Unseeded: the synthesizer's own sequence, as an unseeded sample() would use.
            self.seed_ = synthesizer.sample_seed()
        else:
            self.seed_ = resolve_seed(random_state)
        # (container, dtype, shape) of the real data set's targets, when augment_dataset found
        # them tensors or numpy values of one number (0-d or of shape (1,)).
        self._target_form: tuple[str, Any, tuple[int, ...]] | None = None
        self._labeled = getattr(synthesizer, "classes_", None) is not None
        self.labels = self._plan_labels(y)
        # Integer images come back as PIL images, as torchvision's own data sets give them.
        self._as_pil = np.dtype(self._codec.dtype_).kind in "ui"
        # (container, dtype, per-image layout) of the real items, when augment_dataset gives
        # the images their form; None: the form above.
        self._form: tuple[str, Any, str] | None = None
        self._cache: dict[int, tuple[Any, Any]] = {}

    def _take_form(self, like: Any) -> bool:
        """Give the images the form of ``like``, one real image (tensor or array): its
        container, dtype and layout (``H x W``, ``C x H x W`` or ``H x W x C``).

        Only where the images can take it without a guess: the same kind of dtype (integer
        or float: the value range is then the training one) and the same pixels. Returns
        whether they take it.
        """
        if not isinstance(like, (torch.Tensor, np.ndarray)):
            return False
        is_float = like.is_floating_point() if isinstance(like, torch.Tensor) else (
            like.dtype.kind == "f"
        )
        if is_float != (np.dtype(self._codec.dtype_).kind == "f"):
            return False
        c, h, w = self._codec.channels_, self._codec.height_, self._codec.width_
        shapes = {"CHW": (c, h, w), "HWC": (h, w, c)}
        if c == 1:
            shapes["HW"] = (h, w)
        # A shape that fits both 3-D layouts (3 x 3 x 3) reads as the training layout.
        order = ["HWC", "CHW"] if self._codec.layout_ == "NHWC" else ["CHW", "HWC"]
        layout = next((k for k in [*order, "HW"] if shapes.get(k) == tuple(like.shape)), None)
        if layout is None:
            return False
        container = "torch" if isinstance(like, torch.Tensor) else "numpy"
        self._form = (container, like.dtype, layout)
        self._as_pil = False
        return True

    def _plan_labels(self, y: Any) -> np.ndarray | None:
        if y is None:
            return None
        if not self._labeled:
            raise InvalidParameterError(
                "y was given, but the synthesizer was fitted without labels; leave y=None."
            )
        classes = self.synthesizer.classes_
        if isinstance(y, Mapping):
            counts = [_check_count(c, f"the count of {k!r}", 0) for k, c in y.items()]
            if sum(counts) != self.n:
                raise InvalidParameterError(
                    f"The counts in y add up to {sum(counts)}, not n={self.n}."
                )
            keys = _object_array(list(y))
            labels = np.repeat(keys, counts)
        elif np.ndim(y) == 0:
            keys = _object_array([y])
            labels = np.repeat(keys, self.n)
        else:
            labels = _object_array(np.asarray(y).ravel().tolist())
            if labels.shape[0] != self.n:
                raise InvalidParameterError(f"y has {labels.shape[0]} labels; n is {self.n}.")
            keys = labels
        # Checked before any conversion to the classes' dtype, which would cut "dogfish"
        # to a class "dog" (a "<U3" array) or round 1.7 to a class 1.
        known = set(classes.tolist())
        unseen = [v for v in keys if v not in known]
        if unseen:
            raise InvalidParameterError(
                f"y holds labels not seen in fit: {unseen[:5]}; known: "
                f"{[_scalar(c) for c in classes[:20]]}."
            )
        return labels.astype(classes.dtype)

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict[str, Any]:
        # Workers regenerate what they need: the cache does not travel with the data set.
        return {**self.__dict__, "_cache": {}}

    def _generate(self, b: int) -> tuple[Any, Any]:
        start, stop = b * self.batch_size, min(self.n, (b + 1) * self.batch_size)
        m = stop - start
        seed = derive_seed(self.seed_, b)
        order = None
        if not self._labeled:
            X, labels = self.synthesizer.sample(m, random_state=seed), None
        elif self.labels is None:
            X, labels = self.synthesizer.sample(m, random_state=seed)
        else:
            wanted = self.labels[start:stop]
            # sample(y=counts) returns classes in blocks: draw them sorted, then put each
            # image back at its item's position.
            order = np.argsort(wanted, kind="stable")
            values, counts = np.unique(wanted, return_counts=True)
            counts_by_label = {_scalar(v): int(c) for v, c in zip(values, counts)}
            X, labels = self.synthesizer.sample(m, y=counts_by_label, random_state=seed)
        layout = None if self._codec.container_ == "pil" else self._codec.layout_
        pixels = as_nchw(X, layout)  # (m, C, H, W), training dtype
        if order is not None:
            unsorted = np.empty_like(pixels)
            unsorted[order] = pixels
            pixels = unsorted
            labels = self.labels[start:stop]
        labels = None if labels is None else np.asarray(labels)
        if self._form is not None:
            container, dtype, layout = self._form
            if layout == "HW":
                pixels = pixels[:, 0]
            elif layout == "HWC":
                pixels = pixels.transpose(0, 2, 3, 1)
            pixels = np.ascontiguousarray(pixels)
            if container == "numpy":
                return pixels.astype(dtype, copy=False), labels
            return torch.from_numpy(pixels).to(dtype), labels
        if self._as_pil:
            images: Any = pixels.transpose(0, 2, 3, 1).astype(np.uint8)
            if images.shape[-1] == 1:
                images = images[..., 0]
        else:
            images = torch.from_numpy(np.ascontiguousarray(pixels))
            if self._codec.torch_dtype_ is not None:
                images = images.to(TORCH_DTYPES[self._codec.torch_dtype_])
        return images, labels

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, torch.Tensor) and index.ndim == 0 and not index.is_floating_point():
            index = index.item()
        # int() would truncate 2.5 to 2 and give an item for an index that is not one.
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise InvalidParameterError(
                f"{type(self).__name__} index must be an integer; got {index!r}."
            )
        given = int(index)
        index = given + self.n if given < 0 else given
        if not 0 <= index < self.n:
            raise IndexError(f"index {given} is out of range for {self.n} items.")
        b, j = divmod(index, self.batch_size)
        if b not in self._cache:
            self._cache[b] = self._generate(b)
        images, labels = self._cache[b]
        if self._as_pil:
            from PIL import Image

            image = Image.fromarray(images[j])
        else:
            image = images[j]
        if self.transform is not None:
            image = self.transform(image)
        if labels is None:
            return image
        target = _scalar(labels[j])
        if self._target_form is not None:
            container, dtype, shape = self._target_form
            if container == "torch":
                target = torch.tensor(target, dtype=dtype).reshape(shape)
            elif container == "numpy scalar":
                target = dtype.type(target)
            else:
                target = np.asarray(target, dtype=dtype).reshape(shape)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        lines = [
            f"Number of datapoints: {self.n}",
            f"Synthesizer: {type(self.synthesizer).__name__}",
            f"Seed: {self.seed_}",
        ]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}")
        return "\n".join([type(self).__name__, *("    " + line for line in lines)])


class AugmentedDataset(ConcatDataset):
    """A real data set followed by a :class:`SyntheticDataset`.

    Parameters
    ----------
    real : Dataset
        The real items, first (indices ``0 .. len(real) - 1``).
    synthetic : SyntheticDataset
        The synthetic items, after them.

    Attributes
    ----------
    real, synthetic : Dataset
    synthetic_mask : ndarray of bool
        True at the indices of synthetic items.
    classes, class_to_idx : list, dict
        Copied from ``real`` when it has them (``ImageFolder`` does).
    targets : list
        When ``real`` has ``targets`` and the synthetic labels are fixed: all the labels.
    """

    def __init__(self, real: Dataset, synthetic: SyntheticDataset) -> None:
        super().__init__([real, synthetic])
        self.real = real
        self.synthetic = synthetic
        self.synthetic_mask = np.concatenate(
            [np.zeros(len(real), dtype=bool), np.ones(len(synthetic), dtype=bool)]
        )
        for name in ("classes", "class_to_idx"):
            if hasattr(real, name):
                setattr(self, name, getattr(real, name))
        if hasattr(real, "targets") and synthetic.labels is not None:
            self.targets = [_scalar(t) for t in real.targets] + synthetic.labels.tolist()

    def is_synthetic(self, index: int) -> bool:
        """Whether item ``index`` is synthetic.

        Parameters
        ----------
        index : int

        Returns
        -------
        bool
        """
        return bool(self.synthetic_mask[index])


def _is_folder(dataset: Any) -> bool:
    """A torchvision ``DatasetFolder`` (``ImageFolder``): paths and a loader, read raw."""
    return hasattr(dataset, "samples") and callable(getattr(dataset, "loader", None))


def _stack(images: list) -> Any:
    first = images[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(images)
    if isinstance(first, np.ndarray):
        return np.stack(images)
    return images  # PIL images: the codec reads the list


def fit_from_dataset(synthesizer: Any, dataset: Dataset, *, labels: bool = True) -> Any:
    """Fit ``synthesizer`` on the images (and labels) of a data set.

    An ``ImageFolder`` (any ``DatasetFolder``) is read with its ``loader`` and without its
    ``transform``, so the synthesizer sees the raw images (PIL, RGB by default) and its samples
    can go through the same transform as the real ones. Any other data set is read item by
    item as it returns them: ``(image, label)`` pairs (or images alone with ``labels=False``)
    of PIL images, arrays or tensors in a form :meth:`~genaug.BaseSynthesizer.fit` accepts.

    Parameters
    ----------
    synthesizer : BaseSynthesizer
        The synthesizer to fit (in place, like ``fit``).
    dataset : Dataset
        A map-style data set with ``len``.
    labels : bool, default=True
        Condition on the items' labels.

    Returns
    -------
    synthesizer
        Fitted.
    """
    _require_vision()
    X, y = _read_dataset(synthesizer, dataset, labels)
    return synthesizer.fit(X, y)


def _read_dataset(synthesizer: Any, dataset: Any, labels: bool) -> tuple[Any, Any]:
    """:func:`fit_from_dataset`'s checks, then the data set's images (stacked) and labels
    (``None`` with ``labels=False``): what ``fit`` is given."""
    if not callable(getattr(synthesizer, "fit", None)):
        raise InvalidParameterError(
            f"Expected a genaug synthesizer; got {type(synthesizer).__name__}."
        )
    validate_params(
        {"dataset": dataset, "labels": labels},
        {
            "dataset": [
                Satisfies(
                    lambda d: hasattr(d, "__len__") and hasattr(d, "__getitem__"),
                    "a map-style data set (with __len__ and __getitem__)",
                )
            ],
            "labels": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
        },
        "fit_from_dataset",
    )
    n = len(dataset)
    if n < 2:
        raise InvalidDataError(f"The data set has {n} item(s); a synthesizer needs at least two.")
    # Reading a data set is one item at a time; everything after works on the whole batch.
    if _is_folder(dataset):
        images = [dataset.loader(path) for path, _ in dataset.samples]
        targets = [target for _, target in dataset.samples]
    elif labels:
        items = [dataset[i] for i in range(n)]
        if not all(isinstance(item, (tuple, list)) and len(item) >= 2 for item in items[:1]):
            raise InvalidDataError(
                "The data set's items are not (image, label) pairs; pass labels=False to fit "
                "on the images alone."
            )
        images = [item[0] for item in items]
        targets = [_scalar(item[1]) for item in items]
    else:
        images = [dataset[i] for i in range(n)]
        images = [im[0] if isinstance(im, (tuple, list)) else im for im in images]
        targets = None
    y = np.asarray(targets) if labels and targets is not None else None
    return _stack(images), y


def _plan_counts(dataset: Any, n_per_class: Any) -> tuple[int | dict, dict]:
    """``n_per_class`` checked before any fit: its counts, with class names of the data set's
    ``class_to_idx`` turned into indices and every other key kept as a label.

    Returns the count (an int) or the counts by label, and the key that named each label.
    """
    if not isinstance(n_per_class, Mapping):
        return _check_count(n_per_class, "n_per_class", 0), {}
    lookup = getattr(dataset, "class_to_idx", None) or {}
    counts: dict = {}
    named: dict = {}
    for key, count in n_per_class.items():
        # Names first, by exact key: np.isin("3", classes) would match the index 3 (numpy
        # compares a string with integers as strings) and leave the name "3" unresolved.
        label = _scalar(lookup[key] if key in lookup else key)
        if label in named:
            raise InvalidParameterError(
                f"n_per_class names the class {label!r} twice, as {named[label]!r} and as "
                f"{key!r}; give each class once."
            )
        counts[label] = _check_count(count, f"n_per_class[{key!r}]", 0)
        named[label] = key
    return counts, named


def _class_counts(plan: int | dict, named: dict, classes: Any, dataset: Any) -> dict:
    """The counts by class of ``classes`` (an int: the same for each), checked against them."""
    if classes is None:
        raise InvalidParameterError(
            "augment_dataset draws images per class; the synthesizer was fitted without labels."
        )
    if not isinstance(plan, dict):
        return {_scalar(c): plan for c in classes}
    # Each label as the class it equals (3 -> 3, 3.0 -> 3): a set-like exact match, where
    # np.isin would cast mixed types to strings.
    known = {c: c for c in np.asarray(classes).tolist()}
    unknown = [key for label, key in named.items() if label not in known]
    if unknown:
        names = list(getattr(dataset, "class_to_idx", None) or {})
        hint = f" and its class names {names[:20]}" if names else ""
        raise InvalidParameterError(
            f"n_per_class names {unknown[0]!r}, which is not a class of the synthesizer; its "
            f"classes are {list(known)[:20]}{hint}."
        )
    return {known[label]: count for label, count in plan.items()}


def _unique(labels: np.ndarray) -> Any:
    """The distinct labels, sorted where they can be (a mix of types cannot)."""
    try:
        return np.unique(labels)
    except TypeError:
        return _object_array(list(dict.fromkeys(labels.tolist())))


def _first_item(dataset: Any) -> tuple[Any, Any]:
    """The image and target of a data set's first item (``None`` where there is none); a
    ``DatasetFolder``'s are not read (its items are its transform's)."""
    if _is_folder(dataset) or len(dataset) == 0:
        return None, None
    item = dataset[0]
    if isinstance(item, (tuple, list)):
        return item[0], item[1] if len(item) >= 2 else None
    return item, None


def _target_form(target: Any) -> tuple[str, Any, tuple[int, ...]] | None:
    """The container, dtype and shape of a real target of one number, for the synthetic
    targets to take; ``None`` for any other target (a Python label is kept as it is)."""
    if isinstance(target, torch.Tensor) and target.numel() == 1:
        return "torch", target.dtype, tuple(target.shape)
    # Numbers only: a text dtype's width is the first label's ("<U3") and would cut longer
    # labels, and a DataLoader does not batch text arrays anyway.
    if isinstance(target, (np.ndarray, np.generic)) and target.size == 1:
        if target.dtype.kind not in "biuf":
            return None
        if isinstance(target, np.generic):
            return "numpy scalar", target.dtype, ()
        return "numpy", target.dtype, target.shape
    return None


def _describe(image: torch.Tensor | np.ndarray) -> str:
    kind = "tensors" if isinstance(image, torch.Tensor) else "arrays"
    return f"{kind} of shape {tuple(image.shape)} and dtype {image.dtype}"


def _describe_synthetic(synthetic: SyntheticDataset) -> str:
    codec = synthetic._codec
    if synthetic._as_pil:
        return f"PIL images of {codec.width_} x {codec.height_} pixels"
    dtype = TORCH_DTYPES[codec.torch_dtype_] if codec.torch_dtype_ is not None else codec.dtype_
    return f"tensors of shape {(codec.channels_, codec.height_, codec.width_)} and dtype {dtype}"


def augment_dataset(
    real_dataset: Dataset,
    synthesizer: Any,
    n_per_class: int | Mapping[Any, int],
    *,
    transform: Callable | str | None = INHERIT,
    target_transform: Callable | str | None = INHERIT,
    random_state: Any = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> AugmentedDataset:
    """A real data set followed by synthetic images per class.

    Parameters
    ----------
    real_dataset : Dataset
        The real data, e.g. an ``ImageFolder``; given back unchanged as the first items.
    synthesizer : BaseSynthesizer
        Fitted on images with labels, or unfitted: then a clone is fitted on
        ``real_dataset`` with :func:`fit_from_dataset` (``synthesizer`` itself stays unfitted).
    n_per_class : int or dict of {label: count}
        Synthetic images of each class (an int: of every class). Keys may be class indices
        or, for a data set with ``class_to_idx``, class names (a key found there is a name,
        so folders named ``"0"`` .. ``"9"`` work). Each class may be named once.
    transform, target_transform : callable, None or "inherit", default="inherit"
        Applied to the synthetic items. ``"inherit"`` takes the real data set's own when the
        synthetic images are PIL images (raw images, as the real data set's transform
        expects), and none otherwise (tensors are taken to be in the transformed space
        already). With no transform, the synthetic images of a data set other than a
        ``DatasetFolder`` take the form of its first item's image when that is a tensor or
        array of the same pixels and kind of dtype (integer or float): its container,
        dtype and layout (``H x W``, ``C x H x W`` or ``H x W x C``), so that real and
        synthetic items batch together; where they cannot (a model fitted on integer images
        over float items, say), a ``UserWarning`` says so. Targets of one number (a tensor,
        numpy array or numpy scalar) likewise give the synthetic targets their container,
        dtype and shape.
    random_state : int, numpy Generator or None, default=None
        Seed of the synthetic images (and of the fit, when it happens here).
    batch_size : int, default=256
        Images generated per forward pass (see :class:`SyntheticDataset`).

    Returns
    -------
    AugmentedDataset
        ``len(real_dataset) + sum of the counts`` items, with ``classes``, ``class_to_idx``,
        ``synthetic_mask`` and ``is_synthetic(i)``.

    Examples
    --------
    >>> from torchvision.datasets import ImageFolder  # doctest: +SKIP
    >>> train = augment_dataset(ImageFolder(root, transform=T), VAEGANSynthesizer(epochs=30),
    ...                         n_per_class=500, random_state=0)  # doctest: +SKIP
    >>> int(train.synthetic_mask.sum()) == 500 * len(train.classes)  # doctest: +SKIP
    True
    """
    _require_vision()
    seed = None if random_state is None else resolve_seed(random_state)
    # Every argument is checked before the fit, which may take minutes.
    plan, named = _plan_counts(real_dataset, n_per_class)
    if (plan if isinstance(plan, int) else sum(plan.values())) == 0:
        raise InvalidParameterError(
            "n_per_class asks for no synthetic image; ask for at least one."
        )
    for name, value in (("transform", transform), ("target_transform", target_transform)):
        if isinstance(value, str) and value != INHERIT:
            raise InvalidParameterError(
                f"{name} must be a callable, None or {INHERIT!r}; got {value!r}."
            )
    if getattr(synthesizer, "codec_", None) is None:
        if _is_folder(real_dataset):
            # The classes the fit will find: a DatasetFolder's targets, known without reading
            # an image.
            targets = getattr(real_dataset, "targets", None)
            if targets is None:
                targets = [target for _, target in real_dataset.samples]
            _class_counts(plan, named, np.unique(np.asarray(targets)), real_dataset)
        fitted = clone(synthesizer)
        if seed is not None and "random_state" in fitted.get_params(deep=False):
            fitted.set_params(random_state=derive_seed(seed, 0))
        X, y = _read_dataset(fitted, real_dataset, labels=True)
        if not _is_folder(real_dataset):
            # Any other data set's labels are known once its items are read: still before
            # the fit.
            _class_counts(plan, named, _unique(y), real_dataset)
        fitted.fit(X, y)
    else:
        fitted = synthesizer
    _image_codec(fitted)
    counts = _class_counts(plan, named, fitted.classes_, real_dataset)
    as_pil = np.dtype(fitted.codec_.dtype_).kind in "ui"
    if isinstance(transform, str):
        transform = getattr(real_dataset, "transform", None) if as_pil else None
    if isinstance(target_transform, str):
        target_transform = getattr(real_dataset, "target_transform", None) if as_pil else None
    synthetic = SyntheticDataset(
        fitted,
        sum(counts.values()),
        y=counts,
        transform=transform,
        target_transform=target_transform,
        random_state=None if seed is None else derive_seed(seed, 1),
        batch_size=batch_size,
    )
    image, target = _first_item(real_dataset)
    if transform is None:
        # Images of the real items' form (a TensorDataset's uint8 or H x W tensors, say), so
        # that a DataLoader batches real and synthetic items together. A transform gets them
        # as documented for SyntheticDataset instead.
        if not synthetic._take_form(image) and isinstance(image, (torch.Tensor, np.ndarray)):
            warnings.warn(
                f"The synthetic images ({_describe_synthetic(synthetic)}) cannot take the form "
                f"of the real items' ({_describe(image)}): a DataLoader will not batch them "
                "together unless a transform makes them alike (pass transform=...).",
                UserWarning,
                stacklevel=2,
            )
    # Targets of the real data set's kind: a DataLoader cannot collate tensor or numpy targets
    # (a TensorDataset's, an array's) with Python ints in one batch.
    synthetic._target_form = _target_form(target)
    return AugmentedDataset(real_dataset, synthetic)
