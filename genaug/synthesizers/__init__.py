"""Synthesizers: fit on real data, sample synthetic data."""

from genaug.synthesizers.base import BaseSynthesizer, load
from genaug.synthesizers.vae import VAESynthesizer

__all__ = ["BaseSynthesizer", "VAESynthesizer", "load"]
