"""Training checkpoints: atomic writes, resume after SIGKILL, refusal of foreign checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import genaug
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.exceptions import InvalidDataError, InvalidParameterError, ModelFileError

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "VAESynthesizer": dict(latent_dim=4, encoder_hidden=(16,), decoder_hidden=(16,)),
    "GANSynthesizer": dict(
        latent_dim=4, generator_hidden=(16,), discriminator_hidden=(16,), batch_size=10
    ),
    "VAEGANSynthesizer": dict(
        latent_dim=4,
        encoder_hidden=(16,),
        decoder_hidden=(16,),
        discriminator_hidden=(16,),
        early_stopping=True,
        validation_every=2,
        patience=10,
    ),
}
CLASSES = {c.__name__: c for c in (VAESynthesizer, GANSynthesizer, VAEGANSynthesizer)}


def _data(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.choice(["x", "y", "z"], n),
            "c": rng.integers(0, 5, n),
        }
    )
    return X, rng.choice(["no", "yes"], n)


def _model(name: str, epochs: int = 6, **extra):
    return CLASSES[name](epochs=epochs, random_state=3, device="cpu", **SMALL[name], **extra)


def _weights(model) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v
        for name, module in model._modules().items()
        for k, v in module.state_dict().items()
    }


def _assert_same_fit(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.history_ == b.history_
    xa, ya = a.sample(200, random_state=1)
    xb, yb = b.sample(200, random_state=1)
    pd.testing.assert_frame_equal(xa, xb)
    assert np.array_equal(ya, yb)


class _Interrupt(Exception):
    pass


def _interrupt_after(model, epoch: int) -> None:
    """Make ``model`` fail right after ``epoch`` (after its checkpoint is written)."""
    original = model._on_epoch_end

    def on_epoch_end(e, losses):
        stop = original(e, losses)
        if e == epoch + 1:  # the checkpoint of `epoch` is on disk by now
            raise _Interrupt
        return stop

    # An instance attribute: the class (and its registry entry) stay untouched.
    model._on_epoch_end = on_epoch_end


# ------------------------------------------------------------------ kill test
_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np, pandas as pd, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {root!r})
    from genaug import GANSynthesizer, VAESynthesizer
    mode, name, ckpt, out = sys.argv[1:5]
    cls = {{"VAESynthesizer": VAESynthesizer, "GANSynthesizer": GANSynthesizer}}[name]
    small = {small!r}[name]
    rng = np.random.default_rng(0)
    n = 80
    X = pd.DataFrame({{"a": rng.normal(size=n), "b": rng.choice(["x", "y", "z"], n),
                       "c": rng.integers(0, 5, n)}})
    y = rng.choice(["no", "yes"], n)
    params = dict(epochs=8, random_state=3, device="cpu", **small)
    if mode == "killed":
        original = cls._on_epoch_end
        def slow(self, epoch, losses):
            time.sleep(0.4)  # leaves the parent time to kill the run mid-training
            return original(self, epoch, losses)
        cls._on_epoch_end = slow
        cls(**params).fit(X, y, checkpoint_dir=ckpt, checkpoint_every=1)
        open(out + ".finished", "w").close()
    else:
        resumed = cls(**params).fit(X, y, checkpoint_dir=ckpt)
        plain = cls(**params).fit(X, y)
        for tag, model in (("resumed", resumed), ("plain", plain)):
            Xs, ys = model.sample(300, random_state=5)
            np.save(out + f".{{tag}}.npy", Xs.to_numpy(dtype=object).astype(str))
            np.save(out + f".{{tag}}.labels.npy", np.asarray(ys).astype(str))
            model.save(out + f".{{tag}}")
    """
)


@pytest.mark.parametrize("name", ["VAESynthesizer", "GANSynthesizer"])
def test_sigkill_mid_training_then_resume_equals_uninterrupted_run(tmp_path, name):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(root=str(ROOT), small=SMALL))
    ckpt, out = tmp_path / "ckpt", str(tmp_path / "out")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), "killed", name, str(ckpt), out],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            done = [p.name for p in ckpt.glob("epoch-*")] if ckpt.is_dir() else []
            if any(int(d.split("-")[1]) >= 2 for d in done):
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint of epoch 2 appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not Path(out + ".finished").exists()
    # Two folders when the kill came between writing a checkpoint and deleting the older one;
    # resuming takes the newest.
    left = sorted(int(p.name.split("-")[1]) for p in ckpt.glob("epoch-*"))
    assert 1 <= len(left) <= 2 and 2 <= left[-1] < 8

    done = subprocess.run(
        [sys.executable, str(script), "resume", name, str(ckpt), out],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # The checkpoints of a finished fit are deleted.
    assert not any(ckpt.glob("epoch-*"))
    for suffix in (".npy", ".labels.npy"):
        resumed = np.load(out + ".resumed" + suffix)
        plain = np.load(out + ".plain" + suffix)
        assert np.array_equal(resumed, plain)
    wr = load_file(out + ".resumed/model.safetensors")
    wp = load_file(out + ".plain/model.safetensors")
    assert wr.keys() == wp.keys() and all(torch.equal(wr[k], wp[k]) for k in wr)
    history_r = json.loads(Path(out + ".resumed/config.json").read_text())["state"]["history"]
    history_p = json.loads(Path(out + ".plain/config.json").read_text())["state"]["history"]
    assert history_r == history_p and history_r["epoch"] == list(range(1, 9))


# ------------------------------------------------------- in-process resume
@pytest.mark.parametrize("name", ["VAESynthesizer", "GANSynthesizer", "VAEGANSynthesizer"])
def test_interrupted_fit_resumes_to_the_uninterrupted_result(tmp_path, name):
    X, y = _data()
    plain = _model(name).fit(X, y)
    broken = _model(name)
    _interrupt_after(broken, 3)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-000003"]
    info = json.loads((tmp_path / "epoch-000003" / "config.json").read_text())["checkpoint"]
    assert info["epoch"] == 3
    if name == "VAEGANSynthesizer":
        # Early stopping had checked at epoch 2: its best weights travel with the checkpoint.
        assert info["training"]["early_stopping"]["checks"] == 1
        training = load_file(tmp_path / "epoch-000003" / "training.safetensors")
        assert any(k.startswith("best.decoder_.") for k in training)
    resumed = _model(name).fit(X, y, checkpoint_dir=tmp_path)
    _assert_same_fit(plain, resumed)
    assert list(tmp_path.iterdir()) == []
    if name == "VAEGANSynthesizer":
        assert resumed.best_epoch_ == plain.best_epoch_


def test_utility_early_stopping_resumes_to_the_uninterrupted_result(tmp_path):
    X, y = _data()
    options = dict(early_stopping=True, validation_every=2, validation_metric="utility")
    plain = _model("GANSynthesizer", **options).fit(X, y)
    broken = _model("GANSynthesizer", **options)
    _interrupt_after(broken, 3)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    resumed = _model("GANSynthesizer", **options).fit(X, y, checkpoint_dir=tmp_path)
    _assert_same_fit(plain, resumed)
    assert len(plain.history_["validation_utility_auc"]) == 3
    assert resumed.best_epoch_ == plain.best_epoch_


def test_checkpoint_every_and_files(tmp_path):
    X, y = _data()
    model = _model("VAESynthesizer", epochs=7)
    _interrupt_after(model, 4)
    with pytest.raises(_Interrupt):
        model.fit(X, y, checkpoint_dir=tmp_path, checkpoint_every=2)
    # Epoch 5 ended without a checkpoint; the one of epoch 4 replaced that of epoch 2.
    folder = tmp_path / "epoch-000004"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
        "training.safetensors",
    ]
    training = load_file(folder / "training.safetensors")
    assert training["rng.training"].dtype == torch.uint8
    assert any(k.startswith("optimizer.vae.0.exp_avg") for k in training)
    # A checkpoint is also a model folder: the model as it was after epoch 4.
    at_epoch_4 = genaug.load(folder)
    assert at_epoch_4.history_["epoch"] == [1, 2, 3, 4]
    X_new, y_new = at_epoch_4.sample(20, random_state=0)
    assert list(X_new.columns) == list(X.columns) and len(y_new) == 20
    config = json.loads((folder / "config.json").read_text())
    assert len(config["checkpoint"]["fingerprint"]["data"]) == 64  # a SHA-256, not the rows


def test_half_written_checkpoint_is_ignored(tmp_path):
    X, y = _data()
    plain = _model("VAESynthesizer").fit(X, y)
    broken = _model("VAESynthesizer")
    _interrupt_after(broken, 2)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    # What a run killed while writing the checkpoint of epoch 3 leaves behind.
    leftover = tmp_path / ".epoch-000003.k2j4h1.tmp"
    leftover.mkdir()
    (leftover / "config.json").write_text('{"trunc')
    resumed = _model("VAESynthesizer").fit(X, y, checkpoint_dir=tmp_path)
    _assert_same_fit(plain, resumed)
    assert not leftover.exists()


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda f: (f / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 12), "safetensors"),
        (lambda f: (f / "training.safetensors").unlink(), "lacks training.safetensors"),
        (
            lambda f: (f / "training.safetensors").write_bytes(
                (f / "training.safetensors").read_bytes()[:100]
            ),
            "training.safetensors is not a valid",
        ),
    ],
)
def test_corrupted_checkpoint_is_a_clear_error(tmp_path, damage, match):
    X, y = _data()
    broken = _model("VAESynthesizer")
    _interrupt_after(broken, 2)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    damage(tmp_path / "epoch-000002")
    with pytest.raises(ModelFileError, match=match):
        _model("VAESynthesizer").fit(X, y, checkpoint_dir=tmp_path)
    # resume=False discards the damaged checkpoint and trains from the start.
    fresh = _model("VAESynthesizer").fit(X, y, checkpoint_dir=tmp_path, resume=False)
    _assert_same_fit(_model("VAESynthesizer").fit(X, y), fresh)


def _edited_checkpoint(tmp_path, name: str, edit) -> None:
    """Interrupt a fit of ``name`` after 2 epochs and apply ``edit`` to its config.json."""
    X, y = _data()
    broken = _model(name)
    _interrupt_after(broken, 2)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    config_path = tmp_path / "epoch-000002" / "config.json"
    config = json.loads(config_path.read_text())
    edit(config)
    config_path.write_text(json.dumps(config))


def test_edited_checkpoint_state_is_a_clear_error(tmp_path):
    X, y = _data()
    _edited_checkpoint(
        tmp_path, "VAESynthesizer", lambda c: c["checkpoint"]["optimizers"].pop("vae")
    )
    with pytest.raises(ModelFileError, match=r"epoch-000002.*resume=False"):
        _model("VAESynthesizer").fit(X, y, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(data_seed=1), InvalidDataError, "data differ"),
        (dict(learning_rate=0.01), InvalidParameterError, "learning_rate=0.001"),
        (dict(random_state=4), InvalidParameterError, "random_state=3"),
    ],
)
def test_resuming_with_other_data_or_parameters_raises(tmp_path, change, error, match):
    X, y = _data()
    broken = _model("VAESynthesizer")
    _interrupt_after(broken, 2)
    with pytest.raises(_Interrupt):
        broken.fit(X, y, checkpoint_dir=tmp_path)
    data_seed = change.pop("data_seed", 0)
    X2, y2 = _data(seed=data_seed)
    model = _model("VAESynthesizer")
    model.set_params(**change)
    with pytest.raises(error, match=match):
        model.fit(X2, y2, checkpoint_dir=tmp_path)
    # The checkpoint is still there for the right call.
    assert (tmp_path / "epoch-000002").is_dir()


def test_checkpoint_from_before_a_parameter_existed_names_it(tmp_path):
    X, y = _data()
    _edited_checkpoint(
        tmp_path,
        "GANSynthesizer",
        lambda c: c["checkpoint"]["fingerprint"]["params"].pop("validation_metric"),
    )
    with pytest.raises(InvalidParameterError, match="validation_metric=<not in the checkpoint>"):
        _model("GANSynthesizer").fit(X, y, checkpoint_dir=tmp_path)


def test_unseeded_run_resumes_with_its_own_seed(tmp_path):
    X, y = _data()
    model = VAESynthesizer(epochs=5, device="cpu", **SMALL["VAESynthesizer"])
    _interrupt_after(model, 2)
    with pytest.raises(_Interrupt):
        model.fit(X, y, checkpoint_dir=tmp_path)
    assert not hasattr(model, "seed_")  # a failed fit leaves the model unfitted
    # The seed the run drew, as its checkpoint (a model folder) holds it.
    seed = genaug.load(str(next(tmp_path.glob("epoch-*")))).seed_
    resumed = VAESynthesizer(epochs=5, device="cpu", **SMALL["VAESynthesizer"]).fit(
        X, y, checkpoint_dir=tmp_path
    )
    assert resumed.seed_ == seed
    plain = VAESynthesizer(epochs=5, random_state=seed, device="cpu", **SMALL["VAESynthesizer"])
    _assert_same_fit(plain.fit(X, y), resumed)


def test_finished_fit_leaves_no_checkpoint_and_refit_trains_again(tmp_path):
    X, y = _data()
    (tmp_path / "notes.txt").write_text("mine")
    model = _model("VAESynthesizer", epochs=3).fit(X, y, checkpoint_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    again = _model("VAESynthesizer", epochs=3).fit(X, y, checkpoint_dir=tmp_path)
    assert again.history_["epoch"] == [1, 2, 3]
    _assert_same_fit(model, again)


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    import genaug.distributed

    monkeypatch.setattr(genaug.distributed, "is_main_process", lambda: False)
    X, y = _data()
    model = _model("VAESynthesizer", epochs=4)
    _interrupt_after(model, 2)
    with pytest.raises(_Interrupt):
        model.fit(X, y, checkpoint_dir=tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(checkpoint_every=0), "checkpoint_every"),
        (dict(checkpoint_every=1.5), "checkpoint_every"),
        (dict(resume="yes"), "resume"),
        (dict(checkpoint_dir=3), "checkpoint_dir"),
    ],
)
def test_bad_checkpoint_arguments(tmp_path, kwargs, match):
    X, y = _data()
    kwargs.setdefault("checkpoint_dir", tmp_path)
    with pytest.raises(InvalidParameterError, match=match):
        _model("VAESynthesizer").fit(X, y, **kwargs)


def test_checkpoint_dir_that_is_a_file(tmp_path):
    X, y = _data()
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InvalidParameterError, match="not a folder"):
        _model("VAESynthesizer").fit(X, y, checkpoint_dir=path)
