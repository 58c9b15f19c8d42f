"""Codec benchmark: fit/transform/inverse time on Adult, and the choice of continuous encoding.

1. Timing: median of 3 runs of ``TabularCodec.fit``, ``transform`` and ``inverse_transform`` on
   Adult's 32,561 training rows, for both continuous encodings.
2. Choice: a VAESynthesizer trained with each encoding (same seed, epochs and networks) on
   Adult's training rows; its samples are scored on UCI's held-out test rows by
   train-on-synthetic-test-on-real (gradient boosting; macro-F1 and ROC-AUC) and by a
   real-vs-synthetic detector (gradient boosting, 3-fold ROC-AUC; 0.5 is ideal).

    python benchmarks/codec.py            # writes benchmarks/results/codec.json and codec.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from genaug import VAESynthesizer
from genaug.bench._common import machine_description, markdown_table, write_json, write_text
from genaug.data import TabularCodec
from genaug.datasets import load_adult

RESULTS = Path(__file__).resolve().parent / "results"


def _hgb(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)


def _as_model_input(X: pd.DataFrame) -> pd.DataFrame:
    out = X.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("category")
    return out


def _aligned(train: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    out = _as_model_input(other)
    for c in train.columns:
        if isinstance(train[c].dtype, pd.CategoricalDtype):
            out[c] = pd.Categorical(out[c].astype(object), categories=train[c].cat.categories)
    return out


def time_codec(X: pd.DataFrame, encoding: str, repeats: int = 3) -> dict[str, float]:
    """Median seconds of fit, transform and inverse_transform."""
    fit, enc, dec = [], [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        codec = TabularCodec(continuous_encoding=encoding, random_state=r).fit(X)
        t1 = time.perf_counter()
        Z = codec.transform(X, random_state=r)
        t2 = time.perf_counter()
        codec.inverse_transform(Z)
        t3 = time.perf_counter()
        fit.append(t1 - t0)
        enc.append(t2 - t1)
        dec.append(t3 - t2)
    return {
        "fit_s": statistics.median(fit),
        "transform_s": statistics.median(enc),
        "inverse_s": statistics.median(dec),
        "width": codec.output_dim_,
    }


def detection_auc(real: pd.DataFrame, synth: pd.DataFrame, seed: int, n: int = 5000) -> float:
    """3-fold ROC-AUC of gradient boosting telling real rows from synthetic ones."""
    rng = np.random.default_rng(seed)
    r = real.iloc[rng.choice(len(real), min(n, len(real)), replace=False)]
    s = synth.iloc[rng.choice(len(synth), min(n, len(synth)), replace=False)]
    both = _as_model_input(pd.concat([r, s], ignore_index=True))
    label = np.r_[np.zeros(len(r)), np.ones(len(s))]
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    proba = cross_val_predict(_hgb(seed), both, label, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(label, proba))


def utility(X_fit, y_fit, X_test, y_test, seed: int) -> dict[str, float]:
    """Macro-F1 and ROC-AUC on the real test rows of gradient boosting fitted on X_fit."""
    X_fit = _as_model_input(X_fit)
    model = _hgb(seed).fit(X_fit, y_fit)
    X_test = _aligned(X_fit, X_test)
    proba = model.predict_proba(X_test)[:, list(model.classes_).index(">50K")]
    return {
        "macro_f1": float(f1_score(y_test, model.predict(X_test), average="macro")),
        "roc_auc": float(roc_auc_score(y_test == ">50K", proba)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    X, y = load_adult(return_X_y=True)
    X_test, y_test = load_adult("test", return_X_y=True)
    rows = []
    result = {"machine": machine_description(), "config": vars(args) | {"out": str(args.out)}}
    result["real"] = utility(X, y, X_test, y_test, args.seed)
    for encoding in ("quantile", "mode"):
        timing = time_codec(X, encoding)
        t0 = time.perf_counter()
        syn = VAESynthesizer(
            epochs=args.epochs, continuous_encoding=encoding, random_state=args.seed
        ).fit(X, y)
        fit_s = time.perf_counter() - t0
        X_s, y_s = syn.sample(len(X), random_state=args.seed)
        scores = utility(X_s, y_s, X_test, y_test, args.seed)
        det = detection_auc(X, X_s, args.seed)
        result[encoding] = {**timing, "vae_fit_s": fit_s, **scores, "detection_auc": det}
        rows.append(
            [
                encoding,
                f"{timing['fit_s']:.3f}",
                f"{timing['transform_s']:.3f}",
                f"{timing['inverse_s']:.3f}",
                timing["width"],
                f"{scores['macro_f1']:.3f}",
                f"{scores['roc_auc']:.3f}",
                f"{det:.3f}",
            ]
        )
        print(rows[-1], flush=True)
    header = [
        "encoding",
        "codec fit s",
        "transform s",
        "inverse s",
        "width",
        "TSTR macro-F1",
        "TSTR ROC-AUC",
        "detection AUC",
    ]
    real = result["real"]
    md = "\n".join(
        [
            "# Codec: timing on Adult and choice of continuous encoding",
            "",
            markdown_table(header, rows),
            f"Real data (train on real, test on real): macro-F1 {real['macro_f1']:.3f}, "
            f"ROC-AUC {real['roc_auc']:.3f}. Timings are medians of 3 runs on Adult's 32,561 "
            f"rows; VAE {args.epochs} epochs, seed {args.seed}; TSTR and detection with "
            "HistGradientBoostingClassifier (detection: 5,000 + 5,000 rows, 3-fold).",
            "",
            f"Machine: {result['machine']['cpu']}, {result['machine']['cpu_count']} CPUs, torch "
            f"threads {result['machine']['torch_threads']}. Command: `python benchmarks/codec.py`.",
            "",
        ]
    )
    write_json(args.out / "codec.json", result)
    write_text(args.out / "codec.md", md)
    print(md)


if __name__ == "__main__":
    main()
