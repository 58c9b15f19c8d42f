"""VAE, GAN and VAE-GAN on Adult at an equal wall-time budget: speed and quality.

UCI Adult (``genaug.datasets.load_adult``, the 32,561 rows of ``adult.data``) is split into a
training and a held-out part (stratified, fixed seed). Each synthesizer is fitted on the
training part for as many epochs as fit in ``--budget`` seconds: fits of one and two epochs
measure its seconds per epoch and its fixed cost, and the real fit is capped at
``(budget - fixed cost) / seconds_per_epoch`` epochs. Then, per model:

=================== ======================================================================
s/epoch             wall time of the real fit (fixed cost included) divided by its epochs
sample rows/s       rows per second of one ``sample(n_train)`` call (decoding included)
TSTR macro-F1, AUC  train on synthetic, test on real: a ``HistGradientBoostingClassifier``
                    fitted on as many synthetic rows (with their sampled labels) as the
                    training part has, scored on the real held-out part (ROC-AUC of >50K)
detection AUC       ``genaug.metrics.detection_auc`` between the real held-out part and as
                    many synthetic rows, label included (0.5 ideal, 1 fully separable)
=================== ======================================================================

The TRTR row (the same classifier trained on the real training part) is the ceiling.
``--models`` also takes variants that change one design choice from the defaults:
``gan-wgan-gp`` and ``gan-standard`` (the adversarial objective), ``gan-no-aux`` (without the
auxiliary classifier), ``gan-cls-decay-1e-6`` (the auxiliary classifier penalised as lightly
as the other networks, as before ``classifier_weight_decay``), ``gan-no-ema`` (sampling from
the last step's generator instead of its weight average), ``gan-es-detection`` and
``gan-es-utility`` (early stopping by either ``validation_metric``; ``--epochs`` is then the
most epochs; also ``vaegan-es-detection`` and ``vaegan-es-utility``), ``gan-pac10``
(CTGAN's packing of 10 rows and dropout 0.5), ``gan-latent64`` (64 noise dimensions instead of
128), ``gan-lazy-gp4`` (the gradient penalty on every fourth step at four times the weight),
``vaegan-standard`` and ``vaegan-wgan-gp``.

Usage (from the repository root)::

    python benchmarks/tabular_models.py --budget 60
    python benchmarks/tabular_models.py --epochs 25 --seeds 0,1 --models gan-wgan-gp,gan-standard

``--epochs`` fixes the epochs instead of the budget (for ablations, where timing noise on a
shared machine should not decide how long each variant trains); ``--seeds`` repeats each fit
with several synthesizer seeds (the train/test split stays that of ``--split-seed``).

Results go to ``benchmarks/results/tabular_models.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.bench._common import (
    machine_description,
    markdown_table,
    mean_std,
    write_json,
    write_text,
)
from genaug.datasets import load_adult
from genaug.metrics.detection import detection_auc

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "tabular_models"
POSITIVE = ">50K"
LABEL = "income"

class _LazyPenaltyGAN(GANSynthesizer):
    """The GAN with its gradient penalty on every fourth critic step at four times the weight.

    Lazy regularisation (as StyleGAN2 applies its R1 penalty), emulated for this ablation by
    setting ``gradient_penalty`` for each step; not a genaug option (it was measured and not
    adopted: ``results/ablation_gan_lazy_gp_30.md``).
    """

    EVERY = 4

    def _train_step(self, x, c, optimizers, generator):
        self._lazy_step = getattr(self, "_lazy_step", -1) + 1
        weight = self.gradient_penalty
        self.gradient_penalty = weight * self.EVERY if self._lazy_step % self.EVERY == 0 else 0.0
        try:
            return super()._train_step(x, c, optimizers, generator)
        finally:
            self.gradient_penalty = weight


# The three families with their defaults, and the variants behind the design choices.
MODELS: dict[str, Callable[..., Any]] = {
    "vae": lambda **kw: VAESynthesizer(**kw),
    "vae-latent32": lambda **kw: VAESynthesizer(latent_dim=32, **kw),
    "vae-latent128": lambda **kw: VAESynthesizer(latent_dim=128, **kw),
    "gan": lambda **kw: GANSynthesizer(**kw),
    "vaegan": lambda **kw: VAEGANSynthesizer(**kw),
    "gan-wgan-gp": lambda **kw: GANSynthesizer(adversarial_loss="wgan-gp", **kw),
    "gan-standard": lambda **kw: GANSynthesizer(adversarial_loss="standard", **kw),
    "gan-no-aux": lambda **kw: GANSynthesizer(auxiliary_classifier=False, **kw),
    "gan-cls-decay-1e-6": lambda **kw: GANSynthesizer(classifier_weight_decay=1e-6, **kw),
    "gan-no-ema": lambda **kw: GANSynthesizer(generator_ema=0.0, **kw),
    "gan-es-detection": lambda **kw: GANSynthesizer(
        early_stopping=True, validation_metric="detection", **kw
    ),
    "gan-es-utility": lambda **kw: GANSynthesizer(
        early_stopping=True, validation_metric="utility", **kw
    ),
    "gan-latent64": lambda **kw: GANSynthesizer(latent_dim=64, **kw),
    "gan-d128": lambda **kw: GANSynthesizer(discriminator_hidden=(128, 128), **kw),
    "gan-g128-d128": lambda **kw: GANSynthesizer(
        generator_hidden=(128, 128), discriminator_hidden=(128, 128), **kw
    ),
    "gan-pac10": lambda **kw: GANSynthesizer(pac=10, discriminator_dropout=0.5, **kw),
    "gan-lazy-gp4": lambda **kw: _LazyPenaltyGAN(**kw),
    "vaegan-es-detection": lambda **kw: VAEGANSynthesizer(
        early_stopping=True, validation_metric="detection", **kw
    ),
    "vaegan-es-utility": lambda **kw: VAEGANSynthesizer(
        early_stopping=True, validation_metric="utility", **kw
    ),
    "vaegan-standard": lambda **kw: VAEGANSynthesizer(adversarial_loss="standard", **kw),
    "vaegan-wgan-gp": lambda **kw: VAEGANSynthesizer(adversarial_loss="wgan-gp", **kw),
}


def _model_frame(X: pd.DataFrame, categories: dict[str, list]) -> pd.DataFrame:
    """Text columns as categoricals with the real training categories (native HGB splits)."""
    out = X.copy()
    for col, cats in categories.items():
        out[col] = pd.Categorical(out[col].astype(object), categories=cats)
    return out


def _tstr(
    X_fit: pd.DataFrame,
    y_fit: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    categories: dict[str, list],
    seed: int,
) -> dict[str, float]:
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    clf.fit(_model_frame(X_fit, categories), np.asarray(y_fit, dtype=object))
    X_eval = _model_frame(X_test, categories)
    pred = clf.predict(X_eval)
    classes = list(clf.classes_)
    auc = np.nan
    if POSITIVE in classes and len(classes) == 2:
        auc = roc_auc_score(
            y_test == POSITIVE, clf.predict_proba(X_eval)[:, classes.index(POSITIVE)]
        )
    return {
        "tstr_macro_f1": float(f1_score(np.asarray(y_test, dtype=object), pred, average="macro")),
        "tstr_roc_auc": float(auc),
    }


def _with_label(X: pd.DataFrame, y: Any) -> pd.DataFrame:
    out = X.reset_index(drop=True).copy()
    out[LABEL] = np.asarray(y, dtype=object)
    return out


def _epochs_for_budget(
    make: Callable[..., Any], budget: float, split: dict, seed: int, device: str
):
    """Epochs that fit in ``budget`` seconds, from fits of one and three epochs.

    Two short fits separate the seconds per epoch from the fixed cost of a fit (codec,
    encoding, network set-up), which the budget also has to pay. An untimed one-epoch fit
    comes first: the first fit in a process pays one-off costs (lazy initialisation, fresh
    memory) that made one calibration read 0.64 s per epoch for a model that then trained at
    0.23, so that its seed got a third of the budget.
    """
    make(epochs=1, random_state=seed, device=device).fit(split["X_train"], split["y_train"])
    seconds = []
    for epochs in (1, 3):
        t0 = time.perf_counter()
        make(epochs=epochs, random_state=seed, device=device).fit(
            split["X_train"], split["y_train"]
        )
        seconds.append(time.perf_counter() - t0)
    per_epoch = max((seconds[1] - seconds[0]) / 2, 0.5 * seconds[0], 1e-3)
    overhead = max(seconds[0] - per_epoch, 0.0)
    return max(1, int((budget - overhead) // per_epoch)), per_epoch, overhead


def run_model(
    name: str,
    split: dict[str, Any],
    seed: int,
    device: str,
    log: Callable[[str], Any],
    budget: float | None = None,
    epochs: int | None = None,
) -> dict[str, Any]:
    """Fit one synthesizer (for ``epochs``, or as many as fit in ``budget`` seconds), sample
    as many rows as the training part has, and score them."""
    X_train, y_train = split["X_train"], split["y_train"]
    X_test, y_test = split["X_test"], split["y_test"]
    make = MODELS[name]
    if epochs is None:
        epochs, per_epoch, overhead = _epochs_for_budget(make, budget, split, seed, device)
        log(f"{name}: calibration {per_epoch:.2f} s/epoch + {overhead:.1f} s -> {epochs} epochs")

    syn = make(epochs=epochs, random_state=seed, device=device)
    t0 = time.perf_counter()
    syn.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - t0
    epochs_run = len(syn.history_["epoch"])

    n = len(X_train)
    t0 = time.perf_counter()
    X_syn, y_syn = syn.sample(n, random_state=seed)
    sample_seconds = time.perf_counter() - t0

    scores = _tstr(X_syn, y_syn, X_test, y_test, split["categories"], seed)
    m = len(X_test)
    det = detection_auc(
        _with_label(X_test, y_test),
        _with_label(X_syn.iloc[:m], np.asarray(y_syn)[:m]),
        random_state=seed,
    )
    record = {
        "model": name,
        "seed": seed,
        "class": type(syn).__name__,
        "params": {k: v for k, v in syn.get_params().items() if k not in ("verbose",)},
        "epochs": epochs_run,
        "best_epoch": getattr(syn, "best_epoch_", None),
        "fit_seconds": fit_seconds,
        "seconds_per_epoch": fit_seconds / epochs_run,
        "sample_rows": n,
        "sample_rows_per_second": n / sample_seconds,
        **scores,
        "detection_auc": float(det),
        "final_losses": {k: v[-1] for k, v in syn.history_.items() if k != "epoch"},
    }
    log(
        f"{name} (seed {seed}): {epochs_run} epochs in {fit_seconds:.1f} s"
        + (f" (kept epoch {record['best_epoch']})" if record["best_epoch"] else "")
        + ", "
        f"{record['sample_rows_per_second']:.0f} rows/s, macro-F1 {scores['tstr_macro_f1']:.3f}, "
        f"AUC {scores['tstr_roc_auc']:.3f}, detection {det:.3f}"
    )
    return record


def _split(seed: int, test_size: float) -> dict[str, Any]:
    X, y = load_adult(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    X_train, X_test = X_train.reset_index(drop=True), X_test.reset_index(drop=True)
    y_train, y_test = y_train.reset_index(drop=True), y_test.reset_index(drop=True)
    categories = {
        col: sorted(X_train[col].dropna().astype(object).unique().tolist())
        for col in X_train.columns
        if not pd.api.types.is_numeric_dtype(X_train[col])
    }
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "categories": categories,
    }


def _table(records: list[dict[str, Any]], trtr: dict[str, float]) -> str:
    """One row per model: medians of the timings, mean ± sd of the scores over the seeds."""
    header = [
        "model",
        "epochs",
        "fit s",
        "s/epoch",
        "sample rows/s",
        "TSTR macro-F1",
        "TSTR ROC-AUC",
        "detection AUC",
    ]
    rows = []
    for name in dict.fromkeys(r["model"] for r in records):
        mine = [r for r in records if r["model"] == name]

        def med(key: str, mine: list = mine) -> float:
            return float(np.median([r[key] for r in mine]))

        def score(key: str, mine: list = mine) -> str:
            values = [r[key] for r in mine]
            return mean_std(values) if len(values) > 1 else f"{values[0]:.3f}"

        kept = [r["best_epoch"] for r in mine if r.get("best_epoch")]
        rows.append(
            [
                name,
                f"{med('epochs'):.0f}" + (f" (kept {'/'.join(map(str, kept))})" if kept else ""),
                f"{med('fit_seconds'):.0f}",
                f"{med('seconds_per_epoch'):.2f}",
                f"{med('sample_rows_per_second'):,.0f}",
                score("tstr_macro_f1"),
                score("tstr_roc_auc"),
                score("detection_auc"),
            ]
        )
    rows.append(
        [
            "real data (TRTR)",
            "",
            "",
            "",
            "",
            f"{trtr['tstr_macro_f1']:.3f}",
            f"{trtr['tstr_roc_auc']:.3f}",
            "",
        ]
    )
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write its JSON and Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training per model")
    parser.add_argument(
        "--epochs", type=int, default=None, help="fixed epochs instead of a time budget"
    )
    parser.add_argument("--models", default="vae,gan,vaegan", help=f"from {sorted(MODELS)}")
    parser.add_argument("--seeds", default="0", help="synthesizer seeds, comma-separated")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split")
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="path without extension")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")
    seeds = [int(v) for v in args.seeds.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    split = _split(args.split_seed, args.test_size)
    trtr = _tstr(
        split["X_train"],
        split["y_train"],
        split["X_test"],
        split["y_test"],
        split["categories"],
        args.split_seed,
    )
    print(f"TRTR: macro-F1 {trtr['tstr_macro_f1']:.3f}, AUC {trtr['tstr_roc_auc']:.3f}")
    budget = None if args.epochs else args.budget
    records = [
        run_model(name, split, seed, args.device, print, budget=budget, epochs=args.epochs)
        for name in names
        for seed in seeds
    ]
    table = _table(records, trtr)
    limit = f"--epochs {args.epochs}" if args.epochs else f"--budget {args.budget:g}"
    command = (
        f"python benchmarks/tabular_models.py {limit} --models {','.join(names)} "
        f"--seeds {args.seeds} --split-seed {args.split_seed}"
        + (f" --threads {args.threads}" if args.threads else "")
    )
    payload = {
        "benchmark": "tabular_models",
        "data": {
            "name": "adult",
            "train_rows": len(split["X_train"]),
            "test_rows": len(split["X_test"]),
            "test_size": args.test_size,
            "split_seed": args.split_seed,
        },
        "budget_seconds": budget,
        "epochs": args.epochs,
        "seeds": seeds,
        "device": args.device,
        "trtr": trtr,
        "results": records,
        "total_seconds": time.perf_counter() - started,
        "machine": machine_description(),
        "command": command,
    }
    out = Path(args.out)
    write_json(out.with_suffix(".json"), payload)
    machine = payload["machine"]
    training = f"{args.epochs} epochs" if args.epochs else f"{args.budget:g} s of training"
    text = (
        "# VAE, GAN and VAE-GAN on Adult\n\n"
        f"{len(split['X_train']):,} training rows, {len(split['X_test']):,} held-out rows "
        f"(stratified split of `adult.data`, seed {args.split_seed}); {training} per model "
        f"and seed (seeds {args.seeds}) on {machine['cpu']} with {machine['torch_threads']} "
        "torch thread(s). Timings are medians over the seeds, scores mean ± sd. TSTR: a "
        "HistGradientBoostingClassifier trained on synthetic rows, scored on the real "
        "held-out rows; detection AUC: real held-out rows against synthetic ones (0.5 ideal)."
        f"\n\n{table}\nCommand: `{command}`\n"
    )
    write_text(out.with_suffix(".md"), text)
    print(table)
    return payload


if __name__ == "__main__":
    main()
