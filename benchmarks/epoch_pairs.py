"""Epoch-time and sampling-rate ratios genaug / ctgan from alternating process pairs.

``speed.py`` measures each model once, so one run's epoch ratio carries the shared machine's
minute-to-minute drift (the same GAN epoch read 2.77x and 3.19x CTGAN's in two runs). Here each
round fits ctgan's model and genaug's counterpart for a few epochs, each in a fresh child
process, one right after the other (the order alternating between rounds), and takes the
ratio of their median epochs; the rounds' spread shows how much of a ratio is noise. Epochs
are time-stamped inside each library's fit exactly as in ``speed.py``. After its fit each child
also times draws of 50,000 rows as ``speed.py`` does (median of 3 after a warm-up draw): the
sampling ratio of the same pair. These are short fits (5 GAN, 12 VAE epochs by default): a
VAE trained as long as the speed suite trains it (over 100 epochs) spreads its logits far
enough that every sampling pass has rows needing per-span maxima, a path these fits never take
(``benchmarks/sampling_parts.py``, ``results/trained_vae_pairs.md``), so the suite's VAE
sampling ratio is the trained model's and this one an early model's.

Pairs: CTGAN / genaug GAN (default configuration) and TVAE / genaug VAE, on Adult's 32,561
rows, batch 500. ctgan needs pandas < 3 (``.bench-venv``, see ``benchmarks/README.md``)::

    .bench-venv/bin/python benchmarks/epoch_pairs.py --rounds 4 --threads 2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # speed.py's runner, also in children

from speed import RESULTS, _adult, _Runner, _timed

SAMPLE_ROWS = 50_000

PAIRS = [("ctgan-ctgan", "genaug-gan"), ("ctgan-tvae", "genaug-vae")]


def _epoch_child(task: dict) -> dict[str, float]:
    import torch

    torch.set_num_threads(task["threads"])
    train, _ = _adult()
    runner = _Runner(task["model"], task["epochs"], task["seed"])
    s_per_epoch = runner.fit(train, task["epochs"])["s_per_epoch"]
    rate = SAMPLE_ROWS / _timed(lambda: runner.sample(SAMPLE_ROWS))
    return {"s_per_epoch": s_per_epoch, "rows_per_s": rate}


def _measure(model: str, epochs: int, threads: int, seed: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    task = {"model": model, "epochs": epochs, "threads": threads, "seed": seed}
    with ctx.Pool(1) as pool:
        return pool.apply(_epoch_child, (task,))


def run(rounds: int, epochs: dict[str, int], threads: int, seed: int) -> dict[str, Any]:
    """``rounds`` alternating pairs per ctgan / genaug couple; per-round epochs and ratios."""
    out: dict[str, Any] = {"rounds": rounds, "epochs": epochs, "threads": threads, "pairs": []}
    for ref, ours in PAIRS:
        rows = []
        for r in range(rounds):
            order = (ref, ours) if r % 2 == 0 else (ours, ref)
            got = {m: _measure(m, epochs[m], threads, seed) for m in order}
            rows.append(
                {
                    "first": order[0],
                    **{m: got[m]["s_per_epoch"] for m in order},
                    "ratio": got[ref]["s_per_epoch"] / got[ours]["s_per_epoch"],
                    "rows_per_s": {m: got[m]["rows_per_s"] for m in order},
                    "sampling_ratio": got[ours]["rows_per_s"] / got[ref]["rows_per_s"],
                }
            )
            print(
                f"{ref} / {ours}, round {r + 1}: epoch {rows[-1]['ratio']:.2f}x, "
                f"sampling {rows[-1]['sampling_ratio']:.2f}x",
                flush=True,
            )
        pair = {"reference": ref, "genaug": ours, "rounds": rows}
        for key, prefix in (("ratio", ""), ("sampling_ratio", "sampling_")):
            ratios = [row[key] for row in rows]
            pair[f"{prefix}median_ratio"] = statistics.median(ratios)
            pair[f"{prefix}min_ratio"] = min(ratios)
            pair[f"{prefix}max_ratio"] = max(ratios)
        out["pairs"].append(pair)
    return out


def _markdown(result: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    from genaug.bench._common import markdown_table

    lines = [
        "# Epoch time and sampling rate, genaug against ctgan, in alternating process pairs",
        "",
        f"Adult (32,561 rows), batch 500, torch threads {result['threads']}, seed 0; each fit "
        "in a fresh process, the pair's two fits back to back, the order alternating between "
        "rounds. s/epoch is the median epoch of the fit (epochs per fit: "
        + ", ".join(f"{m} {e}" for m, e in result["epochs"].items())
        + f"). Sampling: {SAMPLE_ROWS:,} rows per draw, median of 3 draws after a warm-up "
        "draw, in the same process after its fit; the ratio is genaug's rows/s over ctgan's."
        + f" Machine: {machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} CPUs, torch "
        f"{machine.get('torch', '?')}.",
        "",
    ]
    for pair in result["pairs"]:
        ref, ours = pair["reference"], pair["genaug"]
        rows = [
            [
                i + 1,
                row["first"],
                f"{row[ref]:.3f}",
                f"{row[ours]:.3f}",
                f"{row['ratio']:.2f}x",
                f"{row['rows_per_s'][ref]:,.0f}",
                f"{row['rows_per_s'][ours]:,.0f}",
                f"{row['sampling_ratio']:.2f}x",
            ]
            for i, row in enumerate(pair["rounds"])
        ]
        header = ["round", "first", f"{ref} s/epoch", f"{ours} s/epoch", "epoch ratio"]
        header += [f"{ref} rows/s", f"{ours} rows/s", "sampling ratio"]
        lines += [
            f"## {ref} / {ours}: epoch median {pair['median_ratio']:.2f}x "
            f"(rounds {pair['min_ratio']:.2f}-{pair['max_ratio']:.2f}x), sampling median "
            f"{pair['sampling_median_ratio']:.2f}x (rounds {pair['sampling_min_ratio']:.2f}-"
            f"{pair['sampling_max_ratio']:.2f}x)",
            "",
            markdown_table(header, rows),
        ]
    lines += [f"Command: `{command}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gan-epochs", type=int, default=5, help="epochs of each GAN fit")
    parser.add_argument("--vae-epochs", type=int, default=12, help="epochs of each VAE fit")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    try:
        import ctgan  # noqa: F401
    except ImportError:
        sys.exit(
            "ctgan is not installed here (it needs pandas < 3): create .bench-venv as in "
            "benchmarks/README.md and run this script with .bench-venv/bin/python."
        )
    from genaug.bench._common import machine_description, write_results

    epochs = {
        "ctgan-ctgan": args.gan_epochs,
        "genaug-gan": args.gan_epochs,
        "ctgan-tvae": args.vae_epochs,
        "genaug-vae": args.vae_epochs,
    }
    result = run(args.rounds, epochs, args.threads, args.seed)
    machine = machine_description()
    result["machine"] = machine
    command = (
        f"{Path(sys.executable).parent.parent.name}/bin/python benchmarks/epoch_pairs.py "
        f"--rounds {args.rounds} --threads {args.threads} --out {args.out}"
    )
    write_results(args.out / "epoch_pairs", result, _markdown(result, machine, command))


if __name__ == "__main__":
    main()
