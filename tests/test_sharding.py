"""Sharded sampling on Dask: same files whatever the workers, resumption, refusals, the CLI.

Worker processes each import torch and scikit-learn (seconds of CPU), so one test runs the
default path, ``workers=2``: ``sample_shards``' own ``LocalCluster`` of two processes, and
compares its files with those of a one-worker cluster. The other tests share a two-worker
``LocalCluster(processes=False)`` (threads of this process) through ``scheduler_address``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from genaug import VAESynthesizer, load
from genaug._random import derive_seed
from genaug.cli import main
from genaug.exceptions import InvalidParameterError
from genaug.sharding import (
    MANIFEST_NAME,
    SHARD_SEED_KEY,
    ShardJobError,
    sample_shards,
    shard_name,
    split_class_counts,
    split_rows,
)

from .conftest import make_labelled

distributed = pytest.importorskip("distributed")

N, SHARDS, CHUNK = 3_000, 4, 500


def _local_cluster(workers: int) -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None
    )


@pytest.fixture(scope="module")
def cluster():
    with _local_cluster(2) as local:
        yield local


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    X, y = make_labelled(200, seed=1)
    path = tmp_path_factory.mktemp("shard-model") / "model"
    VAESynthesizer(epochs=2, random_state=0).fit(X, y.rename("target")).save(str(path))
    return str(path)


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -------------------------------------------------------------------------- splits
@pytest.mark.parametrize(("n", "shards"), [(10, 4), (7, 7), (1_000_003, 64), (5, 1)])
def test_rows_are_split_evenly_with_the_remainder_first(n, shards):
    rows = split_rows(n, shards)
    assert rows.sum() == n and len(rows) == shards
    assert rows.max() - rows.min() <= 1
    assert (rows[: n % shards] == n // shards + 1).all()


@pytest.mark.parametrize("shards", [1, 3, 4, 7])
def test_class_counts_split_exactly_and_in_proportion(shards):
    counts = {"a": 1001, "b": 7, "c": 250, "d": 2}
    parts = split_class_counts(counts, shards)
    # Each shard's total is what split_rows gives it, and every class adds up.
    assert [sum(p.values()) for p in parts] == split_rows(sum(counts.values()), shards).tolist()
    for label, count in counts.items():
        per_shard = [p.get(label, 0) for p in parts]
        assert sum(per_shard) == count
        assert max(per_shard) - min(per_shard) <= 1  # spread evenly over the shards


# -------------------------------------------------------------------- determinism
def test_one_and_two_workers_write_the_same_bytes(model_dir, tmp_path):
    counts = {"rare": 1_800, "common": 1_200}
    with _local_cluster(1) as single:
        one = sample_shards(
            model_dir, N, tmp_path / "one", shards=SHARDS, seed=5, y=counts,
            scheduler_address=single.scheduler_address, chunk_size=CHUNK,
        )  # fmt: skip
    two = sample_shards(
        model_dir, N, tmp_path / "two", shards=SHARDS, seed=5, y=counts, workers=2,
        chunk_size=CHUNK,
    )  # fmt: skip
    assert one.written == two.written == tuple(range(SHARDS)) and one.skipped == ()
    assert _files(tmp_path / "one") == _files(tmp_path / "two")

    frame = pd.concat([pd.read_parquet(p) for p in two.paths], ignore_index=True)
    assert len(frame) == N and list(frame.columns) == ["x", "k", "m", "target"]
    assert frame["target"].value_counts().to_dict() == counts
    assert [pq.ParquetFile(p).metadata.num_rows for p in two.paths] == [750] * SHARDS
    assert pq.ParquetFile(two.paths[0]).num_row_groups == 2  # chunk_size rows per group

    # Shard i is the model's own draw with the seed derived from (seed, SHARD_SEED_KEY, i).
    model = load(model_dir)
    y1 = split_class_counts(counts, SHARDS)[1]
    X, y = model.sample(750, y=y1, random_state=derive_seed(5, SHARD_SEED_KEY, 1))
    shard = pd.read_parquet(two.paths[1])
    np.testing.assert_array_equal(shard["x"].to_numpy(), X["x"].to_numpy())
    assert shard["target"].tolist() == list(y)
    # Shards differ from each other.
    assert not np.array_equal(pd.read_parquet(two.paths[0])["x"], shard["x"])


# ---------------------------------------------------------------------- resuming
def test_a_rerun_writes_only_missing_or_broken_shards(cluster, model_dir, tmp_path):
    out = tmp_path / "out"
    kwargs = dict(shards=SHARDS, seed=1, scheduler_address=cluster.scheduler_address)
    first = sample_shards(model_dir, N, out, chunk_size=CHUNK, **kwargs)
    before = _files(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    (out / shard_name(1)).unlink()  # lost
    (out / shard_name(2)).write_bytes(before[shard_name(2)][:100])  # truncated
    leftover = out / f".{shard_name(3)}.k1ll3d.tmp"  # what a killed task leaves
    leftover.write_bytes(b"half a shard")

    # seed=None resumes with the job's seed.
    again = sample_shards(model_dir, N, out, chunk_size=CHUNK, **{**kwargs, "seed": None})
    assert again.written == (1, 2) and again.skipped == (0, 3) and again.seed == first.seed == 1
    assert not leftover.exists()
    assert _files(out) == before
    for name in (shard_name(0), shard_name(3), MANIFEST_NAME):
        assert (out / name).stat().st_mtime_ns == mtimes[name]  # untouched

    done = sample_shards(model_dir, N, out, **kwargs)
    assert done.written == () and done.skipped == tuple(range(SHARDS))


def test_another_job_or_foreign_files_are_refused(cluster, model_dir, tmp_path):
    out = tmp_path / "out"
    address = cluster.scheduler_address
    sample_shards(model_dir, 40, out, shards=2, seed=0, scheduler_address=address)
    before = _files(out)
    with pytest.raises(ShardJobError, match=r"another job \(seed: 0 there, 9 now\)"):
        sample_shards(model_dir, 40, out, shards=2, seed=9, scheduler_address=address)
    with pytest.raises(ShardJobError, match=r"n: 40 there, 41 now"):
        sample_shards(model_dir, 41, out, shards=2, seed=0, scheduler_address=address)
    with pytest.raises(ShardJobError, match="y: null there"):
        sample_shards(model_dir, 40, out, shards=2, seed=0, y="rare", scheduler_address=address)
    assert _files(out) == before

    redone = sample_shards(
        model_dir, 40, out, shards=2, seed=9, overwrite=True, scheduler_address=address
    )
    assert redone.written == (0, 1)
    assert json.loads((out / MANIFEST_NAME).read_text())["seed"] == 9
    assert _files(out)[shard_name(0)] != before[shard_name(0)]

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ShardJobError, match=r"notes\.txt"):
        sample_shards(model_dir, 40, foreign, shards=2, overwrite=True, scheduler_address=address)
    assert (foreign / "notes.txt").read_text() == "keep"


# ------------------------------------------------------------------------ refusals
def test_bad_arguments_are_refused_before_any_cluster_starts(model_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InvalidParameterError, match="shards must be at most n=3"):
        sample_shards(model_dir, 3, out, shards=4)
    with pytest.raises(InvalidParameterError, match="scheduler_address"):
        sample_shards(model_dir, 9, out, shards=2, workers=2, scheduler_address="tcp://x:1")
    with pytest.raises(InvalidParameterError, match="'epic' was not seen"):
        sample_shards(model_dir, 9, out, shards=2, y="epic")
    with pytest.raises(InvalidParameterError, match="add up to 5, but n=9"):
        sample_shards(model_dir, 9, out, shards=2, y={"rare": 5})
    assert not out.exists()


def test_image_models_are_refused(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8), dtype=np.uint8)
    path = tmp_path / "images"
    VAESynthesizer(epochs=1, random_state=0).fit(images).save(str(path))
    with pytest.raises(InvalidParameterError, match="fitted on images"):
        sample_shards(path, 10, tmp_path / "out", shards=2)


def test_without_dask_the_error_names_the_extra(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import now fails
    with pytest.raises(ImportError, match=r"genaug\[dask\]"):
        sample_shards(model_dir, 10, tmp_path / "out", shards=2)
    code = main(["sample", model_dir, "-n", "10", "--shards", "2", "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "genaug[dask]" in err and "--shards" in err


# ----------------------------------------------------------------------------- CLI
def test_cli_shards_match_the_python_api_and_resume(cluster, model_dir, tmp_path, capsys):
    address = cluster.scheduler_address
    command = [
        "sample", model_dir, "-n", "1000", "--class-counts", "rare=600,common=400",
        "--seed", "3", "--shards", "3", "--dask-scheduler", address, "-o", str(tmp_path / "cli"),
    ]  # fmt: skip
    assert main(command) == 0
    assert "Wrote 1000 synthetic rows in 3 of 3 shards" in capsys.readouterr().out
    sample_shards(
        model_dir, 1000, tmp_path / "api", shards=3, seed=3, y={"rare": 600, "common": 400},
        scheduler_address=address,
    )  # fmt: skip
    assert _files(tmp_path / "cli") == _files(tmp_path / "api")

    assert main(command) == 0
    assert "complete already; nothing to do" in capsys.readouterr().out
    assert main([*command[:7], "4", *command[8:]]) == 2  # --seed 4: another job
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed: 3 there, 4 now" in err and "--force" in err
    assert main([*command, "--force", "-q"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--workers", "2"], ["--workers", "needs --shards"]),
        (["--shards", "2", "-o", "x.parquet"], ["with --shards", "x.parquet", "folder"]),
        (["--shards", "20"], ["--shards 20", "more than the 10 rows"]),
        (["--shards", "2", "--workers", "2", "--dask-scheduler", "tcp://h:1"], ["not allowed"]),
    ],
    ids=["workers-without-shards", "file-output", "more-shards-than-rows", "workers-and-address"],
)
def test_cli_shard_usage_errors(model_dir, tmp_path, monkeypatch, capsys, extra, words):
    monkeypatch.chdir(tmp_path)
    code = main(["sample", model_dir, "-n", "10", "-o", str(tmp_path / "out"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for word in words:
        assert word in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_start_leaves_no_manifest(model_dir, tmp_path, monkeypatch):
    import genaug.sharding as sharding

    def no_cluster(*args, **kwargs):
        raise OSError("no scheduler at tcp://127.0.0.1:1")

    monkeypatch.setattr(sharding, "_start", no_cluster)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="no scheduler"):
        sample_shards(model_dir, N, out, shards=SHARDS)  # no seed: it draws one
    assert not (out / MANIFEST_NAME).exists()  # which would refuse the next run's seed


def test_a_text_column_missing_in_a_first_chunk_keeps_one_schema(tmp_path):
    from genaug._cli_io import write_table

    frames = [
        pd.DataFrame({"x": [1.0, 2.0], "o": pd.Series([None, None], dtype=object)}),
        pd.DataFrame({"x": [3.0], "o": pd.Series(["a"], dtype=object)}),
    ]
    path = tmp_path / "t.parquet"
    assert write_table(path, iter(frames)) == 3  # failed: null column, then a string
    table = pq.read_table(path)
    assert str(table.schema.field("o").type) == "string"
    assert table.column("o").to_pylist() == [None, None, "a"]


def test_a_finished_job_leaves_no_temporary_file(cluster, model_dir, tmp_path, monkeypatch):
    import genaug.sharding as sharding

    real_run = sharding._run

    def run_and_leave_a_temp(*args, **kwargs):
        real_run(*args, **kwargs)
        # What a worker killed mid-write leaves, its task then retried elsewhere.
        (args[1][0].parent / f".{shard_name(0)}.k1ll3d.tmp").write_bytes(b"half")

    monkeypatch.setattr(sharding, "_run", run_and_leave_a_temp)
    out = tmp_path / "out"
    sample_shards(model_dir, N, out, shards=SHARDS, seed=0,
                  scheduler_address=cluster.scheduler_address)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST_NAME, *(shard_name(i) for i in range(SHARDS))]
    )


def test_an_interrupted_first_run_leaves_an_empty_folder(model_dir, tmp_path, monkeypatch):
    import genaug.sharding as sharding

    def interrupted(*args, **kwargs):
        (args[1][0].parent / f".{shard_name(0)}.k1ll3d.tmp").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(sharding, "_run", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        sample_shards(model_dir, N, out, shards=SHARDS, seed=0)
    assert list(out.iterdir()) == []  # a rerun is not refused by a temporary file


@pytest.mark.parametrize("own_cluster", [True, False])
def test_a_stopped_job_quiets_dask_logs_while_closing(model_dir, tmp_path, monkeypatch,
                                                      own_cluster):
    # SIGTERM mid-job: closing the cluster under running tasks makes Dask log screens of
    # CommClosedError tracebacks, which would bury the command's one-line message.
    import logging

    import genaug.sharding as sharding

    dask_logger = logging.getLogger("distributed.worker")
    before = logging.getLogger("distributed").level
    seen = {}

    class Client:
        def submit(self, *args, **kwargs):
            raise KeyboardInterrupt  # as the signal would, while the tasks run

        def run(self, function, **kwargs):  # on our own workers only
            seen["run"] = function

        def close(self):
            seen["quiet while closing"] = not dask_logger.isEnabledFor(logging.ERROR)

    class Cluster:
        def close(self):
            seen["cluster closed"] = True

    cluster = Cluster() if own_cluster else None
    monkeypatch.setattr(sharding, "_start", lambda *args: (Client(), cluster))
    with pytest.raises(KeyboardInterrupt):
        sample_shards(model_dir, N, tmp_path / "out", shards=SHARDS, seed=0)
    assert seen["quiet while closing"]
    # The same quieting in our own workers; a shared cluster's workers are left alone.
    assert seen.get("run") is (sharding._quiet_dask_logs if own_cluster else None)
    assert seen.get("cluster closed", False) is own_cluster
    assert logging.getLogger("distributed").level == before  # restored afterwards
    assert dask_logger.isEnabledFor(logging.ERROR)
