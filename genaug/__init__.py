"""genaug: grow training sets with synthetic samples from generative models."""

from genaug._version import __version__
from genaug.exceptions import (
    GenaugError,
    InvalidDataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
)
from genaug.sklearn import AugmentedClassifier, SyntheticAugmenter
from genaug.synthesizers import (
    BaseSynthesizer,
    GANSynthesizer,
    VAEGANSynthesizer,
    VAESynthesizer,
    load,
)

__all__ = [
    "AugmentedClassifier",
    "BaseSynthesizer",
    "GANSynthesizer",
    "GenaugError",
    "InvalidDataError",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
    "SyntheticAugmenter",
    "TrainingDivergedError",
    "VAEGANSynthesizer",
    "VAESynthesizer",
    "__version__",
    "load",
]
