"""Discriminators (critics) for adversarial training on tables."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def dropout(
    x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Inverted dropout whose mask is drawn from ``generator``.

    ``nn.Dropout`` and ``F.dropout`` draw from torch's global generator, which genaug never
    touches; this draws the same Bernoulli mask from the caller's generator instead.
    """
    if not training or p == 0.0:
        return x
    if generator is None:
        raise ValueError("dropout in training mode needs a torch.Generator for its mask.")
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


class Critic(nn.Module):
    """An MLP that scores packs of ``pac`` rows: one real number per pack.

    Hidden layers are ``Linear -> LeakyReLU(0.2) -> dropout``. With PacGAN packing (Lin et
    al., 2018, "PacGAN: The power of two samples in generative adversarial networks") the
    critic sees ``pac`` rows side by side, so a generator that collapses onto a few modes makes
    packs of look-alike rows that are easy to tell from real packs.

    Parameters
    ----------
    in_dim : int
        Width of one row.
    hidden : sequence of int
        Width of each hidden layer.
    pac : int, default=1
        Rows per pack; the batch size must be a multiple of it.
    dropout : float, default=0.0
        Dropout rate after each hidden layer (training mode only, mask from a local generator).
    """

    def __init__(
        self, in_dim: int, hidden: Sequence[int], pac: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.pac = int(pac)
        self.dropout = float(dropout)
        self.layers = nn.ModuleList()
        width = in_dim * self.pac
        for h in hidden:
            self.layers.append(nn.Linear(width, h))
            width = h
        self.head = nn.Linear(width, 1)
        self.feature_dim = width

    def features(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Activations of the last hidden layer: (B, in_dim) -> (B / pac, hidden[-1])."""
        h = x.reshape(-1, self.pac * x.shape[1])
        for layer in self.layers:
            h = dropout(F.leaky_relu(layer(h), 0.2), self.dropout, self.training, generator)
        return h

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scores: (B, in_dim) -> (B / pac,)."""
        return self.head(self.features(x, generator)).squeeze(1)
