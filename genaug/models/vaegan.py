"""The VAE-GAN objective (Larsen et al., 2016, "Autoencoding beyond pixels using a learned
similarity metric").

An encoder ``q(z | x, c)``, a decoder ``Dec`` that doubles as the GAN's generator, and a
discriminator ``Dis``. The element-wise reconstruction loss of a VAE is replaced by a
Gaussian likelihood in the feature space of a hidden layer ``l`` of the discriminator::

    L_like = 0.5 * || Dis_l(x) - Dis_l(Dec(z)) ||^2,   z ~ q(z | x, c)

so the decoder is asked to reproduce what the discriminator finds salient rather than each
value. For tables, the categorical spans keep their cross-entropy ``L_cat`` (it keeps labels
and categories valid and is cheap), so the reconstruction term is ``L_rec = L_like + L_cat``.
With ``L_prior = KL(q(z | x, c) || N(0, I))`` and ``L_adv`` the generator's adversarial loss
on reconstructions and on decodings of prior draws ``z_p ~ N(0, I)``, the three networks
minimise (Larsen et al., Algorithm 1)::

    encoder:        beta * L_prior + L_rec
    decoder:        gamma * L_rec + L_adv
    discriminator:  its loss on real rows against reconstructions and prior samples

``gamma`` (``reconstruction_weight``) trades reconstruction against realism. The
discriminator never sees ``L_like``: its features are the metric, not a target it chases.
"""

from __future__ import annotations

import torch

from genaug.models.gan import generator_loss
from genaug.models.vae import kl_standard_normal
from genaug.nn.spans import SpanLayout


def feature_reconstruction_loss(
    real_features: torch.Tensor, recon_features: torch.Tensor
) -> torch.Tensor:
    """Mean over rows of ``0.5 * ||real_features - recon_features||^2``.

    The negative log-likelihood, up to a constant, of the real row's discriminator features
    under a Gaussian with identity covariance centred on the reconstruction's features.
    ``real_features`` should be detached: they are the target.
    """
    return 0.5 * (recon_features - real_features).pow(2).sum(dim=1).mean()


def vaegan_losses(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    recon_logits: torch.Tensor,
    x: torch.Tensor,
    real_features: torch.Tensor,
    recon_features: torch.Tensor,
    fake_scores: torch.Tensor,
    layout: SpanLayout | None,
    *,
    beta: float = 1.0,
    reconstruction_weight: float = 1.0,
    objective: str = "standard",
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The encoder's and decoder's losses and their parts.

    Parameters
    ----------
    mu, logvar : Tensor (B, latent)
        The encoder's Gaussian.
    recon_logits : Tensor (B, dim)
        Decoder output for ``z ~ q(z | x, c)``, before the categorical activations.
    x : Tensor (B, dim)
        The encoded real rows.
    real_features, recon_features : Tensor (B, features)
        ``Dis_l`` of the real rows (detached) and of their reconstructions.
    fake_scores : Tensor
        The discriminator's scores of reconstructions and prior samples.
    layout : SpanLayout or None
        ``None`` for images: the reconstruction term is the feature loss alone, as in
        Larsen et al.
    beta : float
        Weight of the KL term in the encoder's loss.
    reconstruction_weight : float
        ``gamma``: weight of the reconstruction term in the decoder's loss.
    objective : {"wgan-gp", "standard"}
        The adversarial objective (see :mod:`genaug.models.gan`).

    Returns
    -------
    encoder_loss, decoder_loss : Tensor (scalar)
    parts : dict of detached means: "kl", "feature", "categorical" (tables only), "adversarial"
    """
    kl = kl_standard_normal(mu, logvar).mean()
    feature = feature_reconstruction_loss(real_features, recon_features)
    if layout is None:
        categorical = feature.new_zeros(())
    else:
        categorical = layout.cross_entropy(recon_logits, x).mean()
    reconstruction = feature + categorical
    adversarial = generator_loss(fake_scores, objective)
    encoder_loss = beta * kl + reconstruction
    decoder_loss = reconstruction_weight * reconstruction + adversarial
    parts = {
        "kl": kl.detach(),
        "feature": feature.detach(),
        "categorical": categorical.detach(),
        "adversarial": adversarial.detach(),
    }
    if layout is None:
        del parts["categorical"]  # images have no categorical part
    return encoder_loss, decoder_loss, parts
