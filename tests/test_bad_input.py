"""The bad-input catalogue: every public entry point x every kind of bad input.

Each case asserts the genaug exception type and that the message names the culprit (the
column, the argument or the value). Inputs that are legitimate under a stated policy are
tested for that policy instead (see ``test_policy_*``):

* a constant column is kept and reproduced exactly (it becomes a single point mass or a single
  category);
* a column whose values are all missing is refused (it carries nothing to learn; drop it);
* missing values elsewhere are modelled, and an object column mixing ints and floats is a
  numeric-valued category column, while one mixing numbers and strings is refused;
* a categorical column with more than ``TabularCodec.max_categories`` (1000) distinct values is
  refused before any per-category structure is built, so a 100,000-value identifier column
  fails fast in bounded memory.

Kept small: tiny networks, one epoch, errors that come before any training.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import functools
import shutil
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import genaug
from genaug import (
    AugmentedClassifier,
    GANSynthesizer,
    SyntheticAugmenter,
    VAESynthesizer,
)
from genaug.cli import main
from genaug.data import TabularCodec
from genaug.exceptions import (
    GenaugError,
    InvalidDataError,
    InvalidParameterError,
    ModelFileError,
    NotFittedError,
)
from genaug.metrics import evaluate

from .conftest import FAMILIES, TINY

datasets = pytest.importorskip("datasets")
pytest.importorskip("torchvision")

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

from genaug.adapters import hf as ghf  # noqa: E402
from genaug.adapters import torchvision as gtv  # noqa: E402


def tiny(cls: type, **params: Any) -> Any:
    return cls(**{"epochs": 1, "batch_size": 10, "device": "cpu", **TINY[cls], **params})


def table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "k": rng.choice(["a", "b"], n)})


def labels(n: int = 40) -> np.ndarray:
    return np.where(np.arange(n) % 4 == 0, "yes", "no")


def images(n: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8), dtype=np.uint8)


@functools.lru_cache(maxsize=2)
def ids(n: int = 100_000) -> pd.DataFrame:
    """A 100,000-row table with an identifier column of as many distinct strings."""
    return pd.DataFrame(
        {"user_id": np.char.add("u", np.arange(n).astype(str)), "x": np.linspace(0, 1, n)}
    )


X, Y = table(), labels()


# ------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Fitted objects shared by the cases (each fitted once for the module)."""
    root = tmp_path_factory.mktemp("bad_input")
    cache = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = str(root / "hf")  # nothing written outside tmp
    datasets.disable_progress_bars()
    out: dict[str, Any] = {"root": root}
    for cls in FAMILIES:
        out[cls] = tiny(cls, random_state=0).fit(X, Y)
    out["image"] = tiny(VAESynthesizer, random_state=0).fit(images(), np.arange(20) % 2)
    out["gan_plain"] = tiny(GANSynthesizer, random_state=0).fit(X)
    clf_data = np.random.default_rng(0).normal(size=(40, 2))
    out["clf"] = AugmentedClassifier(
        LogisticRegression(), SyntheticAugmenter(tiny(VAESynthesizer)), random_state=0
    ).fit(clf_data, np.arange(40) % 4 == 0)
    features = Features(
        {"x": Value("float64"), "k": Value("string"), "label": ClassLabel(names=["no", "yes"])}
    )
    out["ds"] = Dataset.from_dict(
        {"x": X["x"].tolist(), "k": X["k"].tolist(), "label": (Y == "yes").astype(int).tolist()},
        features=features,
    )
    yield out
    datasets.config.HF_DATASETS_CACHE = cache


# ------------------------------------------------------------------------ the catalogue
@dataclass(frozen=True)
class Case:
    entry: str
    bad: str
    call: Callable[[dict], Any]
    error: type[Exception]
    match: str


def _with(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    return frame.assign(**columns)


INF_X = _with(X, x=np.r_[np.inf, X["x"].to_numpy()[1:]])
ALL_NAN = _with(X, empty=np.nan)
MIXED = _with(X, mixed=[1, "a"] * 20)
COMPLEX = _with(X, z=np.ones(40) * (1 + 2j))
ONE_CLASS = np.array(["no"] * 40)
NAN_Y = np.r_[[None], Y[1:]].astype(object)
FLOAT_Y = np.linspace(0, 1, 40)


def _fit_cases(cls: type) -> list[Case]:
    name = f"{cls.__name__}.fit"

    def fit(X_: Any, y: Any = None, **params: Any) -> Callable[[dict], Any]:
        return lambda c: tiny(cls, **params).fit(X_, y)

    return [
        Case(name, "empty", fit(X.iloc[:0], Y[:0]), InvalidDataError, r"X is empty"),
        Case(name, "no-columns", fit(X[[]], Y), InvalidDataError, r"X is empty"),
        Case(name, "one-row", fit(X.iloc[:1]), InvalidDataError, r"X has one row"),
        Case(name, "one-class", fit(X, ONE_CLASS), InvalidDataError, r"y has a single class"),
        Case(name, "nan-label", fit(X, NAN_Y), InvalidDataError, r"y has 1 missing labels"),
        Case(name, "float-label", fit(X, FLOAT_Y), InvalidDataError, r"y holds non-integer"),
        Case(name, "label-length", fit(X, Y[:5]), InvalidDataError, r"y has 5 labels"),
        Case(name, "label-2d", fit(X, np.zeros((40, 2))), InvalidDataError, r"y must be 1-D"),
        Case(name, "inf", fit(INF_X, Y), InvalidDataError, r"Column 'x' .*infinite"),
        Case(name, "all-nan-column", fit(ALL_NAN, Y), InvalidDataError, r"'empty'.*missing"),
        Case(name, "mixed-object", fit(MIXED, Y), InvalidDataError, r"'mixed' mixes value"),
        Case(name, "complex", fit(COMPLEX, Y), InvalidDataError, r"Column 'z' .*complex"),
        Case(name, "100k-categories", fit(ids()), InvalidDataError, r"'user_id' has 100000"),
        Case(name, "X-1d", fit(np.zeros(10)), InvalidDataError, r"X must be 2-D"),
        Case(name, "X-none", fit(None), InvalidDataError, r"X must be 2-D"),
        Case(name, "X-series", fit(X["x"]), InvalidDataError, r"X is a pandas Series"),
        Case(
            name,
            "unhashable-cells",
            fit(_with(X, j=[[1]] * 40)),
            InvalidDataError,
            r"Column 'j' holds values that cannot be categories",
        ),
        Case(
            name,
            "timedelta",
            fit(_with(X, d=pd.to_timedelta(np.arange(40), unit="D"))),
            InvalidDataError,
            r"Column 'd' has dtype timedelta",
        ),
        Case(name, "epochs-zero", fit(X, Y, epochs=0), InvalidParameterError, r"'epochs'"),
        Case(name, "epochs-str", fit(X, Y, epochs="3"), InvalidParameterError, r"'epochs'"),
        Case(
            name,
            "learning-rate-nan",
            fit(X, Y, learning_rate=float("nan")),
            InvalidParameterError,
            r"'learning_rate'",
        ),
        Case(
            name,
            "learning-rate-inf",
            fit(X, Y, learning_rate=float("inf")),
            InvalidParameterError,
            r"'learning_rate'",
        ),
        Case(
            name, "batch-size-one", fit(X, Y, batch_size=1), InvalidParameterError, r"'batch_size'"
        ),
        Case(name, "latent-zero", fit(X, Y, latent_dim=0), InvalidParameterError, r"'latent_dim'"),
        Case(
            name,
            "random-state-negative",
            fit(X, Y, random_state=-1),
            InvalidParameterError,
            r"'random_state'",
        ),
        Case(
            name,
            "random-state-str",
            fit(X, Y, random_state="0"),
            InvalidParameterError,
            r"'random_state'",
        ),
        Case(
            name,
            "discrete-columns-str",
            fit(X, Y, discrete_columns="x"),
            InvalidParameterError,
            r"'discrete_columns'",
        ),
        Case(
            name,
            "discrete-columns-unknown",
            fit(X, Y, discrete_columns=["zz"]),
            InvalidDataError,
            r"discrete_columns names .*'zz'",
        ),
        Case(
            name,
            "discrete-100k",
            fit(pd.DataFrame({"n": np.arange(5000)}), None, discrete_columns=["n"]),
            InvalidDataError,
            r"'n' has 5000 distinct.*discrete_columns",
        ),
        Case(name, "device-unknown", fit(X, Y, device="tpu9"), InvalidParameterError, r"tpu9"),
        Case(
            name,
            "verbose-str",
            fit(X, Y, verbose="yes"),
            InvalidParameterError,
            r"'verbose'",
        ),
        # images
        Case(
            name,
            "image-4-channels",
            fit(np.zeros((10, 4, 8, 8), np.float32)),
            InvalidDataError,
            r"shape \(10, 4, 8, 8\).*channel",
        ),
        Case(
            name,
            "image-5d",
            fit(np.zeros((4, 1, 1, 8, 8))),
            InvalidDataError,
            r"shape \(4, 1, 1, 8, 8\)",
        ),
        Case(
            name,
            "image-bool",
            fit(np.zeros((10, 8, 8), bool)),
            InvalidDataError,
            r"dtype bool",
        ),
        Case(
            name,
            "image-float-range",
            fit(np.full((10, 8, 8), 7.0, np.float32)),
            InvalidDataError,
            r"\[0, 1\] or \[-1, 1\].*7",
        ),
        Case(
            name,
            "image-nan",
            fit(np.full((10, 8, 8), np.nan, np.float32)),
            InvalidDataError,
            r"NaN",
        ),
        Case(
            name,
            "image-int-range",
            fit(np.full((10, 8, 8), 300, np.int16)),
            InvalidDataError,
            r"0\.\.255.*300",
        ),
        Case(name, "one-image", fit(images(1)), InvalidDataError, r"X has one image"),
        Case(
            name,
            "image-labels-length",
            fit(images(), np.arange(3)),
            InvalidDataError,
            r"y has 3 labels",
        ),
        Case(
            name,
            "pil-mixed-modes",
            fit([Image.new("L", (8, 8)), Image.new("RGB", (8, 8))] * 2),
            InvalidDataError,
            r"mode\(s\) \['L', 'RGB'\]",
        ),
        Case(
            name,
            "pil-mixed-sizes",
            fit([Image.new("L", (8, 8)), Image.new("L", (16, 16))] * 2),
            InvalidDataError,
            r"image_size",
        ),
        Case(
            name,
            "image-too-large",
            fit(np.zeros((2, 300, 300), np.uint8)),
            InvalidDataError,
            r"300 x 300.*image_size",
        ),
        Case(
            name,
            "image-size-small",
            fit(images(), None, image_size=4),
            InvalidParameterError,
            r"'image_size'",
        ),
    ]


def _sample_cases(cls: type) -> list[Case]:
    name = f"{cls.__name__}.sample"

    def sample(*args: Any, **kwargs: Any) -> Callable[[dict], Any]:
        return lambda c: c[cls].sample(*args, **kwargs)

    return [
        Case(
            name, "not-fitted", lambda c: tiny(cls).sample(5), NotFittedError, r"not fitted"
        ),
        Case(name, "n-zero", sample(0), InvalidParameterError, r"n must be a positive integer"),
        Case(name, "n-negative", sample(-1), InvalidParameterError, r"n must be .*-1"),
        Case(name, "n-float", sample(2.5), InvalidParameterError, r"n must be .*2\.5"),
        Case(name, "n-str", sample("5"), InvalidParameterError, r"n must be .*'5'"),
        Case(name, "n-bool", sample(True), InvalidParameterError, r"n must be .*True"),
        Case(name, "unseen-label", sample(5, y="maybe"), InvalidParameterError, r"'maybe'"),
        Case(
            name,
            "unseen-label-in-counts",
            sample(5, y={"maybe": 5}),
            InvalidParameterError,
            r"'maybe' was not seen",
        ),
        Case(
            name,
            "labels-as-list",
            sample(2, y=["yes", "no"]),
            InvalidParameterError,
            r"y must be one label or a dict.*got a list",
        ),
        Case(
            name,
            "negative-count",
            sample(5, y={"yes": -1, "no": 6}),
            InvalidParameterError,
            r"y\['yes'\] must be a non-negative",
        ),
        Case(
            name,
            "counts-not-n",
            sample(5, y={"yes": 2}),
            InvalidParameterError,
            r"add up to 2, but n=5",
        ),
        Case(
            name,
            "random-state-str",
            sample(5, random_state="x"),
            InvalidParameterError,
            r"random_state",
        ),
        Case(
            name,
            "chunk-size-zero",
            lambda c: c[cls].iter_sample(5, chunk_size=0),
            InvalidParameterError,
            r"chunk_size",
        ),
    ]


OTHER_SAMPLE_CASES = [
    Case(
        "VAESynthesizer.sample",
        "conditions",
        lambda c: c[VAESynthesizer].sample(5, conditions={"k": "a"}),
        InvalidParameterError,
        r"VAESynthesizer cannot condition",
    ),
    Case(
        "GANSynthesizer.sample",
        "label-without-labels-fit",
        lambda c: c["gan_plain"].sample(5, y="yes"),
        InvalidParameterError,
        r"y='yes' was given, but this GANSynthesizer was fitted without labels",
    ),
    Case(
        "GANSynthesizer.sample",
        "condition-unknown-column",
        lambda c: c[GANSynthesizer].sample(5, conditions={"zz": 1}),
        InvalidParameterError,
        r"column 'zz'",
    ),
    Case(
        "GANSynthesizer.sample",
        "condition-unseen-value",
        lambda c: c[GANSynthesizer].sample(5, conditions={"k": "q"}),
        InvalidParameterError,
        r"'q' in column 'k'",
    ),
    Case(
        "GANSynthesizer.sample",
        "condition-numeric-column",
        lambda c: c[GANSynthesizer].sample(5, conditions={"x": 0.5}),
        InvalidParameterError,
        r"column 'x', which is numeric",
    ),
    Case(
        "GANSynthesizer.sample",
        "conditions-not-dict",
        lambda c: c[GANSynthesizer].sample(5, conditions=[1]),
        InvalidParameterError,
        r"conditions must be a dict",
    ),
    Case(
        "VAESynthesizer.sample",
        "image-unseen-label",
        lambda c: c["image"].sample(5, y=9),
        InvalidParameterError,
        r"Label 9 was not seen",
    ),
]


def _augmenter(**params: Any) -> SyntheticAugmenter:
    return SyntheticAugmenter(tiny(VAESynthesizer), random_state=0, **params)


def _resample(X_: Any, y: Any, **params: Any) -> Callable[[dict], Any]:
    return lambda c: _augmenter(**params).fit_resample(X_, y)


AUGMENTER = "SyntheticAugmenter.fit_resample"
AUGMENTER_CASES = [
    Case(AUGMENTER, "empty", _resample(X.iloc[:0], Y[:0]), InvalidDataError, r"0 sample"),
    Case(AUGMENTER, "one-row", _resample(X.iloc[:1], Y[:1]), InvalidDataError, r"one class"),
    Case(AUGMENTER, "one-class", _resample(X, ONE_CLASS), InvalidDataError, r"one class"),
    Case(AUGMENTER, "y-none", _resample(X, None), InvalidDataError, r"target y is None"),
    Case(AUGMENTER, "float-label", _resample(X, FLOAT_Y), InvalidDataError, r"y passed .*label"),
    Case(AUGMENTER, "nan-label", _resample(X, FLOAT_Y * np.nan), InvalidDataError,
         r"labels passed to SyntheticAugmenter are missing"),
    Case(AUGMENTER, "label-length", _resample(X, Y[:4]), InvalidDataError, r"y has 4 labels"),
    Case(AUGMENTER, "inf", _resample(INF_X, Y), InvalidDataError, r"Column 'x' .*infinite"),
    Case(AUGMENTER, "all-nan-column", _resample(ALL_NAN, Y), InvalidDataError, r"'empty'"),
    Case(AUGMENTER, "mixed-object", _resample(MIXED, Y), InvalidDataError, r"'mixed' mixes"),
    Case(
        AUGMENTER,
        "100k-categories",
        _resample(ids(), np.arange(100_000) % 7 == 0),
        InvalidDataError,
        r"'user_id' has 100000",
    ),
    Case(AUGMENTER, "X-1d", _resample(np.zeros(40), Y), InvalidDataError, r"must be 2-D"),
    Case(AUGMENTER, "X-none", _resample(None, Y), InvalidDataError, r"must be 2-D"),
    Case(
        AUGMENTER,
        "strategy-name",
        _resample(X, Y, sampling_strategy="majority"),
        InvalidParameterError,
        r"'sampling_strategy'",
    ),
    Case(
        AUGMENTER,
        "strategy-ratio",
        _resample(X, Y, sampling_strategy=2.0),
        InvalidParameterError,
        r"'sampling_strategy'",
    ),
    Case(
        AUGMENTER,
        "strategy-unseen-class",
        _resample(X, Y, sampling_strategy={"maybe": 50}),
        InvalidParameterError,
        r"'sampling_strategy'.*not present",
    ),
    Case(
        AUGMENTER,
        "augment-ratio-negative",
        _resample(X, Y, augment_ratio=-1.0),
        InvalidParameterError,
        r"'augment_ratio'",
    ),
    Case(
        AUGMENTER,
        "augment-ratio-nan",
        _resample(X, Y, augment_ratio=float("nan")),
        InvalidParameterError,
        r"'augment_ratio'",
    ),
    Case(
        AUGMENTER,
        "augment-ratio-str",
        _resample(X, Y, augment_ratio="1"),
        InvalidParameterError,
        r"'augment_ratio'",
    ),
    Case(
        AUGMENTER,
        "synthesizer-str",
        lambda c: SyntheticAugmenter("vae").fit_resample(X, Y),
        InvalidParameterError,
        r"'synthesizer'",
    ),
    Case(
        AUGMENTER,
        "random-state-negative",
        lambda c: SyntheticAugmenter(tiny(VAESynthesizer), random_state=-3).fit_resample(X, Y),
        InvalidParameterError,
        r"'random_state'",
    ),
]

CLF_X = np.random.default_rng(1).normal(size=(40, 2))
CLF_Y = np.arange(40) % 4 == 0


def _classifier(**params: Any) -> AugmentedClassifier:
    return AugmentedClassifier(LogisticRegression(), _augmenter(), **params)


CLASSIFIER_CASES = [
    Case(
        "AugmentedClassifier.fit",
        "one-class",
        lambda c: _classifier().fit(CLF_X, np.zeros(40)),
        InvalidDataError,
        r"one class",
    ),
    Case(
        "AugmentedClassifier.fit",
        "float-label",
        lambda c: _classifier().fit(CLF_X, FLOAT_Y),
        InvalidDataError,
        r"y passed to AugmentedClassifier.*Unknown label type",
    ),
    Case(
        "AugmentedClassifier.fit",
        "y-none",
        lambda c: _classifier().fit(CLF_X, None),
        InvalidDataError,
        r"AugmentedClassifier requires y",
    ),
    Case(
        "AugmentedClassifier.fit",
        "empty",
        lambda c: _classifier().fit(CLF_X[:0], CLF_Y[:0]),
        InvalidDataError,
        r"0 sample",
    ),
    Case(
        "AugmentedClassifier.fit",
        "nan-in-X",
        lambda c: _classifier().fit(np.r_[[[np.nan, 0.0]], CLF_X[1:]], CLF_Y),
        InvalidDataError,
        r"LogisticRegression\.fit refused the data.*NaN",
    ),
    Case(
        "AugmentedClassifier.fit",
        "validation-name",
        lambda c: _classifier(validation="always").fit(CLF_X, CLF_Y),
        InvalidParameterError,
        r"'validation'",
    ),
    Case(
        "AugmentedClassifier.fit",
        "validation-size",
        lambda c: _classifier(validation_size=1.5).fit(CLF_X, CLF_Y),
        InvalidParameterError,
        r"'validation_size'",
    ),
    Case(
        "AugmentedClassifier.fit",
        "strengths-empty",
        lambda c: _classifier(strengths=[]).fit(CLF_X, CLF_Y),
        InvalidParameterError,
        r"'strengths'",
    ),
    Case(
        "AugmentedClassifier.fit",
        "estimator-str",
        lambda c: AugmentedClassifier("lr", _augmenter()).fit(CLF_X, CLF_Y),
        InvalidParameterError,
        r"'estimator'",
    ),
    Case(
        "AugmentedClassifier.predict",
        "not-fitted",
        lambda c: _classifier().predict(CLF_X),
        NotFittedError,
        r"AugmentedClassifier.*not fitted",
    ),
    Case(
        "AugmentedClassifier.predict",
        "wrong-columns",
        lambda c: c["clf"].predict(np.zeros((3, 5))),
        InvalidDataError,
        r"X has 5 features, but AugmentedClassifier is expecting 2",
    ),
    Case(
        "AugmentedClassifier.predict",
        "X-1d",
        lambda c: c["clf"].predict(np.zeros(3)),
        InvalidDataError,
        r"must be 2-D",
    ),
    Case(
        "AugmentedClassifier.predict",
        "empty",
        lambda c: c["clf"].predict(np.zeros((0, 2))),
        InvalidDataError,
        r"0 sample",
    ),
    Case(
        "AugmentedClassifier.predict",
        "nan",
        lambda c: c["clf"].predict(np.full((3, 2), np.nan)),
        InvalidDataError,
        r"LogisticRegression\.predict refused the data.*NaN",
    ),
    Case(
        "AugmentedClassifier.predict",
        "inf",
        lambda c: c["clf"].predict_proba(np.full((3, 2), np.inf)),
        InvalidDataError,
        r"LogisticRegression\.predict_proba refused the data.*infinity",
    ),
    Case(
        "AugmentedClassifier.predict",
        "strings",
        lambda c: c["clf"].predict(np.array([["a", "b"]])),
        InvalidDataError,
        r"LogisticRegression\.predict refused",
    ),
]


def _hf_frame(frame: pd.DataFrame, y: Any) -> Callable[[dict], Dataset]:
    # Built when the case runs, not when the module is collected.
    return lambda c: Dataset.from_pandas(frame.assign(label=y), preserve_index=False)


def _augment_ds(ds: Any, label: Any = "label", **kwargs: Any) -> Callable[[dict], Any]:
    return lambda c: ghf.augment_dataset(ds(c) if callable(ds) else ds, tiny(VAESynthesizer),
                                         label, **kwargs)


HF = "hf.augment_dataset"
HF_SYN = "hf.synthesize_dataset"
HF_CASES = [
    Case(HF, "empty", _augment_ds(lambda c: c["ds"].select([])), InvalidDataError, r"empty"),
    Case(
        HF,
        "one-row",
        _augment_ds(lambda c: c["ds"].select([0])),
        InvalidDataError,
        r"augment_dataset.*single class",
    ),
    Case(
        HF,
        "one-class",
        _augment_ds(_hf_frame(X, ONE_CLASS)),
        InvalidDataError,
        r"augment_dataset.*single class",
    ),
    Case(HF, "inf", _augment_ds(_hf_frame(INF_X, Y)), InvalidDataError, r"'x'.*infinite"),
    Case(
        HF,
        "all-nan-column",
        _augment_ds(_hf_frame(ALL_NAN, Y)),
        InvalidDataError,
        r"'empty'.*missing",
    ),
    Case(
        HF,
        "100k-categories",
        _augment_ds(lambda c: _hf_frame(ids(), np.where(np.arange(100_000) % 9, "a", "b"))(c)),
        InvalidDataError,
        r"'user_id' has 100000.*exclude_columns",
    ),
    Case(
        HF,
        "float-label",
        _augment_ds(_hf_frame(X, FLOAT_Y)),
        InvalidDataError,
        r"label column 'label'.*floats",
    ),
    Case(HF, "label-missing", _augment_ds(lambda c: c["ds"], "lbl"), InvalidDataError, r"'lbl'"),
    Case(HF, "label-int", _augment_ds(lambda c: c["ds"], 3), InvalidParameterError, r"got 3"),
    Case(
        HF, "n-zero", _augment_ds(lambda c: c["ds"], n=0), InvalidParameterError, r"n must be"
    ),
    Case(
        HF,
        "augment-ratio-negative",
        _augment_ds(lambda c: c["ds"], augment_ratio=-1.0),
        InvalidParameterError,
        r"'augment_ratio'",
    ),
    Case(
        HF,
        "cache-dir-int",
        _augment_ds(lambda c: c["ds"], cache_dir=5),
        InvalidParameterError,
        r"'cache_dir' parameter of augment_dataset",
    ),
    Case(
        HF,
        "random-state-str",
        _augment_ds(lambda c: c["ds"], random_state="s"),
        InvalidParameterError,
        r"random_state",
    ),
    Case(
        HF,
        "synthetic-column-exists",
        _augment_ds(lambda c: c["ds"], synthetic_column="x"),
        InvalidParameterError,
        r"synthetic_column='x' is already a column",
    ),
    Case(
        HF,
        "exclude-unknown",
        _augment_ds(lambda c: c["ds"], exclude_columns=["nope"]),
        InvalidParameterError,
        r"exclude_columns names \['nope'\]",
    ),
    Case(
        HF,
        "missing-split",
        _augment_ds(lambda c: DatasetDict({"train": c["ds"]}), split="test"),
        InvalidParameterError,
        r"split='test'",
    ),
    Case(
        HF,
        "not-a-dataset",
        _augment_ds(_with(X, label=Y)),
        InvalidDataError,
        r"got DataFrame",
    ),
    Case(
        HF,
        "synthesizer-str",
        lambda c: ghf.augment_dataset(c["ds"], "vae", "label"),
        InvalidParameterError,
        r"got str",
    ),
    Case(
        HF_SYN,
        "not-fitted",
        lambda c: ghf.synthesize_dataset(tiny(VAESynthesizer), 5),
        NotFittedError,
        r"VAESynthesizer is not fitted",
    ),
    Case(
        HF_SYN,
        "n-zero",
        lambda c: ghf.synthesize_dataset(c[VAESynthesizer], 0),
        InvalidParameterError,
        r"n must be",
    ),
    Case(
        HF_SYN,
        "unseen-label",
        lambda c: ghf.synthesize_dataset(c[VAESynthesizer], 5, y="maybe"),
        InvalidParameterError,
        r"'maybe'",
    ),
    Case(
        HF_SYN,
        "chunk-size-zero",
        lambda c: ghf.synthesize_dataset(c[VAESynthesizer], 5, chunk_size=0),
        InvalidParameterError,
        r"chunk_size",
    ),
    Case(
        HF_SYN,
        "features-int",
        lambda c: ghf.synthesize_dataset(c[VAESynthesizer], 5, features=3),
        InvalidParameterError,
        r"features must be",
    ),
    Case(
        HF_SYN,
        "cache-dir-int",
        lambda c: ghf.synthesize_dataset(c[VAESynthesizer], 5, cache_dir=3),
        InvalidParameterError,
        r"'cache_dir' parameter of synthesize_dataset",
    ),
]

TV_DS = "torchvision.SyntheticDataset"
TV_FIT = "torchvision.fit_from_dataset"
TV_AUG = "torchvision.augment_dataset"
PAIRS = TensorDataset(torch.rand(4, 8, 8), torch.tensor([0, 1, 0, 1]))
TV_CASES = [
    Case(
        TV_DS, "not-fitted", lambda c: gtv.SyntheticDataset(tiny(VAESynthesizer), 5),
        NotFittedError, r"VAESynthesizer is not fitted",
    ),
    Case(
        TV_DS, "table-synthesizer", lambda c: gtv.SyntheticDataset(c[VAESynthesizer], 5),
        InvalidParameterError, r"fitted on a table",
    ),
    Case(TV_DS, "n-zero", lambda c: gtv.SyntheticDataset(c["image"], 0), InvalidParameterError,
         r"n must be an integer >= 1"),
    Case(TV_DS, "n-float", lambda c: gtv.SyntheticDataset(c["image"], 2.5),
         InvalidParameterError, r"n must be .*2\.5"),
    Case(TV_DS, "unseen-label", lambda c: gtv.SyntheticDataset(c["image"], 5, y=9),
         InvalidParameterError, r"not seen in fit: \[9\]"),
    Case(TV_DS, "labels-length", lambda c: gtv.SyntheticDataset(c["image"], 5, y=[0, 1]),
         InvalidParameterError, r"y has 2 labels; n is 5"),
    Case(TV_DS, "counts-not-n", lambda c: gtv.SyntheticDataset(c["image"], 5, y={0: 1}),
         InvalidParameterError, r"add up to 1, not n=5"),
    Case(TV_DS, "batch-size-zero",
         lambda c: gtv.SyntheticDataset(c["image"], 5, batch_size=0),
         InvalidParameterError, r"batch_size"),
    Case(TV_DS, "transform-int", lambda c: gtv.SyntheticDataset(c["image"], 5, transform=3),
         InvalidParameterError, r"'transform' parameter of SyntheticDataset"),
    Case(TV_DS, "target-transform-str",
         lambda c: gtv.SyntheticDataset(c["image"], 5, target_transform="int"),
         InvalidParameterError, r"'target_transform'"),
    Case(TV_DS, "random-state-str",
         lambda c: gtv.SyntheticDataset(c["image"], 5, random_state="a"),
         InvalidParameterError, r"random_state"),
    Case(TV_DS, "index-str", lambda c: gtv.SyntheticDataset(c["image"], 5)["a"],
         InvalidParameterError, r"index must be an integer; got 'a'"),
    Case(TV_DS, "index-float", lambda c: gtv.SyntheticDataset(c["image"], 5)[2.5],
         InvalidParameterError, r"index must be an integer; got 2\.5"),
    Case(TV_FIT, "dataset-int", lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), 5),
         InvalidParameterError, r"'dataset' parameter of fit_from_dataset"),
    Case(TV_FIT, "labels-str",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), PAIRS, labels="yes"),
         InvalidParameterError, r"'labels' parameter"),
    Case(TV_FIT, "synthesizer-str", lambda c: gtv.fit_from_dataset("vae", PAIRS),
         InvalidParameterError, r"got str"),
    Case(TV_FIT, "empty",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.zeros(0, 8, 8), torch.zeros(0))),
         InvalidDataError, r"0 item"),
    Case(TV_FIT, "one-item",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.zeros(1, 8, 8), torch.zeros(1))),
         InvalidDataError, r"1 item"),
    Case(TV_FIT, "one-class",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.rand(4, 8, 8), torch.zeros(4))),
         InvalidDataError, r"y has a single class"),
    Case(TV_FIT, "wrong-shape",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.rand(4, 5, 8, 8), torch.tensor([0, 1, 0, 1]))),
         InvalidDataError, r"shape \(4, 5, 8, 8\)"),
    Case(TV_FIT, "nan-images",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.full((4, 8, 8), float("nan")), torch.tensor([0, 1, 0, 1]))),
         InvalidDataError, r"NaN"),
    Case(TV_FIT, "not-pairs",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(torch.rand(4, 8, 8))),
         InvalidDataError, r"not \(image, label\) pairs"),
    Case(TV_FIT, "float-labels",
         lambda c: gtv.fit_from_dataset(tiny(VAESynthesizer), TensorDataset(
             torch.rand(4, 8, 8), torch.tensor([0.5, 1.5, 0.2, 0.1]))),
         InvalidDataError, r"non-integer floats"),
    Case(TV_AUG, "count-negative", lambda c: gtv.augment_dataset(PAIRS, c["image"], -1),
         InvalidParameterError, r"n_per_class must be an integer >= 0; got -1"),
    Case(TV_AUG, "count-str", lambda c: gtv.augment_dataset(PAIRS, c["image"], "2"),
         InvalidParameterError, r"n_per_class .*'2'"),
    Case(TV_AUG, "unknown-class", lambda c: gtv.augment_dataset(PAIRS, c["image"], {7: 3}),
         InvalidParameterError, r"n_per_class names 7"),
    Case(TV_AUG, "nothing-asked", lambda c: gtv.augment_dataset(PAIRS, c["image"], 0),
         InvalidParameterError, r"n_per_class asks for no"),
    Case(TV_AUG, "transform-str",
         lambda c: gtv.augment_dataset(PAIRS, c["image"], 2, transform="x"),
         InvalidParameterError, r"transform must be"),
    Case(TV_AUG, "transform-int",
         lambda c: gtv.augment_dataset(PAIRS, c["image"], 2, transform=3),
         InvalidParameterError, r"'transform'"),
    Case(TV_AUG, "table-synthesizer",
         lambda c: gtv.augment_dataset(PAIRS, c[VAESynthesizer], 2),
         InvalidParameterError, r"fitted on a table"),
]

REAL = pd.DataFrame(
    {
        "x": np.random.default_rng(2).normal(size=60),
        "k": np.random.default_rng(3).choice(["a", "b"], 60),
    }
)
FAKE = REAL.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _evaluate(real: Any = REAL, synthetic: Any = FAKE, **kwargs: Any) -> Callable[[dict], Any]:
    kwargs.setdefault("metrics", ["fidelity", "diversity"])
    return lambda c: evaluate(real, synthetic, **kwargs)


EV = "metrics.evaluate"
EVALUATE_CASES = [
    Case(EV, "empty-real", _evaluate(REAL.iloc[:0]), InvalidDataError, r"real_train is empty"),
    Case(EV, "empty-synthetic", _evaluate(REAL, FAKE.iloc[:0]), InvalidDataError,
         r"synthetic has no rows"),
    Case(EV, "one-row", _evaluate(REAL.iloc[:1], FAKE.iloc[:1]), InvalidDataError,
         r"1 rows.*k=5"),
    Case(EV, "columns-differ", _evaluate(REAL, FAKE.rename(columns={"x": "y"})),
         InvalidDataError, r"lacks \['x'\] and has columns \['y'\]"),
    Case(EV, "inf", _evaluate(REAL, _with(FAKE, x=np.inf)), InvalidDataError,
         r"Column 'x' of synthetic contains infinite"),
    Case(EV, "all-nan-column", _evaluate(_with(REAL, x=np.nan)), InvalidDataError,
         r"Column 'x' of real_train is entirely missing"),
    Case(EV, "mixed-object", _evaluate(_with(REAL, m=[1, "a"] * 30), _with(FAKE, m=["a"] * 60)),
         InvalidDataError, r"'m' mixes value types"),
    Case(EV, "complex", _evaluate(_with(REAL, z=1j)), InvalidDataError,
         r"Column 'z' of real_train holds complex"),
    Case(EV, "100k-categories", _evaluate(ids(20_000), ids(20_000)), InvalidDataError,
         r"'user_id' has \d+ distinct"),
    Case(EV, "kind-differs", _evaluate(REAL, _with(FAKE, x=FAKE["x"].astype(str)),
                                       metrics="fidelity"),
         InvalidDataError, r"Column 'x' is numeric in the real table"),
    Case(EV, "X-1d", _evaluate(np.zeros(5), np.zeros(5)), InvalidDataError,
         r"real_train must be 2-D"),
    Case(EV, "metrics-unknown", _evaluate(metrics="fidelty"), InvalidParameterError,
         r"'fidelty'.*Did you mean 'fidelity'"),
    Case(EV, "k-str", _evaluate(k="3"), InvalidParameterError, r"'k' parameter of evaluate"),
    Case(EV, "k-zero", _evaluate(k=0), InvalidParameterError, r"'k' parameter of evaluate"),
    Case(EV, "max-rows-small", _evaluate(max_rows=5), InvalidParameterError, r"'max_rows'"),
    Case(EV, "random-state-str", _evaluate(random_state="x"), InvalidParameterError,
         r"'random_state' parameter of evaluate"),
    Case(EV, "features-str", _evaluate(features="yes"), InvalidParameterError,
         r"'features' parameter of evaluate"),
    Case(EV, "discrete-columns-str", _evaluate(discrete_columns="x"), InvalidParameterError,
         r"'discrete_columns' parameter of evaluate"),
    Case(EV, "discrete-columns-unknown", _evaluate(discrete_columns=["zz"]), InvalidDataError,
         r"discrete_columns names .*'zz'"),
    Case(EV, "estimator-str", _evaluate(estimator="gb"), InvalidParameterError,
         r"'estimator' parameter of evaluate"),
    Case(EV, "labels-length", _evaluate(y_real=["a", "b"]), InvalidDataError,
         r"y_real has 2 labels, but its table has 60"),
    Case(EV, "labels-nan", _evaluate(y_real=[np.nan] + [0, 1] * 29 + [0]), InvalidDataError,
         r"y_real has missing labels"),
    Case(EV, "synthetic-labels-alone", _evaluate(y_synthetic=[0] * 60), InvalidParameterError,
         r"y_synthetic was given without y_real"),
    Case(EV, "utility-without-inputs", _evaluate(metrics="utility"), InvalidParameterError,
         r"'utility', which needs real_holdout"),
]

CASES = [
    *(case for cls in FAMILIES for case in _fit_cases(cls)),
    *(case for cls in FAMILIES for case in _sample_cases(cls)),
    *OTHER_SAMPLE_CASES,
    *AUGMENTER_CASES,
    *CLASSIFIER_CASES,
    *HF_CASES,
    *TV_CASES,
    *EVALUATE_CASES,
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.entry}-{c.bad}") for c in CASES])
def test_bad_input_raises_a_genaug_error_naming_the_culprit(ctx, case):
    with pytest.raises(case.error, match=case.match) as info:
        case.call(ctx)
    assert isinstance(info.value, GenaugError)


def test_the_catalogue_covers_every_entry_point():
    entries = {c.entry for c in CASES} | {"cli"}
    assert len(CASES) + len(CLI_CASES) >= 300
    assert {
        "VAESynthesizer.fit",
        "GANSynthesizer.fit",
        "VAEGANSynthesizer.fit",
        "VAESynthesizer.sample",
        "GANSynthesizer.sample",
        "VAEGANSynthesizer.sample",
        AUGMENTER,
        "AugmentedClassifier.fit",
        "AugmentedClassifier.predict",
        HF,
        HF_SYN,
        TV_DS,
        TV_FIT,
        TV_AUG,
        EV,
    } <= entries


# ---------------------------------------------------------------------- the CLI
def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli_bad")
    good = _with(X, label=Y)
    files = {
        "good": _write(good, root / "good.csv"),
        "header": str(root / "header.csv"),
        "empty": str(root / "empty.csv"),
        "one-row": _write(good.iloc[:1], root / "one.csv"),
        "one-class": _write(_with(X, label="no"), root / "one_class.csv"),
        "inf": _write(_with(INF_X, label=Y), root / "inf.csv"),
        "all-nan": _write(_with(ALL_NAN, label=Y), root / "all_nan.csv"),
        "ids": _write(ids().assign(label=np.arange(100_000) % 5 == 0), root / "ids.csv"),
        "renamed": _write(good.rename(columns={"x": "y"}), root / "renamed.csv"),
        "model": str(root / "model"),
        "corrupt": str(root / "corrupt"),
        "root": str(root),
    }
    Path(files["header"]).write_text("x,k,label\n")
    Path(files["empty"]).write_text("")
    assert main(["fit", files["good"], "--label", "label", "--epochs", "1", "--seed", "0",
                 "-q", "-o", files["model"]]) == 0
    shutil.copytree(files["model"], files["corrupt"])
    (Path(files["corrupt"]) / "model.safetensors").write_bytes(b"\x10\x00\x00\x00garbage")
    return files


def _fit_args(data: str, *extra: str) -> Callable[[dict, Path], list[str]]:
    return lambda f, t: ["fit", f[data], "--label", "label", "-q", "-o", str(t / "m"), *extra]


CLI_CASES = [
    ("fit-empty-file", _fit_args("empty"), 1, ["empty.csv"]),
    ("fit-header-only", _fit_args("header"), 1, ["X is empty"]),
    ("fit-one-row", _fit_args("one-row"), 1, ["X has one row"]),
    ("fit-one-class", _fit_args("one-class"), 1, ["single class", "'no'"]),
    ("fit-inf", _fit_args("inf"), 1, ["Column 'x'", "infinite"]),
    ("fit-all-nan-column", _fit_args("all-nan"), 1, ["Column 'empty'", "missing"]),
    ("fit-100k-categories", _fit_args("ids"), 1, ["'user_id'", "100000 distinct"]),
    ("fit-epochs-zero", _fit_args("good", "--epochs", "0"), 2, ["--epochs", "'0'"]),
    ("fit-epochs-str", _fit_args("good", "--epochs", "abc"), 2, ["--epochs", "'abc'"]),
    ("fit-seed-negative", _fit_args("good", "--seed", "-1"), 2, ["--seed", "'-1'"]),
    ("fit-unknown-label", lambda f, t: ["fit", f["good"], "--label", "lbl", "-o", str(t / "m")],
     1, ["--label", "'lbl'"]),
    ("sample-n-str", lambda f, t: ["sample", f["model"], "-n", "abc", "-o", str(t / "o.csv")],
     2, ["-n", "'abc'"]),
    ("sample-unseen-label",
     lambda f, t: ["sample", f["model"], "-n", "5", "--label-value", "maybe", "-o",
                   str(t / "o.csv")],
     1, ["'maybe'", "classes are"]),
    ("sample-corrupt-model",
     lambda f, t: ["sample", f["corrupt"], "-n", "5", "-o", str(t / "o.csv")],
     1, ["model.safetensors", "safetensors"]),
    ("evaluate-columns-differ",
     lambda f, t: ["evaluate", f["good"], f["renamed"], "--metrics", "fidelity"],
     1, ["lacks ['x']"]),
    ("evaluate-empty-synthetic",
     lambda f, t: ["evaluate", f["good"], f["header"], "--metrics", "fidelity"],
     1, ["synthetic has no rows"]),
    ("evaluate-inf", lambda f, t: ["evaluate", f["good"], f["inf"], "--metrics", "fidelity"],
     1, ["Column 'x'", "infinite"]),
    ("augment-one-class",
     lambda f, t: ["augment", f["one-class"], "--label", "label", "--epochs", "1", "-q", "-o",
                   str(t / "a.csv")],
     1, ["only one class"]),
]


@pytest.mark.parametrize(
    ("make_args", "code", "words"),
    [pytest.param(a, c, w, id=f"cli-{i}") for i, a, c, w in CLI_CASES],
)
def test_cli_bad_input_is_one_line_with_the_exit_code(cli_files, tmp_path, capsys,
                                                      make_args, code, words):
    assert main(make_args(cli_files, tmp_path)) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "m").exists() and not (tmp_path / "o.csv").exists()


# ---------------------------------------------------------------------- policies
@pytest.mark.parametrize("cls", FAMILIES)
def test_policy_constant_columns_are_reproduced_exactly(cls):
    frame = _with(X, c=2.5, i=7, s="same")
    syn = tiny(cls, random_state=0).fit(frame, Y)
    out, _ = syn.sample(50, random_state=1)
    assert (out["c"] == 2.5).all() and (out["i"] == 7).all() and (out["s"] == "same").all()
    assert out.dtypes.equals(frame.dtypes)


def test_policy_missing_values_and_numeric_object_columns_are_modelled():
    frame = _with(X, x=np.where(np.arange(40) % 5 == 0, np.nan, X["x"]),
                  n=np.array([1, 2.5] * 20, dtype=object))
    syn = tiny(VAESynthesizer, random_state=0).fit(frame, Y)
    out, _ = syn.sample(400, random_state=0)
    assert out["x"].isna().any() and out["x"].notna().any()
    assert set(out["n"]) <= {1, 2.5}


def test_policy_100k_categories_fail_fast_in_bounded_memory():
    frame = ids()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InvalidDataError, match="'user_id' has 100000 distinct values"):
            TabularCodec().fit(frame)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A one-hot block of 100,000 columns for 100,000 rows would be 40 GB; the refusal costs
    # about the distinct values once (a few MB).
    assert peak < 64 * 2**20, peak
    assert elapsed < 5.0, elapsed
    wide = TabularCodec(max_categories=100_000).fit(frame.iloc[:2000])
    assert wide.output_dim_ > 2000  # raising the limit is the documented way round it


def test_policy_an_index_past_the_end_is_an_index_error(ctx):
    """IndexError, not a genaug error: iteration and DataLoader rely on it."""
    with pytest.raises(IndexError, match="index 7 is out of range for 5 items"):
        gtv.SyntheticDataset(ctx["image"], 5)[7]


def test_zero_images_are_named_as_empty():
    with pytest.raises(InvalidDataError, match=r"no image|empty|0 image"):
        tiny(VAESynthesizer).fit(images(0))


def test_loading_a_folder_that_is_a_file_is_a_model_file_error(tmp_path):
    (tmp_path / "m").write_text("not a folder")
    with pytest.raises(ModelFileError, match="No model folder"):
        genaug.load(tmp_path / "m")
