"""Do subnormal floats slow long fits down, and does genaug's guard against them work?

Each model is fitted on Adult twice with the same seed: once as genaug trains (subnormal
floats flushed to zero on the training thread and its intra-op workers, and zeroed in weights
and optimizer moments once per epoch; see ``genaug.nn.denormals``) and once with both guards
switched off. Every epoch's wall time is recorded, and the subnormal values left in the
unguarded model's weights are counted. Without the guards, a VAE's epoch slowed from 0.34 s
to 0.6 s after about 30 epochs on a 2-core Intel Xeon, the x86 microcode path for subnormal
arithmetic.

    python benchmarks/denormals.py --out benchmarks/results    # denormals.json and .md
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import genaug.synthesizers.base as base
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.bench._common import machine_description, markdown_table, write_results
from genaug.datasets import load_adult

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"vae": VAESynthesizer, "gan": GANSynthesizer, "vaegan": VAEGANSynthesizer}


def _subnormals(model: Any) -> int:
    count = 0
    for net in model._modules().values():
        for p in net.parameters():
            count += int(((p != 0) & (p.abs() < torch.finfo(p.dtype).tiny)).sum())
    return count


def fit_timed(name: str, epochs: int, seed: int, guarded: bool) -> dict[str, Any]:
    """Fit ``name`` for ``epochs`` epochs and return the wall time of each epoch."""
    X, y = load_adult(return_X_y=True)
    model = MODELS[name](epochs=epochs, random_state=seed, device="cpu")
    stamps: list[float] = []
    on_epoch_end = model._on_epoch_end

    def record(epoch: int, means: dict) -> bool:
        stamps.append(time.perf_counter())
        return on_epoch_end(epoch, means)

    model._on_epoch_end = record
    saved = base.flush_denormals, base.zero_subnormals
    if not guarded:
        base.flush_denormals = lambda *args, **kwargs: contextlib.nullcontext()
        base.zero_subnormals = lambda modules, optimizers: None
    try:
        start = time.perf_counter()
        model.fit(X, y)
    finally:
        base.flush_denormals, base.zero_subnormals = saved
    times = [b - a for a, b in zip([start, *stamps], stamps)]
    return {
        "model": name,
        "guarded": guarded,
        "epoch_seconds": times,
        "fit_s": stamps[-1] - start,
        "subnormal_weights": _subnormals(model),
    }


def _markdown(result: dict[str, Any]) -> str:
    rows = []
    for name in result["config"]["models"]:
        runs = {r["guarded"]: r for r in result["runs"] if r["model"] == name}
        for guarded in (False, True):
            r = runs[guarded]
            t = r["epoch_seconds"]
            rows.append(
                [
                    name,
                    "flushed (genaug)" if guarded else "off",
                    len(t),
                    f"{statistics.median(t[1:6]):.3f}",
                    f"{statistics.median(t[-10:]):.3f}",
                    f"{r['fit_s']:.1f}",
                    r["subnormal_weights"],
                ]
            )
        ratio = runs[False]["fit_s"] / runs[True]["fit_s"]
        rows.append([name, "fit time, off / flushed", "", "", "", f"{ratio:.2f}x", ""])
    m = result["machine"]
    table = markdown_table(
        [
            "model",
            "subnormals",
            "epochs",
            "s/epoch, epochs 2-6 (median)",
            "s/epoch, last 10 (median)",
            "fit s",
            "subnormal weights at the end",
        ],
        rows,
    )
    return "\n".join(
        [
            "# Subnormal floats in long fits",
            "",
            f"Adult (32,561 rows), default configurations, batch 500, seed "
            f"{result['config']['seed']}, torch threads {result['config']['threads']}; the same "
            "fit with genaug's guards (flush to zero on the training thread and its workers, "
            "weights and Adam moments cleaned once per epoch) and without. Machine: "
            f"{m['cpu']}, {m['cpu_count']} CPUs, torch {m['torch']}.",
            "",
            table,
            "",
            "Command: `python benchmarks/denormals.py " + " ".join(sys.argv[1:]) + "`",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="vae,gan,vaegan")
    parser.add_argument("--epochs", default="60,30,32", help="epochs per model, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = args.models.split(",")
    epochs = [int(e) for e in args.epochs.split(",")]
    runs = []
    for name, n in zip(models, epochs):
        for guarded in (False, True):
            run = fit_timed(name, n, args.seed, guarded)
            print(
                f"{name} guarded={guarded}: fit {run['fit_s']:.1f} s, last epoch "
                f"{run['epoch_seconds'][-1]:.3f} s, subnormal weights {run['subnormal_weights']}"
            )
            runs.append(run)
    result = {
        "benchmark": "denormals",
        "config": {"models": models, "epochs": epochs, "seed": args.seed, "threads": args.threads},
        "machine": machine_description(),
        "runs": runs,
    }
    write_results(args.out / "denormals", result, _markdown(result))


if __name__ == "__main__":
    main()
