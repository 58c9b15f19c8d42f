"""PNG figures of the benchmark suites, drawn from their JSON results.

``tabular.py`` and ``quality.py`` call these at the end of a run (when matplotlib is
installed); ``python benchmarks/figures.py`` redraws every figure from the JSON files already
in ``benchmarks/results`` without running anything again.

* ``tabular.png``: the mean rank of each method on each data set (over classifiers and
  metrics; 1 = best), methods ordered by their overall mean rank; and, per method, the share
  of (data set, classifier, metric) cells where it beat no augmentation.
* ``quality.png``: ``evaluate()``'s headline numbers per synthesizer and data set (detection
  AUC, precision, recall, coverage, DCR ratio, TSTR macro-F1), mean over seeds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tabular_figure(report: dict[str, Any], path: Path) -> Path:
    """Draw the tabular suite's rank heat map and wins-against-none bars to ``path``."""
    plt = _pyplot()
    per = report["ranks"]["per_dataset"]
    overall = report["ranks"]["overall"]
    methods = sorted(overall, key=lambda m: overall[m]["all"])
    datasets = list(per)
    grid = np.array([[per[d].get(m, np.nan) for d in datasets] for m in methods])

    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(4 + 0.9 * len(datasets) + 4, 0.45 * len(methods) + 1.8),
        gridspec_kw={"width_ratios": [len(datasets) + 1, 3]},
    )
    image = ax.imshow(grid, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(datasets)), datasets, rotation=35, ha="right")
    ax.set_yticks(range(len(methods)), methods)
    for i in range(len(methods)):
        for j in range(len(datasets)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] > np.nanmean(grid) else "black")
    ax.set_title("mean rank per data set (1 = best)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)

    versus = report.get("versus_none", {})
    shares = []
    for m in methods:
        cells = versus.get(m)
        if not cells:
            shares.append(np.nan)
            continue
        better = sum(v[0] for v in cells.values())
        worse = sum(v[1] for v in cells.values())
        shares.append(better / max(better + worse, 1))
    bx.barh(range(len(methods)), shares, color="tab:blue")
    bx.axvline(0.5, color="grey", lw=0.8, ls="--")
    bx.set_yticks(range(len(methods)), [""] * len(methods))
    bx.invert_yaxis()
    bx.set_xlim(0, 1)
    bx.set_title("share of cells better than none", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


QUALITY_PANELS = (
    ("detection_auc", "detection AUC (0.5 ideal)"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("coverage", "coverage"),
    ("dcr_ratio", "DCR ratio (≥1: no copying)"),
    ("train_synthetic_macro_f1", "TSTR macro-F1"),
)


def quality_figure(report: dict[str, Any], path: Path) -> Path:
    """Draw the quality suite's headline numbers, one panel per metric, to ``path``."""
    plt = _pyplot()
    runs = report["runs"]
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    models = list(dict.fromkeys(r["model"] for r in runs))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    width = 0.8 / max(len(models), 1)
    for ax, (key, title) in zip(axes.ravel(), QUALITY_PANELS):
        for i, model in enumerate(models):
            means = []
            for d in datasets:
                values = [r[key] for r in runs if r["dataset"] == d and r["model"] == model
                          and r.get(key) is not None]
                means.append(float(np.mean(values)) if values else np.nan)
            ax.bar(np.arange(len(datasets)) + i * width, means, width, label=model)
        if key == "train_synthetic_macro_f1":
            real = []
            for d in datasets:
                values = [r["train_real_macro_f1"] for r in runs if r["dataset"] == d
                          and r.get("train_real_macro_f1") is not None]
                real.append(float(np.mean(values)) if values else np.nan)
            ax.scatter(np.arange(len(datasets)) + 0.4 - width / 2, real, marker="_", s=400,
                       color="black", label="real data", zorder=3)
        ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, fontsize=8)
        ax.set_title(title, fontsize=9)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(results: Path = RESULTS) -> list[Path]:
    """Redraw every figure whose JSON is in ``results``; return the files written."""
    written = []
    for name, draw_one in (("tabular", tabular_figure), ("quality", quality_figure)):
        source = results / f"{name}.json"
        if source.exists():
            written.append(draw_one(json.loads(source.read_text()), results / f"{name}.png"))
    return written


def try_draw(name: str, report: dict[str, Any], results: Path) -> Path | None:
    """Draw one suite's figure if matplotlib is installed; say so on stderr if it is not."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"matplotlib is not installed: no {name}.png (pip install genaug[plot]).",
              file=sys.stderr)
        return None
    draw_one = {"tabular": tabular_figure, "quality": quality_figure}[name]
    return draw_one(report, results / f"{name}.png")


if __name__ == "__main__":
    for written in draw(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS):
        print(written)
