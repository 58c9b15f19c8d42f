"""What every synthesizer shares: validation, codec, labels, seeding, device, the training
loop, sampling, and save/load.

A model family subclasses :class:`BaseSynthesizer` and supplies four things:

``_make_networks()``
    The family's ``nn.Module`` objects, by name, built from ``self.data_dim_``,
    ``self.cond_dim_`` and its own parameters (construction only: the base initialises them
    from the seed and moves them to the device). On images (``self._image_shape()`` is
    ``(C, S, S)`` rather than ``None``, and ``self.layout_`` is ``None``) it builds the
    convolutional networks of :mod:`genaug.nn.conv`.
``_make_optimizers()``
    Its optimizers.
``_train_step(x, c, optimizers, generator)``
    One update on a batch; returns the detached losses by name.
``_generate(n, c, generator)``
    ``n`` rows in the codec's encoded space, conditioned on ``c``.

The codec is chosen from the data: :class:`~genaug.data.TabularCodec` for tables and
:class:`~genaug.data.ImageCodec` for image batches (3-D or 4-D arrays and tensors, lists of
PIL images); the rest of this class does not tell them apart, and a saved model records
which one it used.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn
from tqdm.auto import tqdm

from genaug._device import resolve_device
from genaug._random import derive_seed, resolve_seed, torch_generator
from genaug._validation import Interval, Options, Satisfies, validate_params
from genaug._version import __version__
from genaug.data.images import ImageCodec, is_image_data
from genaug.data.tabular import TabularCodec, check_table
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)
from genaug.io import FORMAT_VERSION, read_model_folder, write_model_folder
from genaug.nn.init import init_parameters
from genaug.nn.spans import SpanLayout
from genaug.synthesizers._batches import (  # noqa: F401  (re-exported)
    MIN_STEPS_PER_EPOCH,
    BatchSource,
    TensorBatches,
    effective_batch_size,
)

# Rows generated per forward pass when sampling. It is fixed (not tied to the device or
# batch_size) because the random stream, and so the sample for a seed, depends on it.
SAMPLE_CHUNK = 8192
# The same for images, whose activations are far larger per row.
IMAGE_SAMPLE_CHUNK = 256

# The codec classes by the kind saved with a model.
_CODECS: dict[str, Any] = {"tabular": TabularCodec, "image": ImageCodec}

_COMMON_CONSTRAINTS: dict[str, list] = {
    "epochs": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 2, None)],
    "learning_rate": [Interval(float, 0, None, closed="neither")],
    "discrete_columns": [None, Satisfies(lambda v: isinstance(v, (list, tuple)), "a list")],
    "continuous_encoding": [Options(("quantile", "mode"))],
    "image_size": [None, Interval(int, 8, None)],
    "random_state": [
        None,
        Interval(int, 0, None),
        Satisfies(
            lambda v: isinstance(v, (np.random.Generator, np.random.RandomState)),
            "a numpy Generator",
        ),
    ],
    "device": [Satisfies(lambda v: isinstance(v, (str, torch.device)), "a device name")],
    "verbose": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
}


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class BaseSynthesizer(BaseEstimator, ABC):
    """Base class of genaug's synthesizers (see the module docstring for the contract).

    Fitted attributes common to every synthesizer:

    Attributes
    ----------
    codec_ : TabularCodec or ImageCodec
        The fitted encoder of the table or of the images.
    classes_ : ndarray or None
        The class labels seen in ``fit`` (``None`` when fitted without ``y``).
    class_prior_ : ndarray or None
        Their rates in the training data.
    seed_ : int
        The integer seed that ``random_state`` resolved to.
    device_ : torch.device
        The device the networks live on.
    history_ : dict of lists
        Per-epoch mean of each training loss (``"epoch"`` holds the epoch numbers).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string columns
    """

    _registry: ClassVar[dict[str, type[BaseSynthesizer]]] = {}
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            BaseSynthesizer._registry[cls.__name__] = cls

    # ----------------------------------------------------------- hooks
    @abstractmethod
    def _make_networks(self) -> dict[str, nn.Module]:
        """The family's networks by attribute name (constructed, not yet initialised)."""

    @abstractmethod
    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The family's optimizers by name."""

    @abstractmethod
    def _train_step(
        self,
        x: torch.Tensor,
        c: torch.Tensor | None,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        """One update on a batch; returns the detached losses by name."""

    @abstractmethod
    def _generate(
        self,
        n: int,
        c: torch.Tensor | None,
        generator: torch.Generator,
        conditions: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """``n`` rows (or images) in the codec's encoded space, conditioned on ``c``."""

    def _prepare_training(
        self, data: torch.Tensor, cond: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """Called once before the first epoch with the whole encoded training set.

        A family that draws its own batches (e.g. training-by-sampling) or holds out rows for
        validation prepares its index tables here. It may return ``(data, cond)`` to train on
        instead (e.g. without the held-out rows); ``None`` keeps them.
        """
        return None

    def _finish_training(self) -> None:
        """Called once after the last epoch, also when training stops early or fails.

        A family restores its best weights or drops references to the training data here.
        """

    def _on_epoch_end(self, epoch: int, losses: dict[str, float]) -> bool:
        """Called after each epoch with its mean losses; return True to stop training."""
        return False

    def _extra_state(self) -> dict[str, Any]:
        """Family-specific JSON state saved with the model."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_extra_state`."""

    # ------------------------------------------------------ validation
    @classmethod
    def _all_constraints(cls) -> dict[str, list]:
        names = cls._get_param_names()
        merged = {**_COMMON_CONSTRAINTS, **cls._parameter_constraints}
        return {k: v for k, v in merged.items() if k in names}

    def _validate_params(self) -> None:
        validate_params(self.get_params(deep=False), self._all_constraints(), type(self).__name__)

    def _check_labels(self, y: Any, n_rows: int) -> np.ndarray | None:
        """Learn the classes of ``y`` and return its integer codes."""
        if y is None:
            self.classes_ = None
            self.class_prior_ = None
            self._label_meta = None
            return None
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise InvalidDataError("y must be one column of labels; got several columns.")
            y = y.iloc[:, 0]
        name = y.name if isinstance(y, pd.Series) else None
        dtype = str(y.dtype) if isinstance(y, pd.Series) else None
        arr = np.asarray(y)
        if arr.ndim != 1:
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr.ravel()
            else:
                raise InvalidDataError(f"y must be 1-D; got shape {arr.shape}.")
        if arr.shape[0] != n_rows:
            raise InvalidDataError(
                f"X has {n_rows} rows but y has {arr.shape[0]} labels; they must match."
            )
        missing = pd.isna(arr)
        if missing.any():
            raise InvalidDataError(
                f"y has {int(missing.sum())} missing labels; drop those rows or fill them."
            )
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise InvalidDataError(
                    "y holds non-integer floats; genaug conditions on class labels, not on a "
                    "continuous target."
                )
        if arr.dtype.kind == "O":
            arr = arr.astype(str) if all(isinstance(v, str) for v in arr[:1000]) else arr
        classes, codes, counts = np.unique(arr, return_inverse=True, return_counts=True)
        if classes.size < 2:
            raise InvalidDataError(
                f"y has a single class ({_py(classes[0])!r}); conditioning needs at least two. "
                "Fit without y to model the rows unconditionally."
            )
        self.classes_ = classes
        self.class_prior_ = counts / counts.sum()
        self._label_meta = {"name": _py(name), "dtype": dtype, "array_dtype": str(arr.dtype)}
        return codes.astype(np.int64)

    # ------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None) -> BaseSynthesizer:
        """Fit the synthesizer to a table or to images, optionally conditioned on class labels.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_rows, n_columns), or images
            Training rows; mixed types and missing values are allowed. Or images: a numpy
            array or torch tensor of shape (n, H, W), (n, H, W, C) or (n, C, H, W) with 1 or 3
            channels, uint8 or float in [0, 1] or [-1, 1], or a list of PIL images (see
            :class:`genaug.data.ImageCodec`); ``sample`` gives images back in the same form.
        y : array-like of shape (n_rows,), optional
            Class labels. When given, ``sample`` can draw any class in exact numbers.

        Returns
        -------
        self
        """
        self._validate_params()
        images = is_image_data(X)
        if images:
            frame, was_array, n_rows = None, True, len(X)
            if n_rows < 2:
                raise InvalidDataError("X has one image; a synthesizer needs at least two.")
        else:
            frame, was_array, _ = check_table(X)
            n_rows = len(frame)
            if n_rows < 2:
                raise InvalidDataError("X has one row; a synthesizer needs at least two.")
        codes = self._check_labels(y, n_rows)
        seed = resolve_seed(self.random_state)
        device = resolve_device(self.device)
        if images:
            codec = ImageCodec(image_size=getattr(self, "image_size", None))
            encoded = codec.fit_transform(X)
            n_features = codec.channels_ * codec.height_ * codec.width_
        else:
            codec = TabularCodec(
                discrete_columns=self.discrete_columns,
                continuous_encoding=self.continuous_encoding,
                random_state=derive_seed(seed, 0),
            ).fit(X)  # X itself, so that the codec returns arrays for arrays
            encoded = codec.transform(frame, random_state=derive_seed(seed, 1))
            n_features = frame.shape[1]

        self.seed_ = seed
        self.device_ = device
        self.codec_ = codec
        self.n_features_in_ = n_features
        if not was_array and all(isinstance(c, str) for c in frame.columns):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self._sample_calls = 0
        self._setup(codec.output_dim_, 0 if codes is None else len(self.classes_), seed)

        data = torch.from_numpy(encoded).to(device)
        cond = None
        if codes is not None:
            cond = torch.nn.functional.one_hot(
                torch.from_numpy(codes), len(self.classes_)
            ).float().to(device)
        self._train(data, cond, torch_generator(derive_seed(seed, 3), device))
        return self

    def _setup(self, data_dim: int, cond_dim: int, seed: int) -> None:
        """Build the layout and the networks on ``self.device_`` from the seed."""
        self.data_dim_ = int(data_dim)
        self.cond_dim_ = int(cond_dim)
        self.layout_ = self._make_layout()
        init_gen = torch_generator(derive_seed(seed, 2))
        # Constructors draw default weights from torch's global generator: restore its state
        # afterwards, then draw the weights again from the synthesizer's own generator.
        with torch.random.fork_rng(devices=[]):
            modules = self._make_networks()
        for module in modules.values():
            init_parameters(module, init_gen).to(self.device_)
        self._module_names = tuple(modules)
        for name, module in modules.items():
            setattr(self, name, module)

    def _image_shape(self) -> tuple[int, int, int] | None:
        """``(channels, side, side)`` of the encoded images, or ``None`` for a table."""
        if isinstance(self.codec_, ImageCodec):
            return tuple(self.codec_.output_shape_)
        return None

    def _make_layout(self) -> SpanLayout | None:
        """The span layout of a table's encoding (``None`` for images, which have no spans)."""
        if self._image_shape() is not None:
            return None
        return SpanLayout(self.codec_.spans_, self.device_)

    def _modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in self._module_names}

    def _set_train(self, mode: bool) -> None:
        for module in self._modules().values():
            module.train(mode)

    def _train(
        self, data: torch.Tensor, cond: torch.Tensor | None, generator: torch.Generator
    ) -> None:
        prepared = self._prepare_training(data, cond, generator)
        if prepared is not None:
            data, cond = prepared
        self._run_training(TensorBatches(data, cond, self.batch_size), generator)

    def _run_training(self, source: BatchSource, generator: torch.Generator) -> None:
        """Train on ``source``'s batches, then let the family tidy up (also on failure)."""
        try:
            self._train_epochs(source, generator)
        finally:
            self._finish_training()
        self._set_train(False)

    def _train_epochs(self, source: BatchSource, generator: torch.Generator) -> None:
        optimizers = self._make_optimizers()
        n_batches = source.n_batches
        self.history_ = {"epoch": []}
        bar = tqdm(
            range(self.epochs),
            disable=not self.verbose,
            desc=type(self).__name__,
            unit="epoch",
            leave=True,
        )
        for epoch in bar:
            self._set_train(True)
            sums: dict[str, torch.Tensor] = {}
            for x, c in source.epoch(generator):
                losses = self._train_step(x, c, optimizers, generator)
                for key, value in losses.items():
                    sums[key] = sums[key] + value if key in sums else value
            # One host-device synchronisation per epoch, not per step.
            means = {k: float(v) / n_batches for k, v in sums.items()}
            bad = [k for k, v in means.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDivergedError(
                    f"{type(self).__name__}: the {bad[0]} loss became {means[bad[0]]} in epoch "
                    f"{epoch + 1}. Try a lower learning_rate (now {self.learning_rate}) or "
                    "check the data for extreme values."
                )
            self.history_["epoch"].append(epoch + 1)
            for key, value in means.items():
                self.history_.setdefault(key, []).append(value)
            if self.verbose:
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()}, refresh=False)
            if self._on_epoch_end(epoch + 1, means):
                break

    # ---------------------------------------------------------- sample
    def _check_is_fitted(self) -> None:
        if not hasattr(self, "codec_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) before sample()."
            )

    def _label_plan(self, n: int, y: Any) -> tuple | None:
        """Validate ``y`` for ``n`` rows and say how each chunk's labels are made.

        Returns ``None`` (no labels), ``("prior",)``, ``("fixed", code)`` or
        ``("counts", codes, ends)`` where row ``i`` gets ``codes[searchsorted(ends, i)]``;
        no per-row vector of length ``n`` is ever built, so ``n`` may exceed memory.
        """
        if self.classes_ is None:
            if y is not None:
                raise InvalidParameterError(
                    f"y={y!r} was given, but this {type(self).__name__} was fitted without "
                    "labels; fit it with y to sample a class."
                )
            return None
        if y is None:
            return ("prior",)
        if isinstance(y, Mapping):
            for label, count in y.items():
                if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 0:
                    raise InvalidParameterError(
                        f"y[{label!r}] must be a non-negative integer count; got {count!r}."
                    )
            codes = [self._class_code(label) for label in y]
            counts = [int(c) for c in y.values()]
            if sum(counts) != n:
                raise InvalidParameterError(f"The counts in y add up to {sum(counts)}, but n={n}.")
            return ("counts", torch.tensor(codes), torch.tensor(np.cumsum(counts)))
        return ("fixed", self._class_code(y))

    def _chunk_labels(
        self, plan: tuple | None, start: int, stop: int, generator: torch.Generator
    ) -> torch.Tensor | None:
        """Class codes of rows ``start..stop-1`` under ``plan`` (CPU LongTensor)."""
        if plan is None:
            return None
        if plan[0] == "prior":
            prior = torch.as_tensor(self.class_prior_, dtype=torch.float64, device=generator.device)
            draws = torch.multinomial(prior, stop - start, replacement=True, generator=generator)
            return draws.cpu()
        if plan[0] == "fixed":
            return torch.full((stop - start,), plan[1], dtype=torch.long)
        _, codes, ends = plan
        rows = torch.arange(start, stop)
        return codes[torch.searchsorted(ends, rows, right=True)]

    def _class_code(self, label: Any) -> int:
        matches = np.flatnonzero(self.classes_ == label)
        if matches.size == 0:
            shown = [_py(c) for c in self.classes_[:20]]
            raise InvalidParameterError(
                f"Label {label!r} was not seen in fit; known labels: {shown}."
            )
        return int(matches[0])

    def _label_codes(self, labels: Any) -> np.ndarray:
        """Integer codes of an array of labels, all of which must have been seen in fit."""
        arr = np.asarray(labels).ravel()
        codes = np.clip(np.searchsorted(self.classes_, arr), 0, len(self.classes_) - 1)
        unseen = self.classes_[codes] != arr
        if unseen.any():
            shown = [_py(v) for v in pd.unique(arr[unseen])[:5]]
            raise InvalidDataError(f"Labels not seen in fit: {shown}.")
        return codes.astype(np.int64)

    def _decode_labels(self, codes: np.ndarray) -> Any:
        values = self.classes_[codes]
        meta = self._label_meta
        if meta["dtype"] is not None:
            series = pd.Series(values, name=meta["name"])
            try:
                return series.astype(pd.api.types.pandas_dtype(meta["dtype"]))
            except (TypeError, ValueError):
                return series
        return values.astype(meta["array_dtype"]) if meta["array_dtype"] else values

    def _resolve_sample_seed(self, random_state: Any) -> int:
        if random_state is not None:
            return resolve_seed(random_state)
        # Successive unseeded calls differ, but the sequence is fixed by the fit's seed.
        seed = derive_seed(self.seed_, 1000, self._sample_calls)
        self._sample_calls += 1
        return seed

    def _check_n(self, n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise InvalidParameterError(f"n must be a positive integer; got {n!r}.")
        if n <= 0:
            raise InvalidParameterError(f"n must be a positive integer; got {n}.")
        return int(n)

    def _check_conditions(self, conditions: Any) -> None:
        if conditions:
            raise InvalidParameterError(
                f"{type(self).__name__} cannot condition on feature values; "
                "use GANSynthesizer(...).sample(n, conditions={...})."
            )

    def iter_sample(
        self,
        n: int,
        y: Any = None,
        *,
        conditions: Mapping[str, Any] | None = None,
        random_state: Any = None,
        chunk_size: int = SAMPLE_CHUNK,
    ) -> Iterator[Any]:
        """Yield the rows of ``sample(n, ...)`` in chunks of at most ``chunk_size`` rows.

        Memory stays bounded by the chunk whatever ``n`` is. Each item is ``X`` or
        ``(X, y)`` like :meth:`sample`'s return value. Rows are generated ``SAMPLE_CHUNK``
        at a time (images ``IMAGE_SAMPLE_CHUNK`` at a time), so the concatenated chunks equal
        ``sample(n, ...)`` for the same seed whatever ``chunk_size`` is.
        """
        self._check_is_fitted()
        n = self._check_n(n)
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, (int, np.integer))
            or chunk_size < 1
        ):
            raise InvalidParameterError(
                f"chunk_size must be a positive integer; got {chunk_size!r}."
            )
        self._check_conditions(conditions)
        plan = self._label_plan(n, y)
        generator = torch_generator(self._resolve_sample_seed(random_state), self.device_)
        # Validation above runs now; the rows are made lazily, chunk by chunk.
        return self._sample_chunks(n, plan, conditions, generator, int(chunk_size))

    def _sample_chunks(self, n, plan, conditions, generator, chunk_size) -> Iterator[Any]:
        pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        pending_rows = 0
        start = 0
        step = SAMPLE_CHUNK if self._image_shape() is None else IMAGE_SAMPLE_CHUNK
        while start < n:
            stop = min(start + step, n)
            labels = self._chunk_labels(plan, start, stop, generator)
            c = None
            if labels is not None:
                c = torch.nn.functional.one_hot(labels, self.cond_dim_).float().to(self.device_)
            self._set_train(False)
            with torch.no_grad():
                rows = self._generate(stop - start, c, generator, conditions)
            pending.append((rows.float().cpu().numpy(), None if labels is None else labels.numpy()))
            pending_rows += stop - start
            start = stop
            while pending_rows >= chunk_size or (start >= n and pending_rows > 0):
                block = np.concatenate([p[0] for p in pending])
                codes = None if plan is None else np.concatenate([p[1] for p in pending])
                take = min(chunk_size, pending_rows)
                yield self._finish_chunk(block[:take], None if codes is None else codes[:take])
                pending = [] if take == len(block) else [
                    (block[take:], None if codes is None else codes[take:])
                ]
                pending_rows -= take

    def _finish_chunk(self, block: np.ndarray, codes: np.ndarray | None) -> Any:
        X = self.codec_.inverse_transform(block)
        if codes is None:
            return X
        return X, self._decode_labels(codes)

    def sample(
        self,
        n: int,
        y: Any = None,
        *,
        conditions: Mapping[str, Any] | None = None,
        random_state: Any = None,
    ) -> Any:
        """Draw ``n`` synthetic rows.

        Parameters
        ----------
        n : int
            Number of rows.
        y : label, dict of {label: count}, or None
            ``None`` draws labels at the training class rates; a single label gives ``n`` rows of
            that class; a dict gives exactly those counts (which must add up to ``n``), in the
            dict's order. Conditioning is exact: no rows are rejected.
        conditions : dict of {column: value}, optional
            Fix feature values (only synthesizers that support it, such as the GAN).
        random_state : int or None
            Seed of this draw. With a seed, the sample depends only on the fitted model and the
            seed. Without one, successive calls give different rows (their sequence is fixed by
            the fit's seed).

        Returns
        -------
        X : DataFrame, ndarray, Tensor or list of PIL images
            In the form of the training ``X`` (same columns, dtypes and categories; images in
            the same container, layout, dtype, value range and size).
        y : Series or ndarray
            Only when the synthesizer was fitted with labels: the labels of the rows.
        """
        chunks = self.iter_sample(
            n, y, conditions=conditions, random_state=random_state, chunk_size=n
        )
        return next(chunks)

    # ------------------------------------------------------- save/load
    def _state(self) -> dict[str, Any]:
        labels = None
        if self.classes_ is not None:
            labels = {
                "classes": [_py(c) for c in self.classes_],
                "prior": [float(p) for p in self.class_prior_],
                **self._label_meta,
            }
        return {
            "seed": int(self.seed_),
            "sample_calls": int(self._sample_calls),
            "data_dim": self.data_dim_,
            "cond_dim": self.cond_dim_,
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None
            if not hasattr(self, "feature_names_in_")
            else [str(c) for c in self.feature_names_in_],
            "labels": labels,
            "codec_kind": "tabular" if self._image_shape() is None else "image",
            "codec": self.codec_.to_dict(),
            "history": self.history_,
            "modules": list(self._module_names),
            "extra": self._extra_state(),
        }

    def _json_params(self) -> dict[str, Any]:
        params = {}
        for key, value in self.get_params(deep=False).items():
            if key == "random_state" and not (value is None or isinstance(value, int)):
                value = None  # a numpy Generator is not JSON; the resolved seed_ is saved
            elif key == "device" and isinstance(value, torch.device):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            params[key] = _py(value)
        return params

    def save(self, path: str) -> None:
        """Save the fitted model to the folder ``path`` (``config.json`` + ``model.safetensors``).

        The folder is written to a temporary name and renamed, so an interrupted save leaves
        any earlier model in ``path`` intact. Weights are saved device-free: a model trained on
        a GPU loads on a CPU-only machine.
        """
        self._check_is_fitted()
        config = {
            "format_version": FORMAT_VERSION,
            "genaug_version": __version__,
            "class": type(self).__name__,
            "params": self._json_params(),
            "state": self._state(),
        }
        tensors = {
            f"{name}.{key}": value
            for name, module in self._modules().items()
            for key, value in module.state_dict().items()
        }
        write_model_folder(path, config, tensors)

    @classmethod
    def _from_saved(cls, params: dict, state: dict, tensors: dict) -> BaseSynthesizer:
        allowed = set(cls._get_param_names())
        unknown = set(params) - allowed
        if unknown:
            raise ModelFileError(
                f"config.json has parameters {sorted(unknown)} that {cls.__name__} lacks."
            )
        signature = inspect.signature(cls.__init__).parameters
        for key, value in list(params.items()):
            default = signature[key].default
            if isinstance(default, tuple) and isinstance(value, list):
                params[key] = tuple(value)
        model = cls(**params)
        try:
            model._validate_params()
        except InvalidParameterError as exc:
            raise ModelFileError(f"config.json has an invalid parameter: {exc}") from exc
        try:
            model._restore(state, tensors)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ModelFileError(f"config.json's state is malformed: {exc!r}") from exc
        return model

    def _restore(self, state: dict, tensors: dict) -> None:
        kind = state.get("codec_kind", "tabular")  # files from before images name no kind
        if kind not in _CODECS:
            raise ModelFileError(
                f"config.json names an unknown codec kind {kind!r}; known: {sorted(_CODECS)}."
            )
        self.codec_ = _CODECS[kind].from_dict(state["codec"])
        self.seed_ = int(state["seed"])
        self._sample_calls = int(state["sample_calls"])
        self.n_features_in_ = int(state["n_features_in"])
        if state["feature_names_in"] is not None:
            self.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        labels = state["labels"]
        if labels is None:
            self.classes_ = self.class_prior_ = self._label_meta = None
        else:
            classes = labels["classes"]
            self.classes_ = np.asarray(classes, dtype=labels["array_dtype"])
            self.class_prior_ = np.asarray(labels["prior"], dtype=float)
            if self.class_prior_.shape != (len(classes),) or len(classes) < 2:
                raise ModelFileError("config.json's class labels and rates do not match.")
            self._label_meta = {k: labels[k] for k in ("name", "dtype", "array_dtype")}
        data_dim, cond_dim = int(state["data_dim"]), int(state["cond_dim"])
        if data_dim != self.codec_.output_dim_:
            raise ModelFileError("config.json's data_dim does not match its codec.")
        if cond_dim != (0 if self.classes_ is None else len(self.classes_)):
            raise ModelFileError("config.json's cond_dim does not match its labels.")
        self.history_ = state["history"]
        self._load_extra_state(state["extra"])
        # The device asked for, or the CPU when that device is absent (a GPU-trained model
        # loads on a CPU-only machine).
        try:
            self.device_ = resolve_device(self.device)
        except InvalidParameterError:
            self.device_ = torch.device("cpu")
        self.layout_ = self._make_layout()
        self._check_tensor_shapes(data_dim, cond_dim, tensors)
        self._setup(data_dim, cond_dim, self.seed_)
        for name, module in self._modules().items():
            prefix = name + "."
            sub = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(sub, strict=True)
        self._set_train(False)

    def _check_tensor_shapes(self, data_dim: int, cond_dim: int, tensors: dict) -> None:
        """Compare the file's tensors with the networks' shapes before allocating anything."""
        self.data_dim_, self.cond_dim_ = data_dim, cond_dim
        with torch.device("meta"):
            expected = {
                f"{name}.{key}": tuple(value.shape)
                for name, module in self._make_networks().items()
                for key, value in module.state_dict().items()
            }
        got = {k: tuple(v.shape) for k, v in tensors.items()}
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing or extra:
            raise ModelFileError(
                f"model.safetensors does not match the model: missing {missing[:5]}, "
                f"unexpected {extra[:5]}."
            )
        wrong = [k for k in expected if expected[k] != got[k]]
        if wrong:
            k = wrong[0]
            raise ModelFileError(
                f"model.safetensors has tensor {k!r} of shape {got[k]}, expected {expected[k]}."
            )
        for k, v in tensors.items():
            if v.is_floating_point() and not torch.isfinite(v).all():
                raise ModelFileError(f"model.safetensors has non-finite values in {k!r}.")



def load(path: str) -> BaseSynthesizer:
    """Load a synthesizer saved with ``save``.

    Only JSON and safetensors are read; no code from the folder runs. The class is looked up
    by name among genaug's own synthesizers.

    Raises
    ------
    ModelFileError
        If the folder is missing, truncated, edited, of an unknown class or of a format
        version this genaug does not read.
    """
    config, tensors = read_model_folder(path)
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version!r} is not supported by genaug {__version__} "
            f"(it reads version {FORMAT_VERSION})."
        )
    name = config.get("class")
    cls = BaseSynthesizer._registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path}: unknown synthesizer class {name!r}; "
            f"known: {sorted(BaseSynthesizer._registry)}."
        )
    params, state = config.get("params"), config.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{path}: config.json lacks its 'params' or 'state' object.")
    return cls._from_saved(dict(params), state, tensors)
