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

The flag belongs to each thread. :func:`flush_denormals` sets it on the calling thread only
for the duration of a ``with`` block and restores what the caller had: genaug changes no global
state a user can see. The intra-op worker threads that share the block's matrix products and
element-wise kernels keep their own flag; with ``workers=True`` (training) the block also
restarts the OpenMP thread pool of the runtime torch uses on entry and on exit (the OpenMP 5.0
``omp_pause_resource_all``), so that its fresh threads inherit the flag and then lose it again.
Measured on Adult: with the calling thread's flag alone, a VAE-GAN's epochs still crept from
0.76 s to 0.99 s over 32 epochs; with the workers' too they stayed at 0.75 s. Where no such
runtime is found (not Linux, or another threading layer), only the calling thread flushes.
The training loop also zeroes the subnormal values of the weights and optimizer moments once
per epoch (:func:`zero_subnormals`), which keeps them from accumulating either way.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch

# 1e-40 is subnormal in float32: it survives the conversion unless subnormals are flushed.
_SUBNORMAL = 1e-40
# omp_pause_hard: the runtime releases its threads; the next parallel region starts new ones.
_OMP_PAUSE_HARD = 2
_OPENMP_RUNTIMES = ("libgomp", "libiomp5", "libomp")


@functools.cache
def _openmp_pause() -> Callable[[int], int] | None:
    """``omp_pause_resource_all`` of the OpenMP runtime that torch ships, or ``None``.

    Only a runtime inside torch's own ``lib`` folder counts: other wheels (scikit-learn's,
    for one) load copies of their own, whose thread pools torch's kernels never use.
    """
    if not sys.platform.startswith("linux"):
        return None
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib") + os.sep
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if torch_lib in line}
    except OSError:
        return None
    for path in sorted(paths):
        if not os.path.basename(path).startswith(_OPENMP_RUNTIMES):
            continue
        try:
            pause = ctypes.CDLL(path).omp_pause_resource_all
        except (OSError, AttributeError):
            continue
        pause.restype, pause.argtypes = ctypes.c_int, [ctypes.c_int]
        return pause
    return None


def _restart_workers() -> bool:
    """Release the OpenMP worker threads, so that new ones copy this thread's flag."""
    pause = _openmp_pause()
    return pause is not None and pause(_OMP_PAUSE_HARD) == 0


def flushing_denormals() -> bool:
    """Whether this thread's CPU arithmetic currently flushes subnormal floats to zero."""
    return float(torch.tensor([_SUBNORMAL], dtype=torch.float32)[0]) == 0.0


@contextmanager
def flush_denormals(enabled: bool = True, workers: bool = False) -> Iterator[None]:
    """Flush subnormal floats to zero inside the block, then restore the caller's flag.

    Parameters
    ----------
    enabled : bool, default=True
        ``False`` makes the block a no-op (for devices other than the CPU, whose arithmetic
        the flag does not reach).
    workers : bool, default=False
        Also give the flag to the OpenMP worker threads, by restarting their pool on entry and
        on exit (see the module docstring). Costs a thread start-up each time: for blocks as
        long as a fit, not for each sampled chunk.

    Notes
    -----
    Where the processor cannot flush subnormals, :func:`torch.set_flush_denormal` returns
    ``False`` and nothing changes.
    """
    if not enabled or flushing_denormals():
        yield
        return
    changed = torch.set_flush_denormal(True)
    restarted = changed and workers and _restart_workers()
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
            if restarted:
                _restart_workers()


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
