"""Where this process stands in a ``torch.distributed`` job (one process when there is none).

Training with ``distributed=True`` runs one process per device under ``torchrun``; only the
main process (rank 0) writes files and shows progress.
"""

from __future__ import annotations

import torch.distributed as dist


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
