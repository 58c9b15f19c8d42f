"""Losses of the model families; they know about tensors only."""

from genaug.models.vae import elbo_loss, kl_standard_normal, reconstruction_nll, reparameterize

__all__ = ["elbo_loss", "kl_standard_normal", "reconstruction_nll", "reparameterize"]
