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
from genaug.synthesizers import (
    BaseSynthesizer,
    GANSynthesizer,
    VAEGANSynthesizer,
    VAESynthesizer,
    load,
)

# The scikit-learn / imbalanced-learn integration is imported on first use: imbalanced-learn
# alone adds about 30 MB of resident memory (measured: 884 -> 914 MB on top of torch,
# scikit-learn and pandas), which a user who only fits and samples should not pay.
_LAZY = ("AugmentedClassifier", "SyntheticAugmenter")


def __getattr__(name: str):
    if name in _LAZY:
        from genaug import sklearn as integration

        value = getattr(integration, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genaug' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
