"""The evaluation report: every number with its definition, a one-screen summary, figures, and
JSON or self-contained HTML for sharing."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from genaug._version import __version__
from genaug.io import atomic_write_file
from genaug.metrics import _plots

__all__ = ["FAMILIES", "METRIC_DEFINITIONS", "FamilyResult", "Report"]

#: The metric families, in the order of the report.
FAMILIES = ("fidelity", "diversity", "detection", "privacy", "utility")

# name -> (ideal value, definition); the one place each number of the report is explained.
METRIC_DEFINITIONS: dict[str, tuple[str, str]] = {
    "ks_mean": ("0", "Mean over numeric columns of the two-sample Kolmogorov-Smirnov statistic."),
    "ks_max": ("0", "Largest Kolmogorov-Smirnov statistic of a numeric column."),
    "tvd_mean": (
        "0",
        "Mean over categorical columns of the total variation distance between the category "
        "frequencies.",
    ),
    "tvd_max": ("0", "Largest total variation distance of a categorical column."),
    "missing_gap_max": (
        "0",
        "Largest absolute difference between the real and synthetic missing rates of a column.",
    ),
    "correlation_difference_mean": (
        "0",
        "Mean over numeric column pairs of |Spearman rho real - Spearman rho synthetic|.",
    ),
    "cramers_v_difference_mean": (
        "0",
        "Mean over categorical column pairs of |Cramér's V real - Cramér's V synthetic|.",
    ),
    "pair_difference_max": (
        "0",
        "Largest difference in one pair's dependency: |Spearman's rho real - synthetic| over "
        "numeric pairs, or of Cramér's V over categorical pairs. Above 0.25 caps the verdict "
        "at fair.",
    ),
    "contingency_difference_mean": (
        "0",
        "Mean over categorical column pairs of the total variation distance between the joint "
        "distributions.",
    ),
    "column_score": ("1", "1 - mean per-column distance (KS for numbers, TVD for categories)."),
    "pair_score": (
        "1",
        "1 - mean pairwise difference (|delta rho| / 2 for numeric pairs, |delta V| for "
        "categorical pairs).",
    ),
    "precision": (
        "1",
        "Share of synthetic rows inside some real row's k-NN ball (Kynkäänniemi et al., 2019).",
    ),
    "recall": (
        "1",
        "Share of real rows inside some synthetic row's k-NN ball (Kynkäänniemi et al., 2019).",
    ),
    "density": (
        "1",
        "Mean number of real k-NN balls holding a synthetic row, divided by k (Naeem et al., "
        "2020); above 1 means samples crowd into dense regions.",
    ),
    "coverage": (
        "1",
        "Share of real rows whose k-NN ball holds a synthetic row (Naeem et al., 2020).",
    ),
    "class_coverage_min": (
        "1",
        "Smallest per-class coverage: share of a class's real rows whose k-NN ball holds a "
        "synthetic row of that class.",
    ),
    "missing_classes": ("0", "Number of real classes without any synthetic row."),
    "category_coverage": (
        "1",
        "Share of the real categories (over all categorical columns) that the synthetic data "
        "produces at least once.",
    ),
    "missing_categories": ("0", "Number of real categories the synthetic data never produces."),
    "detection_auc": (
        "0.5",
        "Mean cross-validated ROC-AUC of gradient boosting telling synthetic from real rows "
        "(classifier two-sample test, Lopez-Paz & Oquab, 2017).",
    ),
    "detection_auc_std": ("0", "Standard deviation of the detection ROC-AUC over the folds."),
    "exact_copies": ("0", "Number of synthetic rows identical to a training row."),
    "exact_copy_rate": ("<= holdout rate", "Share of synthetic rows identical to a training row."),
    "near_copy_rate": (
        "<= holdout rate",
        "Share of synthetic rows at distance ~0 (3e-7 of the real rows' spread) from a training "
        "row in the k-NN space: exact copies and copies that exact comparison misses (such as "
        "the same row rounded to float32).",
    ),
    "holdout_near_copy_rate": (
        "(baseline)",
        "The same share for holdout rows: the rate a fresh real sample shows.",
    ),
    "holdout_exact_copy_rate": (
        "(baseline)",
        "Share of holdout rows identical to a training row: the rate a fresh real sample shows.",
    ),
    "dcr_synthetic_p05": (
        ">= holdout value",
        "5th percentile of the synthetic rows' distance to the closest training row.",
    ),
    "dcr_synthetic_median": (
        ">= holdout value",
        "Median distance from a synthetic row to its closest training row.",
    ),
    "dcr_holdout_p05": (
        "(baseline)",
        "5th percentile of the holdout rows' distance to the closest training row.",
    ),
    "dcr_holdout_median": (
        "(baseline)",
        "Median distance from a holdout row to its closest training row.",
    ),
    "nndr_synthetic_median": (
        ">= holdout value",
        "Median ratio of a synthetic row's distances to its nearest and second-nearest "
        "training rows.",
    ),
    "nndr_holdout_median": ("(baseline)", "The same median ratio for holdout rows."),
    "dcr_share": (
        "0.5",
        "Share of synthetic rows closer to the training rows than to equally many holdout rows "
        "(Platzer & Reutterer, 2021).",
    ),
    "membership_inference_auc": (
        "0.5",
        "ROC-AUC of telling training rows from holdout rows by their distance to the closest "
        "synthetic row (GAN-Leaks full black-box attack, Chen et al., 2020).",
    ),
    "far_from_real_rate": (
        "~0.01",
        "Share of synthetic rows farther from every real row than 99 % of the holdout rows "
        "are from the training rows: ties (1/2) in the DCR share, left out of the "
        "membership-inference attack (they lie where no real row does). Numbers beyond the "
        "real range count by their distance from it.",
    ),
}
_UTILITY_TEXT = {
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC (average precision)",
}
for _m, _text in _UTILITY_TEXT.items():
    METRIC_DEFINITIONS[f"train_real_{_m}"] = (
        "(baseline)",
        f"Holdout {_text} of the classifier trained on the real rows (TRTR).",
    )
    METRIC_DEFINITIONS[f"train_synthetic_{_m}"] = (
        "close to TRTR",
        f"Holdout {_text} of the classifier trained on the synthetic rows (TSTR).",
    )
    METRIC_DEFINITIONS[f"train_augmented_{_m}"] = (
        ">= TRTR",
        f"Holdout {_text} of the classifier trained on real plus synthetic rows.",
    )
    METRIC_DEFINITIONS[f"gain_augmented_{_m}"] = (
        "> 0",
        f"Gain in holdout {_text} from adding the synthetic rows: augmented - TRTR.",
    )
    METRIC_DEFINITIONS[f"gap_synthetic_{_m}"] = (
        "0",
        f"TSTR - TRTR in holdout {_text}: what training on synthetic rows alone loses.",
    )
for _end, _which in (("low", "2.5 %"), ("high", "97.5 %")):
    METRIC_DEFINITIONS[f"gain_augmented_macro_f1_{_end}"] = (
        "> 0" if _end == "low" else "",
        f"The {_which} percentile of gain_augmented_macro_f1 over 500 Poisson-bootstrap "
        "resamples of the holdout rows (200 or more past 40,000 rows; both models scored on "
        "each); the verdict says the rows raise (lower) macro-F1 only when the interval lies "
        "above (below) 0 and the gain passes 0.005.",
    )

_SCORE_DEFINITIONS = {
    "fidelity": "mean of column_score and pair_score",
    "diversity": "mean of precision, recall, coverage (and class_coverage_min with labels)",
    "detection": "2 (1 - max(detection_auc, 0.5)); an AUC below 0.5 is chance",
    "privacy": "1 - the largest of: 10 x (exact_copy_rate - holdout_exact_copy_rate), "
    "10 x (near_copy_rate - holdout_near_copy_rate), 2 (dcr_share - 0.5), "
    "2 (membership_inference_auc - 0.5); clipped to [0, 1] (without a holdout: "
    "1 - 10 x the larger copy rate)",
    "utility": "TSTR / TRTR macro-F1, clipped to [0, 1]",
}


@dataclass
class FamilyResult:
    """The outcome of one metric family.

    Attributes
    ----------
    score : float
        A summary in [0, 1], 1 ideal (its definition: ``Report.to_dict()["families"]``).
    verdict : str
        Plain words: level ("good", "fair", "poor") and the numbers behind it.
    metrics : dict of str to float
        Scalar metrics, named as in :data:`METRIC_DEFINITIONS`.
    tables : dict of str to DataFrame
        Per-column, per-pair, per-class or per-model tables.
    seconds : float
        Wall-clock time the family took.
    """

    score: float
    verdict: str
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _table_dict(table: pd.DataFrame) -> dict:
    return {
        "index": _jsonable(list(table.index)),
        "columns": _jsonable(list(table.columns)),
        "data": _jsonable(table.to_numpy(dtype=object).tolist()),
    }


def _fmt_count(n: int) -> str:
    return f"{n:,}"


class Report:
    """The result of :func:`genaug.metrics.evaluate`.

    Read it with :meth:`summary` (one screen), :meth:`to_frame` (every scalar with its
    definition), :meth:`to_dict` / :meth:`to_json` (everything, tables included), :meth:`plot`
    (matplotlib figures) or :meth:`to_html` (one self-contained file).

    Parameters
    ----------
    families : dict of str to FamilyResult
        The computed families.
    info : dict
        Row counts, columns, the seed, the subsampling cap, ``k`` and timings.
    notes : list of str
        What was skipped or subsampled, and why.
    plot_data : dict, optional
        Arrays the figures of :meth:`plot` are drawn from.

    Attributes
    ----------
    families : dict of str to FamilyResult
        The computed families, in the order of :data:`FAMILIES`.
    info : dict
        Row counts, columns, the seed, the subsampling cap, ``k`` and timings.
    notes : list of str
        What was skipped or subsampled, and why.
    """

    def __init__(
        self,
        families: dict[str, FamilyResult],
        info: dict[str, Any],
        notes: list[str],
        plot_data: dict[str, Any] | None = None,
    ) -> None:
        self.families = families
        self.info = info
        self.notes = notes
        self._plot_data = plot_data or {}

    # ------------------------------------------------------------------ access
    @property
    def scores(self) -> dict[str, float]:
        """Score of each computed family, in [0, 1] with 1 ideal."""
        return {name: fam.score for name, fam in self.families.items()}

    def __getitem__(self, name: str) -> float:
        """The value of the scalar metric ``name``, from whichever family computed it."""
        for fam in self.families.values():
            if name in fam.metrics:
                return fam.metrics[name]
        raise KeyError(f"No metric {name!r} in this report; see report.to_frame()['metric'].")

    def table(self, name: str) -> pd.DataFrame:
        """The table ``name`` (for example ``"class_coverage"`` or ``"utility"``).

        Parameters
        ----------
        name : str
            A table of one of the report's families.

        Returns
        -------
        DataFrame

        Raises
        ------
        KeyError
            If no family has that table; the message lists those it has.
        """
        for fam in self.families.values():
            if name in fam.tables:
                return fam.tables[name]
        known = [t for fam in self.families.values() for t in fam.tables]
        raise KeyError(f"No table {name!r} in this report; it has {known}.")

    # ----------------------------------------------------------------- summary
    def _missing_line(self) -> list[str]:
        lines = []
        div = self.families.get("diversity")
        if div is None:
            return lines
        classes = div.tables.get("class_coverage")
        if classes is not None and classes["missing"].any():
            names = ", ".join(repr(c) for c in classes.index[classes["missing"].to_numpy(bool)])
            if classes["n_synthetic"].notna().all():
                lines.append(f"Missing classes (no synthetic rows): {names}")
            else:
                lines.append(f"Classes no synthetic row covers: {names}")
        cats = div.tables.get("category_coverage")
        if cats is not None and len(cats) and cats["missing"].any():
            gone = cats[cats["missing"].to_numpy(bool)]
            shown = ", ".join(
                f"{c}={v!r}" for c, v in zip(gone["column"][:4], gone["category"][:4])
            )
            more = f" (+{len(gone) - 4} more)" if len(gone) > 4 else ""
            lines.append(f"Categories never generated: {shown}{more}")
        return lines

    def _summary_text(self) -> str:
        info = self.info
        head = [
            "genaug evaluation report",
            f"  real_train {_fmt_count(info['n_real'])} rows x {info['n_columns']} columns; "
            f"synthetic {_fmt_count(info['n_synthetic'])} rows"
            + (
                f"; real_holdout {_fmt_count(info['n_holdout'])} rows"
                if info.get("n_holdout")
                else ""
            ),
            f"  k-NN metrics and detection use seeded subsamples of at most "
            f"{_fmt_count(info['max_rows'])} rows per table (random_state={info['random_state']})",
            "",
            f"  {'family':<10} {'score':>5}  verdict",
        ]
        indent = " " * 20
        body = []
        for name, fam in self.families.items():
            score = "  n/a" if not math.isfinite(fam.score) else f"{fam.score:5.2f}"
            body.append(
                textwrap.fill(
                    f"  {name:<10} {score}  {fam.verdict}",
                    width=100,
                    subsequent_indent=indent,
                    break_on_hyphens=False,
                )
            )
        tail = [""] if self._missing_line() or self.notes else []
        tail += [
            textwrap.fill(line, width=100, initial_indent="  ", subsequent_indent="    ")
            for line in self._missing_line()
        ]
        tail += [
            textwrap.fill(f"Note: {n}", width=100, initial_indent="  ", subsequent_indent="    ")
            for n in self.notes
        ]
        return "\n".join(head + body + tail)

    def summary(self, file: TextIO | None = None) -> None:
        """Print one screen: a score per family with a plain-words verdict.

        Each score lies in [0, 1] with 1 ideal; the verdict gives the level ("good", "fair",
        "poor") and the numbers behind it. Missing classes and categories are named. The text
        is also ``str(report)``.

        Parameters
        ----------
        file : text stream, optional
            Where to write; standard output by default.
        """
        print(self._summary_text(), file=file if file is not None else sys.stdout)

    def __str__(self) -> str:
        return self._summary_text()

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={f.score:.2f}" for n, f in self.families.items())
        return f"<genaug Report: {parts}>"

    # ---------------------------------------------------------- serialisation
    def to_frame(self) -> pd.DataFrame:
        """Every scalar metric, one row each, with its ideal value and definition.

        Returns
        -------
        DataFrame
            Columns ``family``, ``metric``, ``value``, ``ideal`` and ``definition``; each
            family's ``score`` comes first.
        """
        rows = []
        for name, fam in self.families.items():
            rows.append(
                {
                    "family": name,
                    "metric": "score",
                    "value": fam.score,
                    "ideal": "1",
                    "definition": f"Family score: {_SCORE_DEFINITIONS[name]}.",
                }
            )
            for metric, value in fam.metrics.items():
                ideal, definition = METRIC_DEFINITIONS.get(metric, ("", ""))
                rows.append(
                    {
                        "family": name,
                        "metric": metric,
                        "value": float(value),
                        "ideal": ideal,
                        "definition": definition,
                    }
                )
        return pd.DataFrame(rows, columns=["family", "metric", "value", "ideal", "definition"])

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as plain JSON types (NaN as ``None``).

        Returns
        -------
        dict
            ``genaug_version``, ``info``, ``notes``, and ``families``: per family its
            ``score``, ``score_definition``, ``verdict``, ``seconds``, ``metrics`` (name to
            ``{"value", "ideal", "definition"}``) and ``tables`` (name to ``{"index", "columns",
            "data"}``).
        """
        families = {}
        for name, fam in self.families.items():
            families[name] = {
                "score": fam.score,
                "score_definition": _SCORE_DEFINITIONS[name],
                "verdict": fam.verdict,
                "seconds": fam.seconds,
                "metrics": {
                    m: {
                        "value": v,
                        "ideal": METRIC_DEFINITIONS.get(m, ("", ""))[0],
                        "definition": METRIC_DEFINITIONS.get(m, ("", ""))[1],
                    }
                    for m, v in fam.metrics.items()
                },
                "tables": {t: _table_dict(tab) for t, tab in fam.tables.items()},
            }
        return _jsonable(
            {
                "genaug_version": __version__,
                "info": self.info,
                "notes": self.notes,
                "families": families,
            }
        )

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (a reader never sees half a file).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        Path
            The path written.
        """
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
        return atomic_write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # ----------------------------------------------------------------- figures
    def plot(self) -> dict[str, Any]:
        """Draw the report's figures with matplotlib.

        Returns
        -------
        dict of str to matplotlib.figure.Figure
            Those that apply: ``"marginals"`` (real vs synthetic distribution of the columns
            that differ most), ``"correlation_difference"`` (heatmaps of the pairwise
            dependency differences), ``"class_coverage"`` (shares and coverage per class,
            missing classes in red) and ``"privacy_distances"`` (distance to the closest
            training row, synthetic vs holdout).

        Raises
        ------
        ImportError
            If matplotlib is not installed (``pip install genaug[plot]``).
        """
        _plots.figure_class()
        figures: dict[str, Any] = {}
        data = self._plot_data
        fid = self.families.get("fidelity")
        if fid is not None and "real" in data:
            columns = fid.tables["column_fidelity"]
            order = list(columns.sort_values("value", ascending=False, kind="stable").index)
            stats = {c: (columns.at[c, "statistic"], columns.at[c, "value"]) for c in order}
            figures["marginals"] = _plots.marginals(
                data["real"], data["synthetic"], data["kinds"], order, stats
            )
            figures["correlation_difference"] = _plots.correlation_heatmaps(
                fid.tables.get("correlation_difference"), fid.tables.get("cramers_v_difference")
            )
        div = self.families.get("diversity")
        if div is not None and "class_coverage" in div.tables:
            figures["class_coverage"] = _plots.class_coverage(div.tables["class_coverage"])
        if "dcr_synthetic" in data:
            figures["privacy_distances"] = _plots.distance_histograms(
                data["dcr_synthetic"], data.get("dcr_holdout")
            )
        return figures

    # -------------------------------------------------------------------- html
    def to_html(self, path: str | os.PathLike, *, figures: bool | None = None) -> Path:
        """Write the report as one self-contained HTML file, figures embedded as PNG.

        Parameters
        ----------
        path : str or path-like
        figures : bool or None, default=None
            Embed the figures: ``None`` does so when matplotlib is installed (and says in the
            file when it is not); ``True`` requires matplotlib.

        Returns
        -------
        Path
            The path written (atomically).

        Raises
        ------
        ImportError
            If ``figures=True`` and matplotlib is not installed.
        """
        images: dict[str, str] = {}
        note = ""
        if figures or figures is None:
            try:
                drawn = self.plot()
            except ImportError:
                if figures:
                    raise
                drawn = {}
                note = "Figures omitted: matplotlib is not installed (pip install genaug[plot])."
            for name, fig in drawn.items():
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=90)
                images[name] = base64.b64encode(buf.getvalue()).decode("ascii")
        text = _render_html(self, images, note)
        return atomic_write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:last-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
"""

_TABLE_TITLES = {
    "column_fidelity": "Per-column fidelity",
    "class_coverage": "Per-class coverage",
    "category_coverage": "Categories never generated",
    "utility": "Utility on the real holdout",
}


def _render_html(report: Report, images: dict[str, str], note: str) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>genaug evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>genaug evaluation report</h1>",
        f"<pre>{esc(report._summary_text())}</pre>",
        "<h2>Metrics</h2>",
        report.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="n/a"),
    ]
    if images or note:
        parts.append("<h2>Figures</h2>")
    if note:
        parts.append(f"<p>{esc(note)}</p>")
    for name, data in images.items():
        parts.append(
            f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(name.replace('_', ' '))}</figcaption></figure>"
        )
    for fam in report.families.values():
        for name, table in fam.tables.items():
            if name not in _TABLE_TITLES:
                continue
            if name == "category_coverage":
                table = table[table["missing"].to_numpy(bool)]
                if table.empty:
                    continue
            parts.append(f"<h2>{esc(_TABLE_TITLES[name])}</h2>")
            parts.append(table.to_html(float_format=lambda v: f"{v:.4f}", na_rep="n/a"))
    parts.append(
        f"<p><small>genaug {esc(__version__)}; random_state="
        f"{esc(str(report.info.get('random_state')))}</small></p></body></html>"
    )
    return "\n".join(parts)
