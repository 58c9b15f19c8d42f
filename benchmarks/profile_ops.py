"""Where the time goes: torch.profiler operator shares of a training epoch and of sampling.

For each of genaug's three tabular models on Adult (32,561 rows, batch 500, default
configuration) the script fits one epoch once unprofiled (warm-up), then profiles one more
epoch of training and one draw of 50,000 rows, and reports the operators' share of the
profiled CPU time, grouped into families (matrix products, concatenation, indexing, random
numbers, element-wise and reduction ops, the optimizer, everything else). Sampling also reports
the share of its wall time spent in the codec's decode of the sampled rows (the
synthesizer's ``_decode_rows``), which torch.profiler does not see.

    python benchmarks/profile_ops.py --out benchmarks/results   # writes profile_ops.json and .md

The profiler adds overhead to each operator call, so the shares of small, frequent operators
are overstated; use ``benchmarks/speed.py`` for times.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.bench._common import machine_description, markdown_table, write_results
from genaug.datasets import load_adult

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"vae": VAESynthesizer, "gan": GANSynthesizer, "vaegan": VAEGANSynthesizer}
SAMPLE_ROWS = 50_000
# Operator families, matched by the operator's name (first match wins).
FAMILIES = [
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear", "aten::matmul")),
    ("concatenation", ("aten::cat",)),
    ("indexing and scatter", ("index", "scatter", "gather", "aten::masked")),
    ("random numbers", ("normal_", "uniform_", "aten::rand", "multinomial", "bernoulli")),
    ("copies and dtype casts", ("aten::copy_", "aten::to", "aten::_to_copy", "aten::clone")),
    ("optimizer", ("Optimizer", "_fused_adam", "adam")),
    ("batch norm", ("batch_norm",)),
]
TOP = 12


def _family(name: str) -> str:
    for family, keys in FAMILIES:
        if any(k in name for k in keys):
            return family
    return "other element-wise, reductions and autograd"


def _summarise(prof: Any) -> dict[str, Any]:
    events = [e for e in prof.key_averages() if not e.key.startswith("ProfilerStep")]
    # Self times add up to the profiled total without double counting nested calls.
    total_us = sum(e.self_cpu_time_total for e in events)
    families: dict[str, float] = defaultdict(float)
    for e in events:
        families[_family(e.key)] += e.self_cpu_time_total
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:TOP]
    return {
        "profiled_cpu_s": total_us / 1e6,
        "families": {k: v / total_us for k, v in sorted(families.items(), key=lambda kv: -kv[1])},
        "top_ops": [
            {"op": e.key, "share": e.self_cpu_time_total / total_us, "calls": e.count} for e in top
        ],
    }


def profile_model(name: str, threads: int, seed: int) -> dict[str, Any]:
    """Profile one training epoch and one 50,000-row draw of model ``name``."""
    torch.set_num_threads(threads)
    X, y = load_adult(return_X_y=True)
    model = MODELS[name](epochs=1, batch_size=500, random_state=seed, device="cpu")
    model.fit(X, y)  # warm-up: first-call allocations and kernel selection
    with profile(activities=[ProfilerActivity.CPU]) as fit_prof:
        start = time.perf_counter()
        model.fit(X, y)
        fit_wall = time.perf_counter() - start
    model.sample(SAMPLE_ROWS, random_state=seed)  # warm-up
    decode = {"s": 0.0}
    plain_decode = model._decode_rows

    def timed_decode(block, *args, **kwargs):
        t0 = time.perf_counter()
        out = plain_decode(block, *args, **kwargs)
        decode["s"] += time.perf_counter() - t0
        return out

    # The decode the synthesizers call (the codec's inverse transform of the drawn rows).
    model._decode_rows = timed_decode
    try:
        with profile(activities=[ProfilerActivity.CPU]) as sample_prof:
            start = time.perf_counter()
            model.sample(SAMPLE_ROWS, random_state=seed + 1)
            sample_wall = time.perf_counter() - start
    finally:
        del model._decode_rows
    return {
        "model": name,
        "fit": {"wall_s": fit_wall, **_summarise(fit_prof)},
        "sample": {
            "wall_s": sample_wall,
            "decode_share_of_wall": decode["s"] / sample_wall,
            **_summarise(sample_prof),
        },
    }


def _markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Where the time goes (torch.profiler)",
        "",
        f"Adult (32,561 rows), batch 500, default configurations, torch threads "
        f"{result['threads']}, seed {result['seed']}; one profiled epoch of fit (the set-up "
        f"before the first epoch included) after an unprofiled one, and one profiled draw of "
        f"{SAMPLE_ROWS:,} rows. Shares are of the operators' self CPU time; the profiler's "
        f"per-call overhead inflates small, frequent operators. Machine: {m['cpu']}, "
        f"{m['cpu_count']} CPUs, torch {m['torch']}, genaug {m['genaug']}.",
        "",
        f"Command: `{result['command']}`",
        "",
        "## Operator families",
        "",
    ]
    names = [f for f, _ in FAMILIES] + ["other element-wise, reductions and autograd"]
    parts = [(r, part) for r in result["models"] for part in ("fit", "sample")]
    header = ["family"] + [f"{r['model']} {part}" for r, part in parts]
    rows = []
    for family in names:
        row = [family]
        for r in result["models"]:
            for part in ("fit", "sample"):
                row.append(f"{100 * r[part]['families'].get(family, 0.0):.1f} %")
        rows.append(row)
    rows.append(
        ["wall time (s)"]
        + [f"{r[part]['wall_s']:.2f}" for r in result["models"] for part in ("fit", "sample")]
    )
    rows.append(
        ["codec decode, share of sampling wall time"]
        + [
            "—" if part == "fit" else f"{100 * r['sample']['decode_share_of_wall']:.1f} %"
            for r in result["models"]
            for part in ("fit", "sample")
        ]
    )
    lines.append(markdown_table(header, rows))
    for r in result["models"]:
        for part in ("fit", "sample"):
            lines += ["", f"## {r['model']} {part}: top operators", ""]
            lines.append(
                markdown_table(
                    ["operator", "share", "calls"],
                    [
                        [o["op"], f"{100 * o['share']:.1f} %", o["calls"]]
                        for o in r[part]["top_ops"]
                    ],
                )
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="vae,gan,vaegan")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown model(s) {unknown}; choose from {list(MODELS)}")
    models = [profile_model(name, args.threads, args.seed) for name in names]
    command = f"python benchmarks/profile_ops.py --threads {args.threads} --out {args.out}"
    result = {
        "command": command,
        "threads": args.threads,
        "seed": args.seed,
        "machine": machine_description(),
        "models": models,
    }
    write_results(args.out / "profile_ops", result, _markdown(result))


if __name__ == "__main__":
    main()
