"""Sharded sampling on Dask: many rows from a saved model, written as seeded Parquet shards.

:func:`sample_shards` splits ``n`` rows into ``shards`` parts and lets Dask run one task per
part. Each task loads the saved model, draws its rows with a seed derived from
``(seed, shard index)`` and streams them, chunk by chunk, into ``part-00000.parquet``,
``part-00001.parquet``, ... in the output folder. So:

* the output depends only on the model, ``n``, ``shards``, ``seed`` and the labels asked
  for, never on the number of workers or the order in which tasks run;
* memory per task is bounded by ``chunk_size`` rows, whatever ``n`` is;
* each shard is written to a temporary file and renamed when complete, so a file under its
  final name is a complete shard, and a rerun of the same job skips it (resumes).

A small manifest, ``_genaug_shards.json``, records the job (model class and fingerprint, ``n``,
``shards``, seed, labels, rows per shard); a rerun into the same folder with other parameters
is refused instead of mixing two jobs' shards.

Dask runs the tasks: a ``LocalCluster`` of worker processes by default, or any running Dask
cluster given its scheduler address (the model folder and the output folder must then be
visible at the same paths to every worker, e.g. on a shared file system). Install it with
``pip install 'genaug[dask]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genaug._cli_io import arrow_types, chunk_frame, write_table
from genaug._random import derive_seed, resolve_seed
from genaug._version import __version__
from genaug.data.images import ImageCodec
from genaug.exceptions import InvalidParameterError
from genaug.io import CONFIG_NAME, WEIGHTS_NAME, atomic_write_file
from genaug.synthesizers import load

__all__ = [
    "MANIFEST_NAME",
    "SHARD_SEED_KEY",
    "ShardJobError",
    "ShardReport",
    "local_cluster",
    "sample_shards",
    "shard_name",
    "split_class_counts",
    "split_rows",
]

MANIFEST_NAME = "_genaug_shards.json"
# Second key of derive_seed for shard seeds: derive_seed(seed, SHARD_SEED_KEY, i). A constant
# of its own keeps shard seeds apart from the other seeds genaug derives from the same seed.
SHARD_SEED_KEY = 13
DEFAULT_CHUNK_SIZE = 65_536
_MANIFEST_FORMAT = 1
# Seconds the workers get to quiet their logs before a cluster stopped early is closed.
_QUIET_TIMEOUT_S = 5
_DASK_HINT = "sharded sampling runs on Dask: pip install 'genaug[dask]'"
# The manifest entries that define the job; the others (version, chunk size) may change
# between a run and its resumption without changing the rows.
_JOB_KEYS = ("model_class", "model_sha256", "n", "shards", "seed", "y", "conditions", "rows")


class ShardJobError(InvalidParameterError):
    """The output folder cannot take this job: it holds another job's shards or other files."""


def shard_name(index: int) -> str:
    """File name of shard ``index``: ``part-00000.parquet``, ``part-00001.parquet``, ...

    Parameters
    ----------
    index : int

    Returns
    -------
    str
    """
    return f"part-{index:05d}.parquet"


def split_rows(n: int, shards: int) -> np.ndarray:
    """Rows per shard: ``n // shards`` each, and one more for the first ``n % shards``.

    Parameters
    ----------
    n : int
        Total rows.
    shards : int
        Number of shards.

    Returns
    -------
    ndarray of int64, shape (shards,)

    Examples
    --------
    >>> split_rows(10, 4).tolist()
    [3, 3, 2, 2]
    """
    return n // shards + (np.arange(shards) < n % shards).astype(np.int64)


def split_class_counts(counts: Mapping[Any, int], shards: int) -> list[dict[Any, int]]:
    """Split exact class counts across shards, every class spread evenly over all of them.

    Class ``k`` gives each shard ``counts[k] // shards`` rows; its ``counts[k] % shards``
    remaining rows go to consecutive shards (wrapping round) that start where the previous
    class's remainder stopped. Every shard thus gets each class in proportion, and the
    shards' totals are exactly :func:`split_rows` of the sum.

    Parameters
    ----------
    counts : mapping of {label: int}
        Rows per class, in the order the classes are written within a shard.
    shards : int
        Number of shards.

    Returns
    -------
    list of dict
        Per shard, ``{label: rows}`` in the order of ``counts``, classes with no rows left out.

    Examples
    --------
    >>> split_class_counts({"a": 5, "b": 3}, 3)
    [{'a': 2, 'b': 1}, {'a': 2, 'b': 1}, {'a': 1, 'b': 1}]
    """
    labels = list(counts)
    c = np.asarray([int(v) for v in counts.values()], dtype=np.int64)
    remainder = c % shards
    start = (np.cumsum(remainder) - remainder) % shards  # where each class's extras begin
    extra = (np.arange(shards)[None, :] - start[:, None]) % shards < remainder[:, None]
    table = c[:, None] // shards + extra  # classes x shards
    return [
        {label: int(k) for label, k in zip(labels, table[:, i]) if k > 0} for i in range(shards)
    ]


@dataclass(frozen=True)
class ShardReport:
    """What :func:`sample_shards` did.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    paths : tuple of Path
        Every shard's file, in shard order.
    rows : tuple of int
        Rows of each shard.
    written : tuple of int
        Indices of the shards written by this run.
    skipped : tuple of int
        Indices of the shards found complete and left as they were.
    seed : int
        The job's seed (the resolved one when ``seed=None``).
    seconds : float
        Wall time of the run, cluster start included.
    """

    out_dir: Path
    paths: tuple[Path, ...]
    rows: tuple[int, ...]
    written: tuple[int, ...]
    skipped: tuple[int, ...]
    seed: int
    seconds: float

    @property
    def n(self) -> int:
        """Total rows of the job."""
        return int(sum(self.rows))

    @property
    def rows_written(self) -> int:
        """Rows written by this run."""
        return int(sum(self.rows[i] for i in self.written))


# ------------------------------------------------------------------------- checks
def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an integer >= {low}; got {value!r}.")
    if value < low:
        raise InvalidParameterError(f"{name} must be an integer >= {low}; got {value}.")
    return int(value)


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON, so that a stored job compares equal to a new one."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def _fingerprint(model_dir: Path) -> str:
    """SHA-256 of the model's files: a resumed job must sample from the very same model."""
    digest = hashlib.sha256()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        with open(model_dir / name, "rb") as fh:
            for block in iter(lambda: fh.read(2**20), b""):
                digest.update(block)
    return digest.hexdigest()


def _label_plan(y: Any, shards: int) -> tuple[list[Any], Any]:
    """Per-shard ``y`` for ``iter_sample``, and the job's ``y`` as the manifest records it."""
    if y is None:
        return [None] * shards, None
    if isinstance(y, Mapping):
        per_shard = split_class_counts(y, shards)
        return per_shard, [[label, int(count)] for label, count in y.items()]
    return [y] * shards, {"label": y}


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShardJobError(
            f"{str(path)!r} is not a readable genaug shard manifest ({exc}); remove the output "
            "folder's files or choose another folder."
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _MANIFEST_FORMAT:
        raise ShardJobError(
            f"{str(path)!r} is not a genaug shard manifest of format {_MANIFEST_FORMAT}; choose "
            "another output folder."
        )
    return manifest


def _check_same_job(stored: dict[str, Any], job: dict[str, Any], out_dir: Path) -> None:
    differ = [key for key in _JOB_KEYS if stored.get(key) != job[key]]
    if differ:
        shown = ", ".join(
            f"{key}: {_short(stored.get(key))} there, {_short(job[key])} now" for key in differ
        )
        raise ShardJobError(
            f"{str(out_dir)!r} holds shards of another job ({shown}); rerun with the same "
            "parameters to resume it, pass overwrite=True (--force) to start over, or choose "
            "another folder."
        )


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_temp(name: str) -> bool:
    """A temporary file of :func:`genaug.io.atomic_write_file` for a shard or the manifest."""
    return name.startswith((".part-", f".{MANIFEST_NAME}.")) and name.endswith(".tmp")


def _complete(path: Path, rows: int) -> bool:
    """Whether ``path`` is a finished shard of ``rows`` rows (checked in its Parquet footer)."""
    if not path.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows == rows
    except (OSError, ValueError):  # truncated or not Parquet: written again
        return False


def _prepare_folder(out_dir: Path, job: dict[str, Any], overwrite: bool) -> None:
    """Create ``out_dir``, or check that it holds this job; clear leftovers."""
    manifest = out_dir / MANIFEST_NAME
    if out_dir.exists() and not out_dir.is_dir():
        raise ShardJobError(f"out_dir {str(out_dir)!r} is a file; give a folder.")
    if out_dir.is_dir():
        ours = [p for p in out_dir.iterdir() if p.name == MANIFEST_NAME or _is_temp(p.name)]
        ours += list(out_dir.glob("part-*.parquet"))
        others = sorted({p.name for p in out_dir.iterdir()} - {p.name for p in ours})
        if others or (ours and not manifest.is_file()):
            raise ShardJobError(
                f"out_dir {str(out_dir)!r} holds files that are not shards of a genaug job "
                f"(e.g. {(others or [p.name for p in ours])[0]!r}); choose an empty or new folder."
            )
        if manifest.is_file() and not overwrite:
            _check_same_job(_read_manifest(manifest), job, out_dir)
        for path in ours:
            # A temporary file is what a killed task left; with overwrite, everything goes.
            if overwrite or _is_temp(path.name):
                path.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not manifest.is_file():
        text = json.dumps(job, indent=1)
        atomic_write_file(manifest, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# ------------------------------------------------------------------------- worker
def _write_shard(
    model_dir: str,
    path: str,
    n: int,
    y: Any,
    conditions: Mapping[str, Any] | None,
    seed: int,
    chunk_size: int,
) -> int:
    """One Dask task: load the model, stream ``n`` rows into the Parquet file ``path``."""
    model = load(model_dir)
    chunks = model.iter_sample(
        n, y, conditions=conditions, random_state=seed, chunk_size=chunk_size
    )
    frames = (chunk_frame(chunk) for chunk in chunks)
    return write_table(path, frames, null_types=arrow_types(model))


def local_cluster(workers: int) -> Any:
    """The Dask ``LocalCluster`` that :func:`sample_shards` starts when given no address.

    ``workers`` processes of one thread each, no dashboard, and quiet logs. Start one
    yourself to run several jobs on it (``scheduler_address=cluster.scheduler_address``);
    close it when done (it is a context manager).

    Parameters
    ----------
    workers : int
        Worker processes.

    Returns
    -------
    distributed.LocalCluster
    """
    try:
        import dask
        from dask.distributed import LocalCluster
    except ImportError as exc:
        raise ImportError(_DASK_HINT) from exc
    workers = _check_int(workers, "workers", 1)
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in the workers it spawns; glibc then stops
    # adapting its mmap threshold and maps every chunk's arrays afresh, which made sampling
    # twice as slow (0.86 s instead of 0.42 s per 50,000 Adult rows). None unsets it.
    unset = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(unset):
        return LocalCluster(
            n_workers=workers,
            # One thread per process: torch's own threads would otherwise compete for the
            # cores (the nanny also sets OMP_NUM_THREADS=1 in the workers).
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # Only errors: on a busy machine the nanny warns that a closing worker was slow
            # to exit, which says nothing about the shards (a failed task raises in _run).
            silence_logs=logging.ERROR,
        )


def _quiet_dask_logs() -> dict[str, int]:
    """Raise Dask's ``distributed`` loggers in this process to CRITICAL; return their levels.

    Run before closing a cluster whose tasks were stopped (SIGTERM, Ctrl-C, a failed shard):
    workers and nanny then log screens of connection errors (CommClosedError on heartbeats)
    that say nothing about the shards and would bury the command's one-line message.
    """
    names = ["distributed"] + [
        name
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith("distributed.")
        and isinstance(logger, logging.Logger)
        and logger.level != logging.NOTSET  # the others follow "distributed"
    ]
    previous = {}
    for name in names:
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.setLevel(logging.CRITICAL)
    return previous


def _restore_log_levels(previous: Mapping[str, int]) -> None:
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)


def _quiet_workers(client: Any) -> None:
    """Quiet Dask's logs in the client's workers (call it for genaug's own cluster only,
    never a shared one's)."""
    # A short wait: a worker that cannot answer in time is closed all the same.
    with contextlib.suppress(Exception):
        client.run(_quiet_dask_logs, callback_timeout=_QUIET_TIMEOUT_S)


def _start(workers: int, scheduler_address: str | None) -> tuple[Any, Any]:
    """A Dask client on the given scheduler, or on a new ``LocalCluster`` (returned too)."""
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ImportError(_DASK_HINT) from exc
    if scheduler_address is not None:
        try:
            return Client(scheduler_address), None
        except (OSError, TimeoutError) as exc:
            raise OSError(
                f"cannot reach the Dask scheduler at {scheduler_address!r}: {exc}"
            ) from exc
    cluster = local_cluster(workers)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def sample_shards(
    model_dir: str | os.PathLike,
    n: int,
    out_dir: str | os.PathLike,
    *,
    shards: int,
    seed: int | None = 0,
    y: Any = None,
    conditions: Mapping[str, Any] | None = None,
    workers: int | None = None,
    scheduler_address: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    verbose: bool = False,
) -> ShardReport:
    """Sample ``n`` rows from a saved table model into ``shards`` Parquet files, on Dask.

    Shard ``i`` holds :func:`split_rows` ``(n, shards)[i]`` rows drawn with the seed
    ``derive_seed(seed, SHARD_SEED_KEY, i)``, so the files are the same (byte for byte) with
    any number of workers. Each is written to a temporary name in ``out_dir`` and renamed to
    ``part-{i:05d}.parquet`` when complete. A rerun with the same parameters skips the shards
    already complete (their Parquet footer has the expected row count) and removes the
    temporary files of killed tasks; a rerun with other parameters is refused.

    Parameters
    ----------
    model_dir : str or path-like
        A table model saved with ``save`` (``genaug fit``).
    n : int
        Total rows.
    out_dir : str or path-like
        Output folder: new, empty, or holding this job's shards.
    shards : int
        Number of files (and Dask tasks), at most ``n``.
    seed : int or None, default=0
        Seed of the job. ``None`` resumes with the seed of the job in ``out_dir``, or starts
        with a fresh one (recorded in the manifest and in the report).
    y : label, dict of {label: count}, or None
        ``None`` draws labels at the training class rates; a label gives every row that
        class; a dict gives exact counts (adding up to ``n``), split over the shards by
        :func:`split_class_counts`, so each shard has every class in proportion. Labels go
        in a column named after the training labels, else ``label``.
    conditions : dict of {column: value}, optional
        Fixed feature values, for models that support them (the GAN).
    workers : int, optional
        Worker processes of the ``LocalCluster`` (one thread each); by default, as many as
        there are CPU cores, and at most the number of shards to write.
    scheduler_address : str, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``) to run on instead of a
        ``LocalCluster``. Its workers need genaug installed and must see ``model_dir`` and
        ``out_dir`` at the same paths.
    chunk_size : int, default=65536
        Rows held in memory, and written as one Parquet row group, at a time per task. The
        rows do not depend on it; the bytes of the files do (their row groups), so resume a
        job with the chunk size it started with for files identical to an uninterrupted run.
    overwrite : bool, default=False
        Remove the shards and manifest of an earlier job in ``out_dir`` and start over.
    verbose : bool, default=False
        Show a progress bar of the rows written.

    Returns
    -------
    ShardReport

    Raises
    ------
    InvalidParameterError
        For invalid arguments, an image model, or labels the model does not know.
    ShardJobError
        If ``out_dir`` is a file, or holds another job's shards (and ``overwrite`` is false)
        or files that are not shards.
    ImportError
        If Dask (``dask.distributed``) is not installed; the message names ``genaug[dask]``.

    Examples
    --------
    >>> from genaug.sharding import sample_shards
    >>> report = sample_shards("adult-vae", 1_000_000, "synthetic/", shards=16,
    ...                        seed=0, workers=2)  # doctest: +SKIP
    >>> report.written, report.n  # doctest: +SKIP
    ((0, 1, ..., 15), 1000000)
    """
    started = time.perf_counter()
    n = _check_int(n, "n", 1)
    shards = _check_int(shards, "shards", 1)
    if shards > n:
        raise InvalidParameterError(f"shards must be at most n={n}; got {shards}.")
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    if workers is not None:
        workers = _check_int(workers, "workers", 1)
        if scheduler_address is not None:
            raise InvalidParameterError(
                "workers sizes the LocalCluster; it cannot be combined with scheduler_address "
                "(the cluster at that address has its own workers)."
            )
    try:
        import dask.distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(_DASK_HINT) from exc

    model_path = Path(model_dir).resolve()
    model = load(str(model_path))
    if isinstance(model.codec_, ImageCodec):
        raise InvalidParameterError(
            f"the model in {str(model_dir)!r} was fitted on images; sharded sampling writes "
            "Parquet tables and takes table models only."
        )
    # iter_sample checks n, y and conditions at once and draws nothing until iterated.
    model.iter_sample(n, y, conditions=conditions, random_state=0, chunk_size=chunk_size)
    out = Path(out_dir).resolve()
    manifest = out / MANIFEST_NAME
    if seed is None:
        stored = _read_manifest(manifest) if manifest.is_file() and not overwrite else {}
        seed = stored["seed"] if isinstance(stored.get("seed"), int) else resolve_seed(None)
    seed = resolve_seed(seed, "seed")

    rows = split_rows(n, shards)
    shard_y, job_y = _label_plan(y, shards)
    job = {
        "format": _MANIFEST_FORMAT,
        "genaug_version": __version__,
        "model_class": type(model).__name__,
        "model_sha256": _fingerprint(model_path),
        "n": n,
        "shards": shards,
        "seed": seed,
        "y": _jsonable(job_y),
        "conditions": _jsonable(dict(conditions) if conditions else None),
        "rows": rows.tolist(),
        "chunk_size": chunk_size,
    }
    manifest = out / MANIFEST_NAME
    created = not manifest.is_file()
    _prepare_folder(out, job, overwrite)

    paths = tuple(out / shard_name(i) for i in range(shards))
    todo = [i for i in range(shards) if not _complete(paths[i], int(rows[i]))]
    done = tuple(sorted(set(range(shards)) - set(todo)))
    if todo:
        workers = workers or min(len(todo), os.cpu_count() or 1)
        try:
            _run(
                model_path,
                paths,
                rows,
                shard_y,
                conditions,
                seed,
                chunk_size,
                todo,
                workers,
                scheduler_address,
                verbose,
            )
        except BaseException:
            # A run that wrote no shard (no cluster, a failing first task) leaves no manifest
            # of its own behind: it would hold a drawn seed that refuses the next run.
            if created and not any(path.is_file() for path in paths):
                # With the temporary files of the tasks it interrupted: a folder of those
                # alone would be refused as not genaug's.
                for path in out.iterdir():
                    if _is_temp(path.name):
                        path.unlink(missing_ok=True)
                manifest.unlink(missing_ok=True)
            raise
        # A worker killed mid-write leaves its temporary file even when the retry succeeds.
        for path in out.iterdir():
            if _is_temp(path.name):
                path.unlink(missing_ok=True)
    return ShardReport(
        out_dir=out,
        paths=paths,
        rows=tuple(int(r) for r in rows),
        written=tuple(todo),
        skipped=done,
        seed=seed,
        seconds=time.perf_counter() - started,
    )


def _run(
    model_path: Path,
    paths: tuple[Path, ...],
    rows: np.ndarray,
    shard_y: list[Any],
    conditions: Mapping[str, Any] | None,
    seed: int,
    chunk_size: int,
    todo: list[int],
    workers: int,
    scheduler_address: str | None,
    verbose: bool,
) -> None:
    """Write the shards ``todo`` as Dask tasks and wait for all of them."""
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    client, cluster = _start(workers, scheduler_address)
    quieted: dict[str, int] = {}
    token = uuid.uuid4().hex  # fresh task keys: never a result cached by a shared scheduler
    try:
        futures = {
            client.submit(
                _write_shard,
                str(model_path),
                str(paths[i]),
                int(rows[i]),
                shard_y[i],
                conditions,
                derive_seed(seed, SHARD_SEED_KEY, i),
                chunk_size,
                key=f"genaug-shard-{i:05d}-{token}",
                pure=False,
            ): i
            for i in todo
        }
        total = int(sum(rows[i] for i in todo))
        with tqdm(total=total, unit="row", desc="shards", disable=not verbose) as bar:
            for future in as_completed(futures):
                written = future.result()  # re-raises a task's error here
                expected = int(rows[futures[future]])
                if written != expected:  # pragma: no cover - iter_sample gives exactly n rows
                    raise RuntimeError(
                        f"{paths[futures[future]]} got {written} rows, expected {expected}."
                    )
                bar.update(written)
    except BaseException:
        quieted = _quiet_dask_logs()
        if cluster is not None:
            _quiet_workers(client)
        raise
    finally:
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        finally:
            _restore_log_levels(quieted)
