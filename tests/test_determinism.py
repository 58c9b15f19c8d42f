"""Determinism beyond the per-family seed tests: the same seed gives identical samples in a
fresh interpreter with another hash seed, after save/load (seeded and unseeded draws), with
the random parts of the codec, for a numpy Generator as the seed, in ``DataLoader`` workers,
and through the sampler and the meta-estimator.

(Two fits in one process, per family, on tables and on images, are tested in test_vae.py,
test_gan.py, test_vaegan.py and test_images.py; labelled items with two workers in
test_torchvision.py.)
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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
    VAEGANSynthesizer,
    VAESynthesizer,
)

from .conftest import FAMILIES, TINY, make_mixed_frame

REPO = Path(__file__).resolve().parents[1]


def tiny(cls: type, **params: Any) -> Any:
    return cls(**{"epochs": 2, "batch_size": 16, "device": "cpu", **TINY[cls], **params})


def mixed(n: int = 80) -> tuple[pd.DataFrame, pd.Series]:
    """The conftest table of every column kind, with a label."""
    frame = make_mixed_frame(n, seed=5)
    return frame, pd.Series(np.where(np.arange(n) % 3 == 0, "b", "a"), name="label")


def images(n: int = 24) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (n, 8, 8), dtype=np.uint8)


def digest(*outputs: Any) -> str:
    """A hash of sampled rows, images and labels, exact to the last bit."""
    h = hashlib.sha256()
    for out in outputs:
        if isinstance(out, pd.DataFrame):
            h.update(pd.util.hash_pandas_object(out, index=True).to_numpy().tobytes())
            h.update(str(out.dtypes.tolist()).encode())
        elif isinstance(out, pd.Series):
            h.update(pd.util.hash_pandas_object(out, index=True).to_numpy().tobytes())
        elif isinstance(out, torch.Tensor):
            h.update(out.numpy().tobytes())
        else:
            h.update(np.ascontiguousarray(out).tobytes())
    return h.hexdigest()


def digests() -> dict[str, str]:
    """Fit and sample every family on a mixed table and on images, and resample with the
    sampler; the hashes of the results. Run in this process and in fresh interpreters."""
    torch.set_num_threads(1)
    X, y = mixed()
    out = {}
    for cls in FAMILIES:
        syn = tiny(cls, random_state=11).fit(X, y)
        out[f"{cls.__name__}-table"] = digest(*syn.sample(64, random_state=3))
        out[f"{cls.__name__}-unseeded"] = digest(*syn.sample(16), *syn.sample(16))
        pics = tiny(cls, random_state=11, batch_size=8).fit(images(), np.arange(24) % 3)
        out[f"{cls.__name__}-images"] = digest(*pics.sample(6, random_state=3))
    aug = SyntheticAugmenter(tiny(GANSynthesizer), random_state=5)
    out["augmenter"] = digest(*aug.fit_resample(X, y))
    return out


# --------------------------------------------------------------------- across runs
@pytest.fixture(scope="module")
def here() -> dict[str, str]:
    return digests()


def test_a_fresh_interpreter_with_another_hash_seed_gives_the_same_samples(here):
    # Another PYTHONHASHSEED reorders sets and dicts of strings built from hashes; nothing a
    # model learns or samples may depend on that order.
    other_hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    code = (
        "import json; from tests.test_determinism import digests; print(json.dumps(digests()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": other_hash_seed, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == here


def test_the_digest_tells_different_seeds_apart(here):
    X, y = mixed()
    other = tiny(VAESynthesizer, random_state=12).fit(X, y)
    assert digest(*other.sample(64, random_state=3)) != here["VAESynthesizer-table"]


# --------------------------------------------------------------------- save/load
@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("labelled", [True, False], ids=["labelled", "unlabelled"])
def test_samples_after_load_equal_samples_before_save(cls, labelled, tmp_path):
    X, y = mixed()
    syn = tiny(cls, random_state=2).fit(X, y if labelled else None)
    syn.sample(10)  # an unseeded draw before saving moves the saved sequence on
    syn.save(tmp_path / "m")
    loaded = genaug.load(tmp_path / "m")
    before = [syn.sample(40, random_state=9), syn.sample(40), syn.sample(40)]
    after = [loaded.sample(40, random_state=9), loaded.sample(40), loaded.sample(40)]
    for a, b in zip(before, after):
        assert digest(*a if labelled else [a]) == digest(*b if labelled else [b])
    # Chunked sampling after loading equals one sample before saving.
    chunks = list(loaded.iter_sample(40, random_state=9, chunk_size=7))
    frames = [c[0] if labelled else c for c in chunks]
    pd.testing.assert_frame_equal(
        pd.concat(frames, ignore_index=True), before[0][0] if labelled else before[0]
    )


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_image_samples_after_load_equal_before_save_without_labels(cls, tmp_path):
    syn = tiny(cls, random_state=2, batch_size=8).fit(images())
    syn.save(tmp_path / "m")
    loaded = genaug.load(tmp_path / "m")
    np.testing.assert_array_equal(syn.sample(5, random_state=1), loaded.sample(5, random_state=1))
    np.testing.assert_array_equal(syn.sample(5), loaded.sample(5))


# ------------------------------------------------------------------ seeds of two fits
@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
def test_mode_encoding_draws_are_seeded_too(cls):
    """continuous_encoding="mode" draws mixture components in the codec: seeded as well."""
    X, y = mixed()
    runs = [
        tiny(cls, random_state=4, continuous_encoding="mode").fit(X, y).sample(50, random_state=0)
        for _ in range(2)
    ]
    assert digest(*runs[0]) == digest(*runs[1])


def test_a_numpy_generator_seed_is_as_good_as_an_int():
    X, y = mixed()
    runs = [
        tiny(VAESynthesizer, random_state=np.random.default_rng(8)).fit(X, y).sample(
            30, random_state=np.random.default_rng(1)
        )
        for _ in range(2)
    ]
    assert digest(*runs[0]) == digest(*runs[1])


# -------------------------------------------------------------- DataLoader workers
@pytest.fixture(scope="module")
def vision():
    pytest.importorskip("torchvision")
    from genaug.adapters.torchvision import SyntheticDataset, augment_dataset

    labelled = tiny(VAESynthesizer, random_state=0, batch_size=8).fit(images(), np.arange(24) % 3)
    floats = tiny(GANSynthesizer, random_state=0, batch_size=8).fit(
        torch.from_numpy(images()).float().div(255).unsqueeze(1)
    )
    return SyntheticDataset, augment_dataset, labelled, floats


def _all_items(dataset: Any, workers: int, shuffle: bool = False) -> list:
    from torch.utils.data import DataLoader

    loader = DataLoader(
        dataset,
        batch_size=5,
        shuffle=shuffle,
        num_workers=workers,
        # A seeded order: the same indices reach the workers in both runs.
        generator=torch.Generator().manual_seed(0),
        collate_fn=list,
    )
    return [item for batch in loader for item in batch]


def _same(a: list, b: list) -> bool:
    def arr(x: Any) -> np.ndarray:
        return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

    def parts(item: Any) -> list:
        return list(item) if isinstance(item, tuple) else [item]

    return len(a) == len(b) and all(
        all(np.array_equal(arr(p), arr(q)) for p, q in zip(parts(x), parts(y)))
        for x, y in zip(a, b)
    )


@pytest.mark.parametrize("case", ["prior-labels", "float-tensors"])
def test_items_are_the_same_with_zero_or_two_workers_and_shuffling(vision, case):
    SyntheticDataset, _, labelled, floats = vision
    syn = labelled if case == "prior-labels" else floats
    # y=None on a labelled synthesizer draws the labels too, batch by batch, from the seed.
    dataset = SyntheticDataset(syn, 23, random_state=5, batch_size=4)
    serial = _all_items(dataset, 0, shuffle=True)
    parallel = _all_items(SyntheticDataset(syn, 23, random_state=5, batch_size=4), 2, shuffle=True)
    assert _same(serial, parallel)
    direct = [dataset[i] for i in range(23)]
    in_order = _all_items(SyntheticDataset(syn, 23, random_state=5, batch_size=4), 2)
    assert _same(direct, in_order)
    other = SyntheticDataset(syn, 23, random_state=6, batch_size=4)
    assert not _same(direct, [other[i] for i in range(23)])


def test_augmented_dataset_is_the_same_with_zero_or_two_workers(vision):
    from torch.utils.data import TensorDataset

    _, augment_dataset, labelled, _ = vision
    real = TensorDataset(torch.rand(6, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2]))
    runs = [
        _all_items(augment_dataset(real, labelled, 3, random_state=2, batch_size=4), workers)
        for workers in (0, 2)
    ]
    assert len(runs[0]) == 6 + 9 and _same(*runs)


# ------------------------------------------------------- sampler and meta-estimator
@pytest.mark.parametrize("cls", [GANSynthesizer, VAEGANSynthesizer], ids=lambda c: c.__name__)
def test_the_sampler_gives_identical_frames_for_the_same_seed(cls):
    X, y = mixed()
    runs = [
        SyntheticAugmenter(tiny(cls), augment_ratio=0.5, random_state=rs).fit_resample(X, y)
        for rs in (3, 3, np.random.default_rng(3), np.random.default_rng(3), 4)
    ]
    assert digest(*runs[0]) == digest(*runs[1])
    assert digest(*runs[2]) == digest(*runs[3])
    assert digest(*runs[0]) != digest(*runs[4])


def test_the_meta_estimator_chooses_and_predicts_identically_for_the_same_seed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = (X[:, 0] + rng.normal(scale=0.5, size=90) > 0.8).astype(int)

    def fit(seed: int) -> AugmentedClassifier:
        return AugmentedClassifier(
            LogisticRegression(),
            SyntheticAugmenter(tiny(VAESynthesizer)),
            validation="auto",
            random_state=seed,
        ).fit(X, y)

    a, b = fit(1), fit(1)
    assert a.validation_scores_ == b.validation_scores_
    assert a.chosen_strength_ == b.chosen_strength_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    if a.augmenter_ is not None:
        np.testing.assert_array_equal(a.augmenter_.synthetic_mask_, b.augmenter_.synthetic_mask_)


@pytest.mark.parametrize("cls", FAMILIES)
def test_compact_draws_equal_the_encoded_rows_they_stand_for(cls):
    # sample() decodes rows with one column per span; the encoded rows (copy protection,
    # early stopping) must hold the same draws, from the same random numbers.
    X, y = mixed()
    model = tiny(cls, random_state=0).fit(X, y)
    c = torch.nn.functional.one_hot(torch.arange(50) % 2, 2).float()
    asked = [None]
    if cls is GANSynthesizer:
        asked.append({"city": "Lima"})
    model._set_train(False)
    for conditions in asked:
        with torch.no_grad():
            rows = model._generate(50, c, torch.Generator().manual_seed(3), conditions)
            compact = model._generate(
                50, c, torch.Generator().manual_seed(3), conditions, compact=True
            )
        assert compact.shape == (50, len(model.codec_.spans_))
        assert torch.equal(model.layout_.expand_compact(compact), rows)
        pd.testing.assert_frame_equal(
            model._decode_rows(compact.numpy(), compact=True), model._decode_rows(rows.numpy())
        )
        if conditions:
            assert (model._decode_rows(compact.numpy(), compact=True)["city"] == "Lima").all()


def test_families_without_compact_rows_sample_the_same_rows(monkeypatch):
    # A subclass whose _generate knows nothing of compact rows (_compact_rows False) gets the
    # one-hot path, and the same sample.
    X, y = mixed()
    model = tiny(GANSynthesizer, random_state=0).fit(X, y)
    compact = model.sample(40, random_state=4)
    monkeypatch.setattr(GANSynthesizer, "_compact_rows", False)
    plain = model.sample(40, random_state=4)
    pd.testing.assert_frame_equal(compact[0], plain[0])
    pd.testing.assert_series_equal(pd.Series(compact[1]), pd.Series(plain[1]))


def test_seeds_beyond_what_torch_takes_are_refused_by_name():
    from genaug._random import resolve_seed
    from genaug.exceptions import InvalidParameterError

    assert resolve_seed(2**63 - 2) == 2**63 - 2
    with pytest.raises(InvalidParameterError, match=r"random_state must be below 2\*\*63"):
        resolve_seed(2**64)
