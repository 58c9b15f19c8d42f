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
    One update on a batch; returns the detached losses by name. For ``distributed=True``
    (DistributedDataParallel, see :mod:`genaug.distributed`) it calls each network whose
    update it differentiates through ``self._synced(name)``, once or more before that
    update's backward, which must give every parameter of the network a gradient and
    accumulate into ``.grad`` (``backward``, not ``torch.autograd.grad``); other forwards
    (gradients thrown away, methods other than ``forward``) use the plain attribute.
``_generate(n, c, generator, conditions=None)``
    ``n`` rows in the codec's encoded space, conditioned on ``c``. A family that sets the
    class attribute ``_compact_rows = True`` also takes ``compact=True``, for table rows
    with one column per span (:meth:`genaug.nn.spans.SpanLayout.sample_compact`), which
    :meth:`sample` decodes without building one-hot rows.

The codec is chosen from the data: :class:`~genaug.data.TabularCodec` for tables and
:class:`~genaug.data.ImageCodec` for image batches (3-D or 4-D arrays and tensors, lists of
PIL images); the rest of this class does not tell them apart, and a saved model records
which one it used.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn
from tqdm.auto import tqdm

import genaug.distributed as gdist
from genaug._device import check_precision, resolve_device
from genaug._random import derive_seed, resolve_seed, torch_generator
from genaug._validation import Interval, Options, Satisfies, validate_params
from genaug._version import __version__
from genaug.data.images import ImageCodec, is_image_data
from genaug.data.streaming import TableStream, check_not_hf_container, is_stream_source
from genaug.data.tabular import (
    TabularCodec,
    _arrow_string_dtype,
    _decode_name,
    _dtype_name,
    _encode_name,
    _is_saved_name,
    _saved_dtype,
    check_table,
)
from genaug.exceptions import (
    InvalidDataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)
from genaug.io import FORMAT_VERSION, read_model_folder, write_model_folder
from genaug.nn.denormals import flush_denormals, zero_subnormals
from genaug.nn.init import init_parameters
from genaug.nn.spans import SpanLayout
from genaug.synthesizers._batches import (  # noqa: F401  (re-exported)
    MIN_STEPS_PER_EPOCH,
    BatchSource,
    TensorBatches,
    effective_batch_size,
)
from genaug.synthesizers._checkpoint import Checkpointer

# The parameters every synthesizer shares, written once: a line "{{common_parameters}}" in a
# subclass's docstring is replaced by this text (indented like the line).
COMMON_PARAMETERS_DOC = """\
discrete_columns : list, optional
    Columns to model as categories whatever their dtype.
continuous_encoding : {"quantile", "mode"}, default="quantile"
    Encoding of numeric columns (see :class:`genaug.data.TabularCodec`).
image_size : int, optional
    Images only: resize them to ``image_size x image_size`` for the networks (required
    above 128 pixels a side); samples are resized back to the training size.
random_state : int, numpy Generator or None, default=None
    Seed of everything random in ``fit`` (and of unseeded ``sample`` calls).
device : str, default="auto"
    ``"auto"`` uses CUDA when a GPU is visible.
verbose : bool, default=False
    Show a progress bar with the losses.
distributed : bool, default=False
    Train with PyTorch's DistributedDataParallel under ``torchrun``, one process per
    device (see :mod:`genaug.distributed`). Every process calls ``fit`` with the same full
    data; each trains on its own equal share of the rows with its own noise, with
    ``batch_size`` rows per step and process, and the gradients are averaged over the
    processes at every step, so all of them end with the same model. The process group
    is created from ``torchrun``'s environment unless the script made one (NCCL on CUDA,
    gloo on the CPU; ``device="auto"`` means ``cuda:LOCAL_RANK``); without either, ``fit``
    raises :class:`~genaug.exceptions.InvalidParameterError`. Only rank 0 shows progress
    and writes in :meth:`save`. The result differs from a single-process fit with the
    same ``random_state``. Saved models record it; loading needs no process group.
precision : {"float32", "bfloat16"}, default="float32"
    Arithmetic of training and sampling. ``"bfloat16"`` runs the networks' matrix
    products and convolutions in bfloat16 under ``torch.autocast`` (weights, optimizer
    state, losses and the output layer stay in float32; see
    :mod:`genaug.nn.precision`): faster on CPUs with native bfloat16 (AVX-512 BF16, AMX)
    and on recent GPUs, at a small cost in precision. Seeded results are reproducible
    for a given precision and device, and differ between the two precisions.
"""

# Rows generated per forward pass when sampling. It is fixed (not tied to the device or
# batch_size) because the random stream, and so the sample for a seed, depends on it. Against
# 4,096 and 8,192 (50,000-row Adult draws of 1-epoch models, two threads, three runs each on
# the 2-core dev box): GAN 205-222 ms against 194-212 and 210-214, VAE 148-151 against
# 151-162 and 169-177, while the peak RSS of such a draw grew by 40-49 MB against 45-60 and
# 61-91: larger passes do not pay on CPU, where each pass's activations and temporaries are
# fresh allocations.
GENERATE_CHUNK = 2048
# Rows per chunk that iter_sample yields by default (decoded together).
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
    "distributed": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
    "precision": [Options(("float32", "bfloat16"))],
}


def _encode_label_name(name: Any) -> Any:
    """``y``'s name as a model file holds it (a tuple tagged); a name it cannot hold is not
    saved (the labels then come back unnamed, as from an array)."""
    try:
        return _encode_name(name) if name is not None else None
    except InvalidDataError:
        return None


def _first_non_finite(modules: Mapping[str, nn.Module]) -> str | None:
    """The name of the first parameter or buffer holding a NaN or infinity, else ``None``.

    One host-device synchronisation: the checks are stacked before the result is read.
    """
    names, checks = [], []
    for owner, module in modules.items():
        for key, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                names.append(f"{owner}.{key}")
                checks.append(torch.isfinite(tensor).all())
    if not checks:
        return None
    finite = torch.stack(checks).cpu().numpy()
    return None if finite.all() else f"'{names[int(np.argmin(finite))]}'"


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _fill_common_parameters(doc: str) -> str:
    """Replace a ``{{common_parameters}}`` line with :data:`COMMON_PARAMETERS_DOC`."""
    lines = []
    for line in doc.splitlines(keepends=True):
        if line.strip() == "{{common_parameters}}":
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + text if text else text for text in
                      COMMON_PARAMETERS_DOC.splitlines(keepends=True)]
        else:
            lines.append(line)
    return "".join(lines)


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
        Per-epoch mean of each training loss (``"epoch"`` holds the epoch numbers); with
        ``distributed=True``, also averaged over the processes, the same on every one.
    copy_report_ : CopyReport or None
        Set by each ``sample``/``iter_sample`` call: what copy protection replaced, or
        ``None`` when the call did not ask for it (``reject_copies=False``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string columns
    """

    # Whether _generate takes compact=True (see the module docstring); families that do
    # say so, so that a subclass written against the plain contract keeps working.
    _compact_rows = False

    _registry: ClassVar[dict[str, type[BaseSynthesizer]]] = {}
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__:
            cls.__doc__ = _fill_common_parameters(cls.__doc__)
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
        compact: bool = False,
    ) -> torch.Tensor:
        """``n`` rows (or images) in the codec's encoded space, conditioned on ``c``.

        With ``compact``, table rows come with one column per span instead
        (:meth:`genaug.nn.spans.SpanLayout.sample_compact`), for the codec's
        ``_inverse_transform_compact``; images ignore it.
        """

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

    def _checkpoint_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """In-training state of the family for a checkpoint: JSON and named tensors.

        State that ``_prepare_training`` derives again from the data and the seed (index
        tables, held-out rows) is not included; only what changes during training.
        """
        return {}, {}

    def _load_checkpoint_state(
        self, state: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> None:
        """Inverse of :meth:`_checkpoint_state`, after ``_prepare_training`` has run."""

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
        dtype = _dtype_name(y.dtype) if isinstance(y, pd.Series) else None
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
        try:
            classes, codes, counts = np.unique(arr, return_inverse=True, return_counts=True)
        except TypeError as exc:  # values that do not compare, e.g. ints and strs
            kinds = sorted({type(v).__name__ for v in arr[:10_000]})
            raise InvalidDataError(
                f"y mixes label types that cannot be sorted ({', '.join(kinds)}: {exc}); make "
                "them one type first, e.g. y.astype(str)."
            ) from None
        if classes.size < 2:
            raise InvalidDataError(
                f"y has a single class ({_py(classes[0])!r}); conditioning needs at least two. "
                "Fit without y to model the rows unconditionally."
            )
        self.classes_ = classes
        self.class_prior_ = counts / counts.sum()
        self._label_meta = {"name": _py(name), "dtype": dtype, "array_dtype": str(arr.dtype)}
        if isinstance(y, pd.Series) and isinstance(y.dtype, pd.CategoricalDtype):
            categories = [_py(c) for c in y.cat.categories]
            if all(isinstance(c, (str, int, float)) for c in categories):
                # Sampled labels keep the declared categories and their order, not only
                # the dtype's name (which would rebuild unordered categories from the values).
                self._label_meta["categories"] = categories
                self._label_meta["ordered"] = bool(y.cat.ordered)
        return codes.astype(np.int64)

    # ------------------------------------------------------------- fit
    def _forget_fit(self) -> None:
        """Drop every fitted attribute (``name_``): a new fit starts clean (no names, networks
        or reports of the previous one), and a failed one leaves the estimator unfitted."""
        params = set(self._get_param_names())
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            if key not in params:
                delattr(self, key)

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        resume: bool = True,
    ) -> BaseSynthesizer:
        """Fit the synthesizer to a table or to images, optionally conditioned on class labels.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_rows, n_columns), or images
            Training rows; mixed types and missing values are allowed. Or images: a numpy
            array or torch tensor of shape (n, H, W), (n, H, W, C) or (n, C, H, W) with 1 or 3
            channels, uint8 or float in [0, 1] or [-1, 1], or a list of PIL images (see
            :class:`genaug.data.ImageCodec`); ``sample`` gives images back in the same form.
            Or a table larger than memory, streamed: a Parquet file, a directory or glob of
            them, a list of them, a Hugging Face ``datasets.Dataset``, or a
            :class:`genaug.data.streaming.TableStream` (see :meth:`_fit_stream`).
        y : array-like of shape (n_rows,), optional
            Class labels. When given, ``sample`` can draw any class in exact numbers. With a
            streamed ``X``, the name of its label column (or ``None``).
        checkpoint_dir : str or path, optional
            Folder for training checkpoints. After every ``checkpoint_every``-th epoch the
            state of training (weights, optimizer state, the random generator's state, the
            history, early-stopping state, the codec and a fingerprint of the data and
            parameters) is written atomically to ``checkpoint_dir/epoch-NNNNNN`` (JSON +
            safetensors; the previous checkpoint is deleted once the new one is in place). A
            checkpoint folder is also a model folder: ``genaug.load`` reads the model as it
            was after that epoch. The training rows are not written. Only the main process
            of a distributed job writes.
        checkpoint_every : int, default=1
            Epochs between two checkpoints.
        resume : bool, default=True
            With a checkpoint in ``checkpoint_dir``, continue after its epoch instead of
            starting over; the data are encoded again and the fit finishes with the same
            weights, history and samples as a run that was never interrupted (bit for bit on
            the same device and number of threads; not under ``distributed=True``, whose
            checkpoints hold rank 0's random state and batch-norm statistics only, so that a
            resumed job continues from the same weights and optimizer state but every rank
            then draws rank 0's noise and batches). The data, the parameters (``verbose``
            aside) and the seed must be those of the interrupted run, or a clear error says
            which differs; an unseeded run resumes with the seed it drew. ``False``
            deletes the checkpoints found there and trains from the start.

        Returns
        -------
        self

        Raises
        ------
        TrainingDivergedError
            If a loss, a weight or a running statistic becomes non-finite. A fit that raises
            leaves the synthesizer unfitted (the fitted attributes of an earlier fit are
            dropped when a fit starts), so that it cannot sample from a broken model.

        Notes
        -----
        After a successful fit the checkpoints are deleted (``checkpoint_dir`` itself is
        kept): save the model with :meth:`save`. A later ``fit`` with the same folder
        therefore trains from the start rather than returning the finished model.
        Checkpoints matter for long runs; each one costs a write of the weights and twice
        as much optimizer state (Adam).
        """
        self._validate_params()
        check_not_hf_container(X)
        self._forget_fit()
        try:
            if is_stream_source(X):
                return self._fit_stream(X, y, checkpoint_dir=checkpoint_dir)
            return self._fit_in_memory(X, y, checkpoint_dir, checkpoint_every, resume)
        except BaseException:
            # A half-fitted model (diverged weights, a codec without networks) must not
            # sample: sample() then says that it is not fitted.
            self._forget_fit()
            raise

    def _fit_in_memory(
        self,
        X: Any,
        y: Any,
        checkpoint_dir: str | os.PathLike | None,
        checkpoint_every: int,
        resume: bool,
    ) -> BaseSynthesizer:
        checkpointer = None
        if checkpoint_dir is not None:
            checkpointer = Checkpointer(checkpoint_dir, checkpoint_every, resume, self)
        images = is_image_data(X)
        if images:
            frame, was_array, n_rows = None, True, len(X)
            if n_rows < 2:
                raise InvalidDataError(
                    f"X has {'one image' if n_rows == 1 else 'no images'}; a synthesizer needs "
                    "at least two."
                )
        else:
            frame, was_array, _ = check_table(X)
            n_rows = len(frame)
            if n_rows < 2:
                raise InvalidDataError(
                    f"X has {'one row' if n_rows == 1 else 'no rows'}; a synthesizer needs at "
                    "least two."
                )
        codes = self._check_labels(y, n_rows)
        if checkpointer is None:
            seed = resolve_seed(self.random_state)
        else:
            seed = checkpointer.seed(self.random_state)
        device = resolve_device(self.device)
        check_precision(getattr(self, "precision", "float32"), device, type(self).__name__)
        if self.distributed:
            # Join the job (cuda:LOCAL_RANK under "auto") and take rank 0's seed, so that every
            # rank fits the same codec and starts from the same weights.
            device = gdist.setup(self.device)
            seed = gdist.broadcast_seed(seed, device)
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
        if checkpointer is not None:
            checkpointer.bind(encoded, codes)

        data = torch.from_numpy(encoded).to(device)
        cond = None
        if codes is not None:
            cond = torch.nn.functional.one_hot(
                torch.from_numpy(codes), len(self.classes_)
            ).float().to(device)
        train_seed = derive_seed(seed, 3)
        if self.distributed:
            data, cond = self._shard(data, cond, seed)
            # Each rank its own noise, dropout masks and batch order.
            train_seed = derive_seed(seed, 3, gdist.rank())
        self._checkpointer = checkpointer
        try:
            self._train(data, cond, torch_generator(train_seed, device))
        finally:
            self._checkpointer = None
        if checkpointer is not None:
            checkpointer.finish()
        return self

    def _fit_stream(
        self, X: Any, y: Any, *, checkpoint_dir: str | os.PathLike | None = None
    ) -> BaseSynthesizer:
        """``fit`` on a table read a block at a time: Parquet files or a ``datasets.Dataset``.

        The policy (details in :mod:`genaug.data.streaming`):

        * One pass over the source keeps a seeded uniform sample of
          ``TableStream.reservoir_size`` rows (100,000 by default; pass a
          :class:`~genaug.data.streaming.TableStream` as ``X`` to change it) and counts the
          label column over every row, so ``classes_`` and ``class_prior_`` are exact.
        * ``y`` names the label column, which is left out of the features; ``None`` fits
          without labels. The label values go through the same checks as an in-memory ``y``.
        * The codec is fitted on the sample. Training streams the rows: each epoch reads every
          row once (blocks in a fresh order, rows shuffled within ``shuffle_buffer`` rows) in
          ``n_rows // batch`` steps; memory does not grow with the number of rows.
        * State that a family derives from the whole training set before the first epoch
          (``_prepare_training``) is derived from the encoded sample instead: the GAN's
          conditional-vector frequencies. The GAN then takes its real rows from the streamed
          batches rather than by training-by-sampling (see :class:`GANSynthesizer`).
        * ``early_stopping=True`` is refused: its held-out rows would have to be skipped in
          every epoch's pass over the files, and scoring against rows that are also trained on
          would not detect overfitting. Choose ``epochs`` instead, or fit in memory on a
          sample. ``checkpoint_dir`` is refused too: a checkpoint fingerprints the encoded
          training set, which a stream never holds. So is ``distributed=True`` (for now).

        ``sample`` returns DataFrames with the source's feature columns, in the dtypes pandas
        reads them with (``pd.read_parquet``).
        """
        if checkpoint_dir is not None:
            raise InvalidParameterError(
                "checkpoint_dir is not supported when fitting from Parquet files or a Dataset: "
                "a checkpoint fingerprints the whole encoded training set, which a stream "
                "never holds. Fit without checkpoint_dir."
            )
        if getattr(self, "distributed", False):
            raise InvalidParameterError(
                f"{type(self).__name__}(distributed=True) cannot fit from Parquet files or a "
                "Dataset yet: the ranks would need equal shares of the blocks. Set "
                "distributed=False, or shard the rows yourself and fit in memory."
            )
        if getattr(self, "early_stopping", False):
            raise InvalidParameterError(
                f"{type(self).__name__}(early_stopping=True) cannot fit from Parquet files or a "
                "Dataset: the held-out rows would have to be left out of every pass over the "
                "files. Set early_stopping=False and choose epochs, or fit in memory on a "
                "sample of the rows."
            )
        stream = X if isinstance(X, TableStream) else TableStream(X)
        if y is not None:
            stream.check_label(y)
        seed = resolve_seed(self.random_state)
        device = resolve_device(self.device)
        check_precision(getattr(self, "precision", "float32"), device, type(self).__name__)
        scan = stream.scan(y, derive_seed(seed, 4))
        if y is None:
            self._check_labels(None, 0)
        else:
            # The distinct labels of the whole source get the in-memory checks (types, at
            # least two classes); their counts then give the exact class rates.
            distinct = self._check_labels(scan.label_values, len(scan.label_values))
            counts = np.bincount(
                distinct, weights=scan.label_counts, minlength=len(self.classes_)
            )
            self.class_prior_ = counts / counts.sum()
        classes = self.classes_

        def label_codes(values: Any) -> np.ndarray:
            arr = np.asarray(values)
            if classes.dtype.kind == "U":  # _check_labels turned string objects into str
                arr = arr.astype(str)
            return self._label_codes(arr)

        codec = TabularCodec(
            discrete_columns=self.discrete_columns,
            continuous_encoding=self.continuous_encoding,
            random_state=derive_seed(seed, 0),
        ).fit(scan.reservoir)
        self.seed_ = seed
        self.device_ = device
        self.codec_ = codec
        self.n_features_in_ = scan.reservoir.shape[1]
        self.feature_names_in_ = np.asarray(scan.reservoir.columns, dtype=object)
        self._sample_calls = 0
        n_classes = 0 if classes is None else len(classes)
        self._setup(codec.output_dim_, n_classes, seed)
        generator = torch_generator(derive_seed(seed, 3), device)
        source = stream.batches(
            codec, self.batch_size, device, label=y, encode_labels=label_codes, n_classes=n_classes
        )
        sample = torch.from_numpy(
            codec.transform(scan.reservoir, random_state=derive_seed(seed, 1))
        ).to(device)
        sample_cond = None
        if y is not None:
            sample_cond = torch.nn.functional.one_hot(
                torch.from_numpy(label_codes(scan.reservoir_labels)), n_classes
            ).float().to(device)
        del scan  # the raw sample is not needed in training
        # Families read this flag in _prepare_training / _train_step (the GAN's stream branch).
        self._streaming = True
        try:
            self._prepare_training(sample, sample_cond, generator)
            del sample, sample_cond
            self._run_training(source, generator)
        finally:
            self._streaming = False
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
        """Train on ``source``'s batches, then let the family tidy up (also on failure).

        With ``distributed=True`` each network is wrapped in DistributedDataParallel for the
        duration (see :meth:`_synced`), and the ranks' batch-norm statistics are averaged at
        the end, so that every rank holds the same model.
        """
        self._ddp = {}
        if self.distributed:
            # Networks that are not trained (a weight average) have no gradients to average.
            self._ddp = {
                name: gdist.wrap(module, self.device_)
                for name, module in self._modules().items()
                if any(p.requires_grad for p in module.parameters())
            }
        try:
            with flush_denormals(self.device_.type == "cpu", workers=True):
                self._train_epochs(source, generator)
        finally:
            for wrapped in getattr(self, "_ddp", {}).values():
                gdist.unwrap(wrapped)
            self._ddp = {}
            self._finish_training()
        if self.distributed:
            gdist.average_buffers(self._modules().values(), self.device_)
        self._set_train(False)

    def _autocast(self) -> torch.autocast:
        """Mixed precision for ``precision="bfloat16"``: matrix products and convolutions in
        bfloat16 (see :func:`genaug.nn.precision.full_precision` for what stays in float32)."""
        return torch.autocast(
            self.device_.type,
            dtype=torch.bfloat16,
            enabled=getattr(self, "precision", "float32") == "bfloat16",
        )

    def _synced(self, name: str) -> nn.Module:
        """The network ``name`` to run a forward through whose gradients are applied.

        During distributed training, its DistributedDataParallel wrapper: the next backward
        that reaches its parameters averages their gradients over the ranks. Otherwise (and
        for forwards whose gradients are thrown away, or that call methods other than
        ``forward``, which go to the plain ``getattr(self, name)``) the network itself. A
        wrapped network must give every parameter a gradient in that backward.
        """
        wrapped = getattr(self, "_ddp", None)
        if wrapped and name in wrapped:
            return wrapped[name]
        return getattr(self, name)

    def _over_ranks(self, values: dict[str, float]) -> dict[str, float]:
        """``values`` averaged over the ranks during distributed training, else unchanged."""
        if getattr(self, "_ddp", None):
            return gdist.mean_over_ranks(values, self.device_)
        return values

    def _shard(
        self, data: torch.Tensor, cond: torch.Tensor | None, seed: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's share of the encoded rows (after checking all ranks have the same)."""
        # device may name each rank's own GPU ("cuda:LOCAL_RANK").
        params = {
            k: v for k, v in self._json_params().items() if k not in ("verbose", "device")
        }
        # The codec's fitted state as it is (to_dict refuses categories a file cannot hold,
        # which an unsaved model may have).
        columns = getattr(self.codec_, "columns_", None)  # tables; an image codec's state
        setup = json.dumps(
            {
                "codec": self.codec_.to_dict()
                if columns is None
                else [{k: v for k, v in info.items() if k != "_spans"} for info in columns],
                "classes": None if self.classes_ is None else [_py(c) for c in self.classes_],
            },
            sort_keys=True,
            default=repr,
        )
        gdist.check_same_setup(params, setup, self.device_)
        gdist.check_same_data(data, cond, self.device_)
        rows = gdist.shard_indices(data.shape[0], derive_seed(seed, 6), data.device)
        return data[rows], None if cond is None else cond[rows]

    def _train_epochs(self, source: BatchSource, generator: torch.Generator) -> None:
        optimizers = self._make_optimizers()
        n_batches = source.n_batches
        self.history_ = {"epoch": []}
        checkpointer = getattr(self, "_checkpointer", None)
        start = 0
        if checkpointer is not None and checkpointer.resuming:
            # Weights, optimizers, generator, history and early-stopping state as they were
            # after the checkpoint's epoch: the loop below continues the same computation.
            start = checkpointer.restore(optimizers, generator)
        bar = tqdm(
            range(start, self.epochs),
            disable=not self.verbose or not gdist.is_main_process(),
            desc=type(self).__name__,
            unit="epoch",
            leave=True,
            initial=start,
            total=self.epochs,
        )
        for epoch in bar:
            self._set_train(True)
            sums: dict[str, torch.Tensor] = {}
            for x, c in source.epoch(generator):
                with self._autocast():
                    losses = self._train_step(x, c, optimizers, generator)
                for key, value in losses.items():
                    sums[key] = sums[key] + value if key in sums else value
            if self.device_.type == "cpu":
                zero_subnormals(self._modules().values(), optimizers.values())
            # One host-device synchronisation per epoch, not per step.
            means = self._over_ranks({k: float(v) / n_batches for k, v in sums.items()})
            bad = [k for k, v in means.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDivergedError(
                    f"{type(self).__name__}: the {bad[0]} loss became {means[bad[0]]} in epoch "
                    f"{epoch + 1}. Try a lower learning_rate (now {self.learning_rate}) or "
                    "check the data for extreme values."
                )
            # Finite losses can hide overflowed weights or running statistics (a batch norm's
            # variance at inf): such a model samples garbage and cannot be saved and loaded.
            broken = _first_non_finite(self._modules())
            if getattr(self, "_ddp", None):
                broken = "a tensor" if gdist.agree(broken is not None, self.device_) else None
            if broken is not None:
                raise TrainingDivergedError(
                    f"{type(self).__name__}: {broken} became non-finite in epoch {epoch + 1}. "
                    f"Try a lower learning_rate (now {self.learning_rate}) or check the data "
                    "for extreme values."
                )
            self.history_["epoch"].append(epoch + 1)
            for key, value in means.items():
                self.history_.setdefault(key, []).append(value)
            if self.verbose:
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()}, refresh=False)
            stop = self._on_epoch_end(epoch + 1, means)
            if getattr(self, "_ddp", None):
                stop = gdist.agree(stop, self.device_)  # no rank may train on alone
            if checkpointer is not None and checkpointer.due(epoch + 1, stop):
                checkpointer.save(epoch + 1, optimizers, generator)
            if stop:
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
        if plan[0] in ("prior", "weights"):
            rates = self.class_prior_ if plan[0] == "prior" else plan[1]
            prior = torch.as_tensor(rates, dtype=torch.float64, device=generator.device)
            draws = torch.multinomial(prior, stop - start, replacement=True, generator=generator)
            return draws.cpu()
        if plan[0] == "fixed":
            return torch.full((stop - start,), plan[1], dtype=torch.long)
        _, codes, ends = plan
        rows = torch.arange(start, stop)
        return codes[torch.searchsorted(ends, rows, right=True)]

    def _class_code(self, label: Any) -> int:
        if np.ndim(label) != 0 or isinstance(label, (set, frozenset)):
            # An array would be compared element-wise with classes_ (a broadcast error or a
            # wrong match); per-row labels are asked for as counts.
            raise InvalidParameterError(
                f"y must be one label or a dict of {{label: count}}; got a "
                f"{type(label).__name__}. For several classes pass counts, e.g. "
                f"y={{{_py(self.classes_[0])!r}: 10, {_py(self.classes_[-1])!r}: 5}}."
            )
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
        meta = self._label_meta
        arrow_dtype = None if meta["dtype"] is None else _arrow_string_dtype(meta["dtype"])
        if arrow_dtype is not None and all(isinstance(c, str) for c in self.classes_):
            # As the codec decodes text columns: one Arrow take of the class names instead
            # of converting an array of Python strings (50,000 labels: 0.5 against 8.5 ms, on
            # the 2-core dev box with another job running).
            import pyarrow as pa

            taken = pa.array(list(self.classes_), type=pa.large_string()).take(pa.array(codes))
            return pd.Series(taken, dtype=arrow_dtype, name=meta["name"])
        if meta.get("categories") is not None:
            values = pd.Categorical(
                self.classes_[codes], categories=meta["categories"], ordered=meta["ordered"]
            )
            return pd.Series(values, name=meta["name"])
        if meta["dtype"] is not None:
            classes = self.classes_
            if classes.dtype.kind == "U":
                # Taken from Python strings made once: a Series of a fixed-width string array
                # makes one per label (50,000 labels: 2.6 ms on pandas 2.3, 0.5 ms this way).
                classes = classes.astype(object)
            series = pd.Series(classes[codes], name=meta["name"])
            # None where this install has no such dtype (an Arrow one without pyarrow).
            target = _saved_dtype(meta["dtype"])
            try:
                return series if target is None else series.astype(target)
            except (TypeError, ValueError):
                return series
        values = self.classes_[codes]
        return values.astype(meta["array_dtype"]) if meta["array_dtype"] else values

    def sample_seed(self, random_state: Any = None) -> int:
        """The seed that :meth:`sample` draws from for ``random_state``.

        For callers that generate rows lazily in pieces (e.g. the torchvision adapter's
        ``SyntheticDataset``) and must follow the synthesizer's own seeding when not given a
        seed.

        Parameters
        ----------
        random_state : int, numpy Generator or None, default=None
            A seed is resolved as :meth:`sample` resolves it. ``None`` gives the next seed
            of the fitted synthesizer's own sequence and advances it, as an unseeded
            :meth:`sample` call does: successive calls differ, and the sequence is fixed by
            the fit's seed (a seeded fit makes it reproducible).

        Returns
        -------
        int
        """
        self._check_is_fitted()
        return self._resolve_sample_seed(random_state)

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
        reject_copies: bool = False,
        reference: Any = None,
        copy_threshold: float | None = None,
        copy_quantile: float = 0.01,
    ) -> Iterator[Any]:
        """Yield the rows of ``sample(n, ...)`` in chunks of at most ``chunk_size`` rows.

        Memory stays bounded by the chunk whatever ``n`` is (copy protection aside, which
        holds the encoded ``reference``). Each item is ``X`` or ``(X, y)`` like
        :meth:`sample`'s return value. Rows are generated ``GENERATE_CHUNK`` at a time (images
        ``IMAGE_SAMPLE_CHUNK`` at a time), and rows rejected as copies are redrawn before the
        next of these, so the concatenated chunks equal ``sample(n, ...)`` for the same seed
        and arguments whatever ``chunk_size`` is. ``copy_report_`` is updated as the chunks
        are made.

        Parameters
        ----------
        n : int
            Rows in all.
        y, conditions, random_state
            As for :meth:`sample`.
        chunk_size : int, default=SAMPLE_CHUNK
            Most rows per yielded item.
        reject_copies, reference, copy_threshold, copy_quantile
            As for :meth:`sample`.

        Yields
        ------
        X or (X, y)
            One chunk, in the form :meth:`sample` returns.
        """
        self._check_is_fitted()
        n = self._check_n(n)
        protect = False
        if reject_copies is not False or reference is not None or copy_threshold is not None:
            # Imported here: it pulls in the metrics package, which plain sampling does not need.
            from genaug.synthesizers._copies import CopyFilter, check_copy_options

            protect = check_copy_options(reject_copies, reference, copy_threshold, copy_quantile)
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
        if plan == ("prior",) and conditions:
            weights = self._label_weights(conditions)
            if weights is not None:
                plan = ("weights", weights)
        copy_filter = None
        if protect:
            copy_filter = CopyFilter(self, reference, copy_threshold, copy_quantile)
        generator = torch_generator(self._resolve_sample_seed(random_state), self.device_)
        report = None if copy_filter is None else copy_filter.new_report()
        self.copy_report_ = report
        # Validation above runs now; the rows are made lazily, chunk by chunk. The report is
        # this call's, bound now: a later call replaces copy_report_, not what this one counts.
        return self._sample_chunks(
            n, plan, conditions, generator, int(chunk_size), copy_filter, report
        )

    def _label_weights(self, conditions: Mapping[str, Any]) -> np.ndarray | None:
        """Class weights for rows asked to hold ``conditions`` when ``y`` is not given.

        ``None`` keeps the class rates of the training data; a family that can condition on
        feature values returns the rates among the training rows that hold them.
        """
        return None

    def _sample_chunks(
        self, n, plan, conditions, generator, chunk_size, copy_filter=None, report=None
    ) -> Iterator[Any]:
        step = GENERATE_CHUNK if self._image_shape() is None else IMAGE_SAMPLE_CHUNK
        # Generated rows are copied into the next yielded chunk's array as they come, so at
        # most one chunk and one generator pass are held (not a list of passes and their
        # concatenation), and a chunk's rows never keep an earlier chunk's array alive.
        block = codes = None
        filled = yielded = start = 0
        # Table rows with one column per span when nothing needs the encoded rows (the copy
        # check measures distances in their space): no one-hot rows to build, copy and read
        # back (a 50,000-row Adult draw of the GAN: see _inverse_transform_compact).
        compact = self._compact_rows and copy_filter is None and self._image_shape() is None
        self._set_train(False)
        modules = [m for net in self._modules().values() for m in net.modules()]
        while start < n:
            stop = min(start + step, n)
            labels = self._chunk_labels(plan, start, stop, generator)
            c = None
            if labels is not None:
                c = torch.nn.functional.one_hot(labels, self.cond_dim_).float().to(self.device_)
            if any(m.training for m in modules):
                # Put back in training mode between two chunks. Reading the flags is cheap;
                # setting them all on every pass cost 0.07 ms of it.
                self._set_train(False)
            # Not around the loop: the flag must not stay set while the caller holds a chunk.
            with torch.no_grad(), self._autocast(), flush_denormals(self.device_.type == "cpu"):
                rows = self._generate(stop - start, c, generator, conditions, compact=compact)
            rows = rows.float().cpu().numpy()
            if copy_filter is not None:
                rows = copy_filter.replace(rows, labels, conditions, generator, report)
            start = stop
            done = 0
            while done < len(rows):
                if block is None:
                    size = min(chunk_size, n - yielded)
                    # Compact rows column by column: the decode reads whole columns (50,000
                    # Adult rows: 0.4 against 2.3 ms to take them out of a row-major block).
                    order = "F" if compact else "C"
                    block = np.empty((size, *rows.shape[1:]), dtype=rows.dtype, order=order)
                    codes = None if plan is None else np.empty(size, dtype=np.int64)
                take = min(len(block) - filled, len(rows) - done)
                block[filled : filled + take] = rows[done : done + take]
                if codes is not None:
                    codes[filled : filled + take] = labels[done : done + take].numpy()
                filled += take
                done += take
                if filled == len(block):
                    yielded += len(block)
                    # Decoded before the yield, and the encoded rows released with it.
                    out = self._finish_chunk(block, codes, compact)
                    block = codes = None
                    filled = 0
                    yield out
                    out = None

    def _decode_rows(self, block: np.ndarray, compact: bool = False) -> Any:
        """Generated rows in the training data's form (``compact``: one column per span)."""
        if compact:
            return self.codec_._inverse_transform_compact(block)
        if self._image_shape() is None:
            # Tables: every categorical span of a generated row is one-hot.
            return self.codec_._inverse_transform(block, one_hot=True)
        return self.codec_.inverse_transform(block)

    def _finish_chunk(
        self, block: np.ndarray, codes: np.ndarray | None, compact: bool = False
    ) -> Any:
        X = self._decode_rows(block, compact)
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
        reject_copies: bool = False,
        reference: Any = None,
        copy_threshold: float | None = None,
        copy_quantile: float = 0.01,
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
        reject_copies : bool, default=False
            Copy protection: redraw every generated row whose distance to its closest
            ``reference`` row (DCR) is at most ``copy_threshold``, with the same label (and
            ``conditions``) and from the same seeded stream, so the labels keep their exact
            counts and the sample is still a function of the seed. The number of replaced
            rows is in ``copy_report_`` (a :class:`~genaug.synthesizers._copies.CopyReport`)
            after the call. Distances are those of genaug's privacy metrics (see
            :mod:`genaug.synthesizers._copies`); labels are not part of them.
        reference : DataFrame, array-like or images, optional
            With ``reject_copies``: the training rows, in the form given to ``fit``
            (required: the model does not store training rows, so a saved and loaded model
            protects as well as a fresh one). Any other rows to keep away from work too.
        copy_threshold : float, optional
            With ``reject_copies``: the distance at or below which a row is a copy. By
            default the ``copy_quantile`` quantile of the reference rows' leave-one-out DCR
            (how close a fresh real row comes to the others); exact copies are always
            rejected. For images pass one (see :mod:`genaug.synthesizers._copies`): in
            pixel space blurry images sit close to every training image.
        copy_quantile : float, default=0.01
            With ``reject_copies`` and no ``copy_threshold``: that quantile.

        Returns
        -------
        X : DataFrame, ndarray, Tensor or list of PIL images
            In the form of the training ``X`` (same columns, dtypes and categories; images in
            the same container, layout, dtype, value range and size).
        y : Series or ndarray
            Only when the synthesizer was fitted with labels: the labels of the rows.

        Raises
        ------
        CopyProtectionError
            With ``reject_copies``, when rows are still too close after
            ``MAX_COPY_ROUNDS`` (20) redraws; the message says how many.

        Notes
        -----
        Copy protection is off by default because it has a price: rows near the training
        data are the model's most faithful ones, so redrawing them thins the densest regions
        and the tails where real rows are isolated (an outlier's neighbourhood is exactly
        what gets redrawn), and classes with few rows, which a model memorises most, are
        redrawn most (``copy_report_.replaced_per_class``). It guards against releasing
        near-copies of training rows; it is not differential privacy, and a row may still
        reveal a training row in the columns it shares with it. Each call encodes the
        reference and, without ``copy_threshold``, runs a nearest-neighbour pass over up to
        10,000 of its rows; every generated chunk is then compared with every reference row.
        """
        chunks = self.iter_sample(
            n,
            y,
            conditions=conditions,
            random_state=random_state,
            chunk_size=n,
            reject_copies=reject_copies,
            reference=reference,
            copy_threshold=copy_threshold,
            copy_quantile=copy_quantile,
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
                "name": _encode_label_name(self._label_meta["name"]),
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
            elif key == "discrete_columns" and value is not None:
                # Tuple names (MultiIndex columns) tagged as the codec saves them: JSON
                # would give them back as lists, which name no column.
                value = [_encode_name(name) for name in value]
            elif isinstance(value, tuple):
                value = list(value)
            params[key] = _py(value)
        return params

    def save(self, path: str) -> None:
        """Save the fitted model to the folder ``path`` (``config.json`` + ``model.safetensors``).

        The folder is written to a temporary name and renamed, so an interrupted save leaves
        any earlier model in ``path`` intact. Weights are saved device-free: a model trained on
        a GPU loads on a CPU-only machine.

        With ``distributed=True`` inside a distributed job, only the main process (rank 0)
        writes; the other ranks, which hold the same model, return at once without waiting
        for it. A rank that reads the folder afterwards should wait for rank 0 first (e.g.
        ``torch.distributed.barrier()``). Outside a job (a loaded model, say) it always writes.

        Parameters
        ----------
        path : str or path-like
            The model folder; an existing one is replaced.
        """
        self._check_is_fitted()
        if self.distributed and not gdist.is_main_process():
            return
        config = {
            "format_version": FORMAT_VERSION,
            "genaug_version": __version__,
            "class": type(self).__name__,
            "params": self._json_params(),
            "state": self._state(),
        }
        broken = _first_non_finite(self._modules())
        if broken is not None:
            raise TrainingDivergedError(
                f"{type(self).__name__} cannot be saved: {broken} is not finite, and load() "
                "would refuse the file. Refit it, e.g. with a lower learning_rate."
            )
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
        # Every hidden layer holds at least one tensor: a config that lists more layers than
        # the file has tensors is refused before a million-layer network is even described.
        layers = sum(
            len(v) for k, v in params.items() if k.endswith("_hidden") and isinstance(v, list)
        )
        if layers > len(tensors):
            raise ModelFileError(
                f"config.json declares {layers} hidden layers, but model.safetensors holds only "
                f"{len(tensors)} tensors."
            )
        if isinstance(params.get("discrete_columns"), list):
            params["discrete_columns"] = [_decode_name(n) for n in params["discrete_columns"]]
        signature = inspect.signature(cls.__init__).parameters
        for key, value in list(params.items()):
            default = signature[key].default
            if isinstance(default, tuple) and isinstance(value, list):
                params[key] = tuple(value)
        try:
            model = cls(**params)
            model._validate_params()
        except (InvalidParameterError, TypeError) as exc:
            raise ModelFileError(f"config.json has an invalid parameter: {exc}") from exc
        try:
            model._restore(state, tensors)
        except ModelFileError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            OverflowError,
            RuntimeError,  # torch's own errors, and RecursionError
        ) as exc:
            # Whatever the edit, the caller gets a ModelFileError; the ValueErrors include
            # genaug's own InvalidDataError/InvalidParameterError raised on the file's values.
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
            from genaug.io import check_saved_dtype

            classes = labels["classes"]
            check_saved_dtype(labels["array_dtype"], "the labels' array dtype")
            if labels["dtype"] is not None:
                check_saved_dtype(labels["dtype"], "the labels' dtype")
            if not isinstance(classes, list) or not all(
                isinstance(c, (str, int, float)) for c in classes
            ):
                raise ModelFileError("config.json's class labels are not a list of labels.")
            self.classes_ = np.asarray(classes, dtype=labels["array_dtype"])
            self.class_prior_ = np.asarray(labels["prior"], dtype=float)
            prior = self.class_prior_
            if (
                self.classes_.shape != (len(classes),)
                or prior.shape != (len(classes),)
                or len(classes) < 2
                or not (np.all(prior >= 0) and np.isfinite(prior).all() and prior.sum() > 0)
            ):
                raise ModelFileError("config.json's class labels and rates do not match.")
            # Labels are looked up by binary search (_label_codes): sorted and distinct.
            if not np.all(self.classes_[1:] > self.classes_[:-1]):
                raise ModelFileError("config.json's class labels are not sorted and distinct.")
            self._label_meta = {k: labels[k] for k in ("name", "dtype", "array_dtype")}
            # A tuple name (MultiIndex labels) is saved tagged, as the codec's column names.
            name = self._label_meta["name"] = _decode_name(labels["name"])
            if name is not None and not _is_saved_name(name):
                raise ModelFileError("config.json's label name is not a name.")
            if labels.get("categories") is not None:
                categories, ordered = labels["categories"], labels.get("ordered")
                if (
                    not isinstance(categories, list)
                    or not all(isinstance(c, (str, int, float)) for c in categories)
                    or len(set(categories)) != len(categories)
                    or not isinstance(ordered, bool)
                    or not set(classes) <= set(categories)
                ):
                    raise ModelFileError("config.json's label categories do not match.")
                self._label_meta.update(categories=categories, ordered=ordered)
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

    Parameters
    ----------
    path : str or path-like
        The model folder (``config.json`` + ``model.safetensors``).

    Returns
    -------
    BaseSynthesizer
        The fitted synthesizer, on the CPU or the device its ``device`` parameter names.

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
