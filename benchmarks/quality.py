"""Quality of the synthetic rows: ``genaug.metrics.evaluate`` per synthesizer at equal cost.

On Adult and two other mixed-type tables of ``../shared/data`` (thyroid_sick and
german_credit by default, loaded and binarised as in ``benchmarks/tabular.py``), each table is
split once into a training part and a held-out part (stratified, ``--split-seed``). Every
synthesizer is fitted on the training part and samples as many rows as it has (labels drawn at
the training class rates), with as many epochs as make fit and sampling take ``--budget``
seconds (calibrated as in ``tabular.py``: runs of 1 and of 4^k epochs on the same training
part). The held-out part is used only by the metrics, never by a synthesizer.

Headline numbers of :func:`genaug.metrics.evaluate` (ideal value in brackets):

================ ==================================================================================
detection AUC    gradient boosting telling synthetic from real rows [0.5]
precision        share of synthetic rows inside the real rows' k-NN balls [1]
recall           share of real rows inside the synthetic rows' k-NN balls [1]
coverage         share of real rows whose k-NN ball holds a synthetic row [1]
DCR share        share of synthetic rows closer to the training rows than to as many held-out
                 rows [0.5; above means the generator stays close to what it saw]
DCR ratio        median distance of a synthetic row to its closest training row, divided by the
                 same median for held-out rows [1; below 1 means closer than fresh real data]
MIA AUC          membership inference from distances to the synthetic rows [0.5]
TSTR / TRTR      held-out macro-F1 of gradient boosting trained on the synthetic rows / on the
                 real training rows [TSTR close to TRTR]
================ ==================================================================================

Where ``ctgan`` is importable, its CTGAN and TVAE are measured the same way (label column as a
discrete column; numeric missing values imputed by the training medians first).

Usage (from the repository root)::

    python benchmarks/quality.py                      # adult, thyroid_sick, german_credit; 60 s
    python benchmarks/quality.py --budget 20 --seeds 0
    python benchmarks/quality.py --quick              # german_credit only, 5 s per fit

Results go to ``benchmarks/results/quality.json`` (every metric of every run, seeds,
versions, machine, wall times) and ``quality.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from figures import try_draw  # benchmarks/figures.py, next to this script
from sklearn.model_selection import train_test_split
from tabular import (
    DATA_SEED,
    DEFAULT_DATA,
    DEFAULT_OUT,
    GENAUG_CLASSES,
    LOADERS,
    Dataset,
    calibrate,
    ctgan_available,
    ctgan_model,
    ctgan_table,
    load_dataset,
)
from threadpoolctl import threadpool_limits

from genaug.bench._common import machine_description, markdown_table, write_json, write_text
from genaug.metrics import evaluate

SUITE = "quality"
MODELS = ("vae", "gan", "vaegan", "ctgan", "tvae")
TARGET = "__target__"

# (report key, column title, ideal): the headline numbers, in the order of the tables.
HEADLINE = (
    ("detection_auc", "detection AUC", "0.5"),
    ("precision", "precision", "1"),
    ("recall", "recall", "1"),
    ("coverage", "coverage", "1"),
    ("dcr_share", "DCR share", "0.5"),
    ("dcr_ratio", "DCR ratio", "1"),
    ("membership_inference_auc", "MIA AUC", "0.5"),
    ("train_synthetic_macro_f1", "TSTR macro-F1", "TRTR"),
)

FULL = {"datasets": "adult,thyroid_sick,german_credit", "budget": 60.0, "seeds": "0,1,2",
        "max_rows": 10000}
QUICK = {"datasets": "german_credit", "budget": 5.0, "seeds": "0", "max_rows": 1000}


def fit_and_sample(name: str, data: Dataset, X: pd.DataFrame, y: np.ndarray, epochs: int,
                   seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Fit synthesizer ``name`` on ``(X, y)`` and draw ``len(X)`` labelled rows.

    Parameters
    ----------
    name : {"vae", "gan", "vaegan", "ctgan", "tvae"}
    data : Dataset
        Gives the categorical columns.
    X, y : DataFrame and ndarray
        The training part.
    epochs : int
    seed : int
        Seed of the fit and of the draw.

    Returns
    -------
    X_synthetic, y_synthetic
        Labels at the training class rates, as the model learnt them.
    """
    n = len(X)
    if name in GENAUG_CLASSES:
        syn = GENAUG_CLASSES[name](epochs=epochs, random_state=seed, device="cpu")
        syn.fit(X, pd.Series(y, name="target"))
        X_new, y_new = syn.sample(n, random_state=seed)
        return X_new.reset_index(drop=True), np.asarray(y_new, dtype=int)
    table = ctgan_table(X, data)
    table[TARGET] = y.astype(str)
    model = ctgan_model(name, epochs)
    model.set_random_state(seed)
    model.fit(table, discrete_columns=[*data.categorical, TARGET])
    new = model.sample(n)
    y_new = new.pop(TARGET).astype(int).to_numpy()
    for col in data.categorical:
        values = new[col].astype(object).where(new[col] != "<missing>", np.nan)
        new[col] = pd.Categorical(values, categories=X[col].cat.categories)
    return new[list(X.columns)].reset_index(drop=True), y_new


def _names(y: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(y) == 1, "minority", "majority")


def headline(report: Any) -> dict[str, float]:
    """The headline numbers of one :class:`genaug.metrics.Report`, plus every family score."""
    out: dict[str, float] = {}
    for key, _title, _ideal in HEADLINE:
        if key == "dcr_ratio":
            hold = report["dcr_holdout_median"]
            out[key] = float(report["dcr_synthetic_median"] / hold) if hold > 0 else float("nan")
        else:
            out[key] = float(report[key])
    out["train_real_macro_f1"] = float(report["train_real_macro_f1"])
    out["exact_copy_rate"] = float(report["exact_copy_rate"])
    out["holdout_exact_copy_rate"] = float(report["holdout_exact_copy_rate"])
    for family, score in report.scores.items():
        out[f"score_{family}"] = float(score)
    return out


def _cell(values: list[float]) -> str:
    arr = np.asarray(values, dtype=float)
    if arr.size == 1:
        return f"{arr[0]:.3f}"
    return f"{arr.mean():.3f} ± {arr.std(ddof=1):.3f}"


def markdown(result: dict[str, Any]) -> str:
    """The generated ``quality.md``."""
    cfg, mach = result["config"], result["machine"]
    lines = ["# Quality of the synthetic rows at equal training cost", "",
             "Generated by `benchmarks/quality.py`; do not edit by hand.", ""]
    if cfg["reduced"]:
        lines += ["> **Reduced configuration** (" + "; ".join(cfg["reduced"]) + "). The full "
                  "configuration is `python benchmarks/quality.py` with no options.", ""]
    lines += [
        f"Command: `{cfg['command']}`",
        "",
        f"Each table split once into {1 - cfg['test_size']:.0%} training and "
        f"{cfg['test_size']:.0%} held-out rows (stratified, split seed {cfg['split_seed']}, "
        f"at most {cfg['max_rows']} rows per table, subsample seed {DATA_SEED}); every "
        f"synthesizer trained on the training rows and drew as many labelled rows, with the "
        f"epochs that make fit and sampling take {cfg['budget']:g} s; "
        "`evaluate(..., random_state=seed)` with the "
        f"synthesizer seeds {cfg['seeds']} (mean ± std over seeds where more than one). "
        f"Run {cfg['date']}, wall time {result['wall_seconds'] / 60:.1f} min on {mach['cpu']} "
        f"({mach['cpu_count']} CPUs shared with other jobs, {mach['torch_threads']} torch "
        f"thread), genaug {mach['genaug']}, torch {mach['torch']}, scikit-learn "
        f"{mach['scikit-learn']}" + (f", ctgan {mach['ctgan']}" if mach.get("ctgan") else "")
        + ".",
        "",
    ]
    if result["skipped_models"]:
        lines += ["Skipped: " + "; ".join(f"{m} ({why})" for m, why in
                                          result["skipped_models"].items()) + ".", ""]
    lines += ["Ideal values: " + ", ".join(f"{t} {i}" for _k, t, i in HEADLINE)
              + ". TRTR is the same classifier trained on the real training rows.", ""]
    runs = pd.DataFrame(result["runs"])
    for ds, info in result["datasets"].items():
        lines += [f"## {ds}", "",
                  f"{info['source']}: {info['train_rows']} training and {info['holdout_rows']} "
                  f"held-out rows, {info['columns']} columns ({info['categorical']} "
                  f"categorical), minority rate {info['positive_rate']:.1%}.", ""]
        rows = []
        part = runs[runs["dataset"] == ds] if len(runs) else runs
        for model in result["config"]["models"]:
            got = part[part["model"] == model] if len(part) else part
            if not len(got):
                error = result["errors"].get(ds, {}).get(model, "not run")
                rows.append([model, f"failed: {error[:80]}"] + [""] * (len(HEADLINE) + 1))
                continue
            rows.append([model, int(got["epochs"].iloc[0])]
                        + [_cell(got[k].tolist()) for k, _t, _i in HEADLINE]
                        + [_cell(got["train_real_macro_f1"].tolist())])
        lines.append(markdown_table(["model", "epochs", *(t for _k, t, _i in HEADLINE),
                                     "TRTR macro-F1"], rows))
        cal = result["calibration"].get(ds, {})
        if cal:
            fit_s = {m: part[part["model"] == m]["fit_seconds"].mean() for m in cal}
            lines += ["Cost: " + "; ".join(
                f"{m} {c['seconds_per_epoch']:.3f} s/epoch, {c['epochs']} epochs, fit "
                f"{fit_s[m]:.1f} s" for m, c in cal.items()) + ".", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options; unset ones take the full (or ``--quick``) configuration."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--datasets", default=None,
                   help=f"comma-separated (default {FULL['datasets']}); known: "
                        f"{', '.join(LOADERS)}")
    p.add_argument("--models", default=",".join(MODELS), help=f"subset of {', '.join(MODELS)}")
    p.add_argument("--budget", type=float, default=None,
                   help=f"training seconds per synthesizer (default {FULL['budget']:g})")
    p.add_argument("--max-epochs", type=int, default=2000, help="cap on the calibrated epochs")
    p.add_argument("--seeds", default=None,
                   help=f"synthesizer and metric seeds (default {FULL['seeds']})")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--test-size", type=float, default=0.3)
    p.add_argument("--max-rows", type=int, default=None,
                   help=f"rows per table before the split (default {FULL['max_rows']})")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help=f"reduced configuration: {QUICK}")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for quality.json and quality.md (default benchmarks/results)")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _reduced(args: argparse.Namespace, names: list[str], seeds: list[int]) -> list[str]:
    out = []
    if len(names) < len(FULL["datasets"].split(",")):
        out.append(f"{len(names)} of {len(FULL['datasets'].split(','))} tables")
    if args.budget < FULL["budget"]:
        out.append(f"budget {args.budget:g} s instead of {FULL['budget']:g} s")
    if len(seeds) < len(FULL["seeds"].split(",")):
        out.append(f"{len(seeds)} seed(s) instead of {len(FULL['seeds'].split(','))}")
    if args.max_rows and args.max_rows < FULL["max_rows"]:
        out.append(f"at most {args.max_rows} rows per table instead of {FULL['max_rows']}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``quality.json`` and ``quality.md``; the exit status."""
    args = parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"Data folder {args.data_dir} not found; pass --data-dir PATH (see "
              "../shared/DATASETS.md).", file=sys.stderr)
        return 2
    names = args.datasets.split(",")
    models = args.models.split(",")
    bad = [n for n in names if n not in LOADERS] + [m for m in models if m not in MODELS]
    if bad:
        print(f"Unknown data sets or models {bad}; see --help.", file=sys.stderr)
        return 2
    skipped = {}
    if not ctgan_available():
        skipped = {m: "ctgan is not importable by this Python" for m in models
                   if m in ("ctgan", "tvae")}
        models = [m for m in models if m not in skipped]
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    machine = machine_description()
    if ctgan_available():
        from importlib.metadata import version

        machine["ctgan"] = version("ctgan")
    started = time.perf_counter()
    command = "python benchmarks/quality.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {
        "benchmark": SUITE,
        "config": {"command": command.strip(), "datasets": names, "models": models,
                   "budget": args.budget, "max_epochs": args.max_epochs, "seeds": seeds,
                   "split_seed": args.split_seed, "test_size": args.test_size,
                   "max_rows": args.max_rows, "data_seed": DATA_SEED, "threads": args.threads,
                   "reduced": _reduced(args, names, seeds),
                   "date": time.strftime("%Y-%m-%d %H:%M")},
        "machine": machine,
        "skipped_models": skipped,
        "datasets": {},
        "calibration": {},
        "runs": [],
        "errors": {},
    }
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds in names:
            data = load_dataset(ds, args.data_dir, args.max_rows or None)
            train, hold = train_test_split(np.arange(len(data.y)), test_size=args.test_size,
                                           stratify=data.y, random_state=args.split_seed)
            X_tr, y_tr = data.X.iloc[train].reset_index(drop=True), data.y[train]
            X_ho, y_ho = data.X.iloc[hold].reset_index(drop=True), data.y[hold]
            result["datasets"][ds] = {
                "source": data.source, "train_rows": len(train), "holdout_rows": len(hold),
                "columns": data.X.shape[1], "categorical": len(data.categorical),
                "positive_rate": float(data.y.mean()),
            }
            print(f"\n{ds}: {len(train)} training rows, {len(hold)} held out", flush=True)
            for model in models:
                try:
                    run = partial(fit_and_sample, model, data, X_tr, y_tr, seed=seeds[0])
                    cal = calibrate(lambda e, run=run: run(epochs=e), args.budget,
                                    args.max_epochs)
                    result["calibration"].setdefault(ds, {})[model] = cal
                    for seed in seeds:
                        t0 = time.perf_counter()
                        X_syn, y_syn = fit_and_sample(model, data, X_tr, y_tr, cal["epochs"],
                                                      seed)
                        fit_s = time.perf_counter() - t0
                        t0 = time.perf_counter()
                        # String labels: evaluate's utility family refuses integer ones.
                        report = evaluate(X_tr, X_syn, real_holdout=X_ho,
                                          y_real=_names(y_tr), y_synthetic=_names(y_syn),
                                          y_holdout=_names(y_ho), random_state=seed)
                        numbers = headline(report)
                        result["runs"].append({
                            "dataset": ds, "model": model, "seed": seed,
                            "epochs": cal["epochs"], "fit_seconds": fit_s,
                            "evaluate_seconds": time.perf_counter() - t0, **numbers})
                        print(f"  {model} seed {seed}: {cal['epochs']} epochs, fit {fit_s:.0f} s;"
                              f" detection AUC {numbers['detection_auc']:.3f}, coverage "
                              f"{numbers['coverage']:.3f}, TSTR macro-F1 "
                              f"{numbers['train_synthetic_macro_f1']:.3f} (TRTR "
                              f"{numbers['train_real_macro_f1']:.3f})", flush=True)
                except Exception as exc:  # one failing model must not lose the others' results
                    error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                    result["errors"].setdefault(ds, {})[model] = error
                    print(f"  {model} failed: {error[:300]}", flush=True)
    result["wall_seconds"] = time.perf_counter() - started
    write_json(args.out / f"{SUITE}.json", result)
    write_text(args.out / f"{SUITE}.md", markdown(result))
    try_draw(SUITE, result, args.out)
    print(f"\nWrote {args.out / SUITE}.json and .md ({result['wall_seconds'] / 60:.1f} min).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
