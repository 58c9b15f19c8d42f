"""Fully connected blocks for tables."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genaug.nn.precision import full_precision


class MLP(nn.Module):
    """A stack of ``Linear -> (BatchNorm) -> activation`` layers and a linear output layer.

    Parameters
    ----------
    in_dim : int
        Input width.
    hidden : sequence of int
        Width of each hidden layer.
    out_dim : int
        Output width.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    activation : {"relu", "leaky_relu"}, default="relu"
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.LeakyReLU(0.2) if activation == "leaky_relu" else nn.ReLU())
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_dim)
        self.feature_dim = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return full_precision(self.head, self.body(x))


class ResidualMLP(nn.Module):
    """Generator body of CTGAN's shape: each block concatenates its input to its output.

    ``Linear -> BatchNorm -> ReLU`` blocks whose outputs are concatenated with their inputs, so the
    width grows by each block's size; a linear layer maps the result to ``out_dim``.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        width = in_dim
        for h in hidden:
            self.blocks.append(nn.Sequential(nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()))
            width += h
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = torch.cat([block(x), x], dim=1)
        return full_precision(self.head, x)
