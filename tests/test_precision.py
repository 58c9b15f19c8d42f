"""precision="bfloat16": mixed-precision training and sampling that keep their promises."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
import torch

import genaug
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.exceptions import InvalidParameterError
from genaug.nn.mlp import MLP, ResidualMLP

from .conftest import make_labelled

SMALL = {
    VAESynthesizer: dict(encoder_hidden=(32,), decoder_hidden=(32,), latent_dim=8),
    GANSynthesizer: dict(generator_hidden=(32,), discriminator_hidden=(32,), latent_dim=8),
    VAEGANSynthesizer: dict(
        encoder_hidden=(32,), decoder_hidden=(32,), discriminator_hidden=(32,), latent_dim=8
    ),
}
CLASSES = list(SMALL)


def _fit(cls, precision, seed=0, epochs=3):
    X, y = make_labelled(300)
    model = cls(epochs=epochs, batch_size=64, random_state=seed, device="cpu", precision=precision,
                **SMALL[cls])
    return model.fit(X, y), X


@pytest.mark.parametrize("cls", CLASSES)
def test_bfloat16_trains_samples_and_is_seeded(cls, tmp_path):
    model, X = _fit(cls, "bfloat16")
    X1, y1 = model.sample(200, y={"rare": 50, "common": 150}, random_state=3)
    X2, _ = model.sample(200, y={"rare": 50, "common": 150}, random_state=3)
    assert X1.dtypes.equals(X.dtypes) and (y1 == "rare").sum() == 50
    assert X1.equals(X2)
    again, _ = _fit(cls, "bfloat16")
    assert again.sample(200, random_state=3)[0].equals(model.sample(200, random_state=3)[0])
    model.save(tmp_path / "m")
    loaded = genaug.load(tmp_path / "m")
    assert loaded.precision == "bfloat16"
    assert loaded.sample(50, random_state=1)[0].equals(model.sample(50, random_state=1)[0])


@pytest.mark.parametrize("cls", CLASSES)
def test_bfloat16_differs_from_float32_but_learns_the_same_table(cls):
    b16, _ = _fit(cls, "bfloat16", epochs=5)
    f32, _ = _fit(cls, "float32", epochs=5)
    a, b = b16.sample(500, random_state=0)[0], f32.sample(500, random_state=0)[0]
    assert not a.equals(b)
    # Same model, other arithmetic: the numeric marginal stays close.
    assert abs(a["x"].mean() - b["x"].mean()) < 0.5
    for name, history in b16.history_.items():
        assert np.isfinite(history).all(), name


def test_output_layers_stay_float32_under_autocast():
    x = torch.randn(16, 5)
    for net in (MLP(5, (8,), 3), ResidualMLP(5, (8,), 3)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
            inner = torch.nn.functional.linear(x, torch.randn(4, 5))
        assert out.dtype == torch.float32
        assert inner.dtype == torch.bfloat16  # autocast is on: only the head was exempt


def test_precision_must_be_a_known_name():
    X, y = make_labelled(50)
    with pytest.raises(InvalidParameterError, match="precision"):
        VAESynthesizer(epochs=1, precision="float16").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_bfloat16_on_the_cpu_is_allowed_and_on_a_missing_gpu_fails_clearly():
    from genaug._device import check_precision

    check_precision("bfloat16", torch.device("cpu"), "VAESynthesizer")
    with pytest.raises(InvalidParameterError, match="bfloat16"):
        check_precision("bfloat16", torch.device("meta"), "VAESynthesizer")


@pytest.mark.parametrize("cls", CLASSES)
def test_bfloat16_on_images(cls):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1] * 20)
    model = cls(epochs=1, batch_size=20, random_state=0, device="cpu", precision="bfloat16")
    X, y = model.fit(images, labels).sample(6, y={1: 6}, random_state=0)
    assert X.dtype == np.uint8 and X.shape == (6, 8, 8) and (y == 1).all()


def test_denormal_guard_is_scoped_and_restores_the_callers_flag():
    from genaug.nn.denormals import flush_denormals, flushing_denormals

    before = flushing_denormals()
    with flush_denormals():
        inside = flushing_denormals()
    assert flushing_denormals() == before
    if torch.set_flush_denormal(True):  # the processor can flush: check both starting states
        try:
            assert inside
            with flush_denormals():
                assert flushing_denormals()
            assert flushing_denormals()  # the caller's own setting is left on
        finally:
            torch.set_flush_denormal(before)
    with flush_denormals(enabled=False):
        assert flushing_denormals() == before


def _fit_tiny_vae_recording(monkeypatch, probe) -> list:
    """Fit a tiny VAE on CPU and return ``probe()`` as seen at the start of each step."""
    seen = []
    original = VAESynthesizer._train_step

    def spy(self, *args):
        seen.append(probe())
        return original(self, *args)

    monkeypatch.setattr(VAESynthesizer, "_train_step", spy)
    X = np.random.default_rng(0).normal(size=(64, 3))
    syn = VAESynthesizer(epochs=2, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,))
    syn.set_params(device="cpu", random_state=0).fit(X)
    return seen


def test_training_flushes_subnormals_and_leaves_no_trace(monkeypatch):
    from genaug.nn.denormals import flushing_denormals, zero_subnormals

    before = flushing_denormals()
    seen = _fit_tiny_vae_recording(monkeypatch, flushing_denormals)
    assert flushing_denormals() == before
    if torch.set_flush_denormal(before):  # only where the processor can flush at all
        assert seen and all(seen)

    # Weights and optimizer moments: subnormal values become zero, the rest is untouched.
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 2)).sum().backward()
    opt.step()
    tiny = torch.finfo(torch.float32).tiny
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[tiny / 4, 0.5], [-tiny / 8, 1e-30]]))
    state = opt.state[net.weight]
    state["exp_avg_sq"].fill_(tiny / 2)
    zero_subnormals([net], [opt])
    assert net.weight.tolist() == [[0.0, 0.5], [0.0, pytest.approx(1e-30)]]
    assert not state["exp_avg_sq"].any()


def test_training_gives_the_flush_flag_to_the_intra_op_workers_too(monkeypatch):
    from genaug.nn.denormals import _openmp_pause

    can_flush = torch.set_flush_denormal(False)  # the default; True where the CPU can flush
    if _openmp_pause() is None or not can_flush:
        pytest.skip("needs torch's OpenMP runtime and a CPU that can flush")
    # Large enough to be split over the intra-op threads; made before any flag is set.
    subnormal = torch.full((1_000_000,), 1e-39)

    def flushed_share() -> float:
        return float((subnormal * 1.0 == 0).float().mean())

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the suite runs on one thread; the workers are what is checked
    try:
        assert flushed_share() == 0.0
        seen = _fit_tiny_vae_recording(monkeypatch, flushed_share)
        assert seen and all(share == 1.0 for share in seen)  # every thread flushed
        assert flushed_share() == 0.0  # and none is left flushing
    finally:
        torch.set_num_threads(threads)


def test_autocast_dtype_reports_the_enclosing_region():
    from genaug.nn.precision import autocast_dtype

    assert autocast_dtype("cpu") is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autocast_dtype("cpu") == torch.bfloat16
        with torch.autocast("cpu", enabled=False):
            assert autocast_dtype("cpu") is None


@contextlib.contextmanager
def _fp32_setting(owner, value):
    # torch's per-backend float32 precision, set back afterwards (a property with a setter).
    before = owner.fp32_precision
    owner.fp32_precision = value
    try:
        yield
    finally:
        owner.fp32_precision = before


@contextlib.contextmanager
def _lowered(setting):
    backends = torch.backends
    if setting == "legacy_medium":
        before = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision("medium")
        try:
            yield
        finally:
            torch.set_float32_matmul_precision(before)
        return
    owner, value = {
        "default": (None, None),
        "cuda_tf32": (backends.cuda.matmul, "tf32"),
        "mkldnn_bf16": (backends.mkldnn.matmul, "bf16"),
        "generic_bf16": (backends, "bf16"),
    }[setting]
    if owner is None:
        yield
        return
    with _fp32_setting(owner, value):
        yield


@pytest.mark.parametrize(
    "setting, exact",
    [
        ("default", True),
        ("cuda_tf32", True),  # a GPU setting: CPU products stay float32
        ("mkldnn_bf16", False),
        ("generic_bf16", False),  # inherited by oneDNN's matmul
        ("legacy_medium", False),
    ],
)
def test_exact_float32_products_reads_every_way_of_lowering_precision(setting, exact):
    from genaug.nn.precision import exact_float32_products

    if setting != "default" and not hasattr(torch.backends.mkldnn.matmul, "fp32_precision"):
        pytest.skip("this torch has no per-backend float32 precision settings")
    with _lowered(setting):
        # Never raises (the legacy getter does once a per-backend setting is in use).
        assert exact_float32_products("cpu") is exact
        assert exact_float32_products(torch.device("cpu")) is exact
        assert exact_float32_products("meta") is False
        assert exact_float32_products("cuda") is False
    assert torch.get_float32_matmul_precision() == "highest"  # left as found


@pytest.mark.parametrize("cls", CLASSES)
def test_sampling_works_after_a_gpu_user_sets_tf32_the_new_way(cls):
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("this torch has no per-backend float32 precision settings")
    model, _ = _fit(cls, "float32", epochs=1)
    expected = model.sample(40, random_state=0)
    with _lowered("cuda_tf32"):
        got = model.sample(40, random_state=0)
    pd.testing.assert_frame_equal(got[0], expected[0])
    pd.testing.assert_series_equal(got[1], expected[1])
