"""How fast are the matrix products of genaug's default networks, by dtype, on this CPU?

The GAN's generator and the VAE's networks are made of ``addmm`` calls of a few fixed shapes
(rows x inputs x outputs). This probe times those shapes, as ``torch.addmm`` on float32,
bfloat16 and float16 tensors, so that the precision options can be judged against what the
hardware offers (a CPU with AMX or AVX-512 BF16 runs bfloat16 products much faster than
float32 ones; half precision is usually emulated). Each time is the median of ``--repeats``
batches of 20 calls after a warm-up.

    python benchmarks/matmul_probe.py --threads 2 --out benchmarks/results   # .json and .md
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from genaug.bench._common import machine_description, markdown_table, write_results

RESULTS = Path(__file__).resolve().parent / "results"
# (rows, inputs, outputs): the default GAN generator's blocks and head on Adult (123 encoded
# columns, 104 conditional columns) in a 2,048-row sampling pass, and a VAE layer at batch 500.
SHAPES = [
    (2048, 232, 256, "GAN generator block 1, sampling"),
    (2048, 488, 256, "GAN generator block 2, sampling"),
    (2048, 744, 123, "GAN generator head, sampling"),
    (500, 128, 128, "VAE hidden layer, training"),
]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def time_addmm(rows: int, inputs: int, outputs: int, dtype: torch.dtype, repeats: int) -> float:
    """Median seconds of one ``addmm`` of these sizes."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(rows, inputs, generator=gen).to(dtype)
    w = torch.randn(outputs, inputs, generator=gen).to(dtype)
    b = torch.randn(outputs, generator=gen).to(dtype)
    for _ in range(10):
        torch.addmm(b, a, w.t())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(20):
            torch.addmm(b, a, w.t())
        times.append((time.perf_counter() - start) / 20)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    records = []
    for rows, inputs, outputs, what in SHAPES:
        record = {"shape": [rows, inputs, outputs], "what": what}
        for name, dtype in DTYPES.items():
            seconds = time_addmm(rows, inputs, outputs, dtype, args.repeats)
            flops = 2 * rows * inputs * outputs
            record[name] = {"ms": seconds * 1e3, "gflops": flops / seconds / 1e9}
        records.append(record)
    payload = {"machine": machine_description(), "threads": args.threads, "results": records}
    rows = [
        [
            f"{r['shape'][0]} x {r['shape'][1]} x {r['shape'][2]}",
            r["what"],
            *(f"{r[n]['ms']:.3f} ({r[n]['gflops']:.0f})" for n in DTYPES),
            f"{r['float32']['ms'] / r['bfloat16']['ms']:.1f}x",
        ]
        for r in records
    ]
    text = (
        "# Matrix products by dtype\n\n"
        f"`torch.addmm`, {args.threads} torch thread(s), median of {args.repeats} batches of 20 "
        f"calls; ms per call (GFLOP/s). Machine: {payload['machine'].get('cpu', '')}, "
        f"torch {torch.__version__}.\n\n"
        + markdown_table(
            ["rows x inputs x outputs", "where", *DTYPES, "float32 / bfloat16"], rows
        )
        + "\n\nCommand: `python benchmarks/matmul_probe.py"
        f" --threads {args.threads} --out benchmarks/results`\n"
    )
    write_results(Path(args.out) / "matmul_probe", payload, text)
    return payload


if __name__ == "__main__":
    main()
