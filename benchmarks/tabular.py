"""Tabular utility: does synthetic over-sampling help a classifier, honestly measured?

Every imbalanced table of ``../shared/data`` (see ``../shared/DATASETS.md``, binarised as listed
there), Adult, and three of scikit-learn's bundled sets made imbalanced in a stated, seeded way
(:func:`genaug.datasets.make_imbalanced` with seed ``DATA_SEED``). Each is scored with repeated
stratified k-fold cross-validation (the same splits for every method); every method sees the
training fold only, and the test fold is used for nothing but the scores. Two classifier
families are fitted on each training set: a logistic regression and gradient boosting
(``HistGradientBoostingClassifier``), both behind the same imputation, one-hot encoding and
scaling.

============ ===================================================================================
none         the classifier on the training fold as it is
balanced     the classifier with ``class_weight="balanced"``
threshold    ``TunedThresholdClassifierCV``: the decision threshold tuned for balanced accuracy
             by 3-fold CV inside the training fold
ros          imbalanced-learn's ``RandomOverSampler`` (duplicates minority rows)
smote        ``SMOTE``; ``SMOTENC`` with categorical columns, ``SMOTEN`` if all are categorical
             (after median / most-frequent imputation)
adasyn       ``ADASYN`` on the encoded features (after imputation, one-hot encoding, scaling:
             ADASYN has no variant for categorical columns)
vae          ``SyntheticAugmenter(VAESynthesizer)``: synthetic minority rows up to 1:1
gan          ``SyntheticAugmenter(GANSynthesizer)``
vaegan       ``SyntheticAugmenter(VAEGANSynthesizer)``
auto         ``AugmentedClassifier(classifier, SyntheticAugmenter(VAESynthesizer),
             validation="auto")``: on an inner split of the training fold it compares no
             augmentation with strengths 0.25, 0.5 and 1, scored by balanced accuracy
ctgan, tvae  ctgan's CTGAN (conditional on the label) and TVAE (fitted on the minority rows),
             sampling minority rows up to 1:1; only where ``ctgan`` is importable
============ ===================================================================================

Equal cost. ``--budget SECONDS`` caps the wall time of each synthetic resampling (fit plus
sampling) of one training fold. Before the first fold of a data set, each synthesizer is run
on that fold's training rows for 1 epoch and for 4, 16, 64, ... epochs until the longer run
takes a tenth of the budget more; the slope gives its seconds per epoch, the rest its fixed
cost, and every fold then trains for
``min(max_epochs, (budget - fixed cost) / seconds per epoch)`` epochs. The measured resampling
times are reported next to the budget. ``auto`` uses the VAE at that epoch count, so it costs
up to about 1.75 budgets (one fit on 75 % of the fold to choose, one on the whole fold).
``--epochs N`` fixes the epochs instead (no calibration).

Scores per fold: PR-AUC (average precision of the minority class), balanced accuracy,
macro-F1 and the Brier score (lower is better; it shows what resampling does to calibration).
The results give mean ± std over folds, ranks per data set (1 = best), and two paired
Wilcoxon signed-rank tests over (data set, classifier, metric) cells: the best genaug
synthesizer against SMOTE, and ``auto`` against ``none``.

Usage (from the repository root)::

    python benchmarks/tabular.py                         # every data set, 5x2 CV, budget 30 s
    python benchmarks/tabular.py --quick                 # 2 small data sets, < 3 min on 2 cores
    python benchmarks/tabular.py --datasets yeast_me2,adult --folds 2 --repeats 2 --budget 10
    genaug benchmark --suite tabular --budget 20 -- --datasets yeast_me2,adult

The full configuration costs about 7 budgets per data set and fold (three synthesizers, and
``auto`` for each classifier): with 12 data sets, 5x2 folds and 30 s, about 7 hours on a CPU.
Results go to ``benchmarks/results/tabular.json`` (every fold's scores, seeds, versions,
machine, wall times) and ``tabular.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from figures import try_draw  # benchmarks/figures.py, next to this script
from imblearn.over_sampling import ADASYN, SMOTE, SMOTEN, SMOTENC, RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from scipy.stats import wilcoxon
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
)
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    TunedThresholdClassifierCV,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from genaug import (
    AugmentedClassifier,
    GANSynthesizer,
    SyntheticAugmenter,
    VAEGANSynthesizer,
    VAESynthesizer,
)
from genaug.bench._common import (
    machine_description,
    markdown_table,
    write_json,
    write_text,
)
from genaug.datasets import load_breast_cancer, load_wine, make_imbalanced

SUITE = "tabular"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "benchmarks" / "results"
DATA_SEED = 0  # seed of make_imbalanced and of the row subsamples, fixed for every run

METRICS = ("pr_auc", "balanced_accuracy", "macro_f1", "brier")
LOWER_IS_BETTER = frozenset({"brier"})
METRIC_LABELS = {
    "pr_auc": "PR-AUC ↑",
    "balanced_accuracy": "bal. acc. ↑",
    "macro_f1": "macro-F1 ↑",
    "brier": "Brier ↓",
}
CLASSIFIERS = ("logreg", "hgb")
CLASSIFIER_TEXT = {
    "logreg": "LogisticRegression(max_iter=2000)",
    "hgb": "HistGradientBoostingClassifier(random_state=0)",
}
GENAUG_METHODS = ("vae", "gan", "vaegan")
CTGAN_METHODS = ("ctgan", "tvae")
SYNTHETIC_METHODS = GENAUG_METHODS + CTGAN_METHODS
ALL_METHODS = (
    "none",
    "balanced",
    "threshold",
    "ros",
    "smote",
    "adasyn",
    *GENAUG_METHODS,
    "auto",
    *CTGAN_METHODS,
)

# The full configuration, and the reduced one of --quick (< 3 minutes on 2 busy cores).
FULL = {
    "datasets": "all",
    "folds": 2,
    "repeats": 5,
    "budget": 30.0,
    "max_rows": 5000,
    "max_epochs": 1000,
}
QUICK = {
    "datasets": "yeast_me2,breast_cancer",
    "folds": 2,
    "repeats": 1,
    "budget": 4.0,
    "max_rows": 2000,
    "max_epochs": 1000,
}


# ---------------------------------------------------------------------------- data
@dataclass
class Dataset:
    """One binary problem: features, a 0/1 target (1 = the minority) and where it came from."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    categorical: list[str]
    source: str


def _categories(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical columns as pandas categories, so that every method sees them as such."""
    X = X.copy()
    for col in categorical:
        # String categories with NaN for missing values (pd.NA would break scikit-learn).
        X[col] = X[col].astype(str).where(X[col].notna()).astype("category")
    return X


def _text_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def _load_yeast(d: Path) -> Dataset:
    df = pd.read_csv(d / "yeast.csv")
    return Dataset("yeast_me2", df.drop(columns="class"), (df["class"] == "ME2").to_numpy(int),
                   [], "yeast.csv, class == 'ME2'")


def _load_thyroid(d: Path) -> Dataset:
    df = pd.read_csv(d / "thyroid_sick.csv.gz")
    # TBG is entirely missing and TBG_measured constant: no information.
    X = df.drop(columns=["Class", "TBG", "TBG_measured"])
    cat = _text_columns(X)
    return Dataset("thyroid_sick", _categories(X, cat), (df["Class"] == "sick").to_numpy(int),
                   cat, "thyroid_sick.csv.gz, Class == 'sick' (TBG, TBG_measured dropped)")


def _load_car(d: Path) -> Dataset:
    df = pd.read_csv(d / "car_evaluation.csv", dtype=str)
    X = df.drop(columns="class")
    y = df["class"].isin(["good", "vgood"]).to_numpy(int)
    return Dataset("car_eval_34", _categories(X, list(X.columns)), y, list(X.columns),
                   "car_evaluation.csv, class in {good, vgood}")


def _load_abalone(d: Path) -> Dataset:
    df = pd.read_csv(d / "abalone.csv")
    return Dataset("abalone", _categories(df.drop(columns="Rings"), ["Sex"]),
                   (df["Rings"] == 7).to_numpy(int), ["Sex"], "abalone.csv, Rings == 7")


def _load_wine_quality(d: Path) -> Dataset:
    df = pd.read_csv(d / "wine_quality_white.csv")
    return Dataset("wine_quality", df.drop(columns="quality"),
                   (df["quality"] <= 4).to_numpy(int), [], "wine_quality_white.csv, quality <= 4")


def _load_german(d: Path) -> Dataset:
    df = pd.read_csv(d / "german_credit.csv")
    X = df.drop(columns="class")
    cat = _text_columns(X)
    return Dataset("german_credit", _categories(X, cat), (df["class"] == "bad").to_numpy(int),
                   cat, "german_credit.csv, class == 'bad'")


def _load_shoppers(d: Path) -> Dataset:
    df = pd.read_csv(d / "online_shoppers_intention.csv.gz")
    X = df.drop(columns="Revenue")
    cat = ["Month", "VisitorType", "Weekend", "OperatingSystems", "Browser", "Region",
           "TrafficType"]
    y = df["Revenue"].astype(str).str.upper().eq("TRUE").to_numpy(int)
    return Dataset("online_shoppers", _categories(X, cat), y, cat,
                   "online_shoppers_intention.csv.gz, Revenue == True")


def _load_credit(d: Path) -> Dataset:
    df = pd.read_csv(d / "credit_card_default.csv.gz")
    target = "default.payment.next.month"
    cat = ["SEX", "EDUCATION", "MARRIAGE"]
    return Dataset("credit_card_default", _categories(df.drop(columns=target), cat),
                   df[target].to_numpy(int), cat, "credit_card_default.csv.gz, default == 1")


def _load_adult(d: Path) -> Dataset:
    df = pd.read_csv(d / "adult.csv.gz", skipinitialspace=True, na_values="?")
    X = df.drop(columns="income")
    cat = _text_columns(X)
    return Dataset("adult", _categories(X, cat), (df["income"] == ">50K").to_numpy(int), cat,
                   "adult.csv.gz, income == '>50K'")


def _thinned(name: str, X: pd.DataFrame, y: pd.Series, positive: Any, ratio: float,
             source: str) -> Dataset:
    """A binary problem whose positive class is thinned to ``ratio`` of the rows, seeded."""
    X, y = make_imbalanced(X, y, positive, ratio, random_state=DATA_SEED)
    return Dataset(name, X, (y == positive).to_numpy(int), [],
                   f"{source}, thinned to {ratio:.0%} positive by "
                   f"make_imbalanced(random_state={DATA_SEED})")


def _load_breast_cancer(_d: Path) -> Dataset:
    X, y = load_breast_cancer()
    return _thinned("breast_cancer", X, y, "malignant", 0.10,
                    "scikit-learn breast_cancer, malignant")


def _load_wine(_d: Path) -> Dataset:
    X, y = load_wine()
    y = pd.Series(np.where(y == "class_2", "class_2", "other"), name=y.name)
    return _thinned("wine", X, y, "class_2", 0.10,
                    "scikit-learn wine, class_2 against the other two classes")


def _load_digits(_d: Path) -> Dataset:
    bunch = load_digits(as_frame=True)
    y = pd.Series(np.where(bunch.target == 9, "9", "other"), name="digit")
    return _thinned("digits", bunch.data, y, "9", 0.05,
                    "scikit-learn digits (8x8), digit 9 against the rest")


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "yeast_me2": _load_yeast,
    "thyroid_sick": _load_thyroid,
    "car_eval_34": _load_car,
    "wine_quality": _load_wine_quality,
    "abalone": _load_abalone,
    "german_credit": _load_german,
    "online_shoppers": _load_shoppers,
    "credit_card_default": _load_credit,
    "adult": _load_adult,
    "breast_cancer": _load_breast_cancer,
    "wine": _load_wine,
    "digits": _load_digits,
}


def load_dataset(name: str, data_dir: Path, max_rows: int | None) -> Dataset:
    """Load data set ``name``, capped at ``max_rows`` by a stratified, seeded subsample.

    Parameters
    ----------
    name : str
        A key of :data:`LOADERS`.
    data_dir : Path
        The folder of the shared data sets.
    max_rows : int or None
        Larger tables are replaced by a stratified random subset of this many rows (seed
        ``DATA_SEED``); ``None`` keeps every row.

    Returns
    -------
    Dataset
    """
    data = LOADERS[name](data_dir)
    data = replace(data, X=data.X.reset_index(drop=True))
    if max_rows is None or len(data.y) <= max_rows:
        return data
    keep, _ = train_test_split(np.arange(len(data.y)), train_size=max_rows, stratify=data.y,
                               random_state=DATA_SEED)
    keep = np.sort(keep)
    return replace(data, X=data.X.iloc[keep].reset_index(drop=True), y=data.y[keep],
                   source=data.source + f"; stratified subsample of {max_rows} rows")


# ------------------------------------------------------------------------- methods
def preprocessor(data: Dataset) -> ColumnTransformer:
    """Impute, one-hot encode the categories and scale the numbers."""
    numeric = [c for c in data.X.columns if c not in data.categorical]
    parts = [("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                               ("scale", StandardScaler())]), numeric)]
    if data.categorical:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), data.categorical))
    return ColumnTransformer(parts)


def classifier(kind: str, **params: Any) -> Any:
    """A fresh classifier of family ``kind`` (``"logreg"`` or ``"hgb"``)."""
    if kind == "logreg":
        return LogisticRegression(max_iter=2000, **params)
    return HistGradientBoostingClassifier(random_state=0, **params)


def model(data: Dataset, kind: str, **params: Any) -> Pipeline:
    """Preprocessing followed by a classifier of family ``kind``."""
    return Pipeline([("prep", preprocessor(data)), ("clf", classifier(kind, **params))])


def _smote(data: Dataset, seed: int) -> list[tuple[str, Any]]:
    """SMOTE needs complete rows, so impute first; SMOTENC keeps categories categorical and
    SMOTEN handles tables with categorical columns only."""
    numeric = [c for c in data.X.columns if c not in data.categorical]
    impute = ColumnTransformer(
        [("num", SimpleImputer(strategy="median"), numeric)]
        + ([("cat", SimpleImputer(strategy="most_frequent"), data.categorical)]
           if data.categorical else []),
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    if data.categorical and not numeric:
        sampler: Any = SMOTEN(random_state=seed)
    elif data.categorical:
        sampler = SMOTENC(categorical_features=data.categorical, random_state=seed)
    else:
        sampler = SMOTE(random_state=seed)
    return [("impute", impute), ("smote", sampler)]


def classic_method(method: str, data: Dataset, kind: str, seed: int) -> Any:
    """The estimator of a method that needs no synthesizer, for classifier family ``kind``.

    Parameters
    ----------
    method : {"none", "balanced", "threshold", "ros", "smote", "adasyn"}
    data : Dataset
        Gives the column layout of the preprocessing.
    kind : {"logreg", "hgb"}
    seed : int
        Seed of the resampler.

    Returns
    -------
    estimator
        Unfitted; any resampling happens inside its ``fit``, on the training rows only.
    """
    if method == "none":
        return model(data, kind)
    if method == "balanced":
        return model(data, kind, class_weight="balanced")
    if method == "threshold":
        return TunedThresholdClassifierCV(model(data, kind), scoring="balanced_accuracy", cv=3)
    if method == "ros":
        return ImbPipeline([("ros", RandomOverSampler(random_state=seed)),
                            ("model", model(data, kind))])
    if method == "smote":
        return ImbPipeline([*_smote(data, seed), ("model", model(data, kind))])
    if method == "adasyn":
        return ImbPipeline([("prep", preprocessor(data)), ("adasyn", ADASYN(random_state=seed)),
                            ("clf", classifier(kind))])
    raise ValueError(f"{method!r} is not a method without a synthesizer.")


GENAUG_CLASSES = {"vae": VAESynthesizer, "gan": GANSynthesizer, "vaegan": VAEGANSynthesizer}


def genaug_synthesizer(method: str, epochs: int, seed: int) -> Any:
    """A genaug synthesizer of family ``method`` on the CPU, with its default settings."""
    return GENAUG_CLASSES[method](epochs=epochs, random_state=seed, device="cpu")


def auto_method(data: Dataset, kind: str, epochs: int, seed: int, scoring: str) -> Any:
    """``AugmentedClassifier`` with a VAE of ``epochs`` epochs and ``validation="auto"``."""
    augmenter = SyntheticAugmenter(genaug_synthesizer("vae", epochs, seed))
    return AugmentedClassifier(model(data, kind), augmenter, validation="auto", scoring=scoring,
                               random_state=seed)


def ctgan_available() -> bool:
    """Whether the optional ``ctgan`` package can be imported by this Python."""
    return importlib.util.find_spec("ctgan") is not None


def ctgan_table(X: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """ctgan wants complete numeric columns and string categories: impute, and keep a
    missing category as the string ``"<missing>"``."""
    out = X.copy()
    numeric = [c for c in X.columns if c not in data.categorical]
    out[numeric] = out[numeric].fillna(out[numeric].median())
    for col in data.categorical:
        out[col] = out[col].astype(object).where(out[col].notna(), "<missing>").astype(str)
    return out


def ctgan_model(method: str, epochs: int) -> Any:
    """An unfitted ctgan ``CTGAN`` or ``TVAE`` of ``epochs`` epochs, on the CPU."""
    from ctgan import CTGAN, TVAE

    cls = CTGAN if method == "ctgan" else TVAE
    params = inspect.signature(cls).parameters
    gpu = {"enable_gpu": False} if "enable_gpu" in params else {"cuda": False}
    return cls(epochs=epochs, **gpu)


def resample(method: str, X: pd.DataFrame, y: np.ndarray, data: Dataset, epochs: int,
             seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Add synthetic minority rows to one training fold until the classes are 1:1.

    Parameters
    ----------
    method : {"vae", "gan", "vaegan", "ctgan", "tvae"}
    X, y : DataFrame and ndarray
        The training fold (``y`` is 1 for the minority class).
    data : Dataset
        Gives the categorical columns.
    epochs : int
        Training epochs of the synthesizer.
    seed : int
        Its seed.

    Returns
    -------
    X_res, y_res
        The real rows followed by the synthetic ones.
    """
    if method in GENAUG_METHODS:
        augmenter = SyntheticAugmenter(genaug_synthesizer(method, epochs, seed), random_state=seed)
        X_res, y_res = augmenter.fit_resample(X, pd.Series(y, name="target"))
        return X_res, np.asarray(y_res, dtype=int)
    n_new = int((y == 0).sum() - (y == 1).sum())
    table = ctgan_table(X, data)
    synth = ctgan_model(method, epochs)
    synth.set_random_state(seed)
    if method == "ctgan":
        table["__target__"] = np.where(y == 1, "minority", "majority")
        synth.fit(table, discrete_columns=[*data.categorical, "__target__"])
        new = synth.sample(n_new, condition_column="__target__", condition_value="minority")
        new = new.drop(columns="__target__")
    else:
        synth.fit(table[y == 1].reset_index(drop=True), discrete_columns=data.categorical)
        new = synth.sample(n_new)
    for col in data.categorical:
        values = new[col].astype(object).where(new[col] != "<missing>", np.nan)
        new[col] = pd.Categorical(values, categories=X[col].cat.categories)
    new = new[list(X.columns)]
    X_res = pd.concat([X.reset_index(drop=True), new.reset_index(drop=True)], ignore_index=True)
    return X_res, np.r_[y, np.ones(len(new), dtype=int)]


# --------------------------------------------------------------------------- budget
def calibrate(run: Callable[[int], Any], budget: float, max_epochs: int) -> dict[str, float]:
    """Epochs of one synthetic resampling that fit in ``budget`` seconds.

    After one discarded warm-up run of 1 epoch (lazy initialisation), ``run`` is timed at 1
    epoch and at 4, 16, 64, ... epochs until the longer run takes a tenth of the budget more
    than the 1-epoch run (or a whole budget): the slope between the two gives the seconds per
    epoch, the rest the fixed cost of a resampling (codec, networks, sampling), which the
    budget also pays. Timing over a tenth of the budget keeps the noise of a shared machine
    small against the estimate, even where the fixed cost dominates (ctgan's).

    Parameters
    ----------
    run : callable
        Runs the whole resampling for a given number of epochs.
    budget : float
        Seconds allowed per resampling.
    max_epochs : int
        Upper bound on the epochs (tiny tables would otherwise get thousands).

    Returns
    -------
    dict
        ``epochs``, ``seconds_per_epoch``, ``fixed_seconds`` and ``calibration_seconds``.
    """
    started = time.perf_counter()
    run(1)

    def timed(epochs: int) -> float:
        t0 = time.perf_counter()
        run(epochs)
        return time.perf_counter() - t0

    first = timed(1)
    last_epochs, last = 1, first
    while (last_epochs < max_epochs and last < budget
           and (last_epochs == 1 or last - first < budget / 10)):
        last_epochs = min(4 * last_epochs, max_epochs)
        last = timed(last_epochs)
    if last_epochs > 1:
        per_epoch = max((last - first) / (last_epochs - 1), 1e-4)
        fixed = max(first - per_epoch, 0.0)
    else:  # one epoch already costs the whole budget (or max_epochs is 1)
        per_epoch, fixed = first, 0.0
    epochs = int(min(max_epochs, max(1, math.floor((budget - fixed) / per_epoch))))
    return {"epochs": epochs, "seconds_per_epoch": per_epoch, "fixed_seconds": fixed,
            "calibration_seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- scores
def scores(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """The four metrics of a fitted binary classifier on held-out rows."""
    pred = np.asarray(estimator.predict(X)).astype(int)
    classes = list(np.asarray(estimator.classes_).astype(int))
    proba = estimator.predict_proba(X)[:, classes.index(1)]
    return {
        "pr_auc": float(average_precision_score(y, proba)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "brier": float(brier_score_loss(y, proba)),
    }


def _fit_score(estimator: Any, X_fit: pd.DataFrame, y_fit: np.ndarray, X_test: pd.DataFrame,
               y_test: np.ndarray) -> tuple[dict[str, float], float, Any]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and small-fold warnings
        estimator.fit(X_fit, y_fit)
    seconds = time.perf_counter() - t0
    return scores(estimator, X_test, y_test), seconds, estimator


def run_fold(data: Dataset, methods: list[str], classifiers: list[str], train: np.ndarray,
             test: np.ndarray, epochs: dict[str, int], seed: int, auto_scoring: str,
             log: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Every method and classifier on one fold: one record per (method, classifier).

    Synthetic resampling runs once per fold and method and feeds both classifiers; the
    other methods resample (if at all) inside their own ``fit``. Either way only the training
    rows are used; the test rows only score.

    Parameters
    ----------
    data : Dataset
    methods, classifiers : list of str
    train, test : ndarray of int
        Row indices of the fold.
    epochs : dict
        Epochs of each synthetic method (``auto`` uses the VAE's).
    seed : int
        Seed of every resampler and synthesizer of this fold.
    auto_scoring : str
        Scoring of ``AugmentedClassifier``'s inner validation.
    log : callable
        Receives a line per failure.

    Returns
    -------
    list of dict
        Scores, seconds, epochs and row counts; a failed method gives records with ``error``.
    """
    X_tr, y_tr = data.X.iloc[train].reset_index(drop=True), data.y[train]
    X_te, y_te = data.X.iloc[test].reset_index(drop=True), data.y[test]
    records: list[dict[str, Any]] = []
    for method in methods:
        base = {"method": method, "n_train": len(y_tr)}
        try:
            if method in SYNTHETIC_METHODS:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    X_fit, y_fit = resample(method, X_tr, y_tr, data, epochs[method], seed)
                resample_s = time.perf_counter() - t0
                base.update(epochs=epochs[method], resample_seconds=resample_s,
                            n_synthetic=len(y_fit) - len(y_tr))
                for kind in classifiers:
                    s, fit_s, _ = _fit_score(model(data, kind), X_fit, y_fit, X_te, y_te)
                    records.append({**base, "classifier": kind, **s,
                                    "seconds": resample_s + fit_s})
                continue
            for kind in classifiers:
                if method == "auto":
                    est = auto_method(data, kind, epochs["vae"], seed, auto_scoring)
                else:
                    est = classic_method(method, data, kind, seed)
                s, fit_s, est = _fit_score(est, X_tr, y_tr, X_te, y_te)
                extra: dict[str, Any] = {}
                if method == "auto":
                    extra = {"epochs": epochs["vae"], "auto_strength": est.chosen_strength_}
                records.append({**base, "classifier": kind, **s, "seconds": fit_s, **extra})
        except Exception as exc:  # one failing method must not lose the others' results
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            log(f"    {method} failed: {error[:300]}")
            records = [r for r in records if r["method"] != method]
            records += [{**base, "classifier": kind, "error": error} for kind in classifiers]
    return records


# ---------------------------------------------------------------------------- tables
def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std of every metric per (data set, classifier, method), over folds.

    A method that failed on any fold of a data set is left out of that data set's summary.

    Returns
    -------
    dict
        ``summary[dataset][classifier][method]`` with ``{metric: {"mean", "std"}}``,
        ``"seconds"`` and, where they apply, ``"epochs"`` and ``"auto_strengths"``.
    """
    frame = pd.DataFrame(records)
    failed = set()
    if "error" in frame:
        bad = frame[frame["error"].notna()]
        failed = set(zip(bad["dataset"], bad["method"]))
        frame = frame[frame["error"].isna()]
    out: dict[str, Any] = {}
    for (ds, kind, method), part in frame.groupby(["dataset", "classifier", "method"],
                                                  sort=False):
        if (ds, method) in failed:
            continue
        cell: dict[str, Any] = {
            m: {"mean": float(part[m].mean()), "std": float(part[m].std(ddof=int(len(part) > 1)))}
            for m in METRICS
        }
        cell["seconds"] = float(part["seconds"].mean())
        if "epochs" in part and part["epochs"].notna().any():
            cell["epochs"] = int(part["epochs"].iloc[0])
        if "resample_seconds" in part and part["resample_seconds"].notna().any():
            cell["resample_seconds"] = float(part["resample_seconds"].mean())
        if "auto_strength" in part and part["auto_strength"].notna().any():
            cell["auto_strengths"] = [float(s) for s in part["auto_strength"]]
        out.setdefault(ds, {}).setdefault(kind, {})[method] = cell
    return out


def _oriented(metric: str, value: float) -> float:
    """Higher is better for every metric once the Brier score's sign is flipped."""
    return -value if metric in LOWER_IS_BETTER else value


def ranks(summary: dict[str, Any]) -> dict[str, Any]:
    """Rank of each method (1 = best, ties averaged) per data set, classifier and metric.

    Returns
    -------
    dict
        ``"cells"``: ``{dataset: {classifier: {metric: {method: rank}}}}``;
        ``"per_dataset"``: ``{dataset: {method: mean rank over classifiers and metrics}}``;
        ``"overall"``: ``{method: {metric: mean rank over data sets and classifiers,
        "all": mean over metrics too}}``.
    """
    cells: dict[str, Any] = {}
    rows = []
    for ds, per_clf in summary.items():
        for kind, per_method in per_clf.items():
            for metric in METRICS:
                values = pd.Series({m: _oriented(metric, r[metric]["mean"])
                                    for m, r in per_method.items()})
                r = values.rank(ascending=False, method="average")
                cells.setdefault(ds, {}).setdefault(kind, {})[metric] = r.to_dict()
                rows += [{"dataset": ds, "classifier": kind, "metric": metric, "method": m,
                          "rank": float(v)} for m, v in r.items()]
    frame = pd.DataFrame(rows)
    per_dataset = {
        ds: part.groupby("method", sort=False)["rank"].mean().to_dict()
        for ds, part in frame.groupby("dataset", sort=False)
    }
    overall: dict[str, dict[str, float]] = {}
    for (method, metric), value in frame.groupby(["method", "metric"])["rank"].mean().items():
        overall.setdefault(method, {})[metric] = float(value)
    for method, value in frame.groupby("method")["rank"].mean().items():
        overall[method]["all"] = float(value)
    return {"cells": cells, "per_dataset": per_dataset, "overall": overall}


def paired(summary: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    """``a`` against ``b`` over every (data set, classifier, metric) cell where both ran.

    The difference of the fold means is oriented so that a positive value means ``a`` did
    better (the Brier score's sign is flipped). The cells are not independent (four metrics of
    the same folds, two classifiers on the same resampled rows), so the p-value is a guide,
    not an exact error rate.

    Returns
    -------
    dict
        ``a``, ``b``, ``n``, ``better``, ``worse``, ``ties``, ``median_difference``,
        ``wilcoxon_statistic``, ``p_value`` (two-sided; NaN when every difference is 0 or
        there are no cells) and ``cells`` (every difference).
    """
    cells = []
    for ds, per_clf in summary.items():
        for kind, per_method in per_clf.items():
            if a not in per_method or b not in per_method:
                continue
            for metric in METRICS:
                diff = _oriented(metric, per_method[a][metric]["mean"]) - _oriented(
                    metric, per_method[b][metric]["mean"])
                cells.append({"dataset": ds, "classifier": kind, "metric": metric,
                              "difference": float(diff)})
    diffs = np.array([c["difference"] for c in cells])
    stat = p = float("nan")
    if diffs.size and np.any(diffs != 0):
        result = wilcoxon(diffs)
        stat, p = float(result.statistic), float(result.pvalue)
    return {
        "a": a, "b": b, "n": int(diffs.size),
        "better": int((diffs > 0).sum()), "worse": int((diffs < 0).sum()),
        "ties": int((diffs == 0).sum()),
        "median_difference": float(np.median(diffs)) if diffs.size else float("nan"),
        "wilcoxon_statistic": stat, "p_value": p, "cells": cells,
    }


def versus(summary: dict[str, Any], baseline: str) -> dict[str, dict[str, list[int]]]:
    """Per method and metric: in how many (data set, classifier) cells its mean beats / trails
    ``baseline``'s."""
    out: dict[str, dict[str, list[int]]] = {}
    for per_clf in summary.values():
        for per_method in per_clf.values():
            if baseline not in per_method:
                continue
            for method, res in per_method.items():
                if method == baseline:
                    continue
                for metric in METRICS:
                    diff = _oriented(metric, res[metric]["mean"]) - _oriented(
                        metric, per_method[baseline][metric]["mean"])
                    counts = out.setdefault(method, {}).setdefault(metric, [0, 0])
                    counts[0] += int(diff > 0)
                    counts[1] += int(diff < 0)
    return out


def compare(summary: dict[str, Any], rank: dict[str, Any]) -> dict[str, Any]:
    """The paired comparisons of the headline.

    The "best genaug synthesizer" is the genaug family with the best overall mean rank, picked
    after seeing the test folds: a choice in genaug's favour, so a loss against SMOTE is the
    more telling result.
    """
    overall = rank["overall"]
    present = [m for m in GENAUG_METHODS if m in overall]
    out: dict[str, Any] = {"best_genaug": None, "tests": []}
    if present:
        best = min(present, key=lambda m: overall[m]["all"])
        out["best_genaug"] = best
        if "smote" in overall:
            out["tests"].append({"name": f"best genaug synthesizer ({best}) vs SMOTE",
                                 **paired(summary, best, "smote")})
    if "auto" in overall and "none" in overall:
        out["tests"].append({"name": "auto vs none", **paired(summary, "auto", "none")})
    for method in present + [m for m in CTGAN_METHODS if m in overall]:
        for other in ("none", "smote"):
            if other in overall:
                out["tests"].append({"name": f"{method} vs {other}",
                                     **paired(summary, method, other)})
    return out


def _fmt_p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def headline_table(comparisons: dict[str, Any]) -> str:
    """The Markdown table of the paired comparisons."""
    rows = [[t["name"], t["n"], t["better"], t["worse"], t["ties"],
             f"{t['median_difference']:+.3f}", _fmt_p(t["p_value"])]
            for t in comparisons["tests"]]
    return markdown_table(["comparison (cells: data set x classifier x metric)", "cells",
                           "better", "worse", "ties", "median diff.", "Wilcoxon p"], rows)


def _verdict(test: dict[str, Any]) -> str:
    """One plain sentence: who won, by how much, and whether it is more than noise."""
    a, b = test["a"], test["b"]
    p = test["p_value"]
    significant = np.isfinite(p) and p < 0.05
    if test["better"] > test["worse"]:
        who = f"**{a} beat {b}** in {test['better']} of {test['n']} cells"
    elif test["worse"] > test["better"]:
        who = f"**{a} lost to {b}** in {test['worse']} of {test['n']} cells"
    else:
        who = f"{a} and {b} split the {test['n']} cells evenly"
    how = ("a difference unlikely to be noise" if significant
           else "a difference the test cannot tell from noise")
    return (f"{who} (median difference {test['median_difference']:+.3f}, Wilcoxon p = "
            f"{_fmt_p(p)}: {how}).")


def _per_metric_losses(summary: dict[str, Any], a: str, b: str) -> str:
    """Where ``a`` trails ``b``, metric by metric, as (data set, classifier) names."""
    parts = []
    for metric in METRICS:
        lost = [f"{ds}/{kind}" for ds, per_clf in summary.items()
                for kind, per in per_clf.items()
                if a in per and b in per
                and _oriented(metric, per[a][metric]["mean"])
                < _oriented(metric, per[b][metric]["mean"])]
        total = sum(1 for per_clf in summary.values() for per in per_clf.values()
                    if a in per and b in per)
        parts.append(f"{METRIC_LABELS[metric]} {len(lost)}/{total}"
                     + (f" ({', '.join(lost)})" if lost else ""))
    return "; ".join(parts)


def rank_table(rank: dict[str, Any]) -> str:
    """Mean rank of each method per metric over data sets and classifiers, best first."""
    overall = rank["overall"]
    order = sorted(overall, key=lambda m: overall[m]["all"])
    rows = [[m] + [f"{overall[m][k]:.2f}" for k in METRICS] + [f"{overall[m]['all']:.2f}"]
            for m in order]
    return markdown_table(["method", *METRIC_LABELS.values(), "all metrics"], rows)


def dataset_rank_table(rank: dict[str, Any]) -> str:
    """Rank of each method per data set (mean over metrics and classifiers)."""
    per = rank["per_dataset"]
    order = sorted(rank["overall"], key=lambda m: rank["overall"][m]["all"])
    rows = [[m] + [f"{per[ds][m]:.1f}" if m in per[ds] else "failed" for ds in per]
            for m in order]
    return markdown_table(["method", *per], rows)


def markdown(report: dict[str, Any]) -> str:
    """The generated ``tabular.md``."""
    cfg = report["config"]
    mach = report["machine"]
    summary, rank, comp = report["summary"], report["ranks"], report["comparisons"]
    budget = (f"a wall-time budget of {cfg['budget']:g} s per synthetic resampling (fit + "
              "sample; epochs calibrated per data set on its first training fold, at most "
              f"{cfg['max_epochs']})"
              if cfg["epochs"] is None else f"{cfg['epochs']} epochs per synthesizer")
    lines = [
        "# Tabular utility: does synthetic over-sampling help a classifier?",
        "",
        "Generated by `benchmarks/tabular.py`; do not edit by hand.",
        "",
    ]
    if cfg["reduced"]:
        lines += [
            "> **Reduced configuration** (" + "; ".join(cfg["reduced"]) + "). The figures are "
            "what this small run measured, with wide error bars; the full configuration is "
            "`python benchmarks/tabular.py` with no options.",
            "",
        ]
    lines += [
        f"Command: `{cfg['command']}`",
        "",
        f"Configuration: {cfg['folds']}-fold stratified CV repeated {cfg['repeats']} time(s) "
        f"(CV seed {cfg['seed']}; fold seeds {cfg['fold_seeds']}, used by every resampler and "
        f"synthesizer of that fold; data seed {DATA_SEED}); classifiers: "
        + ", ".join(f"`{CLASSIFIER_TEXT[k]}`" for k in cfg["classifiers"])
        + f"; {budget}; `auto` scored by `{cfg['auto_scoring']}`; at most {cfg['max_rows']} "
        f"rows per data set. Run {cfg['date']}, wall time {report['wall_seconds'] / 60:.1f} "
        f"min on {mach['cpu']} ({mach['cpu_count']} CPUs shared with other jobs; "
        f"{cfg.get('jobs', 1)} data set(s) at a time, {cfg['threads']} torch thread(s) "
        f"each), Python {mach['python']}, genaug "
        f"{mach['genaug']}, torch {mach['torch']}, scikit-learn {mach['scikit-learn']}, "
        f"imbalanced-learn {mach['imbalanced-learn']}"
        + (f", ctgan {mach['ctgan']}" if mach.get("ctgan") else "") + ".",
        "",
    ]
    if report["skipped_methods"]:
        lines += ["Skipped: " + "; ".join(f"{m} ({why})" for m, why in
                                          report["skipped_methods"].items()) + ".", ""]
    lines += [
        "Every method sees only the training fold; synthetic and resampled rows are made from "
        "it, and the test fold only scores. Differences below are of fold means, oriented so "
        "that positive favours the first method (Brier's sign flipped).",
        "",
        "## Headline: wins and losses",
        "",
        headline_table(comp),
    ]
    for test in comp["tests"][:2]:
        lines += [f"- {test['name']}: {_verdict(test)}"]
    best = comp.get("best_genaug")
    if best:
        lines += [
            f"- Cells where {best} trails SMOTE: {_per_metric_losses(summary, best, 'smote')}.",
        ]
    if "auto" in rank["overall"]:
        lines += [
            f"- Cells where auto trails none: {_per_metric_losses(summary, 'auto', 'none')}.",
        ]
    if best:
        lines += [
            f"- Cells where {best} trails no augmentation: "
            f"{_per_metric_losses(summary, best, 'none')}.",
        ]
    lines += [
        "",
        f"\"Best genaug synthesizer\" is the genaug family with the best mean rank ({best}), "
        "picked after seeing these results, which favours genaug. Cells are not independent "
        "(four metrics of the same folds, two classifiers on the same synthetic rows), so the "
        "p-values are a guide only.",
        "",
        "## Mean rank over data sets and classifiers (1 = best)",
        "",
        rank_table(rank),
        "## Rank per data set (mean over metrics and classifiers)",
        "",
        dataset_rank_table(rank),
        "## Against no augmentation: cells where the method's mean is better / worse",
        "",
    ]
    rows = [[m] + [f"{v[k][0]} / {v[k][1]}" for k in METRICS]
            for m, v in report["versus_none"].items()]
    lines.append(markdown_table(["method", *METRIC_LABELS.values()], rows))
    lines += _budget_lines(report)
    for ds, per_clf in summary.items():
        info = report["datasets"][ds]
        lines += [
            f"## {ds}",
            "",
            f"{info['source']}: {info['rows']} rows, {info['columns']} columns "
            f"({info['categorical']} categorical), minority rate {info['positive_rate']:.1%}.",
            "",
        ]
        for kind, per_method in per_clf.items():
            lines += [f"{CLASSIFIER_TEXT[kind]}:", "", _method_table(per_method)]
        chosen = {k: per["auto"]["auto_strengths"] for k, per in per_clf.items()
                  if "auto_strengths" in per.get("auto", {})}
        if chosen:
            lines += ["`auto` chose (strength per fold; 0 = no augmentation): "
                      + "; ".join(f"{k}: {v}" for k, v in chosen.items()) + ".", ""]
        errors = report["errors"].get(ds)
        if errors:
            lines += ["Failed: " + "; ".join(f"{m}: {e[:160]}" for m, e in errors.items()), ""]
    return "\n".join(lines)


def _method_table(per_method: dict[str, Any]) -> str:
    best = {}
    for metric in METRICS:
        values = {m: _oriented(metric, r[metric]["mean"]) for m, r in per_method.items()}
        best[metric] = max(values, key=values.get)
    rows = []
    for method, res in per_method.items():
        cells = []
        for metric in METRICS:
            cell = f"{res[metric]['mean']:.3f} ± {res[metric]['std']:.3f}"
            cells.append(f"**{cell}**" if best[metric] == method else cell)
        rows.append([method, *cells, f"{res['seconds']:.1f}"])
    return markdown_table(["method", *METRIC_LABELS.values(), "fit s"], rows)


def _budget_lines(report: dict[str, Any]) -> list[str]:
    cal = report["calibration"]
    if not cal:
        return []
    rows = []
    for ds, per_method in cal.items():
        for method, c in per_method.items():
            measured = [r["resample_seconds"] for r in report["records"]
                        if r["dataset"] == ds and r["method"] == method
                        and r.get("resample_seconds") is not None]
            rows.append([ds, method, f"{c['seconds_per_epoch']:.3f}", f"{c['fixed_seconds']:.1f}",
                         c["epochs"],
                         f"{np.mean(measured):.1f}" if measured else "failed"])
    cfg = report["config"]
    return [
        "## Equal cost: the epochs each synthesizer got",
        "",
        f"Budget {cfg['budget']:g} s per resampling; s/epoch and fixed cost measured on the first "
        "training fold (runs of 1 and of 4^k epochs, until the longest took a tenth of the budget "
        "more than 1 epoch); "
        "\"measured\" is the mean wall time of a fold's "
        "resampling (fit + sample). The budget is wall time, so a busier machine gives fewer "
        "epochs and other results: compare runs by their epochs too.",
        "",
        markdown_table(["data set", "method", "s/epoch", "fixed s", "epochs", "measured s"],
                       rows),
    ]


# ------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options; unset ones take the full (or ``--quick``) configuration."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                   help="folder of the shared data sets (default: ../shared/data from the repo)")
    p.add_argument("--datasets", default=None,
                   help=f"comma-separated names or 'all' (default); known: {', '.join(LOADERS)}")
    p.add_argument("--methods", default=",".join(ALL_METHODS),
                   help=f"comma-separated subset of: {', '.join(ALL_METHODS)}")
    p.add_argument("--classifiers", default=",".join(CLASSIFIERS),
                   help="comma-separated subset of: logreg, hgb (default both)")
    p.add_argument("--folds", type=int, default=None, help=f"CV folds (default {FULL['folds']})")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"CV repeats (default {FULL['repeats']})")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds per synthetic resampling (default {FULL['budget']:g})")
    p.add_argument("--epochs", type=int, default=None,
                   help="fixed synthesizer epochs instead of the budget")
    p.add_argument("--max-epochs", type=int, default=None,
                   help=f"cap on budget-derived epochs (default {FULL['max_epochs']})")
    p.add_argument("--max-rows", type=int, default=None,
                   help=f"stratified subsample of larger tables (0: none; default "
                        f"{FULL['max_rows']})")
    p.add_argument("--auto-scoring", default="balanced_accuracy",
                   help="scoring of AugmentedClassifier(validation='auto')")
    p.add_argument("--threads", type=int, default=1,
                   help="torch and BLAS threads per job (default 1)")
    p.add_argument("--jobs", type=int, default=1,
                   help="data sets run in parallel processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the CV splits and fold seeds")
    p.add_argument("--quick", action="store_true",
                   help=f"reduced configuration: {QUICK}")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for tabular.json and tabular.md (default benchmarks/results)")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _reduced(args: argparse.Namespace, names: list[str], methods: list[str],
             classifiers: list[str]) -> list[str]:
    """How this configuration falls short of the full one, in words (empty when it does not)."""
    out = []
    if len(names) < len(LOADERS):
        out.append(f"{len(names)} of {len(LOADERS)} data sets")
    if args.folds * args.repeats < FULL["folds"] * FULL["repeats"]:
        out.append(f"{args.repeats}x{args.folds} CV instead of "
                   f"{FULL['repeats']}x{FULL['folds']}")
    if args.epochs is None and args.budget < FULL["budget"]:
        out.append(f"budget {args.budget:g} s instead of {FULL['budget']:g} s")
    if args.max_rows and args.max_rows < FULL["max_rows"]:
        out.append(f"at most {args.max_rows} rows per data set instead of {FULL['max_rows']}")
    missing = [m for m in ALL_METHODS if m not in methods and m not in CTGAN_METHODS]
    if missing:
        out.append("methods left out: " + ", ".join(missing))
    if len(classifiers) < len(CLASSIFIERS):
        out.append("one classifier family")
    return out


def run_dataset(name: str, *, args: argparse.Namespace, methods: list[str],
                classifiers: list[str], needs_epochs: list[str], fold_seeds: list[int],
                max_rows: int | None) -> tuple[dict, dict, list[dict]]:
    """Calibrate the synthesizers on one data set and score every method on every fold."""
    from joblib import parallel_config

    torch.set_num_threads(args.threads)
    # joblib runs sequentially: ctgan's transformer asks for every core (n_jobs=-1), which
    # would give it more than the --threads that every other method gets, and in a --jobs
    # worker its loky processes hung the worker's exit.
    with threadpool_limits(args.threads), parallel_config(backend="sequential"):
        data = load_dataset(name, args.data_dir, max_rows)
        info = {"source": data.source, "rows": len(data.y), "columns": data.X.shape[1],
                "categorical": len(data.categorical), "positive_rate": float(data.y.mean())}

        def say(msg: str) -> None:
            print(f"[{name}] {msg.strip()}", flush=True)

        say(f"{info['rows']} rows, minority {info['positive_rate']:.1%}")
        cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats,
                                     random_state=args.seed)
        folds = list(cv.split(data.X, data.y))
        epochs: dict[str, int] = {}
        calibration: dict[str, Any] = {}
        tr0 = folds[0][0]
        X0, y0 = data.X.iloc[tr0].reset_index(drop=True), data.y[tr0]
        for method in needs_epochs:
            if args.epochs is not None:
                epochs[method] = args.epochs
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    run = partial(resample, method, X0, y0, data, seed=fold_seeds[0])
                    cal = calibrate(lambda e, run=run: run(epochs=e), args.budget,
                                    args.max_epochs)
            except Exception as exc:
                say(f"calibration of {method} failed: {exc}")
                epochs[method] = 1
                continue
            calibration[method] = cal
            epochs[method] = cal["epochs"]
            say(f"{method}: {cal['seconds_per_epoch']:.3f} s/epoch, fixed "
                f"{cal['fixed_seconds']:.1f} s -> {cal['epochs']} epochs")
        all_records: list[dict] = []
        for i, (train, test) in enumerate(folds):
            t0 = time.perf_counter()
            records = run_fold(data, methods, classifiers, train, test, epochs, fold_seeds[i],
                               args.auto_scoring, say)
            for r in records:
                r.update(dataset=name, repeat=i // args.folds, fold=i % args.folds,
                         seed=fold_seeds[i])
            all_records += records
            say(f"fold {i + 1}/{len(folds)} done ({time.perf_counter() - t0:.0f} s)")
    return info, calibration, all_records


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``tabular.json`` and ``tabular.md``; the exit status."""
    args = parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"Data folder {args.data_dir} not found. This benchmark reads the shared data sets "
              "described in ../shared/DATASETS.md; pass --data-dir PATH to point at them.",
              file=sys.stderr)
        return 2
    names = list(LOADERS) if args.datasets == "all" else args.datasets.split(",")
    methods = args.methods.split(",")
    classifiers = args.classifiers.split(",")
    bad = ([n for n in names if n not in LOADERS] + [m for m in methods if m not in ALL_METHODS]
           + [c for c in classifiers if c not in CLASSIFIERS])
    if bad:
        print(f"Unknown data sets, methods or classifiers {bad}; see --help.", file=sys.stderr)
        return 2
    skipped: dict[str, str] = {}
    if not ctgan_available():
        for m in CTGAN_METHODS:
            if m in methods:
                skipped[m] = "ctgan is not importable by this Python"
        methods = [m for m in methods if m not in CTGAN_METHODS]
    torch.set_num_threads(args.threads)
    max_rows = args.max_rows or None
    started = time.perf_counter()
    fold_seeds = [1000 * args.seed + i for i in range(args.folds * args.repeats)]
    machine = machine_description()
    import imblearn

    machine["imbalanced-learn"] = imblearn.__version__
    if ctgan_available():
        from importlib.metadata import version

        machine["ctgan"] = version("ctgan")
    command = "python benchmarks/tabular.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {
        "benchmark": SUITE,
        "config": {
            "command": command.strip(), "datasets": names, "methods": methods,
            "classifiers": classifiers, "folds": args.folds, "repeats": args.repeats,
            "budget": args.budget if args.epochs is None else None, "epochs": args.epochs,
            "max_epochs": args.max_epochs, "max_rows": max_rows,
            "auto_scoring": args.auto_scoring, "seed": args.seed, "fold_seeds": fold_seeds,
            "data_seed": DATA_SEED, "threads": args.threads, "jobs": args.jobs,
            "reduced": _reduced(args, names, methods, classifiers),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "machine": machine,
        "skipped_methods": skipped,
        "datasets": {},
        "calibration": {},
        "records": [],
        "errors": {},
    }
    synthetic = [m for m in methods if m in SYNTHETIC_METHODS]
    needs_epochs = synthetic + (["vae"] if "auto" in methods and "vae" not in synthetic else [])
    task = partial(run_dataset, args=args, methods=methods, classifiers=classifiers,
                   needs_epochs=needs_epochs, fold_seeds=fold_seeds, max_rows=max_rows)
    if args.jobs > 1:
        # One process per data set at a time, each with --threads threads: the data sets are
        # independent, and every fold keeps its own seed, so the results do not depend on
        # the number of jobs (only the wall-time budgets feel the shared cores).
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
            outcomes = list(pool.map(task, names))
    else:
        outcomes = [task(name) for name in names]
    for name, (info, calibration, records) in zip(names, outcomes):
        report["datasets"][name] = info
        if calibration:
            report["calibration"][name] = calibration
        for r in records:
            if "error" in r:
                report["errors"].setdefault(name, {})[r["method"]] = r["error"]
        report["records"] += records
    report["wall_seconds"] = time.perf_counter() - started
    report["summary"] = summarise(report["records"])
    report["ranks"] = ranks(report["summary"])
    report["comparisons"] = compare(report["summary"], report["ranks"])
    report["versus_none"] = versus(report["summary"], "none")
    text = markdown(report)
    report["headline"] = headline_table(report["comparisons"])
    write_json(args.out / f"{SUITE}.json", report)
    write_text(args.out / f"{SUITE}.md", text)
    try_draw(SUITE, report, args.out)
    print("\n" + report["headline"])
    print(f"Wrote {args.out / SUITE}.json and .md ({report['wall_seconds'] / 60:.1f} min).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
