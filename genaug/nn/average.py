"""An exponential moving average of a network's weights, for sampling.

A GAN's generator keeps moving after it has learned the data: each step answers the critic's
latest update, and the samples of the last step can be a poorer model than the weights of
the last few hundred steps averaged (Yazici et al., 2019, "The Unusual Effectiveness of
Averaging in GAN Training"). :class:`WeightAverage` keeps that average next to the trained
network; sampling runs through it.
"""

from __future__ import annotations

import copy
import functools

import torch
from torch import nn

# The warm-up of the decay: (1 + t) / (WARMUP + t) after t updates, so that a short fit is
# not an average dominated by its first, untrained weights.
WARMUP = 10.0


class WeightAverage(nn.Module):
    """A copy of ``network`` whose weights follow an exponential moving average of its weights.

    After ``t`` updates the decay is ``min(decay, (1 + t) / (10 + t))``; the first update copies
    the weights. Buffers (batch-norm running statistics) are copied from the network at each
    update rather than averaged: they describe the activations of its current weights.

    Parameters
    ----------
    network : nn.Module
        The trained network; only its architecture is copied here.
    decay : float
        In (0, 1): the weight of the old average at each update.
    """

    def __init__(self, network: nn.Module, decay: float) -> None:
        super().__init__()
        self.network = copy.deepcopy(network)
        self.network.requires_grad_(False)
        self.decay = float(decay)
        # A tensor, not a Python int: the update reads no value back from a GPU.
        self.register_buffer("updates", torch.zeros((), dtype=torch.float32))

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average towards ``source``'s weights (same architecture) by one step."""
        t = self.updates
        decay = torch.clamp((1.0 + t) / (WARMUP + t), max=self.decay)
        weight = torch.where(t == 0, torch.ones_like(t), 1.0 - decay)
        averaged, trained = list(self.network.parameters()), list(source.parameters())
        if len(averaged) != len(trained):
            raise ValueError("WeightAverage.update: source has another architecture.")
        if _foreach_lerp_takes_tensor() and len({p.dtype for p in averaged}) <= 1:
            # One call over all tensors instead of one lerp_ per tensor: a default GAN
            # generator's update took half the time (2-core dev box); same values.
            torch._foreach_lerp_(averaged, trained, weight.to(averaged[0].dtype))
        else:
            for avg, new in zip(averaged, trained):
                avg.lerp_(new.detach(), weight.to(avg.dtype))
        for avg, new in zip(self.network.buffers(), source.buffers(), strict=True):
            avg.copy_(new)
        self.updates += 1.0

    def forward(self, *args, **kwargs):
        return self.network(*args, **kwargs)


@functools.cache
def _foreach_lerp_takes_tensor() -> bool:
    """Whether this torch's ``_foreach_lerp_`` accepts a 0-d tensor weight (no host sync)."""
    try:
        torch._foreach_lerp_([torch.zeros(1)], [torch.ones(1)], torch.tensor(0.5))
    except (TypeError, RuntimeError):
        return False
    return True
