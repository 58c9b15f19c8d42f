"""The quick benchmark: does class-conditional synthetic data help a classifier?

Three small, built-in, imbalanced problems; for each, repeated stratified train/test splits.
Each method only sees the training part; the same classifier is then scored on the test part:

* ``none``: the classifier on the real training rows;
* ``SMOTE``: imbalanced-learn's SMOTE (SMOTENC where there are categorical columns);
* ``genaug VAE``: a :class:`~genaug.VAESynthesizer` fitted on the training rows, with
  class-conditional samples that bring every class up to the majority's count.

Runs in about a minute on two CPU cores; ``genaug benchmark --quick`` prints its table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, label_binarize

from genaug.bench._common import (
    machine_description,
    markdown_table,
    mean_std,
    write_json,
    write_text,
)
from genaug.datasets import load_adult, load_breast_cancer, load_wine, make_imbalanced
from genaug.synthesizers.vae import VAESynthesizer

METHODS = ("none", "SMOTE", "genaug VAE")
METRICS = ("balanced_accuracy", "macro_f1", "pr_auc")


@dataclass
class Problem:
    """One benchmark data set: an imbalanced table and how it was made."""

    name: str
    X: pd.DataFrame
    y: pd.Series
    description: str


def quick_problems(seed: int = 0) -> list[Problem]:
    """The three problems of the quick benchmark, made imbalanced in a seeded, stated way."""
    X, y = load_breast_cancer()
    Xb, yb = make_imbalanced(X, y, "malignant", 0.10, random_state=seed)
    X, y = load_wine()
    Xw, yw = make_imbalanced(X, y, "class_2", 0.10, random_state=seed)
    X, y = load_adult(return_X_y=True)
    Xa, ya = make_imbalanced(X, y, ">50K", 0.05, random_state=seed)
    keep = np.random.default_rng(seed).choice(len(ya), 5000, replace=False)
    Xa, ya = Xa.iloc[np.sort(keep)].reset_index(drop=True), ya.iloc[np.sort(keep)]
    return [
        Problem("breast_cancer", Xb, yb, "scikit-learn's breast cancer, malignant thinned to 10%"),
        Problem("wine", Xw, yw, "scikit-learn's wine, class_2 thinned to 10% (3 classes)"),
        Problem("adult", Xa, ya.reset_index(drop=True), "Adult, >50K thinned to 5%, 5,000 rows"),
    ]


def _classifier(X: pd.DataFrame):
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    steps = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)]
    if categorical:
        steps.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    return make_pipeline(ColumnTransformer(steps), LogisticRegression(max_iter=2000))


def _object_categories(X: pd.DataFrame) -> pd.DataFrame:
    # SMOTENC and SimpleImputer want plain object columns for text, with no missing values.
    out = X.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), "missing")
    return out


def _smote(X: pd.DataFrame, y: pd.Series, seed: int):
    from imblearn.over_sampling import SMOTE, SMOTENC

    X = _object_categories(X)
    cats = [i for i, c in enumerate(X.columns) if not pd.api.types.is_numeric_dtype(X[c])]
    k = int(min(5, y.value_counts().min() - 1))
    sampler = (
        SMOTENC(categorical_features=cats, k_neighbors=k, random_state=seed)
        if cats
        else SMOTE(k_neighbors=k, random_state=seed)
    )
    return sampler.fit_resample(X, y)


def _vae(X: pd.DataFrame, y: pd.Series, seed: int, epochs: int):
    syn = VAESynthesizer(epochs=epochs, batch_size=256, random_state=seed).fit(X, y)
    counts = y.value_counts()
    wanted = {label: int(counts.max() - c) for label, c in counts.items() if c < counts.max()}
    X_new, y_new = syn.sample(sum(wanted.values()), y=wanted, random_state=seed)
    return (
        pd.concat([X, X_new], ignore_index=True),
        pd.concat([y.reset_index(drop=True), y_new.reset_index(drop=True)], ignore_index=True),
    )


def _scores(model, X_test: pd.DataFrame, y_test: pd.Series) -> dict[str, float]:
    pred = model.predict(X_test)
    proba = model.predict_proba(X_test)
    classes = model.classes_
    if len(classes) == 2:
        counts = y_test.value_counts()
        minority = counts.idxmin()
        pr_auc = average_precision_score(
            y_test == minority, proba[:, list(classes).index(minority)]
        )
    else:
        pr_auc = average_precision_score(
            label_binarize(y_test, classes=classes), proba, average="macro"
        )
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, average="macro")),
        "pr_auc": float(pr_auc),
    }


def run_quick(
    repeats: int = 5,
    epochs: int = 100,
    seed: int = 0,
    out_dir: str | Path | None = None,
    log: Callable[[str], Any] | None = print,
) -> dict[str, Any]:
    """Run the quick benchmark and return every raw score.

    Parameters
    ----------
    repeats : int, default=5
        Stratified 60/40 train/test splits per data set (seeds ``seed .. seed+repeats-1``).
    epochs : int, default=100
        Training epochs of the VAE.
    seed : int, default=0
        Base seed of the data preparation, the splits and the synthesizers.
    out_dir : path, optional
        Where to write ``quick.json`` (raw scores, seeds, machine) and ``quick.md`` (table).
    log : callable or None, default=print
        Receives progress lines and the final table.

    Returns
    -------
    dict with ``"scores"`` (one record per data set, split and method), ``"table"`` (Markdown)
    and ``"machine"``.
    """
    say = log or (lambda _msg: None)
    # The networks here are small: one thread is about as fast as two on a quiet machine and
    # many times faster on a busy one (OpenMP threads spin while they wait for each other).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_quick(repeats, epochs, seed, out_dir, say)
    finally:
        torch.set_num_threads(threads)


def _run_quick(repeats, epochs, seed, out_dir, say) -> dict[str, Any]:
    started = time.perf_counter()
    records = []
    problems = quick_problems(seed)
    for problem in problems:
        splitter = StratifiedShuffleSplit(n_splits=repeats, test_size=0.4, random_state=seed)
        for rep, (tr, te) in enumerate(splitter.split(problem.X, problem.y)):
            X_tr, y_tr = problem.X.iloc[tr].reset_index(drop=True), problem.y.iloc[tr]
            X_te, y_te = problem.X.iloc[te].reset_index(drop=True), problem.y.iloc[te]
            y_tr = y_tr.reset_index(drop=True)
            for method in METHODS:
                t0 = time.perf_counter()
                if method == "none":
                    X_fit, y_fit = X_tr, y_tr
                elif method == "SMOTE":
                    X_fit, y_fit = _smote(X_tr, y_tr, seed + rep)
                else:
                    X_fit, y_fit = _vae(X_tr, y_tr, seed + rep, epochs)
                resample_s = time.perf_counter() - t0
                model = _classifier(X_tr).fit(_object_categories(X_fit), y_fit)
                scores = _scores(model, _object_categories(X_te), y_te.reset_index(drop=True))
                records.append(
                    {
                        "dataset": problem.name,
                        "split": rep,
                        "method": method,
                        "resample_seconds": resample_s,
                        **scores,
                    }
                )
            say(f"  {problem.name}: split {rep + 1}/{repeats} done")
    table = _table(records)
    result = {
        "benchmark": "quick",
        "config": {"repeats": repeats, "epochs": epochs, "seed": seed, "test_size": 0.4},
        "datasets": {p.name: p.description for p in problems},
        "classifier": "StandardScaler/OneHot + LogisticRegression(max_iter=2000)",
        "machine": machine_description(),
        "wall_seconds": time.perf_counter() - started,
        "scores": records,
        "table": table,
        "command": _command(repeats, epochs, seed, out_dir),
    }
    if out_dir is not None:
        out = Path(out_dir)
        write_json(out / "quick.json", result)
        write_text(out / "quick.md", _markdown(result))
    say("")
    say(table)
    say(f"({result['wall_seconds']:.0f} s; test splits never seen by a synthesizer)")
    return result


def _table(records: list[dict]) -> str:
    frame = pd.DataFrame(records)
    rows = []
    for dataset, per_set in frame.groupby("dataset", sort=False):
        base = per_set[per_set["method"] == "none"].set_index("split")
        for method in METHODS:
            m = per_set[per_set["method"] == method].set_index("split")
            gain = m["balanced_accuracy"] - base["balanced_accuracy"]
            rows.append(
                [dataset, method]
                + [mean_std(m[k]) for k in METRICS]
                + [f"{gain.mean():+.3f}" if method != "none" else "—"]
            )
    header = ["data set", "method", "balanced acc.", "macro-F1", "PR-AUC", "gain (bal. acc.)"]
    return markdown_table(header, rows)


def _command(repeats: int, epochs: int, seed: int, out_dir: str | Path | None) -> str:
    """The command line that runs this configuration (options at their defaults left out)."""
    parts = ["genaug benchmark --quick"]
    for flag, value, default in (
        ("--repeats", repeats, 5), ("--epochs", epochs, 100), ("--seed", seed, 0),
    ):
        if value != default:
            parts.append(f"{flag} {value}")
    if out_dir is not None:
        parts.append(f"--out {out_dir}")
    return " ".join(parts)


def _markdown(result: dict) -> str:
    cfg = result["config"]
    machine = result["machine"]
    lines = [
        "# Quick benchmark",
        "",
        "Mean ± std over "
        f"{cfg['repeats']} stratified 60/40 splits (seed {cfg['seed']}); VAE {cfg['epochs']} "
        "epochs; classifier: " + result["classifier"] + ".",
        "",
        result["table"],
        "Data sets: " + "; ".join(f"{k}: {v}" for k, v in result["datasets"].items()) + ".",
        "",
        f"Machine: {machine['cpu']} ({machine['cpu_count']} CPUs, torch threads "
        f"{machine['torch_threads']}), genaug {machine['genaug']}, torch {machine['torch']}. "
        f"Wall time {result['wall_seconds']:.0f} s. Command: `{result['command']}`.",
        "",
    ]
    return "\n".join(lines)
