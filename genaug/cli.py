"""The ``genaug`` command line: ``genaug fit | sample | augment | evaluate | benchmark``.

DATA is a CSV/Parquet table or an image folder (one sub-folder of images per class); ``genaug
sample --shards K`` writes a folder of Parquet shards with Dask (:mod:`genaug.sharding`).

argparse from the standard library: the CLI stays dependency-free and its behaviour (exit
codes, one-line messages) is fully in our hands. This module holds the parser and
:func:`main`; the commands are in :mod:`genaug._cli_commands` and the file handling in
:mod:`genaug._cli_io`, and both only call genaug's public Python API.

Exit codes: 0 success; 1 a data error (a file's content does not fit: unreadable, unknown
column or label value, failed training); 2 a usage error (bad option or value, a missing
path, an unsupported extension, an output that exists without ``--force``); 130 interrupted
(Ctrl-C); 143 terminated (SIGTERM, as sent by ``kill``, ``timeout``, Slurm or Kubernetes).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from genaug._cli_commands import (
    MODELS,
    run_augment,
    run_benchmark,
    run_evaluate,
    run_fit,
    run_sample,
)
from genaug._cli_io import UsageError
from genaug._version import __version__
from genaug.exceptions import GenaugError

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's code for a process ended by SIGTERM

_ADULT = (
    "  python -c \"import genaug.datasets as d; d.load_adult().to_csv('adult.csv', index=False)\""
)
_STRATEGIES = ("auto", "minority", "not minority", "not majority", "all")
_DATA_HELP = (
    "a training table (.csv, .parquet or .pq; CSV may be compressed: .csv.gz, .csv.bz2, "
    ".csv.xz, .csv.zst) or an image folder (a sub-folder per class)"
)


# Largest image side the convolutional networks are built for (ImageCodec's max_size).
_MAX_IMAGE_SIDE = 128


class _ArgumentError(Exception):
    """argparse's own usage errors, raised instead of exiting so that main() reports them."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(self.prog, message)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that unfinished outputs are removed.

    A BaseException, like KeyboardInterrupt: ``except Exception`` clauses on the way must not
    swallow it, while the atomic writes' cleanup (``except BaseException``) still runs.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated(signal.Signals(signum).name)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while the command runs, then restore the handler.

    Python's default for SIGTERM is to die at once, leaving temporary files behind. Only
    the main thread can set handlers, and a handler installed outside Python (``getsignal``
    gives ``None``) cannot be restored, so then nothing is changed. Nor when SIGTERM is
    ignored (``SIG_IGN``, inherited from ``trap '' TERM``, ``nohup``-like launchers, or set
    by a program calling :func:`main`): its owner asked for the command to run through.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous == signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------------ argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63 - 1:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer seed below 2**63 - 1, got {text!r}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _image_side(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 8 <= value <= _MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(
            f"expected an image side from 8 to {_MAX_IMAGE_SIDE} pixels (the networks' "
            f"largest), got {text!r}"
        )
    return value


def _device(text: str) -> str:
    if text == "auto":
        return text
    try:
        import torch

        torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:1', got {text!r}"
        ) from None
    return text


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected COL,COL,... without empty names, got {text!r}")
    return names


def _class_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in text.split(","):
        label, sep, count = item.rpartition("=")
        if not sep or not label or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"expected LABEL=COUNT,LABEL=COUNT,... (e.g. fraud=500,ok=100), got {text!r}"
            )
        if label in counts:
            raise argparse.ArgumentTypeError(f"label {label!r} is given twice in {text!r}")
        counts[label] = int(count)
    return counts


def _condition(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected COL=VALUE (e.g. country=NL), got {text!r}")
    return name, value


def _metrics(text: str) -> list[str] | str:
    from genaug.metrics import FAMILIES

    names = _names(text)
    if names == ["all"]:
        return "all"
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown metric family {unknown[0]!r}; choose among all, {', '.join(FAMILIES)}"
        )
    return names


# ------------------------------------------------------------------------ commands
def _add_common(parser: argparse.ArgumentParser, default: object) -> None:
    """-v/-q/--debug, accepted before and after the command name.

    The command's copies default to SUPPRESS so that they do not undo the same flag given
    before the command name.
    """
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="show progress bars"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="print only results and errors, no progress or status lines",
    )
    group.add_argument(
        "--debug", action="store_true", default=default, help="show Python tracebacks on errors"
    )


def _command(
    sub: argparse._SubParsersAction, name: str, summary: str, example: str
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}.\n\nexample:\n{example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, argparse.SUPPRESS)
    return parser


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label",
        metavar="COL",
        help="the class label column of a table (required for tables; an image folder's "
        "labels are its sub-folder names)",
    )
    parser.add_argument(
        "--image-size",
        type=_image_side,
        default=None,
        metavar="S",
        help="image folders: resize every image to S x S pixels, S from 8 to "
        f"{_MAX_IMAGE_SIDE} (default: keep the most common size and resize the other images "
        f"to it; required when that is above {_MAX_IMAGE_SIDE} pixels a side)",
    )
    parser.add_argument(
        "--model", choices=sorted(MODELS), default="vae", help="synthesizer family (default: vae)"
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=None, help="training epochs (default: the model's)"
    )
    parser.add_argument(
        "--seed", type=_seed, default=None, help="random seed (default: a fresh one each run)"
    )
    parser.add_argument(
        "--discrete",
        type=_names,
        default=None,
        metavar="COL,...",
        help="numeric columns to model as categories",
    )
    parser.add_argument(
        "--device",
        type=_device,
        default="auto",
        help="'auto' (a GPU when visible), 'cpu', 'cuda', 'cuda:1'",
    )


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "fit",
        "train a synthesizer on a table or an image folder and save it as a model folder",
        f"{_ADULT}\n  genaug fit adult.csv --model vae --label income --epochs 10 -o adult-vae\n"
        "  genaug fit photos/ --model vaegan --image-size 32 --epochs 50 -o photos-vaegan\n\n"
        "an image folder holds one sub-folder of images per class (photos/cat/1.png,\n"
        "photos/dog/2.jpg, ...); the sub-folder names are the labels, so --label is not given.\n"
        "Images are read as grayscale if all are, else as RGB, and brought to one size:\n"
        "--image-size S, or else the most common size among them.",
    )
    p.add_argument("data", metavar="DATA", help=_DATA_HELP)
    _add_training_options(p)
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model folder")
    p.add_argument("--force", action="store_true", help="replace an existing model folder")
    p.set_defaults(run=run_fit)


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "sample",
        "draw synthetic rows from a saved model into a CSV or Parquet file (an image folder "
        "for an image model; Parquet shards with --shards), in chunks",
        f"{_ADULT}\n  genaug fit adult.csv --label income --epochs 10 -o adult-vae\n"
        "  genaug sample adult-vae -n 5000 --seed 0 -o synthetic.csv\n"
        "  genaug sample adult-vae -n 1000 --label-value '>50K' -o rich.parquet\n"
        "  genaug sample adult-vae --class-counts '>50K=300,<=50K=100' -o counts.csv\n"
        "  genaug sample photos-vaegan -n 500 --seed 0 -o synthetic-photos/\n"
        "  genaug sample adult-vae -n 100000000 --seed 0 --shards 64 -o synthetic/\n"
        "  genaug sample adult-vae -n 100000000 --seed 0 --shards 64 --workers 8 -o synthetic/\n"
        "  genaug sample adult-vae -n 100000000 --seed 0 --shards 64 \\\n"
        "      --dask-scheduler tcp://10.0.0.5:8786 -o /shared/synthetic/\n\n"
        "a table model writes the feature columns in their training order, then the label\n"
        "column, named as in training, last (not where it stood in the training file).\n"
        "an image model writes OUT/CLASS/synthetic_000000.png ... and OUT/manifest.csv\n"
        "(path,label,is_synthetic). With --shards K, OUT is a folder of K Parquet files\n"
        "part-00000.parquet ... written by Dask tasks, each seeded from (--seed, shard), so\n"
        "the rows do not depend on the workers; rerun the same command to resume: complete\n"
        "shards are kept. Sharding needs Dask: pip install 'genaug[dask]'.",
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="folder written by 'genaug fit'")
    p.add_argument("-n", type=_positive_int, default=None, help="number of rows (or images)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--label-value", metavar="V", help="draw every row from class V")
    which.add_argument(
        "--class-counts",
        type=_class_counts,
        metavar="V=N,...",
        help="exact rows per class (-n defaults to their sum)",
    )
    p.add_argument(
        "--condition",
        type=_condition,
        action="append",
        default=[],
        metavar="COL=V",
        help="fix a categorical column's value in every row (models fitted with --model gan "
        "only; repeatable, one value per column)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="seed of the draw (with --shards and no --seed: the seed of the job in OUT, "
        "or a fresh one)",
    )
    p.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=None,
        help="rows held in memory at a time, per shard with --shards (default: 65536 rows "
        "of a table, 1024 images)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="a .csv (or .csv.gz, .csv.bz2, .csv.xz, .csv.zst) or .parquet file; a folder for "
        "an image model or with --shards",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite an existing OUT (with --shards: start the job over)",
    )
    shards = p.add_argument_group("sharded sampling on Dask (table models)")
    shards.add_argument(
        "--shards",
        type=_positive_int,
        default=None,
        metavar="K",
        help="write K Parquet files into the folder OUT, one Dask task each",
    )
    where = shards.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes of the local Dask cluster (default: one per CPU core, at most K)",
    )
    where.add_argument(
        "--dask-scheduler",
        dest="scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (tcp://host:8786) instead; its workers must "
        "see MODEL_DIR and OUT at the same paths",
    )
    p.set_defaults(run=run_sample)


def _add_augment(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "augment",
        "append synthetic rows to a table, flagged in a new 'is_synthetic' column; or add "
        "synthetic images to a copy of an image folder",
        f"{_ADULT}\n  genaug augment adult.csv --label income --epochs 10 -o augmented.parquet\n"
        "  genaug augment adult.csv --label income --ratio 0.5 --seed 0 -o grown.csv\n"
        "  genaug augment photos/ --model vae --epochs 50 --seed 0 -o photos-augmented/\n\n"
        "for an image folder, OUT gets the real images (copied unchanged, same paths) and\n"
        "OUT/CLASS/synthetic_000000.png ..., listed in OUT/manifest.csv with columns\n"
        "path,label,is_synthetic.",
    )
    p.add_argument("data", metavar="DATA", help=_DATA_HELP)
    _add_training_options(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--strategy",
        choices=_STRATEGIES,
        default="auto",
        help="which classes to grow to the majority's size (default: auto = not majority)",
    )
    how.add_argument(
        "--ratio",
        type=_positive_float,
        default=None,
        metavar="R",
        help="instead, grow every class by R times its size (1.0 doubles it)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="a .csv (or .csv.gz, .csv.bz2, .csv.xz, .csv.zst) or .parquet file; a folder when "
        "DATA is an image folder",
    )
    p.add_argument(
        "--reject-copies",
        action="store_true",
        help="tables: redraw synthetic rows that sit closer to a row of DATA than real rows "
        "sit to each other (1st percentile); costs fidelity, off by default",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    p.set_defaults(run=run_augment)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "evaluate",
        "measure synthetic rows against real ones and print the summary",
        f"{_ADULT}\n  genaug fit adult.csv --label income --epochs 10 -o adult-vae\n"
        "  genaug sample adult-vae -n 5000 --seed 0 -o synthetic.csv\n"
        "  genaug evaluate adult.csv synthetic.csv --label income --metrics fidelity,detection"
        " --html report.html\n"
        "  genaug evaluate photos/ synthetic-photos/ --holdout test-photos/ --json report.json\n\n"
        "image folders are compared in pixel space: each image is a row of its pixel values\n"
        "in [0, 1] (SYNTH and --holdout are read in REAL's size and colour mode) and the\n"
        "labels are the sub-folder names. Pixel distances are a crude measure of image\n"
        "similarity: for perceptual metrics, embed the images with a network of your choice\n"
        "and call genaug.metrics.evaluate(..., features=True) in Python.",
    )
    p.add_argument("real", metavar="REAL", help="the real training table, or an image folder")
    p.add_argument(
        "synthetic", metavar="SYNTH", help="the synthetic table (same columns) or image folder"
    )
    p.add_argument("--holdout", metavar="H", help="real rows the model never saw (for utility)")
    p.add_argument("--label", metavar="COL", help="class label column (per-class metrics, utility)")
    p.add_argument(
        "--metrics",
        type=_metrics,
        default="all",
        metavar="FAMILY,...",
        help="fidelity, diversity, detection, privacy, utility or all (default: all)",
    )
    p.add_argument("--discrete", type=_names, metavar="COL,...", help="numeric categories")
    p.add_argument("--seed", type=_seed, default=0, help="seed of subsamples and models")
    p.add_argument("--html", metavar="FILE", help="also write the report as HTML")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.add_argument("--force", action="store_true", help="overwrite existing report files")
    p.set_defaults(run=run_evaluate)


def _add_benchmark(sub: argparse._SubParsersAction) -> None:
    p = _command(
        sub,
        "benchmark",
        "measure the downstream gain of synthetic data against no augmentation and SMOTE",
        "  genaug benchmark --quick --out benchmarks/results --force\n"
        "  genaug benchmark --suite tabular --budget 20\n"
        "  genaug benchmark --suite tabular --budget 20 -- --datasets yeast_me2,adult --folds 2\n"
        "  genaug benchmark --suite all --quick\n\n"
        "quick runs in this process on built-in data; tabular, quality, images and speed run\n"
        "the scripts of the repository's benchmarks/ folder (a source checkout; or set\n"
        "GENAUG_BENCHMARKS_DIR) with this Python, and write benchmarks/results/<suite>.json\n"
        "and .md unless --out says otherwise. Arguments after '--' go to the script\n"
        "('python benchmarks/tabular.py --help' lists them).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="alone: the quick benchmark on built-in data (about 30 s on 2 quiet CPU cores); "
        "with --suite: that suite's reduced configuration",
    )
    p.add_argument(
        "--suite",
        metavar="NAME",
        help="quick, tabular, quality, images, speed or all",
    )
    p.add_argument(
        "--budget",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="wall-time cap of each synthesizer fit in the script suites (default: the script's)",
    )
    p.add_argument(
        "--repeats", type=_positive_int, default=5, help="quick suite: train/test splits per table"
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=100, help="quick suite: training epochs of the VAE"
    )
    p.add_argument("--seed", type=_seed, default=0, help="quick suite: base seed")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="folder for <suite>.json and <suite>.md (quick: none unless given; script "
        "suites: benchmarks/results)",
    )
    p.add_argument("--force", action="store_true", help="overwrite earlier results in --out DIR")
    p.add_argument(
        "script_args",
        nargs="*",
        metavar="-- ARG",
        help="arguments passed on to the suite's script, after '--'",
    )
    p.set_defaults(run=run_benchmark)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``genaug`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="genaug",
        description="Synthetic data augmentation for tables and images: fit, sample, augment, "
        "evaluate.",
        epilog=(
            "example (each command's --help shows more):\n"
            f"{_ADULT}\n"
            "  genaug fit adult.csv --model vae --label income --epochs 10 -o adult-vae\n"
            "  genaug sample adult-vae -n 5000 --seed 0 -o synthetic.csv\n\n"
            "exit codes: 0 success, 1 data error, 2 usage error, 130 interrupted, "
            "143 terminated"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genaug {__version__}")
    _add_common(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_fit, _add_sample, _add_augment, _add_evaluate, _add_benchmark):
        add(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``genaug`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit code: 0 success, 1 a data error (a file's content does not fit), 2 a usage
        error (the command line cannot be acted on), 130 interrupted, 143 terminated by
        SIGTERM (caught while the command runs, in the main thread, so that unfinished
        outputs are removed; the previous handler is restored on return). Errors are
        reported as one line on standard error; ``--debug`` raises them with their
        traceback instead.

    Examples
    --------
    >>> from genaug.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    genaug 0.1.0
    0
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named after the command they were given to, not the top-level program
            command = getattr(args, "command", None)
            raise _ArgumentError(
                f"{parser.prog} {command}" if command else parser.prog,
                f"unrecognized arguments: {' '.join(extra)}",
            )
    except _ArgumentError as exc:
        print(f"{exc.prog}: error: {exc}; see '{exc.prog} --help'.", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    prog = f"genaug {args.command}"
    if args.verbose and args.quiet:
        print(f"{prog}: error: -v/--verbose and -q/--quiet exclude each other.", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _sigterm_raises():
            return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted; unfinished outputs were not written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        if args.debug:
            raise
        print(
            f"{prog}: terminated (SIGTERM); unfinished outputs were not written.", file=sys.stderr
        )
        return EXIT_TERMINATED
    except UsageError as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (GenaugError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except Exception as exc:  # a bug: still one line, with the way to the traceback
        if args.debug:
            raise
        print(
            f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(run again with --debug for the traceback, and please report it).",
            file=sys.stderr,
        )
        return EXIT_DATA_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
