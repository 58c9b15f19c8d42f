"""Where a draw of 50,000 rows spends its time, and before/after ratios of it.

Each model (default configuration, Adult with its label, ``--epochs`` epochs) is fitted in a
fresh child process, which then times ``sample(50_000)`` over several seeds after a warm-up
draw and splits the time into its parts by timing the functions a draw goes through: the
generator's (or decoder's) forward pass, the categorical draws
(``SpanLayout.sample_compact``; ``sample_one_hot`` in trees before it), the noise, the
codec's decode, and the rest (label draws, copies into the output array, Python).

With ``--against DIR`` (another genaug source tree, e.g. ``git worktree add /tmp/old HEAD~3``)
the child processes alternate between that tree and this one for ``--rounds`` rounds, and the
ratio of their totals (this / that) is reported per round: on a shared machine single timings
drift by 10-25 %, a ratio of neighbouring processes much less.

    python benchmarks/sampling_parts.py --threads 2 --out benchmarks/results
    python benchmarks/sampling_parts.py --against /tmp/old --rounds 4 --name draw_pairs \\
        --out benchmarks/results

A few epochs (the default, 3) time the networks' passes; a trained model can take other paths:
the logits of a VAE trained for 115 epochs (as long as the speed suite trains it) spread so far
that every pass has rows whose categorical exponentials need per-span maxima
(``SpanLayout._stable_exp_rows``), which a 3-epoch model's never need. ``--models vae --epochs
115`` times that case (``benchmarks/results/trained_vae_pairs.md``).

``--models tvae,vae`` (run with a Python that has ctgan, e.g. the ``.bench-venv`` of
``benchmarks/README.md``) times ctgan's TVAE too, fitted for ``--ctgan-epochs`` epochs as the
speed suite fits it, split into the same parts (its decode is its ``inverse_transform``, which
takes each categorical's most likely value: it draws none), and reports TVAE's time over each
genaug model's per round, the models' order alternating between rounds:

    .bench-venv/bin/python benchmarks/sampling_parts.py --models tvae,vae --epochs 115 \
        --rounds 3 --name tvae_vae_parts --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = 50_000
PARTS = ("forward", "draw", "noise", "decode")


def _timer(spent: dict[str, float]) -> Any:
    """A function that wraps ``owner.name`` so that its calls add to ``spent[part]``."""

    def timed(owner: Any, name: str, part: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - start

        setattr(owner, name, wrapper)

    return timed


def _draw_times(sample: Any, spent: dict[str, float], draws: int) -> dict[str, float]:
    """Mean parts and total (ms) of ``draws`` calls of ``sample(seed)``, after a warm-up."""
    sample(0)
    totals = []
    for part in spent:
        spent[part] = 0.0
    for seed in range(1, draws + 1):
        start = time.perf_counter()
        sample(seed)
        totals.append(time.perf_counter() - start)
    ms = {part: 1e3 * t / draws for part, t in spent.items()}
    ms["total"] = 1e3 * sum(totals) / draws
    ms["rest"] = ms["total"] - sum(ms[p] for p in PARTS)
    ms["median_total"] = 1e3 * statistics.median(totals)
    return ms


def _tvae_child(epochs: int, draws: int, threads: int) -> dict[str, Any]:
    """ctgan's TVAE, fitted as the speed suite fits it, its draws split into the same parts.

    TVAE's ``sample`` draws the latent noise (``torch.normal``), runs the decoder 500 rows
    at a time, and hands everything to its ``DataTransformer.inverse_transform``, which
    takes each categorical's most likely value (no draw: the categorical part is zero) and
    adds the continuous noise: that is its decode.
    """
    import ctgan
    import pandas as pd
    import torch

    torch.set_num_threads(threads)
    from genaug.datasets import load_adult

    data = load_adult()  # with its label, as the speed suite fits ctgan's models
    discrete = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
    for c in discrete:  # ctgan wants object columns without missing values
        data[c] = data[c].astype(object).where(data[c].notna(), "?")
    model = ctgan.TVAE(epochs=epochs, batch_size=500)
    model.set_random_state(0)
    model.fit(data, discrete)
    spent = dict.fromkeys(PARTS, 0.0)
    timed = _timer(spent)
    timed(model.decoder, "forward", "forward")
    timed(torch, "normal", "noise")
    timed(model.transformer, "inverse_transform", "decode")

    def sample(seed: int) -> None:
        model.set_random_state(seed)
        model.sample(ROWS)

    ms = _draw_times(sample, spent, draws)
    return {"model": "tvae", "source": f"ctgan {ctgan.__version__}", "ms": ms}


def _child(model: str, epochs: int, draws: int, threads: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    import genaug
    from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
    from genaug.datasets import load_adult
    from genaug.nn.mlp import ResidualMLP
    from genaug.nn.spans import SpanLayout

    X = load_adult()
    y = X.pop("income")
    cls = {"gan": GANSynthesizer, "vae": VAESynthesizer, "vaegan": VAEGANSynthesizer}[model]
    synth = cls(epochs=epochs, batch_size=500, random_state=0).fit(X, y)
    spent = dict.fromkeys(PARTS, 0.0)
    timed = _timer(spent)
    if model == "gan":
        timed(ResidualMLP, "forward_one_hot", "forward")
    else:
        network = synth.decoder_
        timed(network, "forward", "forward")
    # A draw's categorical part and decode, by their names in this tree or in an older one
    # (before compact rows, SpanLayout.sample_one_hot and TabularCodec._inverse_transform).
    compact = hasattr(SpanLayout, "sample_compact")
    timed(SpanLayout, "sample_compact" if compact else "sample_one_hot", "draw")
    codec = type(synth.codec_)
    timed(codec, "_inverse_transform_compact" if compact else "_inverse_transform", "decode")
    timed(torch, "randn", "noise")
    ms = _draw_times(lambda seed: synth.sample(ROWS, random_state=seed), spent, draws)
    return {"model": model, "source": str(Path(genaug.__file__).parent.parent), "ms": ms}


def _run_child(model: str, args: argparse.Namespace, tree: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        __file__,
        "--child",
        model,
        "--epochs",
        str(args.epochs),
        "--ctgan-epochs",
        str(args.ctgan_epochs),
        "--draws",
        str(args.draws),
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    tvae = ""
    for row in result["runs"]:
        if row["model"] == "tvae":
            tvae = f", {row['source']}'s TVAE (batch 500) for {result['ctgan_epochs']} epochs"
    lines = [
        "# Where a 50,000-row draw spends its time",
        "",
        f"Adult with its label, genaug's default configurations fitted for {result['epochs']} "
        f"epochs{tvae}; mean of {result['draws']} seeded draws of {ROWS:,} rows after a "
        f"warm-up draw, each model in a fresh process; {result['threads']} torch thread(s). "
        f"Machine: {m.get('cpu', '?')}, torch {m.get('torch', '?')}.",
        "",
        f"Command: `{result['command']}`",
        "",
        "| round | tree | model | total ms | forward | categorical draw | noise | decode | rest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["runs"]:
        ms = row["ms"]
        lines.append(
            f"| {row['round']} | {row['tree']} | {row['model']} | {ms['total']:.1f} | "
            + " | ".join(f"{ms[p]:.1f}" for p in (*PARTS, "rest"))
            + " |"
        )
    tables = (
        ("ratios", "Ratio of totals, this tree / the other, per round (alternating processes):",
         "ratios", "{:.3f}"),
        ("tvae_over_genaug",
         "TVAE's draw time over genaug's, per round (fresh processes, one after the other):",
         "TVAE / genaug", "{:.2f}x"),
    )
    for key, title, header, fmt in tables:
        if not result.get(key):
            continue
        lines += ["", title, "", f"| model | {header} | median |", "|---|---|---|"]
        for model, ratios in result[key].items():
            shown = ", ".join(fmt.format(r) for r in ratios)
            lines.append(f"| {model} | {shown} | {fmt.format(statistics.median(ratios))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gan,vae")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ctgan-epochs", type=int, default=30, help="epochs of ctgan's TVAE")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--against", type=Path, default=None, help="another genaug source tree")
    parser.add_argument("--name", default="sampling_parts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "tvae":
            got = _tvae_child(args.ctgan_epochs, args.draws, args.threads)
        else:
            got = _child(args.child, args.epochs, args.draws, args.threads)
        print(json.dumps(got))
        return

    from genaug.bench._common import machine_description, write_json, write_text

    models = args.models.split(",")
    runs: list[dict[str, Any]] = []
    ratios: dict[str, list[float]] = {}
    if args.against is not None:
        ratios = {model: [] for model in models if model != "tvae"}
    speedups: dict[str, list[float]] = {}
    for r in range(1, args.rounds + 1):
        totals: dict[str, float] = {}
        # Models alternate their order too, for the TVAE / genaug ratios of a round.
        for model in models if r % 2 else models[::-1]:
            trees: list[tuple[str, Path | None]] = [("this", None)]
            if args.against is not None and model != "tvae":
                # The order alternates so that neither tree always runs first.
                other = ("other", args.against.resolve())
                trees = [other, trees[0]] if r % 2 else [trees[0], other]
            got = {}
            for label, tree in trees:
                row = _run_child(model, args, tree)
                row.update(round=r, tree=label)
                runs.append(row)
                got[label] = row["ms"]["total"]
                print(f"round {r} {model} {label}: {row['ms']['total']:.1f} ms", flush=True)
            if "other" in got:
                ratios[model].append(got["this"] / got["other"])
            totals[model] = got["this"]
        # TVAE's draw time over each genaug model's, from the same round.
        for model in models:
            if model != "tvae" and "tvae" in totals:
                speedups.setdefault(model, []).append(totals["tvae"] / totals[model])
    command = "python benchmarks/sampling_parts.py " + " ".join(sys.argv[1:])
    result = {
        "machine": machine_description(),
        "threads": args.threads,
        "epochs": args.epochs,
        "ctgan_epochs": args.ctgan_epochs,
        "draws": args.draws,
        "command": command,
        "runs": runs,
        "ratios": ratios,
        "tvae_over_genaug": speedups,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.name}.json", result)
    write_text(args.out / f"{args.name}.md", _markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
