"""Losses of the model families; they know about tensors only."""

from genaug.models.gan import (
    condition_cross_entropy,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from genaug.models.vae import (
    elbo_loss,
    kl_gaussians,
    kl_standard_normal,
    reconstruction_nll,
    reparameterize,
)
from genaug.models.vaegan import feature_reconstruction_loss, vaegan_losses

__all__ = [
    "condition_cross_entropy",
    "discriminator_loss",
    "elbo_loss",
    "feature_reconstruction_loss",
    "generator_loss",
    "gradient_penalty",
    "kl_gaussians",
    "kl_standard_normal",
    "reconstruction_nll",
    "reparameterize",
    "vaegan_losses",
]
