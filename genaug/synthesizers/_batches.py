"""Where the training loop gets its batches from.

:meth:`BaseSynthesizer._train_epochs` asks a *batch source* for one epoch of batches at a
time and does not care whether they come from tensors in memory, from Parquet files read a
block at a time, or from one rank's share of the rows under distributed training. A source
has ``n_batches`` (steps per epoch, the same on every call) and ``epoch(generator)``, which
yields ``(x, c)`` pairs of encoded rows and one-hot labels (``c`` is ``None`` without
labels), drawing all of its randomness from ``generator``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import torch

# Small tables get smaller batches, so that an epoch has at least this many steps: a fixed
# batch of 500 would give a table of 300 rows one step per epoch and leave it untrained.
MIN_STEPS_PER_EPOCH = 10


def effective_batch_size(batch_size: int, n_rows: int) -> int:
    """Rows per training step: ``batch_size``, or less on tables of under 10 batches."""
    return int(max(2, min(batch_size, math.ceil(n_rows / MIN_STEPS_PER_EPOCH))))


class BatchSource(Protocol):
    """What the training loop needs from its data."""

    n_batches: int

    def epoch(
        self, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """One epoch of ``(x, c)`` batches."""


class TensorBatches:
    """Shuffled whole batches of an encoded training set held in memory.

    Parameters
    ----------
    data : Tensor of shape (n, d)
        Encoded rows (or images), already on the training device.
    cond : Tensor of shape (n, k) or None
        One-hot labels on the same device.
    batch_size : int
        Requested rows per step; see :func:`effective_batch_size`.
    """

    def __init__(self, data: torch.Tensor, cond: torch.Tensor | None, batch_size: int) -> None:
        self.data = data
        self.cond = cond
        self.n_rows = int(data.shape[0])
        self.batch_size = effective_batch_size(batch_size, self.n_rows)
        # Whole batches only: a trailing batch of one row would break batch normalisation.
        self.n_batches = max(1, self.n_rows // self.batch_size)

    def epoch(
        self, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield ``n_batches`` batches of a fresh permutation of the rows."""
        perm = torch.randperm(self.n_rows, generator=generator, device=self.data.device)
        size = self.batch_size
        for b in range(self.n_batches):
            idx = perm[b * size : (b + 1) * size]
            # index_select rather than advanced indexing: the same rows, and on CPU several
            # times faster for a (500, 100) batch of a (32,561, 100) table.
            yield (
                self.data.index_select(0, idx),
                None if self.cond is None else self.cond.index_select(0, idx),
            )
