"""Sharded sampling on Dask: rows/s with 1 and 2 worker processes, and the single-process baseline.

A VAE is fitted once on Adult (32,561 rows, a few epochs: sampling speed does not depend on
how well it is trained) and saved. Then ``genaug.sharding.sample_shards`` draws ``--rows``
rows in ``--shards`` Parquet shards on a Dask ``LocalCluster`` of 1 and of 2 worker processes
(one thread each). Both clusters are started, and their workers have imported genaug, before
the clock starts; then 1-worker and 2-worker runs are taken in turn (so that the load of other
jobs on a shared machine falls on both). The timings are the sampling job itself (each shard
loads the model, samples, writes and renames its file), median of ``--repeats`` runs. The
cluster start is reported apart. The baseline is the same rows drawn in this process with
``iter_sample`` into one Parquet file, with one torch thread. The two sharded outputs are also
compared byte for byte.

    python benchmarks/sharded_sampling.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"
LABEL = "income"


def _fit(folder: Path, epochs: int, seed: int) -> tuple[str, float]:
    from genaug import VAESynthesizer
    from genaug.datasets import load_adult

    data = load_adult()
    start = time.perf_counter()
    model = VAESynthesizer(epochs=epochs, random_state=seed).fit(
        data.drop(columns=[LABEL]), data[LABEL]
    )
    seconds = time.perf_counter() - start
    path = folder / "adult-vae"
    model.save(str(path))
    return str(path), seconds


def _baseline(model_dir: str, rows: int, out: Path, seed: int) -> float:
    """Seconds to draw ``rows`` rows in this process into one Parquet file."""
    from genaug import load
    from genaug._cli_io import chunk_frame, write_table

    start = time.perf_counter()
    model = load(model_dir)
    chunks = model.iter_sample(rows, random_state=seed, chunk_size=65_536)
    write_table(out, (chunk_frame(c) for c in chunks))
    return time.perf_counter() - start


def _warm() -> None:
    import genaug.sharding  # noqa: F401  (the import a first task would otherwise pay)


def _sharded(
    model_dir: str, rows: int, shards: int, repeats: int, work: Path, seed: int
) -> list[dict[str, Any]]:
    """Both clusters up, then 1-worker and 2-worker runs taken in turn, ``repeats`` times.

    Interleaving spreads the other jobs' load on this shared machine over both settings
    instead of letting it fall on whichever ran second.
    """
    from contextlib import ExitStack

    from dask.distributed import Client

    from genaug.sharding import local_cluster, sample_shards

    counts = (1, 2)
    startup: dict[int, float] = {}
    times: dict[int, list[float]] = {w: [] for w in counts}
    with ExitStack() as stack:
        clusters = {}
        for w in counts:
            start = time.perf_counter()
            clusters[w] = stack.enter_context(local_cluster(w))  # what sample_shards starts
            stack.enter_context(Client(clusters[w])).run(_warm)
            startup[w] = time.perf_counter() - start
        for _ in range(repeats):
            for w in counts:
                report = sample_shards(
                    model_dir, rows, work / f"w{w}", shards=shards, seed=seed, overwrite=True,
                    scheduler_address=clusters[w].scheduler_address,
                )  # fmt: skip
                assert report.written == tuple(range(shards)) and report.n == rows
                times[w].append(report.seconds)
    return [
        {
            "workers": w,
            "cluster_start_s": round(startup[w], 2),
            "seconds": [round(t, 3) for t in times[w]],
            "median_s": round(statistics.median(times[w]), 3),
            "rows_per_s": round(rows / statistics.median(times[w])),
        }
        for w in counts
    ]


def _markdown(result: dict[str, Any]) -> str:
    from genaug.bench._common import markdown_table

    m, cfg = result["machine"], result["config"]
    base = result["baseline"]
    rows = [
        [
            "1 process, no Dask (iter_sample -> 1 file)",
            "-",
            f"{base['median_s']:.2f}",
            f"{base['rows_per_s']:,}",
            "-",
        ]
    ]
    one = result["sharded"][0]["rows_per_s"]
    for r in result["sharded"]:
        rows.append(
            [
                f"Dask LocalCluster, {r['workers']} worker(s) x 1 thread",
                f"{r['cluster_start_s']:.1f}",
                f"{r['median_s']:.2f}",
                f"{r['rows_per_s']:,}",
                f"{r['rows_per_s'] / one:.2f}x",
            ]
        )
    table = markdown_table(
        ["run", "cluster start (s)", "median time (s)", "rows/s", "vs 1 worker"], rows
    )
    return (
        "# Sharded sampling on Dask\n\n"
        f"{cfg['rows']:,} rows of Adult from a VAESynthesizer ({cfg['epochs']} epoch(s), fitted "
        f"in {result['fit_s']:.0f} s), {cfg['shards']} Parquet shards, seed {cfg['seed']}, "
        f"median of {cfg['repeats']} runs, 1- and 2-worker runs taken in turn. Timings exclude "
        "the cluster's start (its workers "
        "have imported genaug); they include each shard loading the model, sampling, writing "
        "and renaming its file.\n\n"
        f"{table}\n"
        f"Speed-up of 2 workers over 1: **{result['speedup_2_vs_1']:.2f}x**. The files written "
        f"with 1 and 2 workers are byte-identical: **{result['identical_files']}**.\n\n"
        "## Machine\n\n"
        f"{m['cpu']}, {m['cpu_count']} CPU cores **shared with other jobs running at the same "
        f"time** (load average {result['load_average_before']} before, "
        f"{result['load_average_after']} after), so absolute figures are noisy and the 2-worker "
        "speed-up is bounded by the share of the two cores that was actually free. Not measured "
        "here: more cores, and clusters of several machines.\n"
        f"Python {m['python']}, torch {m['torch']}, genaug {m['genaug']}, dask "
        f"{result['versions']['dask']}, distributed {result['versions']['distributed']}, "
        f"pyarrow {result['versions']['pyarrow']}; {m['platform']}.\n\n"
        f"Command: `{result['command']}`\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="40,000 rows in 4 shards, 1 epoch, 1 repeat"
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.shards, args.epochs, args.repeats = 40_000, 4, 1, 1
    # One thread here, like each worker (Dask's nanny sets OMP_NUM_THREADS=1 in them).
    torch.set_num_threads(1)

    import dask
    import distributed
    import pyarrow

    from genaug.bench._common import machine_description, write_results

    load_before = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="genaug-shards-bench-"))
    try:
        model_dir, fit_s = _fit(work, args.epochs, args.seed)
        base = [
            _baseline(model_dir, args.rows, work / "baseline.parquet", args.seed)
            for _ in range(args.repeats)
        ]
        sharded = _sharded(model_dir, args.rows, args.shards, args.repeats, work, args.seed)
        files = [sorted((work / f"w{w}").glob("part-*.parquet")) for w in (1, 2)]
        identical = len(files[0]) == args.shards and [p.read_bytes() for p in files[0]] == [
            p.read_bytes() for p in files[1]
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base_s = statistics.median(base)
    result = {
        "machine": machine_description(),
        "versions": {
            "dask": dask.__version__,
            "distributed": distributed.__version__,
            "pyarrow": pyarrow.__version__,
        },
        "command": "python " + " ".join(["benchmarks/sharded_sampling.py", *sys.argv[1:]]),
        "config": {
            "rows": args.rows,
            "shards": args.shards,
            "epochs": args.epochs,
            "repeats": args.repeats,
            "seed": args.seed,
        },
        "fit_s": round(fit_s, 1),
        "baseline": {
            "seconds": [round(t, 3) for t in base],
            "median_s": round(base_s, 3),
            "rows_per_s": round(args.rows / base_s),
        },
        "sharded": sharded,
        "speedup_2_vs_1": round(sharded[1]["rows_per_s"] / sharded[0]["rows_per_s"], 3),
        "identical_files": identical,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    write_results(args.out / "sharded_sampling", result, _markdown(result))


if __name__ == "__main__":
    main()
