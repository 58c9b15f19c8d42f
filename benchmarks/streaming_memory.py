"""Peak memory and time of fitting from a Parquet file that grows: streamed vs in memory.

A base table of ``--base-rows`` rows (Adult's training rows drawn with replacement, numeric
columns jittered so that rows are not copies) is written to Parquet at 1x, 4x and 16x that
size (row groups of 32,768 rows) in a temporary folder, deleted afterwards. For each file a
child process (one torch thread) fits ``VAESynthesizer(epochs=1)`` conditioned on
``income``:

* **streamed**: ``fit(path, y="income")``, which scans the file once for the reservoir sample
  (100,000 rows by default) and the label counts, then trains on record batches;
* **in memory**: ``pd.read_parquet(path)`` and ``fit(X, y)``.

The child reports its peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``, which
includes the ~0.5 GB of the imported libraries, measured alone as the baseline), the time
spent before training (scan or read, codec fit, encoding) and in the one training epoch.

    python benchmarks/streaming_memory.py          # writes results/streaming_memory.{json,md}
    python benchmarks/streaming_memory.py --base-rows 20000 --no-write    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
MULTIPLES = (1, 4, 16)
ROW_GROUP = 32_768


def _rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_table(path: Path, n_rows: int, seed: int) -> None:
    """``n_rows`` Adult-like rows, generated and written a chunk at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from genaug.datasets import load_adult

    adult = load_adult()
    rng = np.random.default_rng(seed)
    writer = None
    try:
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            chunk = adult.iloc[rng.integers(len(adult), size=n)].reset_index(drop=True)
            chunk["age"] = np.clip(chunk["age"] + rng.integers(-2, 3, n), 17, 90)
            chunk["fnlwgt"] = np.round(chunk["fnlwgt"] * rng.lognormal(0, 0.05, n)).astype("int64")
            chunk["hours-per-week"] = np.clip(
                chunk["hours-per-week"] + rng.integers(-1, 2, n), 1, 99
            )
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()


def child(mode: str, path: str) -> dict:
    """Run in a fresh process: one fit, its timings and the process's peak RSS."""
    import torch

    torch.set_num_threads(1)
    import pandas as pd

    from genaug import VAESynthesizer
    from genaug.synthesizers.base import BaseSynthesizer

    # Import everything a fit touches (torch's optimizers pull in more modules lazily) before
    # the baseline is read, so that it is the libraries' share of the peak.
    tiny = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", "y"]})
    VAESynthesizer(epochs=1, random_state=0).fit(tiny)
    timings: dict[str, float] = {}
    original = BaseSynthesizer._run_training

    def timed(self, source, generator):
        start = time.perf_counter()
        original(self, source, generator)
        timings["train_s"] = time.perf_counter() - start

    BaseSynthesizer._run_training = timed
    baseline = _rss_mib()
    start = time.perf_counter()
    syn = VAESynthesizer(epochs=1, random_state=0)
    if mode == "stream":
        syn.fit(path, y="income")
    elif mode == "memory":
        frame = pd.read_parquet(path)
        syn.fit(frame.drop(columns="income"), frame["income"])
    total = time.perf_counter() - start
    return {
        "mode": mode,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": _rss_mib(),
        "fit_s": total,
        "train_s": timings.get("train_s", 0.0),
        "before_training_s": total - timings.get("train_s", 0.0),
        "epochs_run": len(syn.history_["epoch"]),
    }


def run_child(mode: str, path: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-rows", type=int, default=100_000)
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory fits")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    import torch

    from genaug.bench._common import machine_description, markdown_table, write_json, write_text

    torch.set_num_threads(1)  # as in the children, so that the machine record says so

    rows = []
    with tempfile.TemporaryDirectory(prefix="genaug-stream-") as tmp:
        for multiple in MULTIPLES:
            n = args.base_rows * multiple
            path = Path(tmp) / f"adult_{multiple}x.parquet"
            write_table(path, n, seed=multiple)
            size_mib = path.stat().st_size / 2**20
            modes = ("stream",) if args.no_memory else ("stream", "memory")
            for mode in modes:
                result = run_child(mode, path)
                result.update(multiple=multiple, rows=n, file_mib=round(size_mib, 1))
                rows.append(result)
                print(
                    f"{multiple:>2}x {n:>9,} rows  {mode:<6}  peak {result['peak_rss_mib']:7.0f} "
                    f"MiB (baseline {result['baseline_rss_mib']:.0f})  before training "
                    f"{result['before_training_s']:6.1f} s  epoch {result['train_s']:6.1f} s",
                    flush=True,
                )
            path.unlink()
    command = "python benchmarks/streaming_memory.py" + (
        f" --base-rows {args.base_rows}" if args.base_rows != 100_000 else ""
    )
    payload = {
        "command": command,
        "machine": machine_description(),
        "versions": _versions(),
        "model": "VAESynthesizer(epochs=1, random_state=0), y='income', torch threads 1",
        "stream_defaults": _stream_defaults(),
        "row_group_size": ROW_GROUP,
        "results": rows,
    }
    table = markdown_table(
        [
            "size",
            "rows",
            "file (MiB)",
            "fit",
            "peak RSS (MiB)",
            "over baseline (MiB)",
            "before training (s)",
            "1 epoch (s)",
        ],
        [
            [
                f"{r['multiple']}x",
                f"{r['rows']:,}",
                r["file_mib"],
                "streamed" if r["mode"] == "stream" else "in memory",
                round(r["peak_rss_mib"]),
                round(r["peak_rss_mib"] - r["baseline_rss_mib"]),
                round(r["before_training_s"], 1),
                round(r["train_s"], 1),
            ]
            for r in rows
        ],
    )
    text = (
        "# Fitting from Parquet: peak memory as the file grows\n\n"
        f"`{command}` on {payload['machine']['cpu']} ({payload['machine']['cpu_count']} cores, "
        f"one torch thread), {payload['model']}. Adult-like rows (Adult's training rows drawn "
        f"with replacement, numeric columns jittered), row groups of {ROW_GROUP:,} rows. "
        "Peak RSS of the fitting process; the baseline is the process after importing and "
        'warming up the libraries. "Before training" is the scan (streamed) or read '
        "(in memory), the codec fit and the encoding.\n\n"
        f"{table}\n\n"
        f"Versions: {', '.join(f'{k} {v}' for k, v in payload['versions'].items())}.\n"
    )
    print(text)
    if not args.no_write:
        write_json(RESULTS / "streaming_memory.json", payload)
        write_text(RESULTS / "streaming_memory.md", text)


def _versions() -> dict[str, str]:
    import pandas as pd
    import pyarrow
    import torch

    from genaug._version import __version__

    return {
        "genaug": __version__,
        "torch": torch.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def _stream_defaults() -> dict[str, int]:
    from genaug.data import streaming

    return {
        "reservoir_size": streaming.DEFAULT_RESERVOIR_SIZE,
        "shuffle_buffer": streaming.DEFAULT_SHUFFLE_BUFFER,
        "read_rows": streaming.DEFAULT_READ_ROWS,
    }


if __name__ == "__main__":
    main()
