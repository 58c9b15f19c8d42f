"""The command line: each command end to end on temp files, atomic writes, errors, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from genaug import __version__, load
from genaug import _cli_io as cli_io
from genaug._cli_io import MANIFEST_NAME, UsageError
from genaug.cli import main

from .conftest import make_labelled

FAST = ["--epochs", "2", "--seed", "0"]


def _table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    X, y = make_labelled(n, seed)
    return X.assign(label=y)


def _write(frame: pd.DataFrame, path) -> str:
    if str(path).endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path) if str(path).endswith(".csv") else pd.read_parquet(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A labelled table as CSV and Parquet, and a VAE model fitted on it by ``genaug fit``."""
    folder = tmp_path_factory.mktemp("cli")
    data = _table()
    paths = {
        "csv": _write(data, folder / "data.csv"),
        "parquet": _write(data, folder / "data.parquet"),
    }
    paths["model"] = str(folder / "model")
    assert main(["fit", paths["csv"], "--label", "label", *FAST, "-q", "-o", paths["model"]]) == 0
    return paths


def _one_error_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


# ----------------------------------------------------------------------------- fit
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_fit_saves_a_model_that_genaug_load_reads(files, tmp_path, fmt, capsys):
    out = tmp_path / "m"
    code = main(["fit", files[fmt], "--model", "vae", "--label", "label", *FAST, "-o", str(out)])
    assert code == 0
    assert "saved to" in capsys.readouterr().out
    model = load(str(out))
    assert list(model.classes_) == ["common", "rare"]
    assert list(model.feature_names_in_) == ["x", "k", "m"]
    assert model.epochs == 2


def test_fit_refuses_an_existing_model_without_force(files, capsys):
    before = load(files["model"]).sample(5, random_state=0)[0]
    code = main(["fit", files["csv"], "--label", "label", *FAST, "-o", files["model"]])
    assert code == 2
    _one_error_line(capsys.readouterr().err, files["model"], "--force")
    assert load(files["model"]).sample(5, random_state=0)[0].equals(before)


def test_fit_replaces_a_model_with_force_but_never_another_folder(files, tmp_path, capsys):
    model = tmp_path / "m"
    assert main(["fit", files["csv"], "--label", "label", *FAST, "-q", "-o", str(model)]) == 0
    again = ["fit", files["csv"], "--label", "label", "--epochs", "1", "-q", "-o", str(model)]
    assert main([*again, "--force"]) == 0
    assert load(str(model)).epochs == 1
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.jpg").write_bytes(b"x")
    assert main([*again[:-1], str(other), "--force"]) == 2
    _one_error_line(capsys.readouterr().err, "photos", "without a genaug model")
    assert (other / "keep.jpg").exists()
    # A config.json alone does not make a folder genaug's (an app's settings, an HF model).
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.json").write_text('{"theme": "dark"}')
    (project / "src" / "main.py").write_text("print(1)")
    assert main([*again[:-1], str(project), "--force"]) == 2
    _one_error_line(capsys.readouterr().err, "project", "without a genaug model")
    assert (project / "src" / "main.py").exists()
    (project / "src" / "main.py").unlink()
    (project / "src").rmdir()
    assert main([*again[:-1], str(project), "--force"]) == 2  # genaug's files only, not its JSON


# -------------------------------------------------------------------------- sample
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sample_streams_chunks_with_exact_class_counts(files, tmp_path, fmt):
    out = tmp_path / f"synth.{fmt}"
    code = main(
        [
            "sample",
            files["model"],
            "--class-counts",
            "rare=250,common=50",
            "--chunk-size",
            "64",
            "--seed",
            "3",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    synth = _read(out)
    assert list(synth.columns) == ["x", "k", "m", "label"]
    assert synth["label"].value_counts().to_dict() == {"rare": 250, "common": 50}
    assert synth["m"].dtype == np.int64
    # Chunking is invisible: the rows equal one in-memory sample with the same seed.
    X, _ = load(files["model"]).sample(300, y={"rare": 250, "common": 50}, random_state=3)
    np.testing.assert_allclose(synth["x"], X["x"], rtol=1e-6)
    assert synth["k"].astype(str).tolist() == X["k"].astype(str).tolist()
    if fmt == "parquet":
        assert pq.ParquetFile(out).num_row_groups == 5  # ceil(300 / 64) chunks


def test_sample_converts_label_values_to_the_models_label_type(tmp_path):
    data = _table().assign(label=lambda d: (d["label"] == "rare").astype(int))
    model = tmp_path / "m"
    assert (
        main(
            [
                "fit",
                _write(data, tmp_path / "d.csv"),
                "--label",
                "label",
                *FAST,
                "-q",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    assert load(str(model)).classes_.dtype.kind == "i"
    out = tmp_path / "ones.csv"
    assert main(["sample", str(model), "-n", "40", "--label-value", "1", "-q", "-o", str(out)]) == 0
    assert pd.read_csv(out)["label"].tolist() == [1] * 40
    out2 = tmp_path / "counts.parquet"
    assert main(["sample", str(model), "--class-counts", "0=3,1.0=2", "-q", "-o", str(out2)]) == 0
    assert pd.read_parquet(out2)["label"].tolist() == [0, 0, 0, 1, 1]


def test_gan_sample_with_a_condition_and_a_label(files, tmp_path, capsys):
    model, out = tmp_path / "gan", tmp_path / "cond.csv"
    assert (
        main(
            [
                "fit",
                files["parquet"],
                "--model",
                "gan",
                "--label",
                "label",
                "--epochs",
                "1",
                "--seed",
                "0",
                "-q",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    code = main(
        [
            "sample",
            str(model),
            "-n",
            "30",
            "--condition",
            "k=a",
            "--label-value",
            "rare",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    synth = pd.read_csv(out)
    assert (synth["k"] == "a").all() and (synth["label"] == "rare").all() and len(synth) == 30
    # The label is not a condition: the error says so and names the options that choose it.
    args = ["sample", str(model), "-n", "5", "--condition", "label=rare", "-o", str(out)]
    assert main([*args, "--force"]) == 2
    _one_error_line(capsys.readouterr().err, "'label', the label column", "--label-value")


# ------------------------------------------------------------------------- augment
@pytest.mark.parametrize(("src", "dst"), [("csv", "parquet"), ("parquet", "csv")])
def test_augment_balances_the_classes_and_flags_synthetic_rows(files, tmp_path, src, dst):
    out = tmp_path / f"aug.{dst}"
    code = main(["augment", files[src], "--label", "label", *FAST, "-q", "-o", str(out)])
    assert code == 0
    real, aug = _read(files[src]), _read(out)
    assert list(aug.columns) == [*real.columns, "is_synthetic"]
    assert not aug["is_synthetic"][: len(real)].any() and aug["is_synthetic"][len(real) :].all()
    pd.testing.assert_frame_equal(aug.iloc[: len(real)].drop(columns="is_synthetic"), real)
    counts = aug["label"].value_counts()
    assert counts["rare"] == counts["common"] == real["label"].value_counts()["common"]


def test_augment_ratio_grows_every_class_without_rebalancing(files, tmp_path):
    out = tmp_path / "aug.csv"
    code = main(
        ["augment", files["csv"], "--label", "label", "--ratio", "0.5", *FAST, "-q", "-o", str(out)]
    )
    assert code == 0
    aug = pd.read_csv(out)
    real_counts = _read(files["csv"])["label"].value_counts()
    synth_counts = aug.loc[aug["is_synthetic"], "label"].value_counts()
    for label, n in real_counts.items():
        assert synth_counts[label] == round(0.5 * n)



def test_augment_reject_copies_reports_the_redrawn_rows(files, tmp_path, capsys):
    out = tmp_path / "aug.csv"
    args = ["augment", files["csv"], "--label", "label", *FAST, "--reject-copies", "-o", str(out)]
    assert main(args) == 0
    assert "too close to a real row were redrawn, threshold" in capsys.readouterr().out
    assert pd.read_csv(out)["is_synthetic"].any()


def test_augment_reject_copies_is_refused_for_image_folders(images, tmp_path, capsys):
    args = ["augment", str(images["root"]), "--reject-copies", "-o", str(tmp_path / "o")]
    assert main(args) == 2
    _one_error_line(capsys.readouterr().err, "--reject-copies", "tables")


def test_augment_refuses_an_output_folder_inside_or_around_its_data(images, tmp_path, capsys):
    root = images["root"]
    for out, words in [(root / "augmented", "is inside DATA"), (root.parent, "holds DATA")]:
        assert main(["augment", str(root), "--epochs", "1", "-o", str(out), "--force"]) == 2
        _one_error_line(capsys.readouterr().err, "-o", words)
    assert not (root / "augmented").exists()


def test_fit_refuses_a_model_folder_inside_or_around_its_image_data(images, tmp_path, capsys):
    # A model folder inside DATA would be read as one more class by the next fit.
    root = images["root"]
    for out, words in [(root / "model", "is inside DATA"), (root.parent, "holds DATA")]:
        assert main(["fit", str(root), "--epochs", "1", "-o", str(out), "--force"]) == 2
        _one_error_line(capsys.readouterr().err, "-o", words, "model folder")
    assert not (root / "model").exists()

# ------------------------------------------------------------------------ evaluate
def test_evaluate_prints_the_summary_and_writes_reports(files, tmp_path, capsys):
    real = _table(160, seed=1)
    synth = _write(real.sample(frac=1.0, random_state=0), tmp_path / "synth.parquet")
    holdout = _write(_table(120, seed=2), tmp_path / "holdout.csv")
    report_json, report_html = tmp_path / "r.json", tmp_path / "r.html"
    code = main(
        [
            "evaluate",
            files["csv"],
            synth,
            "--holdout",
            holdout,
            "--label",
            "label",
            "--metrics",
            "fidelity,privacy",
            "--json",
            str(report_json),
            "--html",
            str(report_html),
            "-q",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "fidelity" in out and "privacy" in out  # the summary is printed even under -q
    assert set(json.loads(report_json.read_text())["families"]) == {"fidelity", "privacy"}
    assert report_html.read_text().lstrip().lower().startswith("<!doctype html")


# ----------------------------------------------------------------------- benchmark
def test_quick_benchmark_writes_results_and_prints_the_table(tmp_path, capsys):
    code = main(["benchmark", "--quick", "--repeats", "1", "--epochs", "2", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    for name in ("none", "SMOTE", "genaug VAE", "breast_cancer", "wine", "adult"):
        assert name in out
    result = json.loads((tmp_path / "quick.json").read_text())
    assert {r["method"] for r in result["scores"]} == {"none", "SMOTE", "genaug VAE"}
    assert len(result["scores"]) == 3 * 3
    assert all(0.0 <= r["balanced_accuracy"] <= 1.0 for r in result["scores"])
    assert "| data set |" in (tmp_path / "quick.md").read_text()
    # The results now exist: a second run refuses to overwrite them without --force.
    assert main(["benchmark", "--quick", "--out", str(tmp_path)]) == 2
    _one_error_line(capsys.readouterr().err, "quick.json", "--force")


def test_benchmark_suite_quick_is_a_synonym_and_unknown_suites_are_refused(monkeypatch, capsys):
    calls = []

    def fake_run_quick(**kwargs):
        calls.append(kwargs)
        return {"table": "| data set |"}

    monkeypatch.setattr("genaug.bench.quick.run_quick", fake_run_quick)
    assert main(["benchmark", "--suite", "quick", "--repeats", "2", "-q"]) == 0
    assert calls[0]["repeats"] == 2 and calls[0]["log"] is None
    assert "| data set |" in capsys.readouterr().out
    assert main(["benchmark", "--suite", "full"]) == 2
    _one_error_line(capsys.readouterr().err, "'full'", "available", "quick")
    # A table given to the quick benchmark is not silently ignored.
    assert main(["benchmark", "--quick", "my_table.csv"]) == 2
    _one_error_line(capsys.readouterr().err, "built-in tables", "'my_table.csv'")
    assert len(calls) == 1


def test_usage_errors_exit_with_2(capsys):
    assert main([]) == 2
    assert main(["benchmark"]) == 2
    assert "choose a benchmark" in capsys.readouterr().err
    assert main(["benchmark", "--quick", "--repeats", "0"]) == 2


# -------------------------------------------------------------------- atomic write
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("error", "exit_code"), [(OSError("disk full"), 1), (KeyboardInterrupt(), 130)]
)
def test_a_failure_mid_write_keeps_the_old_output_and_leaves_no_temp_file(
    files, tmp_path, monkeypatch, capsys, fmt, error, exit_code
):
    out = tmp_path / f"synth.{fmt}"
    _write(pd.DataFrame({"old": [1, 2, 3]}), out)
    old = out.read_bytes()
    writer = cli_io._WRITERS[fmt]
    real_write = writer.write

    def write_then_fail(self, frame):
        if self.rows:  # the first chunk is written, the second fails
            raise error
        real_write(self, frame)

    monkeypatch.setattr(writer, "write", write_then_fail)
    code = main(
        ["sample", files["model"], "-n", "200", "--chunk-size", "50", "--force", "-o", str(out)]
    )
    assert code == exit_code
    assert capsys.readouterr().err.count("\n") == 1
    assert out.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_sigterm_mid_write_keeps_the_old_output_and_restores_the_handler(
    files, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "synth.csv"
    out.write_text("old\n")
    writer = cli_io._WRITERS["csv"]
    real_write = writer.write

    def write_then_terminate(self, frame):
        if self.rows:  # as `kill` or `timeout` would, once the first chunk is written
            os.kill(os.getpid(), signal.SIGTERM)
        real_write(self, frame)

    def callers_handler(signum, frame):  # what main() must put back when it returns
        raise RuntimeError("the caller's SIGTERM handler ran instead of genaug's")

    monkeypatch.setattr(writer, "write", write_then_terminate)
    args = ["sample", files["model"], "-n", "200", "--chunk-size", "50", "--force", "-o"]
    previous = signal.signal(signal.SIGTERM, callers_handler)
    try:
        code = main([*args, str(out)])
        restored = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 143
    _one_error_line(capsys.readouterr().err, "terminated", "not written")
    assert restored is callers_handler
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    # Outside the main thread no handler can be set: main() runs without one.
    monkeypatch.setattr(writer, "write", real_write)
    codes = []
    thread = threading.Thread(target=lambda: codes.append(main([*args, str(out), "-q"])))
    thread.start()
    thread.join()
    assert codes == [0] and len(pd.read_csv(out)) == 200


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_an_ignored_sigterm_stays_ignored(files, tmp_path, monkeypatch, capsys):
    # A caller that ignores SIGTERM (trap '' TERM, or SIG_IGN set before main()) asked for
    # the command to run through: genaug must not turn the signal into an exit of 143.
    out = tmp_path / "synth.csv"
    writer = cli_io._WRITERS["csv"]
    real_write = writer.write

    def write_then_terminate(self, frame):
        if self.rows:
            os.kill(os.getpid(), signal.SIGTERM)
        real_write(self, frame)

    monkeypatch.setattr(writer, "write", write_then_terminate)
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        code = main(["sample", files["model"], "-n", "200", "--chunk-size", "50", "-q",
                     "-o", str(out)])
        restored = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 0, capsys.readouterr().err
    assert restored == signal.SIG_IGN
    assert len(pd.read_csv(out)) == 200


def test_sample_refuses_to_overwrite_without_force(files, tmp_path, capsys):
    out = tmp_path / "synth.csv"
    out.write_text("keep me\n")
    assert main(["sample", files["model"], "-n", "5", "-o", str(out)]) == 2
    _one_error_line(capsys.readouterr().err, str(out), "--force")
    assert out.read_text() == "keep me\n"
    assert main(["sample", files["model"], "-n", "5", "--force", "-q", "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5


def test_csv_text_comes_back_as_written(tmp_path):
    # "NA" is Namibia and "None" a category; zip codes keep their zeros; a numeric column
    # with R's NA markers stays numeric with those cells missing.
    rng = np.random.default_rng(0)
    n = 120
    text = pd.DataFrame(
        {
            "x": [f"{v:.3f}" for v in rng.normal(size=n)],
            "country": rng.choice(["NA", "NL", "None"], n),
            "zip": rng.choice(["00501", "10001", "02134"], n),
            "score": np.where(rng.random(n) < 0.2, "NA", rng.integers(0, 9, n).astype(str)),
            "label": np.where(np.arange(n) % 4 == 0, "rare", "common"),
        }
    )
    path = tmp_path / "in.csv"
    text.to_csv(path, index=False)
    frame = cli_io.read_table(path)
    assert frame["country"].isna().sum() == 0 and frame["zip"].tolist() == text["zip"].tolist()
    assert str(frame["score"].dtype) == "Int64" and frame["score"].isna().sum() == (
        text["score"] == "NA"
    ).sum()
    out = tmp_path / "out.csv"
    args = ["augment", str(path), "--label", "label", "--epochs", "1", "--seed", "0", "-q"]
    assert main([*args, "-o", str(out)]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    real = written[written["is_synthetic"] == "False"].drop(columns="is_synthetic")
    expected = text.assign(score=text["score"].where(text["score"] != "NA", ""))
    pd.testing.assert_frame_equal(
        real[["country", "zip", "score", "label"]].reset_index(drop=True),
        expected[["country", "zip", "score", "label"]],
    )


def test_augment_keeps_a_parquet_index_for_the_real_rows(tmp_path):
    data = _table(80).set_index(pd.Index(np.arange(1000, 1080), name="id"))
    path = tmp_path / "in.parquet"
    data.to_parquet(path)  # the index is stored
    out = tmp_path / "out.parquet"
    args = ["augment", str(path), "--label", "label", "--epochs", "1", "--seed", "0", "-q"]
    assert main([*args, "-o", str(out)]) == 0
    written = pd.read_parquet(out)
    assert list(written.columns) == ["id", *data.columns, "is_synthetic"]
    assert written["id"][:80].tolist() == list(range(1000, 1080))
    assert written["id"][80:].isna().all() and written["is_synthetic"][80:].all()


def test_deep_images_are_refused_by_the_cli(tmp_path, capsys):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((8, 8), 300 * (i + 1), dtype=np.uint16)
            Image.fromarray(pixels).save(tmp_path / "img" / label / f"{i}.png")  # I;16
    code = main(["fit", str(tmp_path / "img"), "--epochs", "1", "-o", str(tmp_path / "m")])
    assert code == 1
    _one_error_line(capsys.readouterr().err, "16-bit", "convert them to 8-bit")


def test_parquet_output_needs_pyarrow_before_any_training(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "out.parquet"
    args = ["augment", files["csv"], "--label", "label", *FAST, "-o", str(out)]
    assert main(args) == 2
    _one_error_line(capsys.readouterr().err, "-o", "out.parquet", "pyarrow")


# -------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make_args", "code", "words"),
    [
        (
            lambda f, t: ["fit", str(t / "missing.csv"), "--label", "label", "-o", str(t / "m")],
            2,
            ["missing.csv", "does not exist"],
        ),
        (
            lambda f, t: ["fit", f["csv"], "--label", "nope", "-o", str(t / "m")],
            1,
            ["--label", "'nope'", "data.csv", "columns are"],
        ),
        (
            lambda f, t: [
                "fit",
                f["csv"],
                "--label",
                "label",
                "--discrete",
                "m,zz",
                "-o",
                str(t / "m"),
            ],
            1,
            ["--discrete", "'zz'"],
        ),
        (
            lambda f, t: ["fit", f["txt"], "--label", "label", "-o", str(t / "m")],
            2,
            ["data.txt", "'.txt'", ".csv"],
        ),
        (
            lambda f, t: ["fit", str(t), "--label", "label", "-o", str(t / "m")],
            2,
            ["--label", "image folder", "sub-folder names"],
        ),
        (
            lambda f, t: ["fit", f["bad"], "--label", "label", "-o", str(t / "m")],
            1,
            ["bad.parquet", "PARQUET"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "5", "-o", str(t / "out.json")],
            2,
            ["out.json", "'.json'"],
        ),
        (
            lambda f, t: ["sample", f["model"], "--class-counts", "rare:5", "-o", str(t / "o.csv")],
            2,
            ["--class-counts", "LABEL=COUNT"],
        ),
        (
            lambda f, t: [
                "sample",
                f["model"],
                "-n",
                "4",
                "--class-counts",
                "rare=5",
                "-o",
                str(t / "o.csv"),
            ],
            2,
            ["add up to 5", "-n is 4"],
        ),
        (
            lambda f, t: [
                "sample",
                f["model"],
                "-n",
                "5",
                "--label-value",
                "epic",
                "-o",
                str(t / "o.csv"),
            ],
            1,
            ["'epic'", "classes are", "rare"],
        ),
        (
            lambda f, t: ["sample", str(t / "nomodel"), "-n", "5", "-o", str(t / "o.csv")],
            2,
            ["MODEL_DIR", "nomodel"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "0", "-o", str(t / "o.csv")],
            2,
            ["-n", "positive integer"],
        ),
        (
            lambda f, t: ["evaluate", f["csv"], f["parquet"], "--label", "lbl"],
            1,
            ["--label", "'lbl'"],
        ),
        (
            lambda f, t: ["evaluate", f["csv"], f["parquet"], "--metrics", "fidelty"],
            2,
            ["--metrics", "'fidelty'"],
        ),
        (
            lambda f, t: ["-v", "sample", f["model"], "-n", "5", "-q", "-o", str(t / "o.csv")],
            2,
            ["-v/--verbose", "-q/--quiet"],
        ),
        (
            lambda f, t: ["fit", f["csv"], "--label", "label", "--device", "foo", "-o", "m"],
            2,
            ["--device", "'foo'"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "5", "--seed", str(2**64), "-o", "o.csv"],
            2,
            ["--seed", "below 2**63"],
        ),
        (
            lambda f, t: ["fit", str(t), "--image-size", "200", "-o", str(t / "m")],
            2,
            ["--image-size", "8 to 128", "'200'"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "5", "--condition", "m=a", "-o",
                          str(t / "o.csv")],
            2,
            ["--condition", "--model gan", "VAESynthesizer"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "5", "--condition", "m=a",
                          "--condition", "m=b", "-o", str(t / "o.csv")],
            2,
            ["--condition", "['m'] more than once"],
        ),
        (
            lambda f, t: ["evaluate", f["csv"], f["parquet"], "--metrics", "utility"],
            2,
            ["--metrics utility", "--holdout", "--label"],
        ),
        (
            lambda f, t: ["sample", f["model"], "-n", "5", "--bogus", "-o", str(t / "o.csv")],
            2,
            ["genaug sample: error", "--bogus"],
        ),
        (
            lambda f, t: ["evaluate", f["csv"], f["parquet"], "--label", "label",
                          "--discrete", "m,label"],
            2,
            ["--discrete", "the --label column 'label'", "always categorical"],
        ),
        (
            lambda f, t: ["fit", f["nolabel"], "--label", "label", "-o", str(t / "m")],
            1,
            ["--label 'label'", "nolabel.csv", "2 rows", "data row 2", "drop those rows"],
        ),
        (
            lambda f, t: ["evaluate", f["csv"], f["tiny"], "--label", "label"],
            1,
            ["SYNTH", "tiny.csv", "has 3 rows", "at least 6", "--metrics fidelity,detection,"],
        ),
        (
            lambda f, t: ["fit", f["wide"], "--label", "nope", "-o", str(t / "m")],
            1,
            ["--label", "'nope'", "'c19'] (+6 more)"],
        ),
    ],
    ids=[
        "missing-file",
        "unknown-label-column",
        "unknown-discrete-column",
        "bad-extension",
        "image-folder",
        "corrupt-file",
        "bad-output-extension",
        "class-counts-syntax",
        "class-counts-vs-n",
        "unseen-label-value",
        "missing-model",
        "bad-n",
        "evaluate-label",
        "unknown-metric",
        "verbose-and-quiet",
        "bad-device",
        "seed-too-large",
        "image-size-too-large",
        "condition-on-a-vae",
        "condition-twice",
        "utility-without-holdout",
        "unknown-argument-of-a-command",
        "evaluate-discrete-label",
        "missing-labels",
        "too-few-rows-for-knn",
        "many-columns",
    ],
)
def test_errors_are_one_line_with_the_right_exit_code(
    files, tmp_path, capsys, make_args, code, words
):
    f = dict(files)
    f["txt"] = str(tmp_path / "data.txt")
    (tmp_path / "data.txt").write_text("x,label\n1,a\n")
    f["bad"] = str(tmp_path / "bad.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    f["nolabel"] = str(tmp_path / "nolabel.csv")
    (tmp_path / "nolabel.csv").write_text("x,label\n1,a\n2,\n3,b\n4,\n")
    f["tiny"] = _write(_table().head(3), tmp_path / "tiny.csv")
    wide = pd.DataFrame(np.zeros((2, 25)), columns=[f"c{i}" for i in range(25)])
    f["wide"] = _write(wide.assign(label=["a", "b"]), tmp_path / "wide.csv")
    assert main(make_args(f, tmp_path)) == code
    captured = capsys.readouterr()
    _one_error_line(captured.err, *words)
    assert captured.out == ""
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "m").exists()


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        main(["--debug", "fit", str(tmp_path / "no.csv"), "--label", "y", "-o", str(tmp_path)])


# ------------------------------------------------------------------- entry points
@pytest.mark.parametrize("command", ["fit", "sample", "augment", "evaluate", "benchmark"])
def test_help_of_each_command_shows_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"genaug {command} " in out


def test_quiet_and_verbose_work_before_and_after_the_command(files, tmp_path, capsys):
    assert main(["-q", "sample", files["model"], "-n", "5", "-o", str(tmp_path / "a.csv")]) == 0
    assert (
        main(["sample", files["model"], "-n", "5", "--quiet", "-o", str(tmp_path / "b.csv")]) == 0
    )
    assert capsys.readouterr().out == ""
    assert main(["sample", files["model"], "-n", "5", "-v", "-o", str(tmp_path / "c.csv")]) == 0
    captured = capsys.readouterr()
    assert "Wrote 5 synthetic rows" in captured.out and "5/5" in captured.err  # progress bar


def test_version_and_unknown_command(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"genaug {__version__}"
    assert main(["nonsense"]) == 2
    _one_error_line(capsys.readouterr().err, "invalid choice", "--help")


def test_python_dash_m_works_the_same(files, tmp_path):
    out = tmp_path / "s.parquet"
    command = [sys.executable, "-m", "genaug", "sample", files["model"], "-n", "7", "-o", str(out)]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(pd.read_parquet(out)) == 7 and "Wrote 7 synthetic rows" in run.stdout
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 2
    _one_error_line(again.stderr, "already exists", "--force")


# --------------------------------------------------------------------- image folders
IMAGE_FAST = ["--epochs", "1", "--seed", "0", "-q"]


def _image_folder(root, counts: dict[str, int], size=(8, 8), mode: str = "RGB", seed: int = 0):
    """Class sub-folders of PNG files, each class a different brightness."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    for k, (label, count) in enumerate(counts.items()):
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = np.clip(rng.normal(60 + 120 * k, 30, shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode).save(root / label / f"{i:03d}.png")
    return root


def _png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """An image folder (cat: 12, dog: 6 images of 8 x 8, one dog of 12 x 10) and its VAE."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    root = _image_folder(folder / "photos", {"cat": 12, "dog": 6})
    odd = np.full((10, 12, 3), 200, dtype=np.uint8)
    Image.fromarray(odd).save(root / "dog" / "odd.png")
    (root / "dog" / "notes.txt").write_text("not an image: skipped")
    model = str(folder / "model")
    assert main(["fit", str(root), "--model", "vae", *IMAGE_FAST, "-o", model]) == 0
    return {"root": root, "model": model}


def test_fit_on_an_image_folder_takes_labels_from_sub_folders(images, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["fit", str(images["root"]), "--epochs", "1", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "19 images (8 x 8 pixels, RGB)" in said and "2 classes: cat, dog" in said
    assert "1 image of another size was resized to 8 x 8" in said  # the most common size
    model = load(str(out))
    assert model.classes_.tolist() == ["cat", "dog"]
    assert (model.codec_.height_, model.codec_.width_, model.codec_.channels_) == (8, 8, 3)
    assert model.class_prior_.tolist() == pytest.approx([12 / 19, 7 / 19])


def test_image_size_resizes_every_image_and_grayscale_stays_grayscale(tmp_path):
    root = _image_folder(tmp_path / "gray", {"a": 4, "b": 4}, size=(12, 10), mode="L")
    model = tmp_path / "m"
    assert main(["fit", str(root), "--image-size", "16", *IMAGE_FAST, "-o", str(model)]) == 0
    out = tmp_path / "out"
    assert main(["sample", str(model), "-n", "5", "--label-value", "b", "-q", "-o", str(out)]) == 0
    files = sorted((out / "b").iterdir())
    assert len(files) == 5 and not (out / "a").exists()
    assert _png(files[0]).shape == (16, 16)  # mode L, resized to S x S


def test_sample_writes_class_sub_folders_equal_to_the_models_draw(images, tmp_path):
    out = tmp_path / "synthetic"
    args = ["sample", images["model"], "--class-counts", "cat=20,dog=10", "--seed", "4"]
    assert main([*args, "--chunk-size", "7", "-q", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cat", "dog", MANIFEST_NAME]
    assert len(list((out / "cat").iterdir())) == 20 and len(list((out / "dog").iterdir())) == 10
    manifest = pd.read_csv(out / MANIFEST_NAME)
    assert list(manifest.columns) == ["path", "label", "is_synthetic"]
    assert manifest["is_synthetic"].all() and len(manifest) == 30
    assert manifest["path"].tolist()[:2] == ["cat/synthetic_000000.png", "cat/synthetic_000001.png"]
    assert all((out / path).is_file() for path in manifest["path"])
    # PNG is lossless, and chunking is invisible: the files are the model's own sample.
    X, _ = load(images["model"]).sample(30, y={"cat": 20, "dog": 10}, random_state=4)
    assert X.dtype == np.uint8 and X.shape == (30, 8, 8, 3)
    np.testing.assert_array_equal(_png(out / "cat" / "synthetic_000000.png"), X[0])
    np.testing.assert_array_equal(_png(out / "dog" / "synthetic_000029.png"), X[29])


def test_image_output_needs_force_and_never_replaces_a_foreign_folder(images, tmp_path, capsys):
    out = tmp_path / "synthetic"
    command = ["sample", images["model"], "-n", "3", "-q", "-o", str(out)]
    assert main(command) == 0
    assert main(command) == 2
    _one_error_line(capsys.readouterr().err, str(out), "--force")
    assert main([*command, "--seed", "1", "--force"]) == 0
    assert len(pd.read_csv(out / MANIFEST_NAME)) == 3
    mine = tmp_path / "holiday"
    mine.mkdir()
    (mine / "beach.png").write_bytes(b"x")
    assert main([*command[:-1], str(mine), "--force"]) == 2
    _one_error_line(capsys.readouterr().err, "holiday", "did not write")
    assert [p.name for p in mine.iterdir()] == ["beach.png"]


@pytest.mark.parametrize(
    ("error", "exit_code"), [(OSError("disk full"), 1), (KeyboardInterrupt(), 130)]
)
def test_a_failure_mid_image_write_keeps_the_old_folder(
    images, tmp_path, monkeypatch, capsys, error, exit_code
):
    out = tmp_path / "synthetic"
    assert main(["sample", images["model"], "-n", "4", "--seed", "0", "-q", "-o", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_add = cli_io.ImageFolderWriter.add_synthetic

    def add_then_fail(self, X, y, scale):
        if self.n_synthetic:  # the first chunk is written, the second fails
            raise error
        real_add(self, X, y, scale)

    monkeypatch.setattr(cli_io.ImageFolderWriter, "add_synthetic", add_then_fail)
    command = ["sample", images["model"], "-n", "40", "--chunk-size", "10", "--force"]
    assert main([*command, "-o", str(out)]) == exit_code
    assert capsys.readouterr().err.count("\n") == 1
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]  # no temporary folder left


@pytest.mark.parametrize(
    ("options", "added"),
    [([], {"dog": 5}), (["--ratio", "0.5"], {"cat": 6, "dog": 4})],
    ids=["balance", "ratio"],
)
def test_augment_copies_real_images_and_adds_synthetic_ones(images, tmp_path, options, added):
    out = tmp_path / "augmented"
    command = ["augment", str(images["root"]), "--model", "vae", *IMAGE_FAST, *options]
    assert main([*command, "-o", str(out)]) == 0
    manifest = pd.read_csv(out / MANIFEST_NAME)
    real = manifest[~manifest["is_synthetic"]]
    synthetic = manifest[manifest["is_synthetic"]]
    assert len(real) == 19 and real["path"].iloc[0] == "cat/000.png"
    for path in real["path"]:  # copied unchanged, odd size included
        assert (out / path).read_bytes() == (images["root"] / path).read_bytes()
    assert synthetic["label"].value_counts().to_dict() == added
    assert synthetic["path"].str.fullmatch(r"(cat|dog)/synthetic_\d{6}\.png").all()
    assert all(
        path.startswith(f"{label}/") for path, label in zip(synthetic["path"], synthetic["label"])
    )
    files = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert files == set(manifest["path"])
    assert not (out / "dog" / "notes.txt").exists()


def _bad_image_folders(t):
    from PIL import Image

    (t / "empty").mkdir()
    (t / "flat").mkdir()
    (t / "flat" / "readme.txt").write_text("x")
    _image_folder(t / "corrupt", {"a": 2, "b": 2})
    (t / "corrupt" / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    _image_folder(t / "loose", {"a": 2, "b": 2})
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(t / "loose" / "stray.png")
    _image_folder(t / "hollow", {"a": 2})
    (t / "hollow" / "b").mkdir()
    _image_folder(t / "huge", {"a": 2, "b": 2}, size=(130, 40), mode="L")
    _image_folder(t / "ok", {"a": 2, "b": 2})


@pytest.mark.parametrize(
    ("make_args", "code", "words"),
    [
        (lambda i, t: ["fit", str(t / "empty"), "-o", str(t / "m")], 1, ["'", "empty", "is empty"]),
        (lambda i, t: ["fit", str(t / "flat"), "-o", str(t / "m")], 1, ["no class sub-folders"]),
        (
            lambda i, t: ["fit", str(t / "corrupt"), "-o", str(t / "m")],
            1,
            ["cannot read the image", "broken.png"],
        ),
        (lambda i, t: ["fit", str(t / "loose"), "-o", str(t / "m")], 1, ["'stray.png'", "outside"]),
        (lambda i, t: ["fit", str(t / "hollow"), "-o", str(t / "m")], 1, ["hollow/b", "no image"]),
        (
            lambda i, t: ["fit", str(t / "huge"), "-o", str(t / "m")],
            1,
            ["130 x 40", "--image-size"],
        ),
        (
            lambda i, t: ["fit", str(t / "ok"), "--discrete", "a", "-o", str(t / "m")],
            2,
            ["--discrete", "image folder"],
        ),
        (
            lambda i, t: ["fit", str(t / "data.csv"), "-o", str(t / "m")],
            2,
            ["--label is required", "data.csv"],
        ),
        (
            lambda i, t: [
                "fit",
                str(t / "data.csv"),
                "--label",
                "y",
                "--image-size",
                "16",
                "-o",
                "m",
            ],
            2,
            ["--image-size", "is a table"],
        ),
        (
            lambda i, t: ["fit", str(t / "ok"), "--image-size", "4", "-o", str(t / "m")],
            2,
            ["--image-size", "from 8 to 128"],
        ),
        (
            lambda i, t: ["sample", i["model"], "-n", "3", "-o", str(t / "o.csv")],
            2,
            ["fitted on images", "o.csv'", "give a folder"],
        ),
        (
            lambda i, t: ["sample", i["model"], "-n", "3", "--shards", "2", "-o", str(t / "o")],
            2,
            ["--shards", "fitted on images"],
        ),
        (
            lambda i, t: [
                "sample",
                i["model"],
                "-n",
                "3",
                "--condition",
                "a=1",
                "-o",
                str(t / "o"),
            ],
            2,
            ["--condition", "fitted on images"],
        ),
        (
            lambda i, t: ["sample", i["table_model"], "-n", "3", "-o", str(t / "o")],
            2,
            ["fitted on a table", "no extension", "--shards"],
        ),
        (
            lambda i, t: ["augment", str(t / "ok"), "-o", str(t / "o.parquet")],
            2,
            ["image folder", "o.parquet", "give a folder"],
        ),
        (
            lambda i, t: ["evaluate", str(t / "ok"), str(t / "data.csv")],
            2,
            ["REAL is an image folder", "SYNTH must be one too", "is a file"],
        ),
    ],
    ids=[
        "empty-folder",
        "no-class-folders",
        "unreadable-image",
        "image-outside-classes",
        "empty-class-folder",
        "too-large-without-image-size",
        "discrete-with-folder",
        "table-without-label",
        "image-size-with-table",
        "image-size-too-small",
        "image-model-to-table-file",
        "image-model-with-shards",
        "image-model-with-condition",
        "table-model-to-folder",
        "augment-folder-to-table-file",
        "evaluate-folder",
    ],
)
def test_image_folder_errors_are_one_line_with_the_right_exit_code(
    images, files, tmp_path, capsys, make_args, code, words
):
    _bad_image_folders(tmp_path)
    _write(_table(20), tmp_path / "data.csv")
    given = {**images, "table_model": files["model"]}
    assert main(make_args(given, tmp_path)) == code
    captured = capsys.readouterr()
    _one_error_line(captured.err, *words)
    assert captured.out == ""
    assert not (tmp_path / "m").exists() and not (tmp_path / "o").exists()


def test_evaluate_compares_image_folders_in_pixel_space(images, tmp_path, capsys):
    synthetic = tmp_path / "synthetic"
    args = ["sample", images["model"], "--class-counts", "cat=12,dog=7", "--seed", "0"]
    assert main([*args, "-q", "-o", str(synthetic)]) == 0
    # A holdout of another size and colour mode is read in REAL's (8 x 8 RGB).
    holdout = _image_folder(tmp_path / "holdout", {"cat": 6, "dog": 6}, size=(10, 10), mode="L")
    report = tmp_path / "report.json"
    command = ["evaluate", str(images["root"]), str(synthetic), "--holdout", str(holdout)]
    assert main([*command, "--json", str(report)]) == 0
    assert "detection" in capsys.readouterr().out
    saved = json.loads(report.read_text())
    assert saved["info"]["n_real"] == 19 and saved["info"]["n_synthetic"] == 19
    assert set(saved["families"]) >= {"fidelity", "detection", "privacy", "utility"}
    assert saved["info"]["n_columns"] == 8 * 8 * 3
    # Distances on the pixel values as they are, not standardised per pixel.
    assert saved["info"]["features"] is True


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--label", "x"], 2, ["--label", "image folder"]),
        (["--discrete", "x"], 2, ["--discrete", "image folder"]),
    ],
)
def test_evaluate_on_image_folders_refuses_table_options(images, extra, code, words, capsys):
    assert main(["evaluate", str(images["root"]), str(images["root"]), *extra]) == code
    _one_error_line(capsys.readouterr().err, *words)


def test_evaluate_runs_utility_alone_on_image_folders_with_a_holdout(images, tmp_path, capsys):
    # The labels are the sub-folder names: --metrics utility needs --holdout, not --label.
    root = str(images["root"])
    report = tmp_path / "report.json"
    command = ["evaluate", root, root, "--metrics", "utility"]
    assert main([*command, "--holdout", root, "--json", str(report), "-q"]) == 0
    assert list(json.loads(report.read_text())["families"]) == ["utility"]
    capsys.readouterr()
    assert main(command) == 2
    _one_error_line(capsys.readouterr().err, "--holdout")
    # Too few images for diversity: the hint keeps utility, which can run.
    tiny = _image_folder(tmp_path / "tiny", {"a": 2, "b": 2})
    command = ["evaluate", str(tiny), str(tiny), "--holdout", str(tiny)]
    assert main([*command, "--metrics", "diversity,utility"]) == 1
    _one_error_line(capsys.readouterr().err, "--metrics utility)")



def test_csv_markers_in_bool_and_text_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("flag,country,zip\nTrue,NA,00501\nNA,NA,10001\nFalse,NA,02134\n")
    frame = cli_io.read_table(path)
    assert str(frame["flag"].dtype) == "boolean" and frame["flag"].isna().tolist() == [
        False, True, False
    ]
    assert frame["country"].tolist() == ["NA"] * 3  # a Namibia-only extract stays text
    assert frame["zip"].tolist() == ["00501", "10001", "02134"]


def test_augment_keeps_big_integer_and_unnamed_index_values(tmp_path):
    data = _table(80)
    data.index = pd.Index(2**60 + np.arange(80) * 7)  # unnamed, beyond float64's integers
    path = tmp_path / "in.parquet"
    data.to_parquet(path)
    out = tmp_path / "out.csv"
    args = ["augment", str(path), "--label", "label", "--epochs", "1", "--seed", "0", "-q"]
    assert main([*args, "-o", str(out)]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written.columns[0] == "index"
    assert written["index"][:80].tolist() == [str(2**60 + i * 7) for i in range(80)]


def test_parquet_columns_missing_in_a_first_chunk_take_the_models_type(tmp_path):
    frames = [
        pd.DataFrame({"b": pd.Series([None, None], dtype=object)}),
        pd.DataFrame({"b": pd.Series([True, None], dtype=object)}),
    ]
    path = tmp_path / "t.parquet"
    import pyarrow as pa

    assert cli_io.write_table(path, iter(frames), null_types={"b": pa.bool_()}) == 4
    assert pq.read_table(path).column("b").to_pylist() == [None, None, True, None]


def test_augment_writes_integers_with_gaps_back_as_written(tmp_path):
    rng = np.random.default_rng(0)
    data = _table(120).assign(visits=rng.integers(0, 9, 120).astype(float))
    data.loc[rng.random(120) < 0.2, "visits"] = np.nan
    path = tmp_path / "in.csv"
    data.to_csv(path, index=False, float_format="%.0f")  # "3", not "3.0"
    out = tmp_path / "out.csv"
    args = ["augment", str(path), "--label", "label", *FAST, "-q", "-o", str(out)]
    assert main(args) == 0
    read = dict(dtype=str, keep_default_na=False)
    given, written = pd.read_csv(path, **read), pd.read_csv(out, **read)
    assert written["visits"][:120].tolist() == given["visits"].tolist()
    synthetic = written["visits"][120:]
    assert len(synthetic) and synthetic.str.fullmatch(r"\d*").all()  # integers or empty


def test_zip_codes_with_gaps_keep_their_zeros_and_types_need_no_pyarrow(
    files, tmp_path, monkeypatch
):
    path = tmp_path / "z.csv"
    path.write_text("zip,x\n00501,1\n,2\n02134,3\n")
    assert cli_io.read_table(path)["zip"].tolist()[::2] == ["00501", "02134"]
    # Integers with gaps stay integers, exactly; numbers written with a point stay floats.
    path.write_text("n,big,f,m\n+3,9007199254740993,1.0,NA\n,,2.0,4\n 12,1,,5\n")
    frame = cli_io.read_table(path)
    assert str(frame["n"].dtype) == "Int64" and frame["n"].tolist() == [3, pd.NA, 12]
    assert frame["big"].tolist()[0] == 9007199254740993
    assert frame["f"].dtype == np.float64
    assert str(frame["m"].dtype) == "Int64" and frame["m"].tolist() == [pd.NA, 4, 5]
    # CSV sampling asks for the Parquet types too; without pyarrow there are none.
    model = load(files["model"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert cli_io.arrow_types(model) == {}


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_csv_is_read_and_written_by_every_command(files, tmp_path, suffix):
    data = tmp_path / f"data.csv{suffix}"
    _table().to_csv(data, index=False)  # pandas infers the compression from the name
    model = tmp_path / "m"
    assert main(["fit", str(data), "--label", "label", *FAST, "-q", "-o", str(model)]) == 0
    # Several chunks into one compressed stream, through a temporary file named *.tmp.
    sample = ["sample", str(model), "-n", "120", "--chunk-size", "50", "--seed", "3", "-q"]
    plain, packed = tmp_path / "s.csv", tmp_path / f"s.csv{suffix}"
    assert main([*sample, "-o", str(plain)]) == 0
    assert main([*sample, "-o", str(packed)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(packed), pd.read_csv(plain))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m", data.name, plain.name, packed.name]
    )
    grown = tmp_path / f"a.csv{suffix}"
    assert main(["augment", str(data), "--label", "label", *FAST, "-q", "-o", str(grown)]) == 0
    assert pd.read_csv(grown)["is_synthetic"].any()
    holdout = tmp_path / f"h.csv{suffix}"
    _table(80, seed=5).to_csv(holdout, index=False)
    args = ["evaluate", str(data), str(packed), "--holdout", str(holdout), "--label", "label"]
    assert main([*args, "--metrics", "fidelity", "-q"]) == 0


def test_compressed_csv_keeps_its_text_and_odd_extensions_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "z.csv.gz"
    pd.DataFrame({"zip": ["00501", "10001", "02134"], "x": [1, 2, 3]}).to_csv(path, index=False)
    frame = cli_io.read_table(path)  # the second, text-only pass reads the gzip file too
    assert frame["zip"].tolist() == ["00501", "10001", "02134"] and frame["x"].dtype.kind == "i"
    with pytest.raises(UsageError, match=r"'\.parquet\.gz'.*\.csv\.gz"):
        cli_io.table_format(tmp_path / "t.parquet.gz", "-o")
    assert not cli_io.is_table_path("t.gz") and cli_io.is_table_path("T.CSV.XZ")
    # .zst needs zstandard: said before any work, and when reading.
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(UsageError, match="zstandard"):
        cli_io.check_output(tmp_path / "o.csv.zst", "-o", False)
    (tmp_path / "d.csv.zst").write_bytes(b"not read")
    with pytest.raises(UsageError, match="zstandard"):
        cli_io.read_table(tmp_path / "d.csv.zst")


def test_a_label_value_error_says_how_many_classes_it_does_not_show(tmp_path, capsys):
    classes = [f"k{i:02d}" for i in range(25)]
    data = pd.DataFrame({"x": np.arange(50.0), "label": classes * 2})
    model = tmp_path / "m"
    args = ["fit", _write(data, tmp_path / "d.csv"), "--label", "label", "--epochs", "1", "-q"]
    assert main([*args, "-o", str(model)]) == 0
    out = str(tmp_path / "o.csv")
    assert main(["sample", str(model), "-n", "3", "--label-value", "zz", "-o", out]) == 1
    _one_error_line(capsys.readouterr().err, "'zz'", "'k19'] (+5 more)")
