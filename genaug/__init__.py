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
from genaug.synthesizers import BaseSynthesizer, VAESynthesizer, load

__all__ = [
    "BaseSynthesizer",
    "GenaugError",
    "InvalidDataError",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
    "TrainingDivergedError",
    "VAESynthesizer",
    "__version__",
    "load",
]
