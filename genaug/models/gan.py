"""Adversarial objectives for tables.

Two objectives are offered, chosen with ``adversarial_loss``:

``"wgan-gp"``
    The Wasserstein GAN with gradient penalty (Gulrajani et al., 2017, "Improved Training of
    Wasserstein GANs"). The critic ``D`` maximises ``E[D(real)] - E[D(fake)]`` under a soft
    1-Lipschitz constraint: the penalty ``lambda * E[(||grad D(x_hat)|| - 1)^2]`` at points
    ``x_hat`` drawn on segments between real and fake rows. The generator minimises
    ``-E[D(fake)]``.
``"standard"``
    The non-saturating GAN of Goodfellow et al. (2014): the discriminator is a logistic
    classifier of real against fake (``softplus(-D(real)) + softplus(D(fake))``), the generator
    minimises ``softplus(-D(fake))``.

``benchmarks/tabular_models.py`` and the synthesizers' docstrings record which one is the
default and why. Conditional generators also get :func:`condition_cross_entropy`, the term
of Xu et al. (2019, "Modeling Tabular Data using Conditional GAN") that makes the generator
produce the category it is conditioned on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genaug.models.critic_penalty import CriticPenalty
from genaug.nn.critic import Critic
from genaug.nn.precision import autocast_dtype
from genaug.nn.spans import SpanLayout

ADVERSARIAL_LOSSES = ("wgan-gp", "standard")


def discriminator_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, objective: str = "wgan-gp"
) -> torch.Tensor:
    """Loss the discriminator minimises, from its scores of real and fake rows (or packs).

    Parameters
    ----------
    real_scores, fake_scores : Tensor (B,)
        Raw (unbounded) scores.
    objective : {"wgan-gp", "standard"}
        See the module docstring; the gradient penalty is added separately.
    """
    if objective == "wgan-gp":
        return fake_scores.mean() - real_scores.mean()
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def generator_loss(fake_scores: torch.Tensor, objective: str = "wgan-gp") -> torch.Tensor:
    """Loss the generator minimises, from the discriminator's scores of its rows."""
    if objective == "wgan-gp":
        return -fake_scores.mean()
    return F.softplus(-fake_scores).mean()


def gradient_penalty(
    critic: Critic | Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator,
    pac: int = 1,
) -> torch.Tensor:
    """``E[(||grad critic(x_hat)|| - 1)^2]`` on random points between real and fake packs.

    Parameters
    ----------
    critic : Critic or callable
        A :class:`~genaug.nn.critic.Critic`, run with ``generator`` for its dropout masks, or
        any callable mapping rows (B, d) to one score per pack (B / pac,). A ``Critic`` on
        inputs that need no gradient, outside autocast, goes through the closed form of
        :class:`~genaug.models.critic_penalty.CriticPenalty`: the same values and gradients
        as autograd's double backward, in about two thirds of its time.
    real, fake : Tensor (B, d) or (B, C, H, W)
        Critic inputs; ``fake`` should be detached from the generator.
    generator : torch.Generator
        Source of the interpolation weights (one per pack) and of the critic's dropout masks.
    pac : int, default=1
        Rows per pack: the penalty is on the gradient with respect to a whole pack.
    """
    b = real.shape[0]
    alpha = torch.rand((b // pac,), generator=generator, device=real.device, dtype=real.dtype)
    # One weight per pack, broadcast over the pack's rows and each row's values.
    alpha = alpha.repeat_interleave(pac).reshape(b, *([1] * (real.dim() - 1)))
    x_hat = alpha * real + (1.0 - alpha) * fake
    if isinstance(critic, Critic):
        if (
            critic.pac == pac
            and real.dim() == 2
            and not (real.requires_grad or fake.requires_grad)
            and autocast_dtype(real.device.type) is None
        ):
            layers = [t for layer in critic.layers for t in (layer.weight, layer.bias)]
            return CriticPenalty.apply(
                x_hat.reshape(b // pac, -1),
                generator,
                critic.dropout,
                critic.training,
                critic.head.weight,
                critic.head.bias,
                *layers,
            )
        score = functools.partial(critic, generator=generator)
    else:
        score = critic
    x_hat.requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x_hat).sum(), x_hat, create_graph=True)
    norms = grad.reshape(b // pac, -1).norm(2, dim=1)
    return (norms - 1.0).pow(2).mean()


def condition_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, layout: SpanLayout
) -> torch.Tensor:
    """Mean over rows of the cross-entropy between the generator's logits and its condition.

    Parameters
    ----------
    logits : Tensor (B, dim)
        Generator output before the categorical activations.
    target : Tensor (B, dim)
        One-hot at the conditioned category of each row, zero elsewhere: only the conditioned
        span of each row contributes.
    layout : SpanLayout
    """
    return layout.cross_entropy(logits, target).mean()
