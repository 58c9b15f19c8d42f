"""``evaluate``: every metric family on one set of tables, into one :class:`Report`."""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from genaug._random import derive_seed, resolve_seed
from genaug.exceptions import InvalidParameterError
from genaug.metrics import _encoding as enc
from genaug.metrics._neighbors import nearest
from genaug.metrics.detection import _detection
from genaug.metrics.diversity import _category_coverage, _class_coverage_from, _manifold
from genaug.metrics.fidelity import (
    _column_fidelity,
    _correlation_difference,
    _pairwise_categorical,
)
from genaug.metrics.privacy import _copy_mask, _holdout_privacy, _nndr
from genaug.metrics.report import FAMILIES, FamilyResult, Report
from genaug.metrics.utility import UTILITY_METRICS, _utility, macro_f1_gain_interval

# (good, fair) thresholds of each family's score; below "fair" is "poor". Fidelity scores
# crowd near 1 (a mean KS of 0.1 is already a visible mismatch), hence its higher bar.
_LEVELS = {
    "fidelity": (0.93, 0.85),
    "diversity": (0.8, 0.6),
    "detection": (0.8, 0.5),
    "privacy": (0.9, 0.7),
    "utility": (0.9, 0.75),
}
# A column this far off (KS or TVD) is visible in a plot, whatever the average says.
_WORST_COLUMN = 0.25
# Likewise a pair of columns whose dependency (Spearman's rho, or Cramer's V) is this far off:
# most pairs of a table are nearly independent, so the average hides a broken strong pair
# (a table whose columns were shuffled one by one averaged 'good').
_WORST_PAIR = 0.25
# Rows of each table kept in the report for drawing the marginals.
_PLOT_ROWS = 5_000
# Copied training rows are the plainest privacy failure: 5 % more copies than a fresh real
# sample shows already halves the privacy score, like a DCR share of 0.75 does.
_COPY_WEIGHT = 10.0
# A synthetic row this close to a training row (relative to the real rows' RMS distance from
# their mean) in the k-NN space is a copy that exact comparison misses: the same row rounded to
# float32, say. The encoding is float32, so such rows sit within a few of its roundings; on a
# fresh real sample of 10,000 rows of one numeric column, 0.2 % of rows come this close.
_NEAR_COPY = 3e-7
# Change in a utility score below which augmentation is said to make no measurable difference,
# whatever the bootstrap interval of the gain says.
_GAIN_TOL = 0.005
# A change in ROC-AUC or PR-AUC from augmenting that the utility verdict names (they rank;
# macro-F1 counts at one threshold and can stay put while the ranking falls apart).
_RANKING_MOVE = 0.05


def _level(family: str, score: float) -> str:
    if not np.isfinite(score):
        return "n/a"
    good, fair = _LEVELS[family]
    return "good" if score >= good else "fair" if score >= fair else "poor"


def _resolve_families(metrics: Any) -> tuple[list[str], bool]:
    """The families asked for, and whether utility was asked for by name."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)) or not metrics:
        raise InvalidParameterError(
            f"metrics must be 'all', a family name or a list of family names; got {metrics!r}."
        )
    names = set()
    for name in metrics:
        if name == "all":
            names.update(FAMILIES)
            continue
        if name not in FAMILIES:
            close = difflib.get_close_matches(str(name), FAMILIES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidParameterError(
                f"Unknown metric family {name!r} in metrics; choose from "
                f"{', '.join(map(repr, FAMILIES))} or 'all'.{hint}"
            )
        names.add(name)
    explicit_utility = "utility" in metrics
    return [f for f in FAMILIES if f in names], explicit_utility


def _nanmean(values: Any) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _upper(matrix: pd.DataFrame) -> np.ndarray:
    values = matrix.to_numpy(dtype=float)
    return values[np.triu_indices(values.shape[0], k=1)]


def _worst_pair(matrix: pd.DataFrame) -> tuple[float, tuple[Any, Any] | None]:
    """The largest entry above the diagonal and its pair of names (NaN and None if none)."""
    values = matrix.to_numpy(dtype=float)
    rows, cols = np.triu_indices(values.shape[0], k=1)
    upper = values[rows, cols]
    if not upper.size or np.isnan(upper).all():
        return float("nan"), None
    i = int(np.nanargmax(upper))
    return float(upper[i]), (matrix.index[rows[i]], matrix.columns[cols[i]])


def _fidelity(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict) -> FamilyResult:
    columns = _column_fidelity(real, synth, kinds)
    corr = _correlation_difference(real, synth, kinds)
    cramer, contingency = _pairwise_categorical(real, synth, kinds)
    is_ks = columns["statistic"] == "ks"
    ks, tvd = columns.loc[is_ks, "value"], columns.loc[~is_ks, "value"]
    corr_pairs, v_pairs = _upper(corr), _upper(cramer)
    metrics = {
        "ks_mean": _nanmean(ks),
        "ks_max": float(ks.max()) if len(ks) else np.nan,
        "tvd_mean": _nanmean(tvd),
        "tvd_max": float(tvd.max()) if len(tvd) else np.nan,
        "missing_gap_max": float(columns["missing_gap"].max()),
        "correlation_difference_mean": _nanmean(corr_pairs),
        "cramers_v_difference_mean": _nanmean(v_pairs),
        "contingency_difference_mean": _nanmean(_upper(contingency)),
        "column_score": 1.0 - _nanmean(columns["value"]),
        # rho ranges over [-1, 1], so its differences are halved to share V's [0, 1] scale.
        "pair_score": 1.0 - _nanmean(np.concatenate([corr_pairs / 2.0, v_pairs])),
    }
    score = _nanmean([metrics["column_score"], metrics["pair_score"]])
    worst = columns["value"].idxmax()
    pairs = [(*_worst_pair(corr), "Spearman rho"), (*_worst_pair(cramer), "Cramer's V")]
    pairs = [p for p in pairs if p[1] is not None]
    worst_pair = max(pairs, key=lambda p: p[0]) if pairs else None
    metrics["pair_difference_max"] = worst_pair[0] if worst_pair else np.nan
    level = _level("fidelity", score)
    if level == "good" and (
        columns.at[worst, "value"] > _WORST_COLUMN
        or (worst_pair is not None and worst_pair[0] > _WORST_PAIR)
    ):
        level = "fair"
    verdict = (
        f"{level}: mean marginal distance {1 - metrics['column_score']:.3f}, "
        f"worst column {worst!r} ({columns.at[worst, 'statistic'].upper()} "
        f"{columns.at[worst, 'value']:.2f})"
    )
    if worst_pair is not None:
        means = [
            f"{name} by {value:.3f}"
            for name, value in (
                ("Spearman rho", metrics["correlation_difference_mean"]),
                ("Cramer's V", metrics["cramers_v_difference_mean"]),
            )
            if np.isfinite(value)
        ]
        value, (a, b), name = worst_pair
        verdict += (
            f"; pairwise dependencies off on average ({', '.join(means)}), worst pair "
            f"{a!r} x {b!r} ({name} off by {value:.2f})"
        )
    if metrics["missing_gap_max"] > 0.05:
        gap_col = columns["missing_gap"].idxmax()
        verdict += f"; missing rate of {gap_col!r} off by {metrics['missing_gap_max']:.2f}"
    tables = {"column_fidelity": columns, "correlation_difference": corr}
    tables.update(cramers_v_difference=cramer, contingency_difference=contingency)
    return FamilyResult(score, verdict, metrics, tables)


def _diversity(
    real_z: np.ndarray,
    synth_z: np.ndarray,
    y_real: np.ndarray | None,
    y_synth: np.ndarray | None,
    idx_r: np.ndarray,
    idx_s: np.ndarray,
    k: int,
    categories: pd.DataFrame,
) -> FamilyResult:
    tables: dict[str, pd.DataFrame] = {}
    if y_real is not None:
        m, classes = _class_coverage_from(real_z, synth_z, y_real, y_synth, idx_r, idx_s, k)
        tables["class_coverage"] = classes
    else:
        m = _manifold(real_z, synth_z, k)
    metrics = {
        "precision": m.precision,
        "recall": m.recall,
        "density": m.density,
        "coverage": m.coverage,
    }
    parts = [m.precision, m.recall, m.coverage]
    missing_classes: list = []
    if y_real is not None:
        real_classes = classes[classes["n_real"] > 0]
        metrics["class_coverage_min"] = float(real_classes["coverage"].min())
        missing_classes = list(real_classes.index[real_classes["missing"].to_numpy(bool)])
        metrics["missing_classes"] = float(len(missing_classes))
        parts.append(metrics["class_coverage_min"])
    if len(categories):
        seen = categories[categories["n_real"] > 0]
        metrics["category_coverage"] = float(1.0 - seen["missing"].mean())
        metrics["missing_categories"] = float(seen["missing"].sum())
        tables["category_coverage"] = categories
    score = _nanmean(parts)
    level = _level("diversity", score)
    if missing_classes:
        level = "poor"
    verdict = f"{level}: "
    if missing_classes:
        # Without synthetic labels a class counts as missing when no synthetic row covers it.
        what = "missing classes" if y_synth is not None else "classes not covered"
        verdict += f"{what} " + ", ".join(repr(c) for c in missing_classes) + "; "
    verdict += (
        f"precision {m.precision:.2f}, recall {m.recall:.2f}, coverage {m.coverage:.2f}, "
        f"density {m.density:.2f}"
    )
    if not missing_classes and "class_coverage_min" in metrics:
        worst = real_classes["coverage"].idxmin()
        verdict += f"; least covered class {worst!r} ({metrics['class_coverage_min']:.2f})"
    n_gone = int(metrics.get("missing_categories", 0))
    if n_gone:
        verdict += f"; {n_gone} real {'category' if n_gone == 1 else 'categories'} never generated"
    return FamilyResult(score, verdict, metrics, tables)


def _detection_family(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict, max_rows: int, rng: np.random.Generator
) -> FamilyResult:
    result = _detection(real, synth, kinds, 3, max_rows, rng)
    metrics = {
        "detection_auc": result.auc,
        "detection_auc_std": float(np.std(result.fold_aucs)) if result.fold_aucs else np.nan,
    }
    level = _level("detection", result.score)
    how = {"good": "barely", "fair": "partly", "poor": "easily"}.get(level, "")
    verdict = (
        f"{level}: a classifier {how} tells synthetic from real rows "
        f"(ROC-AUC {result.auc:.3f}; 0.5 is ideal)"
    )
    return FamilyResult(result.score, verdict, metrics)


def _inside_range(reference: pd.DataFrame, table: pd.DataFrame, kinds: dict) -> np.ndarray:
    """Rows of ``table`` whose numeric and datetime values (missing ones aside) lie within the
    range of ``reference``'s, up to 1e-6 of its width."""
    inside = np.ones(len(table), dtype=bool)
    for name, kind in kinds.items():
        if kind == enc.CATEGORICAL:
            continue
        ref = enc.numeric_values(reference[name])
        if np.isnan(ref).all():
            continue
        lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
        # Of the width, not the magnitude: for datetimes (~1.7e18 ns) or unix seconds that
        # would be half an hour whatever the data's span. But float32 values (and a constant
        # column, of zero width) also get float32's rounding of the bound.
        tol = 1e-6 * (hi - lo)
        if kind != enc.DATETIME and (hi == lo or table[name].dtype == np.float32):
            tol = max(tol, 2.0**-23 * max(abs(lo), abs(hi)))
        values = enc.numeric_values(table[name])
        inside &= ~((values < lo - tol) | (values > hi + tol))  # NaN compares False
    return inside


def _privacy(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    holdout: pd.DataFrame | None,
    kinds: dict,
    real_z: np.ndarray,
    synth_z: np.ndarray,
    holdout_z: np.ndarray | None,
    rng: np.random.Generator,
    plot_data: dict,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray | None],
) -> FamilyResult:
    copies = _copy_mask(real, synth, kinds)
    d_synth = nearest(synth_z, real_z, 2)
    spread = float(np.sqrt(np.mean(np.sum((real_z - real_z.mean(axis=0)) ** 2, axis=1))))
    near_tol = _NEAR_COPY * spread
    idx_r, idx_s, idx_h = rows
    reference = real.iloc[idx_r]
    # The encoding clips values to the real rows' range: different values beyond it meet at
    # the range's end, distance 0, without copying anything. A near-copy lies inside it.
    inside = _inside_range(reference, synth.iloc[idx_s], kinds)
    metrics = {
        "exact_copies": float(copies.sum()),
        "exact_copy_rate": float(copies.mean()),
        "near_copy_rate": float(np.mean((d_synth[:, 0] <= near_tol) & inside)),
        "dcr_synthetic_p05": float(np.quantile(d_synth[:, 0], 0.05)),
        "dcr_synthetic_median": float(np.median(d_synth[:, 0])),
        "nndr_synthetic_median": float(np.median(_nndr(d_synth))),
    }
    plot_data["dcr_synthetic"] = d_synth[:, 0]
    near = metrics["near_copy_rate"]
    # Exact copies are counted on every row, near-copies (copies included) on the subsample.
    excess = [_COPY_WEIGHT * max(metrics["exact_copy_rate"], near)]
    near_text = f"; {near:.1%} are copies or near-copies (distance ~0 to one)"
    if holdout is not None and holdout_z is not None:
        base = float(_copy_mask(real, holdout, kinds).mean())
        d_hold = nearest(holdout_z, real_z, 2)
        inside_h = _inside_range(reference, holdout.iloc[idx_h], kinds)
        base_near = float(np.mean((d_hold[:, 0] <= near_tol) & inside_h))
        plot_data["dcr_holdout"] = d_hold[:, 0]
        hp = _holdout_privacy(real_z, synth_z, holdout_z, rng)
        metrics.update(
            holdout_exact_copy_rate=base,
            holdout_near_copy_rate=base_near,
            dcr_holdout_p05=float(np.quantile(d_hold[:, 0], 0.05)),
            dcr_holdout_median=float(np.median(d_hold[:, 0])),
            nndr_holdout_median=float(np.median(_nndr(d_hold))),
            dcr_share=hp.dcr_share,
            membership_inference_auc=hp.mia_auc,
            far_from_real_rate=hp.far,
        )
        # Each quantity is compared with what a fresh real sample shows, so that the natural
        # duplicates of a table (Adult has many) are not held against the generator.
        excess = [
            _COPY_WEIGHT * max(0.0, metrics["exact_copy_rate"] - base, near - base_near),
            2.0 * max(0.0, hp.dcr_share - 0.5),
            2.0 * max(0.0, hp.mia_auc - 0.5),
        ]
        near_text = near_text[:-1] + f"; holdout: {base_near:.1%})"
        verdict_tail = (
            f"; DCR share {hp.dcr_share:.2f} and membership-inference AUC {hp.mia_auc:.2f} "
            "(0.5 is ideal)"
        )
        if hp.far >= 0.05:
            verdict_tail += (
                f"; {hp.far:.0%} of synthetic rows lie far from every real row (farther than "
                "holdout rows lie) and count as ties"
            )
        exact_tail = f" (holdout: {base:.1%})"
    else:
        verdict_tail = "; pass real_holdout for DCR share and membership inference"
        exact_tail = ""
    score = float(np.clip(1.0 - max(excess), 0.0, 1.0))
    verdict = (
        f"{_level('privacy', score)}: {int(metrics['exact_copies']):,} synthetic rows "
        f"({metrics['exact_copy_rate']:.1%}) copy a training row{exact_tail}"
    )
    if near > metrics["exact_copy_rate"]:
        verdict += near_text
    verdict += verdict_tail
    return FamilyResult(score, verdict, metrics)


def _utility_family(
    real, y_real, synth, y_synth, holdout, y_holdout, kinds, estimator, rng
) -> FamilyResult:
    preds: dict = {}
    table = _utility(
        real, y_real, synth, y_synth, holdout, y_holdout, kinds, estimator, rng, keep=preds
    )
    metrics = {
        f"{row}_{m}": float(table.at[row, m]) for row in table.index for m in UTILITY_METRICS
    }
    low = high = np.nan
    if preds["train_real"] is not None and preds["train_augmented"] is not None:
        low, high = macro_f1_gain_interval(
            np.asarray(y_holdout, dtype=object),
            preds["train_real"],
            preds["train_augmented"],
            rng,
        )
    metrics.update(gain_augmented_macro_f1_low=low, gain_augmented_macro_f1_high=high)
    base, synth_f1 = table.at["train_real", "macro_f1"], table.at["train_synthetic", "macro_f1"]
    aug, gain = table.at["train_augmented", "macro_f1"], table.at["gain_augmented", "macro_f1"]
    if not np.isfinite(synth_f1):
        # No classifier can be trained on synthetic rows of one class (a rebalancing adds
        # rows of the rare class only): TSTR does not exist, and the score with it; what
        # the rows add to the real ones is still measured below.
        score = np.nan
        alone = "no classifier can be trained on the synthetic rows alone (one class)"
    else:
        score = float(np.clip(synth_f1 / base, 0.0, 1.0)) if base > 0 else np.nan
        alone = (
            f"trained on synthetic rows alone, holdout macro-F1 {synth_f1:.3f} against "
            f"{base:.3f} on real rows (TSTR/TRTR {score:.2f})"
        )
    if not np.isfinite(gain):
        effect = "the augmented model could not be trained"
    else:
        # A gain counts only where resampling the holdout rows cannot explain it: on 400
        # rows a copy of the training rows or a table of noise 'helped' by +0.01 to +0.02.
        effect = (
            "raises macro-F1"
            if gain > _GAIN_TOL and low > 0
            else "lowers macro-F1"
            if gain < -_GAIN_TOL and high < 0
            else "changes macro-F1 by no more than resampling this holdout could"
        )
        interval = (
            f"95% interval over holdout resamples {low:+.3f} to {high:+.3f}"
            if np.isfinite(low)
            else "no interval: too few holdout rows"
        )
        effect = (
            f"adding them to the real rows {effect} ({base:.3f} -> {aug:.3f}, "
            f"{gain:+.3f}; {interval})"
        )
        # The ranking scores can move where macro-F1 (at the default threshold) does not.
        moves = [
            f"{name} {table.at['train_real', m]:.3f} -> {table.at['train_augmented', m]:.3f}"
            for m, name in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"))
            if abs(table.at["gain_augmented", m]) > _RANKING_MOVE
        ]
        if moves:
            effect += f"; {' and '.join(moves)}"
    verdict = f"{_level('utility', score)}: {alone}; {effect}"
    return FamilyResult(score, verdict, metrics, {"utility": table})


def evaluate(
    real_train: Any,
    synthetic: Any,
    real_holdout: Any = None,
    y_real: Any = None,
    y_synthetic: Any = None,
    y_holdout: Any = None,
    metrics: str | Sequence[str] = "all",
    random_state: Any = 0,
    max_rows: int = enc.DEFAULT_MAX_ROWS,
    *,
    k: int = 5,
    features: bool = False,
    discrete_columns: Sequence[Any] | None = None,
    estimator: Any = None,
) -> Report:
    """Measure synthetic data against real data: fidelity, diversity, detection, privacy, utility.

    Parameters
    ----------
    real_train : DataFrame or array-like of shape (n_real, n_columns)
        The real rows the generator was trained on. Mixed types and missing values are allowed.
    synthetic : DataFrame or array-like of shape (n_synthetic, n_columns)
        The generated rows, with the same columns (an array takes ``real_train``'s names).
    real_holdout : DataFrame or array-like, optional
        Real rows the generator never saw. Needed by the holdout-based privacy metrics and by
        utility.
    y_real, y_synthetic, y_holdout : array-like, optional
        Class labels of the three tables. ``y_real`` enables per-class coverage; with
        ``y_synthetic`` it is computed within each class and missing classes are named;
        utility needs all three.
    metrics : "all", a family name, or a list of them, default="all"
        Families among ``"fidelity"``, ``"diversity"``, ``"detection"``, ``"privacy"`` and
        ``"utility"``. ``"all"`` skips utility (with a note) when its inputs are missing.
    random_state : int, numpy Generator or None, default=0
        Seed of every subsample, fold and model; the same seed gives the same report.
    max_rows : int, default=10_000
        Cap on the rows per table used by the k-NN metrics (diversity, privacy distances) and by
        detection: larger tables are replaced by a seeded uniform subsample. Fidelity, the
        exact-copy counts, the category counts and utility use every row.
    k : int, default=5
        Neighbourhood size of the k-NN metrics.
    features : bool, default=False
        Take the tables as pre-computed numeric features (e.g. image embeddings) and measure
        k-NN distances in them as they are, instead of in genaug's encoded space.
    discrete_columns : sequence of column names, optional
        Numeric columns to treat as categories.
    estimator : scikit-learn classifier, optional
        The utility model (see :func:`genaug.metrics.utility_scores`); by default gradient
        boosting.

    Returns
    -------
    Report
        Call ``summary()``, ``to_frame()``, ``to_dict()``, ``to_json(path)``, ``plot()`` or
        ``to_html(path)``.

    Raises
    ------
    InvalidParameterError
        For an unknown family name (the message names it and suggests the closest), a bad
        ``k`` or ``max_rows``, labels without their table, or ``"utility"`` asked for without
        its inputs.
    InvalidDataError
        For tables whose columns differ (the message names the missing and extra columns),
        columns of different kinds, or labels of the wrong length.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from genaug.metrics import evaluate
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(size=600), "c": rng.choice(["a", "b"], 600)})
    >>> report = evaluate(real[:300], real[300:], metrics=["fidelity", "detection"])
    >>> sorted(report.scores)
    ['detection', 'fidelity']
    """
    families, explicit_utility = _resolve_families(metrics)
    enc.check_params(
        "evaluate",
        k=k,
        features=features,
        max_rows=max_rows,
        random_state=random_state,
        discrete_columns=discrete_columns,
        estimator=estimator,
    )
    if y_holdout is not None and real_holdout is None:
        raise InvalidParameterError("y_holdout was given without real_holdout.")
    if y_synthetic is not None and y_real is None:
        raise InvalidParameterError(
            "y_synthetic was given without y_real; per-class metrics need the real labels too."
        )
    others = {"synthetic": synthetic}
    if real_holdout is not None:
        others["real_holdout"] = real_holdout
    real, frames = enc.prepare_tables(real_train, others, real_argument="real_train")
    synth, holdout = frames["synthetic"], frames.get("real_holdout")
    kinds = enc.column_kinds(real, list(frames.values()), list(frames), discrete_columns)
    yr = None if y_real is None else enc.check_labels(y_real, len(real), "y_real")
    ys = None if y_synthetic is None else enc.check_labels(y_synthetic, len(synth), "y_synthetic")
    yh = None
    if y_holdout is not None and holdout is not None:
        yh = enc.check_labels(y_holdout, len(holdout), "y_holdout")

    notes: list[str] = []
    if "utility" in families:
        lacking = [
            n
            for n, v in (
                ("real_holdout", holdout),
                ("y_real", yr),
                ("y_synthetic", ys),
                ("y_holdout", yh),
            )
            if v is None
        ]
        if lacking and explicit_utility:
            raise InvalidParameterError(
                f"metrics asks for 'utility', which needs {', '.join(lacking)}; pass them or "
                "leave 'utility' out."
            )
        if lacking:
            families.remove("utility")
            notes.append(f"utility skipped: it needs {', '.join(lacking)}.")

    seed = resolve_seed(random_state)
    rngs = {f: np.random.default_rng(derive_seed(seed, i)) for i, f in enumerate(FAMILIES)}
    results: dict[str, FamilyResult] = {}
    plot_data: dict[str, Any] = {"kinds": kinds}
    timer = time.perf_counter

    if "fidelity" in families:
        start = timer()
        results["fidelity"] = _fidelity(real, synth, kinds)
        plot_rng = np.random.default_rng(derive_seed(seed, len(FAMILIES)))
        plot_data["real"] = real.iloc[enc.subsample(len(real), _PLOT_ROWS, plot_rng)]
        plot_data["synthetic"] = synth.iloc[enc.subsample(len(synth), _PLOT_ROWS, plot_rng)]
        results["fidelity"].seconds = timer() - start

    space_start = timer()
    space = None
    if "diversity" in families or "privacy" in families:
        # One subsample and one encoding serve both k-NN families.
        space_rng = np.random.default_rng(derive_seed(seed, len(FAMILIES) + 1))
        idx_r = enc.subsample(len(real), max_rows, space_rng)
        idx_s = enc.subsample(len(synth), max_rows, space_rng)
        parts = [synth.iloc[idx_s]]
        names = ["synthetic"]
        idx_h = None
        if holdout is not None:
            idx_h = enc.subsample(len(holdout), max_rows, space_rng)
            parts.append(holdout.iloc[idx_h])
            names.append("real_holdout")
        real_z, zs = enc.encode(
            real.iloc[idx_r],
            parts,
            features=features,
            discrete_columns=discrete_columns,
            others_names=names,
        )
        space = (real_z, zs[0], zs[1] if holdout is not None else None, idx_r, idx_s, idx_h)
    space_seconds = timer() - space_start

    if "diversity" in families:
        start = timer()
        real_z, synth_z, _, idx_r, idx_s, _ = space
        results["diversity"] = _diversity(
            real_z, synth_z, yr, ys, idx_r, idx_s, k, _category_coverage(real, synth, kinds)
        )
        results["diversity"].seconds = timer() - start + space_seconds

    if "detection" in families:
        start = timer()
        results["detection"] = _detection_family(real, synth, kinds, max_rows, rngs["detection"])
        results["detection"].seconds = timer() - start

    if "privacy" in families:
        start = timer()
        real_z, synth_z, hold_z, idx_r, idx_s, idx_h = space
        results["privacy"] = _privacy(
            real,
            synth,
            holdout,
            kinds,
            real_z,
            synth_z,
            hold_z,
            rngs["privacy"],
            plot_data,
            (idx_r, idx_s, idx_h),
        )
        results["privacy"].seconds = (
            timer() - start + (0.0 if "diversity" in families else space_seconds)
        )

    if "utility" in families:
        start = timer()
        results["utility"] = _utility_family(
            real, yr, synth, ys, holdout, yh, kinds, estimator, rngs["utility"]
        )
        results["utility"].seconds = timer() - start

    subsampled = [
        name
        for name, frame in (("real_train", real), ("synthetic", synth), ("real_holdout", holdout))
        if frame is not None and len(frame) > max_rows
    ]
    if subsampled and any(f in families for f in ("diversity", "privacy", "detection")):
        notes.append(
            f"{', '.join(subsampled)} subsampled to {max_rows:,} rows for the k-NN metrics and "
            "detection (seeded; raise max_rows for more)."
        )
    info = {
        "n_real": len(real),
        "n_synthetic": len(synth),
        "n_holdout": 0 if holdout is None else len(holdout),
        "n_columns": real.shape[1],
        "columns": [str(c) for c in real.columns],
        "column_kinds": {str(c): v for c, v in kinds.items()},
        "labels": yr is not None,
        "max_rows": max_rows,
        "k": k,
        "features": bool(features),
        "random_state": seed,
        "families": list(results),
        "seconds": {f: r.seconds for f, r in results.items()},
    }
    return Report(results, info, notes, plot_data)
