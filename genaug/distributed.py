"""Where this process stands in a ``torch.distributed`` job, and what a synthesizer built with
``distributed=True`` does with it (one process when there is none).

Training with ``distributed=True`` runs one process per device under ``torchrun``; only the
main process (rank 0) writes files and shows progress. Each process calls ``fit`` with the
same full data; :meth:`BaseSynthesizer.fit <genaug.synthesizers.base.BaseSynthesizer.fit>`
then

1. joins the default process group, creating it from ``torchrun``'s environment variables
   when the script has not (:func:`setup`; NCCL on CUDA, gloo on the CPU),
2. agrees on one seed (:func:`broadcast_seed`), so that every rank fits the same codec and
   initialises the same weights,
3. checks that every rank was given the same data and keeps its own shard of the rows
   (:func:`shard_indices`),
4. trains with each network wrapped in PyTorch's
   :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`), which averages the
   gradients of every step over the ranks, and agrees on each epoch's losses and early
   stopping decisions (:func:`mean_over_ranks`, :func:`agree`),
5. averages the batch-normalisation statistics at the end (:func:`average_buffers`), so that
   every rank ends with bitwise identical weights and buffers.

The queries :func:`rank`, :func:`world_size` and :func:`is_main_process` answer 0, 1 and
True outside a distributed job; the other functions need the default process group
(:func:`setup` makes it).
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from genaug._device import resolve_device
from genaug._random import torch_generator
from genaug.exceptions import InvalidDataError, InvalidParameterError

# What torch.distributed's default env:// initialisation reads; torchrun sets all of them
# (plus LOCAL_RANK, the process's index on its node).
_ENV_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")

_CPU = torch.device("cpu")
# Rows per float64 copy when fingerprinting the training data.
_FINGERPRINT_CHUNK = 4096
_MISSING = object()  # a parameter one rank lacks


def is_initialized() -> bool:
    """Whether a default process group is up in this process."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the default group, 0 outside a distributed job."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """Number of processes in the default group, 1 outside a distributed job."""
    return dist.get_world_size() if is_initialized() else 1


def is_main_process() -> bool:
    """True on rank 0 and outside a distributed job: the process that saves and reports."""
    return rank() == 0


def local_rank() -> int:
    """This process's index on its node: ``LOCAL_RANK`` as set by ``torchrun``.

    Without it, the rank modulo the number of visible GPUs (or 0): the usual placement of one
    process per GPU when a script created the group itself.
    """
    value = os.environ.get("LOCAL_RANK")
    if value is not None:
        return int(value)
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return rank() % n_gpus if n_gpus else 0


def setup(device: str | torch.device | None) -> torch.device:
    """Join (or create) the default process group and return this rank's training device.

    Parameters
    ----------
    device : str, torch.device or None
        The synthesizer's ``device``. ``"auto"`` (or ``None``) and ``"cuda"`` without an
        index mean ``cuda:LOCAL_RANK`` when a GPU is visible, one GPU per process; ``"cpu"``
        or an indexed ``"cuda:i"`` are used as given.

    Returns
    -------
    torch.device

    Raises
    ------
    InvalidParameterError
        If no process group is up and ``torchrun``'s environment variables are missing (the
        script was started with ``python`` rather than ``torchrun``), or if the existing
        group's backend cannot serve that device (NCCL with the CPU).

    Notes
    -----
    When the group is missing it is created with :func:`torch.distributed.init_process_group`
    from the environment, with the NCCL backend for a CUDA device and gloo otherwise, and it
    is left up after ``fit``: ``save`` and later fits on the same process still need to know
    the rank. A group the script created itself is used as it is and never destroyed. Call
    :func:`torch.distributed.destroy_process_group` at the end of the script to release it.
    """
    resolved = resolve_device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", local_rank())
    if resolved.type == "cuda":
        if resolved.index >= torch.cuda.device_count():
            raise InvalidParameterError(
                f"distributed=True on {resolved}, but this node has "
                f"{torch.cuda.device_count()} visible GPUs: start at most one process per GPU "
                "(torchrun --nproc_per_node), or set CUDA_VISIBLE_DEVICES."
            )
        # NCCL and DDP use the current device; set it before the group exists.
        torch.cuda.set_device(resolved)
    if not is_initialized():
        missing = [name for name in _ENV_VARS if name not in os.environ]
        if missing:
            raise InvalidParameterError(
                f"distributed=True needs a torch.distributed job, but no process group is "
                f"initialised and the environment lacks {', '.join(missing)}. Start the script "
                "with torchrun (e.g. `torchrun --nproc_per_node 2 train.py`), or call "
                "torch.distributed.init_process_group() before fit, or use distributed=False."
            )
        if not dist.is_available():  # pragma: no cover - builds of torch without it
            raise InvalidParameterError("distributed=True, but this torch has no distributed.")
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    backend = str(dist.get_backend())
    if resolved.type != "cuda" and backend == "nccl":
        raise InvalidParameterError(
            f"distributed=True on device {str(resolved)!r}, but the process group uses NCCL, "
            "which only reduces CUDA tensors. Use a gloo group for CPU training, or a GPU."
        )
    return resolved


def _comm_device(device: torch.device) -> torch.device:
    """Where the small tensors of genaug's own collectives live: the GPU for NCCL, else CPU."""
    if device.type == "cuda" and "nccl" in str(dist.get_backend()):
        return device
    return _CPU


def broadcast_seed(seed: int, device: torch.device) -> int:
    """Rank 0's ``seed`` on every rank (``random_state=None`` draws a different one on each)."""
    value = torch.tensor([int(seed)], dtype=torch.int64, device=_comm_device(device))
    dist.broadcast(value, src=0)
    return int(value.item())


def _gather(values: torch.Tensor) -> torch.Tensor:
    """``(world_size, *values.shape)``: every rank's ``values``, in rank order."""
    out = [torch.empty_like(values) for _ in range(world_size())]
    dist.all_gather(out, values.contiguous())
    return torch.stack(out)


def check_same_data(data: torch.Tensor, cond: torch.Tensor | None, device: torch.device) -> None:
    """Raise on every rank if the ranks were not given the same (encoded) data.

    Each rank must call ``fit`` with the full data; genaug shards it. A fingerprint of the
    encoded rows and labels is compared: the shapes exactly, and position-weighted sums to
    about 1e-9 of their scale, not bit for bit, since machines of another kind may round the
    same encoding differently in the last bits. It catches a rank that loaded another file,
    another split or another order of the rows.
    """
    n = data.shape[0]
    width = data[0].numel()
    # Fixed weights, the same on all ranks. Weighting by position matters: a plain sum would
    # not see rows in another order, nor a quantile encoding's ranks moved between rows.
    col_w = torch.cos(torch.arange(width, dtype=torch.float64, device=data.device) + 0.1)
    sums = torch.zeros(3, dtype=torch.float64, device=data.device)
    for start in range(0, n, _FINGERPRINT_CHUNK):  # float64 copies of a chunk at a time
        block = data[start : start + _FINGERPRINT_CHUNK].reshape(-1, width).double()
        rows = torch.arange(start, start + block.shape[0], device=data.device)
        row_w = torch.cos(rows.double() * 0.7 + 0.3)
        sums += torch.stack([block.sum(), row_w @ (block @ col_w), block.abs().sum()])
    parts = [float(n), float(width), *sums.tolist()]
    if cond is not None:
        row_w = torch.cos(torch.arange(n, device=cond.device).double() * 0.7 + 0.3)
        parts += [float(cond.shape[1]), float(row_w @ (cond.argmax(1).double() + 1.0))]
    else:
        parts += [0.0, 0.0]
    mine = torch.tensor(parts, dtype=torch.float64, device=_comm_device(device))
    everyone = _gather(mine).cpu().numpy()
    # Every rank compares the same gathered numbers, so all of them raise or none does.
    exact = [0, 1, 5]  # rows, width, classes
    scale = 1e-9 * (everyone[:, 4].max() + n)
    same = (everyone[:, exact] == everyone[0, exact]).all() and np.allclose(
        everyone, everyone[0], rtol=1e-9, atol=scale
    )
    if not same:
        raise InvalidDataError(
            "distributed=True: the ranks were given different data (row counts or contents "
            "differ). Every process must call fit with the same full X and y; genaug gives "
            "each rank its own shard of the rows."
        )


def check_same_setup(params: Mapping[str, Any], setup: str, device: torch.device) -> None:
    """Raise on every rank unless all ranks have the same parameters and fitted codec.

    ``params`` are the synthesizer's (``verbose`` aside); ``setup`` describes what each rank
    fitted on its own data, its codec and classes. Ranks with other parameters would wait
    for each other in different steps (a hang), and a rank with another codec would encode
    different data into the same numbers, which the data check alone cannot see.
    """
    digest = hashlib.sha256(setup.encode()).hexdigest()
    everyone: list[Any] = [None] * world_size()
    dist.all_gather_object(everyone, (dict(params), digest))
    differing = sorted(
        key
        for key in set().union(*(p for p, _ in everyone))
        if any(p.get(key, _MISSING) != params.get(key, _MISSING) for p, _ in everyone)
    )
    if differing:
        shown = {key: [p.get(key) for p, _ in everyone] for key in differing[:3]}
        raise InvalidParameterError(
            f"distributed=True: the ranks have different parameters {differing} (per rank: "
            f"{shown}); every process must build the synthesizer the same way."
        )
    if any(d != digest for _, d in everyone):
        raise InvalidDataError(
            "distributed=True: the ranks fitted different codecs or classes on their data "
            "(other values, categories or labels). Every process must call fit with the same "
            "full X and y; genaug gives each rank its own shard of the rows."
        )


def sum_over_ranks(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The element-wise sum of an integer tensor over the ranks, on every rank."""
    everyone = _gather(values.to(_comm_device(device)))
    return everyone.sum(0).to(values.device)


def shard_indices(n_rows: int, seed: int, device: torch.device) -> torch.Tensor:
    """This rank's rows: an equal share of a permutation that all ranks draw from ``seed``.

    Every rank takes ``n_rows // world_size`` rows and the remainder is dropped, so that all
    ranks run the same number of steps per epoch (DistributedDataParallel waits for every rank
    at every step).

    Raises
    ------
    InvalidDataError
        If a shard would have fewer than 2 rows.
    """
    size = world_size()
    per_rank = n_rows // size
    if per_rank < 2:
        raise InvalidDataError(
            f"distributed=True over {size} processes leaves {per_rank} of the {n_rows} rows to "
            "each; every process needs at least 2. Use fewer processes or more rows."
        )
    perm = torch.randperm(n_rows, generator=torch_generator(seed, device), device=device)
    start = rank() * per_rank
    return perm[start : start + per_rank]


def _ddp_buffer_kwargs() -> dict[str, bool]:
    """Turn off DDP's buffer broadcast at each forward, under either of its names.

    The broadcast writes into batch-norm statistics in place; a training step that runs a
    network forward twice before its backward (the VAE-GAN's decoder, a GAN critic with a
    gradient penalty) would then fail autograd's in-place check. The statistics are averaged
    once at the end instead (:func:`average_buffers`). torch 2.13 renamed the argument.
    """
    params = inspect.signature(nn.parallel.DistributedDataParallel.__init__).parameters
    if "forward_sync_buffers" in params:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


def wrap(module: nn.Module, device: torch.device) -> nn.parallel.DistributedDataParallel:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` on ``device``.

    Gradients of its parameters are averaged over the ranks during each ``backward`` that
    follows a forward through the wrapper. Parameters with no elements (e.g. the log-scales
    of a table without numeric columns) get no gradient and hold nothing to average: they stop
    requiring gradients until :func:`unwrap`, which DDP takes as "leave out"; otherwise it
    would wait for their gradients and fail at the next step.
    """
    empty = [p for p in module.parameters() if p.numel() == 0 and p.requires_grad]
    for p in empty:
        p.requires_grad_(False)
    device_ids = [device.index] if device.type == "cuda" else None
    try:
        wrapped = nn.parallel.DistributedDataParallel(
            module,
            device_ids=device_ids,
            output_device=device_ids[0] if device_ids else None,
            **_ddp_buffer_kwargs(),
        )
    except BaseException:
        for p in empty:
            p.requires_grad_(True)
        raise
    wrapped._genaug_frozen = empty
    return wrapped


def unwrap(wrapped: nn.parallel.DistributedDataParallel) -> nn.Module:
    """The plain module of a :func:`wrap` wrapper, as it was before."""
    for p in getattr(wrapped, "_genaug_frozen", ()):
        p.requires_grad_(True)
    return wrapped.module


def mean_over_ranks(values: Mapping[str, float], device: torch.device) -> dict[str, float]:
    """The mean of each value over the ranks, bitwise the same on every rank.

    The values are gathered and summed in rank order on every rank (rather than all-reduced,
    whose summation order a backend may vary), so that decisions taken from them, such as
    early stopping's, agree everywhere.
    """
    keys = sorted(values)
    mine = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    everyone = _gather(mine.to(_comm_device(device))).cpu()
    means = everyone.sum(0) / everyone.shape[0]
    return {k: float(v) for k, v in zip(keys, means)}


def agree(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank: one decision, so that no rank trains on alone."""
    value = torch.tensor([int(bool(flag))], dtype=torch.int64, device=_comm_device(device))
    dist.broadcast(value, src=0)
    return bool(value.item())


def average_buffers(modules: Iterable[nn.Module], device: torch.device) -> None:
    """Average the floating-point buffers of ``modules`` over the ranks, in place.

    Batch normalisation normalises each rank's batch by its own statistics (as under DDP
    without SyncBatchNorm, which works on GPUs only), so each rank's running mean and variance
    track its own shard. Their mean, the same on every rank, estimates the whole data's.
    Integer buffers (batch counts) are equal on all ranks already and are taken from rank 0.
    """
    floats, others = [], []
    for module in modules:
        for buf in module.buffers():
            (floats if buf.is_floating_point() else others).append(buf)
    comm = _comm_device(device)
    if floats:
        flat = torch.cat([b.detach().reshape(-1).double() for b in floats]).to(comm)
        mean = (_gather(flat).sum(0) / world_size()).to(device)
        offset = 0
        # In place under no_grad rather than through .data, so that the buffers' version
        # counters move (the sampling path keeps weights folded with them until they do).
        with torch.no_grad():
            for buf in floats:
                n = buf.numel()
                buf.copy_(mean[offset : offset + n].reshape(buf.shape))
                offset += n
    for buf in others:
        tensor = buf.detach().to(comm).clone()
        dist.broadcast(tensor, src=0)
        with torch.no_grad():
            buf.copy_(tensor.to(buf.device))
