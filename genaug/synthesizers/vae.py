"""The variational autoencoder synthesizer."""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from genaug._validation import Interval, Satisfies, is_int_tuple
from genaug.models.vae import elbo_loss, reparameterize, split_gaussian
from genaug.models.vae_step import TableVAE, relu_layers, train_step
from genaug.nn.conv import ConvDecoder, ConvEncoder, join_inputs
from genaug.nn.mlp import MLP
from genaug.nn.optim import adam
from genaug.nn.precision import autocast_dtype, exact_float32_products
from genaug.nn.spans import take_columns
from genaug.synthesizers._mixins import LatentEncoderMixin
from genaug.synthesizers.base import BaseSynthesizer

_LOG_SIGMA_MIN, _LOG_SIGMA_MAX = math.log(0.01), math.log(1.0)
# Each fit's optimizer -> the networks of its manual training step, or None (autograd).
_MANUAL_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _GaussianDecoder(nn.Module):
    """Decoder network plus the learned log-scale of each continuous column."""

    def __init__(self, in_dim: int, hidden: tuple, data_dim: int, n_continuous: int) -> None:
        super().__init__()
        self.net = MLP(in_dim, hidden, data_dim)
        self.log_sigma = nn.Parameter(torch.full((n_continuous,), math.log(0.1)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _ConvGaussianDecoder(nn.Module):
    """Convolutional decoder of image means plus the learned log-scale of each channel."""

    def __init__(self, in_dim: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        # Unbounded means: a Gaussian mean can sit exactly on a saturated pixel (-1 or 1).
        self.net = ConvDecoder(in_dim, channels, size, width, bounded=False)
        self.log_sigma = nn.Parameter(torch.full((channels,), math.log(0.1)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _ConditionalPrior(nn.Module):
    """A learned Gaussian ``p(z | c)`` per class: mean and log-variance from the one-hot label."""

    def __init__(self, cond_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.table = nn.Linear(cond_dim, 2 * latent_dim, bias=False)

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = split_gaussian(self.table(c))
        return mu, logvar

    def draw(self, c: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """``mu_c + exp(logvar_c / 2) * eps`` for one-hot labels ``c`` (sampling).

        Each row's class mean and scale are looked up, where ``forward`` multiplies the
        labels by the whole table and splits and copies its output. Where float32 products
        are exact (:func:`~genaug.nn.precision.exact_float32_products`) and the table is
        finite, the lookup is the product of the one-hot rows with the means and with the
        scales: exact (one term of one, the others zero) and faster than indexing rows of
        the transposed table (180 against 250 us per 2,048-row pass of a fitted Adult VAE,
        one process, 2-core dev box). Elsewhere the rows are gathered.
        """
        with torch.autocast(c.device.type, enabled=False):
            mu, logvar = self.table.weight.t().chunk(2, dim=1)
            scale = torch.exp(0.5 * logvar)
            c = c.to(mu.dtype)
            if exact_float32_products(c.device):
                # A non-finite entry of another class would reach every row (0 * inf).
                if bool(torch.isfinite(mu).all() & torch.isfinite(scale).all()):
                    return torch.addcmul(c @ mu, c @ scale, eps)
            labels = c.argmax(1)
            mean = nn.functional.embedding(labels, mu.contiguous())
            return torch.addcmul(mean, nn.functional.embedding(labels, scale.contiguous()), eps)


def _cat(a: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    return join_inputs(a, c)


class VAESynthesizer(LatentEncoderMixin, BaseSynthesizer):
    """Tabular synthesizer trained as a (conditional) variational autoencoder.

    The encoder maps a row and its label to a Gaussian over latent codes; the decoder maps a
    code and a label back to a distribution over rows (a Gaussian per continuous value, a
    categorical per one-hot span). Training maximises the ELBO (see :mod:`genaug.models.vae`).
    With labels, the prior is learned per class, ``p(z | c) = N(mu_c, diag(sigma_c^2))`` (the
    conditional VAE of Sohn et al., 2015, with a prior network): under a fixed ``N(0, I)``
    prior the class leaks into ``z``, the decoder learns to ignore the label, and
    class-conditional samples come out class-agnostic. Sampling draws ``z`` from the (class)
    prior and then a row from the decoder's distribution, so the categorical draws and the
    continuous noise give the sample its variety. (Drawing ``z`` instead from Gaussian
    mixtures fitted to the training codes after training, as in Ghosh et al., 2020, was
    measured and dropped: on the quick benchmark it lowered Adult's PR-AUC from 0.39 to 0.29.)

    On images (see :meth:`fit`) the encoder and decoder are DCGAN-like convolutional networks
    (:mod:`genaug.nn.conv`; the label enters as one-hot planes and columns), the decoder is a
    Gaussian per pixel with a learned scale per channel, and samples are the decoder's means.

    Parameters
    ----------
    epochs : int, default=100
        Passes over the training data.
    batch_size : int, default=500
        Rows per gradient step; tables of fewer than ``10 * batch_size`` rows use
        ``ceil(n_rows / 10)`` so that every epoch has at least 10 steps.
    learning_rate : float, default=1e-3
        Adam's step size.
    weight_decay : float, default=1e-5
        Adam's L2 penalty.
    latent_dim : int, default=128
        Width of the latent code. A narrower code is cheaper (32 ran an Adult epoch in three
        quarters of the time at the same quality after 60 epochs,
        ``benchmarks/results/ablation_vae_latent.md``), but on small tables it learns the
        class-conditional prior more slowly: on 600 rows after 600 steps, the rare class's
        samples came out with a mean of 1.9-2.4 for a true 3.0 against 2.8-2.9 with 128.
    encoder_hidden, decoder_hidden : tuple of int, default=(128, 128)
        Hidden layer widths of the encoder and decoder. On images, the largest value is the
        channel count of the deepest convolutional stage (each shallower stage has half).
    beta : float, default=1.0
        Weight of the KL term (1 is the ELBO proper).
    {{common_parameters}}
    Attributes
    ----------
    encoder_, decoder_ : torch.nn.Module
        The trained networks.
    prior_ : torch.nn.Module
        The learned class-conditional prior (only when fitted with labels).
    See :class:`~genaug.synthesizers.base.BaseSynthesizer` for the attributes every
    synthesizer has (``codec_``, ``classes_``, ``history_``...).

    Examples
    --------
    >>> from genaug import VAESynthesizer
    >>> from genaug.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> syn = VAESynthesizer(epochs=5, random_state=0).fit(X[:2000], y[:2000])
    >>> X_new, y_new = syn.sample(10, y=">50K")
    >>> y_new.unique().tolist()
    ['>50K']
    """

    _compact_rows = True

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "weight_decay": [Interval(float, 0, None)],
        "latent_dim": [Interval(int, 1, None)],
        "encoder_hidden": [Satisfies(is_int_tuple, "a tuple of positive ints")],
        "decoder_hidden": [Satisfies(is_int_tuple, "a tuple of positive ints")],
        "beta": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        epochs: int = 100,
        batch_size: int = 500,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        latent_dim: int = 128,
        encoder_hidden: tuple = (128, 128),
        decoder_hidden: tuple = (128, 128),
        beta: float = 1.0,
        discrete_columns: list | None = None,
        continuous_encoding: str = "quantile",
        image_size: int | None = None,
        random_state: Any = None,
        device: str = "auto",
        verbose: bool = False,
        distributed: bool = False,
        precision: str = "float32",
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.latent_dim = latent_dim
        self.encoder_hidden = encoder_hidden
        self.decoder_hidden = decoder_hidden
        self.beta = beta
        self.discrete_columns = discrete_columns
        self.continuous_encoding = continuous_encoding
        self.image_size = image_size
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.distributed = distributed
        self.precision = precision

    def _make_networks(self) -> dict[str, nn.Module]:
        image = self._image_shape()
        if image is not None:
            channels, size, _ = image
            networks: dict[str, nn.Module] = {
                "encoder_": ConvEncoder(
                    channels + self.cond_dim_, size, 2 * self.latent_dim, max(self.encoder_hidden)
                ),
                "decoder_": _ConvGaussianDecoder(
                    self.latent_dim + self.cond_dim_, channels, size, max(self.decoder_hidden)
                ),
            }
            if self.cond_dim_:
                networks["prior_"] = _ConditionalPrior(self.cond_dim_, self.latent_dim)
            return networks
        n_cont = int(self.layout_.continuous_index.numel())
        networks = {
            "encoder_": MLP(
                self.data_dim_ + self.cond_dim_, tuple(self.encoder_hidden), 2 * self.latent_dim
            ),
            "decoder_": _GaussianDecoder(
                self.latent_dim + self.cond_dim_, tuple(self.decoder_hidden), self.data_dim_, n_cont
            ),
        }
        if self.cond_dim_:
            networks["prior_"] = _ConditionalPrior(self.cond_dim_, self.latent_dim)
        return networks

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        params = [p for m in self._modules().values() for p in m.parameters()]
        return {
            "vae": adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        }

    def _encode_stats(self, x: torch.Tensor, c: torch.Tensor | None):
        return split_gaussian(self.encoder_(_cat(x, c)))

    def _manual_vae(self, optimizer: torch.optim.Optimizer) -> TableVAE | None:
        """The networks for :func:`genaug.models.vae_step.train_step`, or None where it does
        not apply: images, distributed training (its gradients are averaged by autograd
        hooks), autocast, networks of another shape, hooks, frozen parameters, or an
        optimizer over other parameters (see :meth:`TableVAE.trains`)."""
        if (
            self.layout_ is None
            or getattr(self, "_ddp", None)
            or autocast_dtype(self.device_.type) is not None
            or type(self.decoder_) is not _GaussianDecoder
        ):
            return None
        encoder, decoder = relu_layers(self.encoder_), relu_layers(self.decoder_.net)
        if encoder is None or decoder is None:
            return None
        prior = None
        if "prior_" in self._module_names:
            if type(self.prior_) is not _ConditionalPrior:
                return None
            prior = self.prior_.table
        vae = TableVAE(encoder, decoder, self.decoder_.log_sigma, prior, self.latent_dim)
        if not vae.trains(list(self._modules().values()), optimizer):
            return None
        return vae

    def _train_step(self, x, c, optimizers, generator) -> dict[str, torch.Tensor]:
        opt = optimizers["vae"]
        # Decided once per optimizer, that is once per fit (its checks took 65 us, 1.7 % of
        # an Adult step): nothing they look at changes between the steps of a fit.
        if opt in _MANUAL_PLANS:
            vae = _MANUAL_PLANS[opt]
        else:
            vae = _MANUAL_PLANS[opt] = self._manual_vae(opt)
        if vae is not None:
            losses = train_step(vae, opt, x, c, self.layout_, self.beta, generator)
            with torch.no_grad():
                self.decoder_.log_sigma.clamp_(_LOG_SIGMA_MIN, _LOG_SIGMA_MAX)
            return losses
        # Forwards go through _synced: under distributed training, the backward below then
        # averages the gradients of all three networks over the ranks.
        mu, logvar = split_gaussian(self._synced("encoder_")(_cat(x, c)))
        z = reparameterize(mu, logvar, generator)
        recon = self._synced("decoder_")(_cat(z, c))
        prior = None if c is None else self._synced("prior_")(c)
        loss, parts = elbo_loss(
            recon, x, mu, logvar, self.decoder_.log_sigma, self.layout_, self.beta, prior
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            self.decoder_.log_sigma.clamp_(_LOG_SIGMA_MIN, _LOG_SIGMA_MAX)
        return {"loss": loss.detach(), **parts}

    def _generate(
        self,
        n: int,
        c: torch.Tensor | None,
        generator: torch.Generator,
        conditions: Mapping[str, Any] | None = None,
        compact: bool = False,
    ) -> torch.Tensor:
        z = torch.randn((n, self.latent_dim), generator=generator, device=self.device_)
        if c is not None:
            z = self.prior_.draw(c, z)
        recon = self.decoder_(_cat(z, c))
        layout = self.layout_
        if layout is None:
            # Images: the decoder's mean. Pixel noise of the learned scale would only add grain.
            return recon.clamp(-1.0, 1.0)
        if compact:
            out = layout.sample_compact(recon, generator)
        else:
            out = layout.sample_one_hot(recon, generator)
        idx = layout.continuous_index
        if idx.numel():
            sigma = self.decoder_.log_sigma.exp()
            noise = torch.randn((n, idx.numel()), generator=generator, device=self.device_)
            values = take_columns(recon, idx) + sigma * noise
            if compact:
                out[:, layout.n_categorical :] = values
            else:
                out.scatter_(1, idx.expand(n, -1), values)
        return out
