"""Subnormal floats flushed to zero while genaug trains or samples on a CPU.

A long fit leaves some float32 values subnormal (below 1.2e-38): weights of inputs that are
always zero, which Adam's weight decay shrinks geometrically once their gradient vanishes,
their optimizer moments, and the exponentials of a categorical span's least likely
categories. x86 CPUs handle arithmetic on subnormals through slow microcode, so a matrix
product that touches a few hundred of them slows the whole step: on Adult, a VAE's epoch
went from 0.34 s to 0.6 s after about 30 epochs (``python benchmarks/denormals.py``).
Flushing them to zero (the FTZ and DAZ bits of the SSE control register, through
:func:`torch.set_flush_denormal`) keeps every epoch at the speed of the first. Values that
small carry nothing a float32 network or its samples could use.

The flag belongs to the calling thread, so :func:`flush_denormals` sets it only for the
duration of a ``with`` block and restores what the caller had: genaug changes no global
state a user can see. The intra-op worker threads that share a matrix product with the
calling thread keep their own flag, so the training loop also zeroes the subnormal values of
the weights and optimizer moments once per epoch (:func:`zero_subnormals`): with both, the
VAE's epochs stayed at 0.33 s for 60 epochs; with the flag alone they crept up to 0.41 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

# 1e-40 is subnormal in float32: it survives the conversion unless subnormals are flushed.
_SUBNORMAL = 1e-40


def flushing_denormals() -> bool:
    """Whether this thread's CPU arithmetic currently flushes subnormal floats to zero."""
    return float(torch.tensor([_SUBNORMAL], dtype=torch.float32)[0]) == 0.0


@contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormal floats to zero on this thread inside the block, then restore the flag.

    Parameters
    ----------
    enabled : bool, default=True
        ``False`` makes the block a no-op (for devices other than the CPU, whose arithmetic
        the flag does not reach).

    Notes
    -----
    Where the processor cannot flush subnormals, :func:`torch.set_flush_denormal` returns
    ``False`` and nothing changes.
    """
    if not enabled or flushing_denormals():
        yield
        return
    changed = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


def zero_subnormals(
    modules: Iterable[torch.nn.Module], optimizers: Iterable[torch.optim.Optimizer]
) -> None:
    """Set to zero, in place, the subnormal values of parameters and optimizer state.

    Parameters
    ----------
    modules : iterable of Module
        Their parameters are cleaned.
    optimizers : iterable of Optimizer
        Their per-parameter state tensors (Adam's moments) are cleaned.
    """
    tensors = [p for m in modules for p in m.parameters()]
    tensors += [
        v
        for opt in optimizers
        for state in opt.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim()
    ]
    with torch.no_grad():
        for t in tensors:
            t.masked_fill_(t.abs() < torch.finfo(t.dtype).tiny, 0.0)
