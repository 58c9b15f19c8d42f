"""Save and load: JSON + safetensors, atomic writes, refusal of bad folders."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file, save_file

import genaug
from genaug import VAESynthesizer
from genaug.exceptions import ModelFileError

from .conftest import make_labelled

FAST = {"epochs": 3, "latent_dim": 4, "encoder_hidden": (16,), "decoder_hidden": (16,)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[VAESynthesizer, Path]:
    X, y = make_labelled(n=200)
    syn = VAESynthesizer(random_state=0, **FAST).fit(X, y)
    path = tmp_path_factory.mktemp("models") / "vae"
    syn.save(path)
    return syn, path


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_folder_holds_json_and_safetensors_only(saved):
    _, path = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((path / "config.json").read_text())
    assert config["class"] == "VAESynthesizer" and config["format_version"] == 1
    assert config["genaug_version"] == genaug.__version__
    assert config["params"]["epochs"] == FAST["epochs"]
    assert all(t.device.type == "cpu" for t in load_file(path / "model.safetensors").values())


def test_loaded_model_samples_identically(saved):
    syn, path = saved
    again = genaug.load(path)
    assert type(again) is VAESynthesizer and again.get_params() == syn.get_params()
    a_X, a_y = syn.sample(300, random_state=4)
    b_X, b_y = again.sample(300, random_state=4)
    pd.testing.assert_frame_equal(a_X, b_X)
    pd.testing.assert_series_equal(a_y, b_y)
    # Unseeded calls continue the same sequence as the saved model would have.
    assert again.history_ == syn.history_


def test_save_replaces_a_model_atomically(saved, tmp_path, monkeypatch):
    syn, path = saved
    target = _copy(path, tmp_path / "m")
    before = (target / "model.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("genaug.io.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        syn.save(target)
    assert (target / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left behind


def test_save_refuses_to_replace_a_foreign_folder(saved, tmp_path):
    syn, _ = saved
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="does not hold a genaug model"):
        syn.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # A config.json is not enough: a Hugging Face model folder, or one with extra files.
    hf_model = tmp_path / "hf"
    hf_model.mkdir()
    (hf_model / "config.json").write_text('{"model_type": "bert"}')
    (hf_model / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(FileExistsError, match="does not hold a genaug model"):
        syn.save(hf_model)
    assert (hf_model / "model.safetensors").read_bytes() == b"weights"
    ours = _copy(saved[1], tmp_path / "ours")
    (ours / "README.md").write_text("notes")
    with pytest.raises(FileExistsError, match="does not hold a genaug model"):
        syn.save(ours)
    (ours / "README.md").unlink()
    syn.save(ours)  # genaug's own model folder is replaced


def _edit_config(path: Path, edit) -> None:
    config = json.loads((path / "config.json").read_text())
    edit(config)
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: (p / "config.json").unlink(), "lacks config.json"),
        (lambda p: (p / "model.safetensors").unlink(), "lacks model.safetensors"),
        (lambda p: (p / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "config.json").write_text("[1, 2]"), "JSON object"),
        (
            lambda p: (p / "model.safetensors").write_bytes(
                (p / "model.safetensors").read_bytes()[:100]
            ),
            "not a valid safetensors",
        ),
        (lambda p: (p / "model.safetensors").write_bytes(b"\x00" * 64), "not a valid safetensors"),
        (lambda p: _edit_config(p, lambda c: c.update({"class": "os.system"})), "unknown"),
        (lambda p: _edit_config(p, lambda c: c.update({"format_version": 7})), "version 7"),
        (lambda p: _edit_config(p, lambda c: c["params"].update({"epochs": -1})), "epochs"),
        (lambda p: _edit_config(p, lambda c: c["params"].update({"evil": 1})), "evil"),
        (lambda p: _edit_config(p, lambda c: c["state"].pop("codec")), "malformed"),
        (lambda p: _edit_config(p, lambda c: c["state"].update({"data_dim": 10**9})), "data_dim"),
        (
            lambda p: _edit_config(p, lambda c: c["params"].update({"latent_dim": 10**9})),
            "shape",
        ),
    ],
)
def test_damaged_folders_raise_model_file_error(saved, tmp_path, damage, match):
    _, path = saved
    target = _copy(path, tmp_path / "m")
    damage(target)
    with pytest.raises(ModelFileError, match=match):
        genaug.load(target)


def test_wrong_tensor_shapes_are_refused_before_loading(saved, tmp_path):
    _, path = saved
    target = _copy(path, tmp_path / "m")
    tensors = load_file(target / "model.safetensors")
    key = next(k for k, v in tensors.items() if v.ndim == 2)
    tensors[key] = tensors[key].flatten()[:3].clone()
    save_file(tensors, target / "model.safetensors")
    with pytest.raises(ModelFileError, match="shape"):
        genaug.load(target)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFileError, match="No model folder"):
        genaug.load(tmp_path / "absent")


def test_a_dtype_needing_pyarrow_passes_the_saved_dtype_check(monkeypatch):
    from genaug.io import check_saved_dtype

    def without_pyarrow(name):
        raise ImportError("pyarrow>=10.0.1 is required for PyArrow backed StringArray.")

    monkeypatch.setattr(pd.api.types, "pandas_dtype", without_pyarrow)
    check_saved_dtype("string[pyarrow]", "the dtype of column 's'")  # decoded as Python strings


def _edge_table(n: int = 120) -> pd.DataFrame:
    """Values JSON alone cannot keep: int64 beyond 2**53, dates, date and bytes objects,
    tuple column names (a MultiIndex)."""
    rng = np.random.default_rng(0)
    top = np.iinfo(np.int64).max
    frame = pd.DataFrame(
        {
            ("n", "sentinel"): np.where(rng.random(n) < 0.3, top, rng.integers(0, 2**62, n)),
            ("n", "id"): np.where(rng.random(n) < 0.3, 2**53 + 1, rng.integers(0, 99, n)),
            ("d", "day"): pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
            ("o", "date"): [datetime.date(2020, 1, 1 + k % 4) for k in range(n)],
            ("o", "bytes"): [b"x", b"y", b"z"] * (n // 3),
        }
    )
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def test_saved_model_keeps_big_integers_dates_and_object_categories(tmp_path):
    X = _edge_table()
    syn = VAESynthesizer(random_state=0, **FAST).fit(X)
    syn.save(tmp_path / "m")
    codec = json.loads((tmp_path / "m" / "config.json").read_text())["state"]["codec"]
    assert codec["columns"][0]["max"] == np.iinfo(np.int64).max  # an exact JSON integer
    again = genaug.load(tmp_path / "m")
    out = again.sample(300, random_state=1)
    pd.testing.assert_frame_equal(out, syn.sample(300, random_state=1))
    assert list(out.columns) == list(X.columns) and out.dtypes.equals(X.dtypes)
    sentinel = out[("n", "sentinel")]
    assert (sentinel >= 0).all() and (sentinel == np.iinfo(np.int64).max).any()
    assert set(out[("n", "id")]) & {2**53 + 1} and not set(out[("n", "id")]) & {2**53}
    day = out[("d", "day")]
    assert (day == day.dt.normalize()).all()
    assert set(out[("o", "date")]) <= set(X[("o", "date")])
    assert set(out[("o", "bytes")]) <= {b"x", b"y", b"z"}


def test_checkpoints_hold_object_categories(tmp_path, monkeypatch):
    # A successful fit deletes its checkpoints: keep the last one to load it.
    monkeypatch.setattr("genaug.synthesizers._checkpoint.Checkpointer.finish", lambda self: None)
    X = _edge_table(60)
    VAESynthesizer(random_state=0, **{**FAST, "epochs": 2}).fit(X, checkpoint_dir=tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("epoch-")]
    assert set(genaug.load(folder).sample(20, random_state=0)[("o", "date")]) <= set(
        X[("o", "date")]
    )
