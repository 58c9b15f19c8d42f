"""Weight initialisation from a local ``torch.Generator``.

A module's constructor initialises its weights from torch's global generator. genaug builds
its networks inside :func:`torch.random.fork_rng` (so the global state is restored) and then
draws every weight again here from the synthesizer's own generator, so that the initial
weights depend on the synthesizer's seed alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_RANDOM_INIT = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every parameter of ``module`` from ``generator``, with torch's default scales."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, _RANDOM_INIT):
                w = sub.weight
                # torch's default for these layers: kaiming-uniform with a=sqrt(5)
                on_cpu = torch.empty(w.shape).to(w.dtype)
                nn.init.kaiming_uniform_(on_cpu, a=math.sqrt(5), generator=generator)
                w.copy_(on_cpu)
                if sub.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    b = torch.empty(sub.bias.shape).uniform_(-bound, bound, generator=generator)
                    sub.bias.copy_(b)
            elif isinstance(sub, nn.Embedding):
                sub.weight.copy_(torch.randn(sub.weight.shape, generator=generator))
            elif isinstance(sub, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                sub.reset_parameters()
    return module
