"""Does the GAN's noise width change what it covers? Adult's manifold metrics and a toy's spread.

Two checks of ``GANSynthesizer(latent_dim=...)`` beyond the TSTR and detection AUC of
``tabular_models.py`` (variants ``gan`` and ``gan-latent64``):

* Adult (the split of ``tabular_models.py``): a fit of ``--epochs`` epochs per width and seed,
  then as many synthetic rows as the held-out part has (a fixed sampling seed), scored against
  the held-out rows with ``genaug.metrics.diversity.manifold_metrics`` (improved precision and
  recall, density and coverage, k = 5): a narrower noise that collapsed modes would lose
  recall and coverage.
* A 600-row two-class toy (a numeric column ``x`` of mean 3.0 or -1.0 and standard deviation
  0.5 by class, as in the tests' ``make_labelled``): ``--toy-epochs`` epochs at batch 100, then
  2,000 rows per class; the mean and standard deviation of ``x`` per class show whether the
  class-conditional spread survives on a small table.

    python benchmarks/latent_probe.py --latents 128,64 --seeds 0,1 --threads 2

Results go to ``benchmarks/results/latent_probe.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tabular_models import _split

from genaug import GANSynthesizer
from genaug.bench._common import (
    machine_description,
    markdown_table,
    two_class_toy,
    write_results,
)
from genaug.metrics.diversity import manifold_metrics

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latent_probe"
SAMPLE_SEED = 7


def adult_rows(latents: list[int], seeds: list[int], epochs: int) -> list[dict[str, Any]]:
    split = _split(0, 0.3)
    real = split["X_test"]
    rows = []
    for latent in latents:
        for seed in seeds:
            start = time.perf_counter()
            syn = GANSynthesizer(epochs=epochs, latent_dim=latent, random_state=seed)
            syn.fit(split["X_train"], split["y_train"])
            fit_s = time.perf_counter() - start
            X_syn, _ = syn.sample(len(real), random_state=SAMPLE_SEED)
            scores = manifold_metrics(real, X_syn, random_state=0)
            rows.append(
                {"latent_dim": latent, "seed": seed, "fit_s": fit_s}
                | {k: float(v) for k, v in scores.items()}
            )
            print(rows[-1], flush=True)
    return rows


def toy_rows(latents: list[int], seeds: list[int], epochs: int) -> list[dict[str, Any]]:
    X, y = two_class_toy()
    rows = []
    for latent in latents:
        for seed in seeds:
            syn = GANSynthesizer(epochs=epochs, batch_size=100, latent_dim=latent)
            syn.set_params(random_state=seed).fit(X, y)
            row: dict[str, Any] = {"latent_dim": latent, "seed": seed}
            for label in ("rare", "common"):
                X_syn, _ = syn.sample(2000, y=label, random_state=SAMPLE_SEED)
                row[f"{label}_mean"] = float(X_syn["x"].mean())
                row[f"{label}_std"] = float(X_syn["x"].std())
            rows.append(row)
            print(row, flush=True)
    real: dict[str, Any] = {"latent_dim": "real", "seed": ""}
    for label in ("rare", "common"):
        part = X["x"][y == label]
        real[f"{label}_mean"], real[f"{label}_std"] = float(part.mean()), float(part.std())
    return [*rows, real]


def _mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    adult = pd.DataFrame(result["adult"])
    lines = [
        "# GAN noise width: coverage on Adult, class spread on a toy",
        "",
        f"Adult: {cfg['epochs']} epochs per width and seed (seeds {cfg['seeds']}), as many "
        "synthetic rows as the held-out part (9,769), manifold metrics against the held-out "
        "rows (k = 5; ideal near 1). Mean ± sd over the seeds.",
        "",
    ]
    table = []
    for latent, group in adult.groupby("latent_dim", sort=False):
        table.append(
            [latent, f"{group['fit_s'].median():.1f}"]
            + [_mean_sd(group[m].tolist()) for m in ("precision", "recall", "density", "coverage")]
        )
    lines.append(
        markdown_table(["latent_dim", "fit s", "precision", "recall", "density", "coverage"], table)
    )
    lines += [
        f"Toy: 600 rows, {cfg['toy_epochs']} epochs at batch 100, 2,000 rows per class; mean "
        "and standard deviation of `x` (real values last).",
        "",
    ]
    toy = [
        [
            r["latent_dim"],
            r["seed"],
            f"{r['rare_mean']:.2f}",
            f"{r['rare_std']:.2f}",
            f"{r['common_mean']:.2f}",
            f"{r['common_std']:.2f}",
        ]
        for r in result["toy"]
    ]
    header = ["latent_dim", "seed", "rare mean", "rare sd", "common mean", "common sd"]
    lines.append(markdown_table(header, toy))
    m = result["machine"]
    lines.append(
        f"Machine: {m.get('cpu', '?')} ({m.get('cpu_count', '?')} CPUs, torch threads "
        f"{cfg['threads']}). Command: `python benchmarks/latent_probe.py {cfg['argv']}`"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latents", default="128,64")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--toy-epochs", type=int, default=150)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    latents = [int(v) for v in args.latents.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    result = {
        "config": {
            "latents": latents,
            "seeds": seeds,
            "epochs": args.epochs,
            "toy_epochs": args.toy_epochs,
            "threads": args.threads,
            "argv": " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        },
        "machine": machine_description(),
        "toy": toy_rows(latents, seeds, args.toy_epochs),
        "adult": adult_rows(latents, seeds, args.epochs),
    }
    write_results(args.out, result, render(result))


if __name__ == "__main__":
    main()
