"""DCGAN-like convolutional blocks for images (Radford et al., 2016, "Unsupervised
Representation Learning with Deep Convolutional Generative Adversarial Networks").

Images arrive as ``(B, C, S, S)`` tensors in [-1, 1] (see :class:`genaug.data.ImageCodec`).
Every network halves (or doubles) the side with 4x4 stride-2 convolutions until it reaches
4 pixels, or an odd side, or four stages (:func:`conv_plan`); the channel width doubles at
each stage down to ``width`` at the deepest one.

Labels condition a network by concatenation (Mirza & Osindero, 2014): :func:`join_inputs`
appends a one-hot label to a vector input as extra columns and to an image input as extra
constant channels, one plane per class, so the first convolution sees the class at every
pixel. The networks do not know about labels: their input width includes them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genaug.nn.critic import dropout

__all__ = [
    "ConvCritic",
    "ConvDecoder",
    "ConvEncoder",
    "conv_plan",
    "join_inputs",
    "stage_widths",
]

MAX_STAGES = 4
MIN_SIDE = 4


def join_inputs(*parts: torch.Tensor | None) -> torch.Tensor:
    """Concatenate network inputs along dimension 1, skipping ``None`` (absent labels).

    With vectors only, ``(B, a), (B, b) -> (B, a + b)``. When the first part is an image batch
    ``(B, C, H, W)``, each later vector ``(B, k)`` becomes ``k`` constant planes:
    ``-> (B, C + k, H, W)``.
    """
    present = [p for p in parts if p is not None]
    first = present[0]
    if len(present) == 1:
        # Unlabelled tables: no copy, and no concatenation for autograd to undo.
        return first
    if first.dim() > 2:
        spatial = first.shape[2:]
        present = [first] + [
            p.reshape(*p.shape, *([1] * len(spatial))).expand(-1, -1, *spatial)
            if p.dim() == 2
            else p
            for p in present[1:]
        ]
    return torch.cat(present, dim=1)


def conv_plan(size: int) -> tuple[int, int]:
    """Number of stride-2 stages for a ``size x size`` image, and the side they reach.

    Examples: 8 -> (1, 4); 32 -> (3, 4); 64 -> (4, 4); 128 -> (4, 8); 24 -> (2, 6).
    """
    stages, side = 0, int(size)
    while stages < MAX_STAGES and side % 2 == 0 and side // 2 >= MIN_SIDE:
        side //= 2
        stages += 1
    return stages, side


def stage_widths(width: int, stages: int) -> list[int]:
    """Channels of each stage, shallow to deep: ``width`` at the deepest, halving upwards."""
    return [max(8, int(width) >> (stages - 1 - i)) for i in range(stages)]


class _DownStack(nn.Module):
    """``Conv(4, stride 2) -> (BatchNorm) -> LeakyReLU(0.2)`` per stage: (B, C, S, S) ->
    (B, widths[-1], s, s). The first stage has no normalisation, as in DCGAN."""

    def __init__(self, in_channels: int, widths: list[int], batch_norm: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        channels = in_channels
        for i, w in enumerate(widths):
            self.convs.append(nn.Conv2d(channels, w, 4, stride=2, padding=1, bias=not batch_norm))
            use_norm = batch_norm and i > 0
            self.norms.append(nn.BatchNorm2d(w) if use_norm else nn.Identity())
            channels = w

    def forward(
        self, x: torch.Tensor, p: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = dropout(F.leaky_relu(norm(conv(x)), 0.2), p, self.training, generator)
        return x


class ConvEncoder(nn.Module):
    """Image to vector: ``(B, in_channels, S, S) -> (B, out_dim)``.

    The VAE's encoder (``out_dim = 2 * latent_dim``: means and log-variances) and the GAN's
    auxiliary classifier (``out_dim = n_classes``).

    Parameters
    ----------
    in_channels : int
        Image channels plus label planes.
    size : int
        Side ``S`` of the square input.
    out_dim : int
        Output width.
    width : int, default=128
        Channels of the deepest stage.
    batch_norm : bool, default=True
        Batch normalisation after every convolution but the first.
    """

    def __init__(
        self, in_channels: int, size: int, out_dim: int, width: int = 128, batch_norm: bool = True
    ) -> None:
        super().__init__()
        stages, side = conv_plan(size)
        widths = stage_widths(width, stages)
        self.body = _DownStack(in_channels, widths, batch_norm)
        self.feature_dim = widths[-1] * side * side
        self.head = nn.Linear(self.feature_dim, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened activations of the deepest stage: (B, feature_dim)."""
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Vector to image: ``(B, in_dim) -> (B, out_channels, S, S)``.

    ``Linear -> BatchNorm -> ReLU`` to a ``(width, s, s)`` map, then per stage
    ``ConvTranspose(4, stride 2) -> BatchNorm -> ReLU`` halving the channels, and a 3x3
    convolution to the image channels. The generator of the GAN and the decoder of the VAE
    and the VAE-GAN.

    Parameters
    ----------
    in_dim : int
        Latent width plus label width.
    out_channels : int
        Image channels.
    size : int
        Side ``S`` of the square output.
    width : int, default=128
        Channels of the deepest (first) stage.
    bounded : bool, default=True
        End with ``tanh`` so that outputs lie in (-1, 1) like the encoded images; ``False``
        leaves them unbounded (a Gaussian mean that can sit exactly on -1 or 1).
    """

    def __init__(
        self, in_dim: int, out_channels: int, size: int, width: int = 128, bounded: bool = True
    ) -> None:
        super().__init__()
        stages, side = conv_plan(size)
        # Deep to shallow, plus the width of the last upsampled map.
        down = stage_widths(width, stages)
        widths = [*down[::-1], max(8, down[0] // 2)]
        self.side = side
        self.bounded = bool(bounded)
        self.project = nn.Linear(in_dim, widths[0] * side * side, bias=False)
        self.project_norm = nn.BatchNorm1d(widths[0] * side * side)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=False)
            for i in range(stages)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(widths[i + 1]) for i in range(stages))
        self.out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.project_norm(self.project(z)))
        h = h.reshape(z.shape[0], -1, self.side, self.side)  # (B, width, s, s)
        for up, norm in zip(self.ups, self.norms):
            h = F.relu(norm(up(h)))  # side doubles, channels halve
        h = self.out(h)  # (B, out_channels, S, S)
        return torch.tanh(h) if self.bounded else h


class ConvCritic(nn.Module):
    """A DCGAN discriminator that scores packs of ``pac`` images: one real number per pack.

    Convolutions with LeakyReLU(0.2) and no batch normalisation (which the WGAN-GP penalty
    forbids, as it makes each score depend on the rest of the batch), optional dropout drawn
    from a local generator, and a linear head on the flattened deepest map. With PacGAN packing
    the ``pac`` images of a pack are stacked as channels. ``features`` gives the flattened
    deepest map: the space of the VAE-GAN's reconstruction loss.

    Parameters
    ----------
    in_channels : int
        Image channels plus label planes.
    size : int
        Side ``S`` of the square input.
    width : int, default=128
        Channels of the deepest stage.
    pac : int, default=1
        Images per pack; the batch size must be a multiple of it.
    dropout : float, default=0.0
        Dropout rate after each stage (training mode only, mask from a local generator).
    """

    def __init__(
        self,
        in_channels: int,
        size: int,
        width: int = 128,
        pac: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pac = int(pac)
        self.dropout = float(dropout)
        stages, side = conv_plan(size)
        widths = stage_widths(width, stages)
        self.body = _DownStack(in_channels * self.pac, widths, batch_norm=False)
        self.feature_dim = widths[-1] * side * side
        self.head = nn.Linear(self.feature_dim, 1)

    def features(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, C, S, S) -> (B / pac, feature_dim)."""
        h = x.reshape(-1, self.pac * x.shape[1], *x.shape[2:])
        return self.body(h, self.dropout, generator).flatten(1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scores: (B, C, S, S) -> (B / pac,)."""
        return self.head(self.features(x, generator)).squeeze(1)
