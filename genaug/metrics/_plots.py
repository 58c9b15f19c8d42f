"""Figures of the evaluation report, drawn on bare ``matplotlib.figure.Figure`` objects.

pyplot is never imported: it keeps every figure in a global registry until closed and picks an
interactive backend, neither of which a library should impose. A bare Figure renders to PNG
with the Agg canvas and displays in notebooks all the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genaug.metrics._encoding import CATEGORICAL, numeric_values, shared_codes

_REAL, _SYNTH = "#1f77b4", "#ff7f0e"
_MAX_MARGINALS = 12
_MAX_BARS = 10
_MAX_HEATMAP = 30


def figure_class() -> Any:
    """matplotlib's Figure class, or an ImportError that says how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "Plotting the evaluation report needs matplotlib, which is not installed. Install it "
            "with `pip install genaug[plot]` (or `pip install matplotlib`)."
        ) from exc
    return Figure


def _short(name: Any, width: int = 18) -> str:
    """``name`` as text of at most ``width`` characters, to be drawn literally.

    A pair of ``$`` in a label ("$0_to_$25k") would make matplotlib parse the text between them
    as math and fail on it; an escaped ``\\$`` is drawn as a plain ``$``.
    """
    text = str(name)
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")


def marginals(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict, order: list, stats: dict
) -> Any:
    """Real vs synthetic histograms (numbers) and category shares, worst columns first."""
    Figure = figure_class()
    columns = order[:_MAX_MARGINALS]
    n_cols = min(4, max(len(columns), 1))
    n_rows = max(1, int(np.ceil(len(columns) / n_cols)))
    fig = Figure(figsize=(3.6 * n_cols, 2.8 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False).ravel())
    for ax, name in zip(axes, columns):
        if kinds[name] == CATEGORICAL:
            (cr, cs), values = shared_codes([real[name], synth[name]])
            p_r = np.bincount(cr[cr >= 0], minlength=len(values)) / max((cr >= 0).sum(), 1)
            p_s = np.bincount(cs[cs >= 0], minlength=len(values)) / max((cs >= 0).sum(), 1)
            top = np.argsort(-p_r, kind="stable")[:_MAX_BARS]
            x = np.arange(len(top))
            ax.bar(x - 0.2, p_r[top], width=0.4, color=_REAL, label="real")
            ax.bar(x + 0.2, p_s[top], width=0.4, color=_SYNTH, label="synthetic")
            ax.set_xticks(x, [_short(v, 10) for v in values[top]], rotation=60, fontsize=7)
            ax.set_ylabel("share", fontsize=8)
        else:
            a, b = numeric_values(real[name]), numeric_values(synth[name])
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            both = np.concatenate([a, b])
            lo, hi = np.quantile(both, [0.005, 0.995]) if both.size else (0.0, 1.0)
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            bins = np.linspace(lo, hi, 31)
            ax.hist(a, bins=bins, density=True, histtype="stepfilled", alpha=0.45, color=_REAL)
            ax.hist(b, bins=bins, density=True, histtype="step", linewidth=1.5, color=_SYNTH)
            ax.set_ylabel("density", fontsize=8)
            ax.tick_params(labelsize=7)
            _annotate_point_mass(ax, a, b)
        stat, value = stats.get(name, ("", np.nan))
        ax.set_title(f"{_short(name, 24)}  ({stat.upper()} {value:.2f})", fontsize=9)
    for ax in axes[len(columns) :]:
        ax.set_axis_off()
    handles = [
        _patch(_REAL, "real"),
        _patch(_SYNTH, "synthetic"),
    ]
    fig.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=2)
    fig.suptitle("Marginals: real vs synthetic (worst columns first)", fontsize=11)
    return fig


def _annotate_point_mass(ax: Any, real: np.ndarray, synth: np.ndarray) -> None:
    """Print the shares of a value that holds a fifth of the real rows (the zeros of a
    capital-gain column), which a histogram bar cannot show next to the rest."""
    if real.size == 0:
        return
    values, counts = np.unique(real, return_counts=True)
    top = int(np.argmax(counts))
    share = counts[top] / real.size
    if share < 0.2:
        return
    share_s = float(np.mean(synth == values[top])) if synth.size else 0.0
    ax.text(
        0.98,
        0.95,
        f"share at {values[top]:g}: real {share:.0%}, synthetic {share_s:.0%}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7,
    )


def _patch(color: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=color, label=label)


def correlation_heatmaps(numeric: pd.DataFrame | None, categorical: pd.DataFrame | None) -> Any:
    """Heatmaps of the differences in Spearman's rho (numbers) and Cramér's V (categories)."""
    Figure = figure_class()
    panels = [
        (_largest(m), title)
        for m, title in (
            (numeric, "|\u0394 Spearman \u03c1| (numeric pairs)"),
            (categorical, "|\u0394 Cramér's V| (categorical pairs)"),
        )
        if m is not None and m.shape[0] >= 2
    ]
    fig = Figure(figsize=(5.5 * max(len(panels), 1), 5.0), layout="constrained")
    if not panels:
        ax = fig.subplots()
        ax.text(0.5, 0.5, "fewer than two columns of each kind", ha="center", va="center")
        ax.set_axis_off()
        return fig
    for ax, (matrix, title) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(values, vmin=0.0, vmax=max(1.0, float(np.nanmax(values))), cmap="Reds")
        labels = [_short(c, 14) for c in matrix.columns]
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
        ax.set_yticks(ticks, labels, fontsize=7)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle("Pairwise dependencies: real minus synthetic", fontsize=11)
    return fig


def _largest(matrix: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ``_MAX_HEATMAP`` columns with the largest differences, so that labels stay legible."""
    if matrix is None or matrix.shape[0] <= _MAX_HEATMAP:
        return matrix
    worst = np.argsort(-np.nan_to_num(matrix.to_numpy(dtype=float)).max(axis=1), kind="stable")
    keep = np.sort(worst[:_MAX_HEATMAP])
    return matrix.iloc[keep, keep]


def class_coverage(table: pd.DataFrame) -> Any:
    """Per class: real share, synthetic share and k-NN coverage; missing classes in red."""
    Figure = figure_class()
    fig = Figure(figsize=(7.5, 0.45 * len(table) + 1.8), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(table))
    labels = [_short(c, 20) for c in table.index]
    ax.barh(y - 0.27, table["real_share"], height=0.27, color=_REAL, label="real share")
    synth_share = table["synthetic_share"].fillna(0.0)
    ax.barh(y, synth_share, height=0.27, color=_SYNTH, label="synthetic share")
    ax.barh(y + 0.27, table["coverage"].fillna(0.0), height=0.27, color="#2ca02c", label="coverage")
    ax.set_yticks(y, labels, fontsize=8)
    for tick, missing in zip(ax.get_yticklabels(), table["missing"].to_numpy(dtype=bool)):
        if missing:
            tick.set_color("#d62728")
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Per-class coverage (red: class missing from the synthetic data)", fontsize=10)
    return fig


def distance_histograms(dcr_synthetic: np.ndarray, dcr_holdout: np.ndarray | None) -> Any:
    """Distances to the closest training row: synthetic rows vs fresh (holdout) real rows."""
    Figure = figure_class()
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    arrays = [dcr_synthetic] + ([] if dcr_holdout is None else [dcr_holdout])
    hi = float(np.quantile(np.concatenate(arrays), 0.99)) or 1.0
    bins = np.linspace(0.0, hi, 41)
    if dcr_holdout is not None:
        ax.hist(dcr_holdout, bins=bins, density=True, alpha=0.45, color=_REAL, label="holdout")
    ax.hist(dcr_synthetic, bins=bins, density=True, histtype="step", linewidth=1.5, color=_SYNTH)
    ax.plot([], [], color=_SYNTH, label="synthetic")
    ax.set_xlabel("distance to closest training row (encoded space)", fontsize=9)
    ax.set_ylabel("density", fontsize=9)
    ax.legend(fontsize=8)
    ax.set_title("Privacy: synthetic rows should be no closer to training rows than fresh rows")
    return fig
