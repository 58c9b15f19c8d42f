"""Synthesizers: fit on real data, sample synthetic data."""

from genaug.synthesizers.base import BaseSynthesizer, load
from genaug.synthesizers.gan import GANSynthesizer
from genaug.synthesizers.vae import VAESynthesizer
from genaug.synthesizers.vaegan import VAEGANSynthesizer

__all__ = [
    "BaseSynthesizer",
    "GANSynthesizer",
    "VAEGANSynthesizer",
    "VAESynthesizer",
    "load",
]
