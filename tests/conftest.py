"""Shared fixtures: small generated tables with every column kind (no files needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.bench._common import two_class_toy
from genaug.data.tabular import Span

# The smallest networks of each family, for tests of behaviour rather than quality.
TINY = {
    VAESynthesizer: {"latent_dim": 2, "encoder_hidden": (8,), "decoder_hidden": (8,)},
    GANSynthesizer: {"latent_dim": 2, "generator_hidden": (8,), "discriminator_hidden": (8,)},
    VAEGANSynthesizer: {
        "latent_dim": 2,
        "encoder_hidden": (8,),
        "decoder_hidden": (8,),
        "discriminator_hidden": (8,),
    },
}
FAMILIES = list(TINY)

# A small encoded-row layout for the span and loss tests: categorical spans of 3, 5 and 2
# columns around two continuous values, 12 columns in all.
SMALL_SPANS = [
    Span(0, 3, "categorical", "a"),
    Span(3, 1, "continuous", "b"),
    Span(4, 5, "categorical", "c"),
    Span(9, 2, "categorical", "d"),
    Span(11, 1, "continuous", "e"),
]

# Tests are many small trainings: one thread avoids oversubscribing the CI's two cores and
# keeps CPU results bitwise repeatable.
torch.set_num_threads(1)


def make_mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A frame with integer, float, point-mass, categorical, string, boolean, nullable and
    datetime columns, with missing values in several of them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.lognormal(10, 1, n), 2),
            "gain": np.where(rng.random(n) < 0.8, 0, rng.integers(1, 10_000, n)),
            "color": pd.Categorical(
                rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
                categories=["red", "green", "blue", "violet"],
            ),
            "city": rng.choice(["Paris", "Lima", "Oslo", "Pune"], n),
            "member": rng.random(n) < 0.3,
            "score": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "flag": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "when": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "ratio": rng.normal(0, 1, n),
        }
    )
    frame["city"] = frame["city"].astype("string")
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = pd.NA
    frame.loc[rng.random(n) < 0.1, "score"] = pd.NA
    frame.loc[rng.random(n) < 0.05, "flag"] = pd.NA
    frame.loc[rng.random(n) < 0.05, "color"] = np.nan
    return frame


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    return make_mixed_frame()


def make_labelled(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A two-class table where the class shifts a numeric column and a category."""
    return two_class_toy(n, seed)


@pytest.fixture
def labelled() -> tuple[pd.DataFrame, pd.Series]:
    return make_labelled()
