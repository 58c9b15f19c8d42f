"""``genaug benchmark --suite``: dispatch to the scripts of benchmarks/, and the tabular suite's
statistics, on fake scripts and tiny runs in a temp folder."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import genaug
from genaug._cli_commands import BENCHMARKS_DIR_ENV, SCRIPT_SUITES, benchmarks_dir
from genaug.cli import main

REPO_BENCHMARKS = Path(genaug.__file__).resolve().parent.parent / "benchmarks"

# A stand-in for a suite's script: records how it was called, writes <suite>.json/.md to --out.
FAKE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    {import}
    argv = sys.argv[1:]
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    record = {"argv": argv, "python": sys.executable}
    if "genaug" in sys.modules:
        record["genaug"] = sys.modules["genaug"].__file__
    (out / "{suite}.json").write_text(json.dumps(record))
    (out / "{suite}.md").write_text("# {suite}")
    with open(Path(__file__).parent / "calls.txt", "a") as fh:
        fh.write("{suite}\\n")
    print("{suite} script ran")
    sys.exit({code})
    """
)


def _fake_benchmarks(folder: Path, suites, code: int = 0, imports_genaug: bool = False) -> Path:
    """Fake scripts for ``suites``; importing genaug (slow: torch) only where a test checks it."""
    folder.mkdir(parents=True, exist_ok=True)
    for suite in suites:
        text = FAKE_SCRIPT.replace("{suite}", suite).replace("{code}", str(code))
        text = text.replace("{import}", "import genaug" if imports_genaug else "")
        (folder / SCRIPT_SUITES[suite]).write_text(text)
    return folder


def _one_error_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


def _calls(folder: Path) -> list[str]:
    path = folder / "calls.txt"
    return path.read_text().split() if path.exists() else []


# -------------------------------------------------------------------------- dispatch
def test_the_default_benchmarks_folder_is_the_repositorys(monkeypatch):
    monkeypatch.delenv(BENCHMARKS_DIR_ENV, raising=False)
    assert benchmarks_dir() == REPO_BENCHMARKS
    assert (REPO_BENCHMARKS / "tabular.py").is_file()
    assert (REPO_BENCHMARKS / "quality.py").is_file()


def test_a_suite_runs_its_script_with_this_python_and_passes_the_options(
    tmp_path, monkeypatch, capfd
):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", ["tabular"], imports_genaug=True)
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    out = tmp_path / "results"
    code = main(
        ["benchmark", "--suite", "tabular", "--out", str(out), "--budget", "7.5", "--quick",
         "--", "--datasets", "yeast_me2", "--folds", "2"]
    )
    assert code == 0
    record = json.loads((out / "tabular.json").read_text())
    assert record["argv"] == [
        "--out", str(out.resolve()), "--budget", "7.5", "--quick",
        "--datasets", "yeast_me2", "--folds", "2",
    ]
    assert record["python"] == sys.executable
    assert Path(record["genaug"]).resolve() == Path(genaug.__file__).resolve()
    printed = capfd.readouterr().out  # capfd: the script writes to the inherited stdout
    assert "tabular script ran" in printed
    assert str(out / "tabular.md") in printed


def test_without_out_and_budget_the_script_keeps_its_own_defaults(tmp_path, monkeypatch, capfd):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", ["quality"])
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    assert main(["benchmark", "--suite", "quality", "-q"]) == 0
    record = json.loads((scripts / "quality.json").read_text())
    assert record["argv"] == []
    printed = capfd.readouterr().out
    assert "quality script ran" not in printed  # -q silences the script's progress
    assert "quality.md" in printed  # but not where the results are


def test_a_missing_script_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(_fake_benchmarks(tmp_path / "b", ["tabular"])))
    assert main(["benchmark", "--suite", "images"]) == 2
    _one_error_line(capsys.readouterr().err, "images.py", "absent")


def test_an_install_without_the_source_tree_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(tmp_path / "nowhere"))
    assert main(["benchmark", "--suite", "tabular"]) == 2
    _one_error_line(capsys.readouterr().err, "does not exist", BENCHMARKS_DIR_ENV, "--quick")
    assert main(["benchmark", "--suite", "all"]) == 2
    _one_error_line(capsys.readouterr().err, "does not exist")


def test_a_failing_script_gives_exit_code_1_and_one_line(tmp_path, monkeypatch, capsys):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", ["speed"], code=3)
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    assert main(["benchmark", "--suite", "speed"]) == 1
    _one_error_line(capsys.readouterr().err, "speed.py", "exited with status 3")


def test_existing_results_in_out_need_force(tmp_path, monkeypatch, capsys):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", ["tabular"])
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    out = tmp_path / "results"
    out.mkdir()
    (out / "tabular.json").write_text("{}")
    assert main(["benchmark", "--suite", "tabular", "--out", str(out)]) == 2
    _one_error_line(capsys.readouterr().err, "tabular.json", "--force")
    assert _calls(scripts) == []
    assert main(["benchmark", "--suite", "tabular", "--out", str(out), "--force"]) == 0
    assert _calls(scripts) == ["tabular"]


def _fake_quick(monkeypatch) -> list[dict]:
    calls: list[dict] = []

    def fake_run_quick(**kwargs):
        calls.append(kwargs)
        return {"table": "| data set |"}

    monkeypatch.setattr("genaug.bench.quick.run_quick", fake_run_quick)
    return calls


def test_all_runs_quick_then_every_script_in_order(tmp_path, monkeypatch):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", list(SCRIPT_SUITES))
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    quick = _fake_quick(monkeypatch)
    assert main(["benchmark", "--suite", "all", "--out", str(tmp_path / "out"), "-q"]) == 0
    assert len(quick) == 1 and quick[0]["out_dir"] == str(tmp_path / "out")
    assert _calls(scripts) == list(SCRIPT_SUITES)


def test_all_runs_what_is_there_and_then_names_what_was_absent(tmp_path, monkeypatch, capsys):
    scripts = _fake_benchmarks(tmp_path / "benchmarks", ["tabular", "quality"])
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(scripts))
    quick = _fake_quick(monkeypatch)
    assert main(["benchmark", "--suite", "all", "-q"]) == 1
    assert _calls(scripts) == ["tabular", "quality"]
    # Without --out, quick writes beside the scripts' results.
    assert quick[0]["out_dir"] == str(scripts / "results")
    err = capsys.readouterr().err
    assert "skipping images" in err and "skipping speed" in err
    assert "not every suite ran: images absent; speed absent" in err.strip().splitlines()[-1]


def test_benchmark_usage_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(BENCHMARKS_DIR_ENV, str(_fake_benchmarks(tmp_path / "b", ["tabular"])))
    assert main(["benchmark", "--quick", "--budget", "5"]) == 2
    _one_error_line(capsys.readouterr().err, "--budget")
    assert main(["benchmark", "--suite", "all", "--", "--folds", "2"]) == 2
    _one_error_line(capsys.readouterr().err, "'--'")
    assert main(["benchmark", "--suite", "tabular", "--budget", "0"]) == 2
    _one_error_line(capsys.readouterr().err, "--budget", "positive")
    assert main(["benchmark", "--suite", "nope"]) == 2
    _one_error_line(capsys.readouterr().err, "'nope'", "tabular", "quality", "all")
    assert _calls(tmp_path / "b") == []


# ---------------------------------------------------------------- the tabular suite
@pytest.fixture
def tabular(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_BENCHMARKS))
    import tabular

    return tabular


def _summary(values: dict[str, dict[str, float]]) -> dict:
    """A one-data-set, one-classifier summary with the given metric means per method."""
    return {"d": {"logreg": {m: {k: {"mean": v, "std": 0.0} for k, v in metrics.items()}
                             for m, metrics in values.items()}}}


def test_paired_orients_the_brier_score_and_counts_wins_and_losses(tabular):
    summary = _summary({
        "a": {"pr_auc": 0.6, "balanced_accuracy": 0.7, "macro_f1": 0.5, "brier": 0.10},
        "b": {"pr_auc": 0.5, "balanced_accuracy": 0.8, "macro_f1": 0.5, "brier": 0.20},
    })
    result = tabular.paired(summary, "a", "b")
    diffs = {c["metric"]: c["difference"] for c in result["cells"]}
    assert diffs["brier"] == pytest.approx(0.10)  # lower Brier is better: a wins
    assert diffs["balanced_accuracy"] == pytest.approx(-0.1)
    assert (result["better"], result["worse"], result["ties"], result["n"]) == (2, 1, 1, 4)
    assert 0.0 < result["p_value"] <= 1.0
    tie = tabular.paired(summary, "a", "a")
    assert tie["ties"] == 4 and np.isnan(tie["p_value"])


def test_ranks_put_the_best_mean_first_for_every_metric(tabular):
    summary = _summary({
        "good": {"pr_auc": 0.9, "balanced_accuracy": 0.9, "macro_f1": 0.9, "brier": 0.05},
        "bad": {"pr_auc": 0.1, "balanced_accuracy": 0.1, "macro_f1": 0.1, "brier": 0.5},
    })
    rank = tabular.ranks(summary)
    assert rank["overall"]["good"]["all"] == 1.0 and rank["overall"]["bad"]["all"] == 2.0
    assert rank["per_dataset"]["d"] == {"good": 1.0, "bad": 2.0}


def test_calibrate_gives_the_epochs_that_fit_the_budget(tabular):
    def run(epochs: int) -> None:  # 20 ms fixed cost plus 2 ms per epoch
        time.sleep(0.02 + 0.002 * epochs)

    cal = tabular.calibrate(run, budget=0.5, max_epochs=10_000)
    assert 0.0015 < cal["seconds_per_epoch"] < 0.004
    assert 100 < cal["epochs"] < 300  # (0.5 - 0.02) / 0.002 = 240 on an idle machine
    assert tabular.calibrate(run, budget=0.5, max_epochs=50)["epochs"] == 50


def test_a_tiny_tabular_run_writes_every_fold_and_the_headline(tabular, tmp_path):
    code = tabular.main([
        "--data-dir", str(tmp_path), "--datasets", "breast_cancer", "--folds", "2",
        "--repeats", "1", "--epochs", "1", "--methods", "none,smote,vae,auto",
        "--classifiers", "logreg", "--out", str(tmp_path),
    ])
    assert code == 0
    report = json.loads((tmp_path / "tabular.json").read_text())
    assert len(report["records"]) == 2 * 4  # folds x methods
    assert {r["seed"] for r in report["records"]} == {0, 1}
    assert all("error" not in r for r in report["records"])
    names = [t["name"] for t in report["comparisons"]["tests"]]
    assert names[:2] == ["best genaug synthesizer (vae) vs SMOTE", "auto vs none"]
    text = (tmp_path / "tabular.md").read_text()
    assert "Reduced configuration" in text and "## Headline: wins and losses" in text
    assert "Cells where auto trails none" in text


def test_write_results_writes_both_files_in_a_new_folder_and_prints(tmp_path, capsys):
    from genaug.bench._common import write_results

    write_results(tmp_path / "new" / "probe", {"value": np.float32(1.5)}, "# Probe\n")
    assert json.loads((tmp_path / "new" / "probe.json").read_text()) == {"value": 1.5}
    assert (tmp_path / "new" / "probe.md").read_text() == "# Probe\n"
    assert "# Probe" in capsys.readouterr().out


def test_quick_results_record_the_command_that_made_them():
    from genaug.bench.quick import _command

    assert _command(5, 100, 0, "benchmarks/results") == (
        "genaug benchmark --quick --out benchmarks/results"
    )
    assert _command(2, 3, 7, None) == "genaug benchmark --quick --repeats 2 --epochs 3 --seed 7"
