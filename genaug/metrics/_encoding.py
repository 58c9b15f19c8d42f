"""Plumbing shared by the metric families: aligned tables, column kinds, seeded subsamples, and
the numeric spaces the metrics work in.

Three spaces are used, each chosen for what it feeds:

* the **encoded space** of the k-NN metrics (diversity, privacy): genaug's
  :class:`~genaug.data.TabularCodec` fitted on the real table, with each continuous span
  standardised by the real rows' mean and standard deviation and each one-hot span multiplied
  by ``1 / sqrt(2)``, so that two rows that differ in one category are exactly one unit of
  squared distance apart, the same as one standard deviation of a numeric column;
* the **model matrix** of the gradient-boosting models (detection, utility): numbers as floats
  with NaN for missing, categories as integer codes shared by every table, which the trees split
  on natively;
* the **row keys** of the exact-copy count: every value turned into an integer that is equal
  exactly when the values are equal, missing values included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from genaug._random import resolve_seed
from genaug._validation import Interval, Satisfies, validate_params
from genaug.data.tabular import TabularCodec, check_table
from genaug.exceptions import InvalidDataError, InvalidParameterError

CATEGORICAL = "categorical"
NUMERIC = "numeric"
DATETIME = "datetime"

#: Rows per table above which the k-NN and detection metrics work on a seeded subsample.
DEFAULT_MAX_ROWS = 10_000

_ONE_HOT_WEIGHT = 1.0 / math.sqrt(2.0)

MAX_ROWS_CONSTRAINT = [Interval(int, 10, None)]
RANDOM_STATE_CONSTRAINT = [
    None,
    Interval(int, 0, None),
    Satisfies(lambda v: isinstance(v, np.random.Generator), "a numpy Generator"),
]


def single_threaded() -> threadpool_limits:
    """Run the gradient-boosting fits of the metrics on one OpenMP thread.

    Their histogram building opens many short parallel regions; on the few thousand rows of a
    metric, threads bring little, and on a machine whose cores are busy (a training job, other
    users) every region waits for a descheduled thread: measured 0.6 s with one thread against
    4-12 s with two on 2 busy cores, for the same 10,000-row detection test.
    """
    return threadpool_limits(limits=1, user_api="openmp")


def fill_doc(**parts: str):
    """Fill ``{name}`` fields of a docstring with shared parameter text (kept under -OO)."""

    def decorate(func):
        if func.__doc__:
            func.__doc__ = func.__doc__.format(**parts)
        return func

    return decorate


def check_params(owner: str, **params: Any) -> None:
    """Check the common keyword arguments of a metric function by name."""
    known = {
        "k": [Interval(int, 1, None)],
        "max_rows": MAX_ROWS_CONSTRAINT,
        "random_state": RANDOM_STATE_CONSTRAINT,
        "n_splits": [Interval(int, 2, None)],
        "features": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
        # A bare string would be read as a set of one-letter column names.
        "discrete_columns": [
            None,
            Satisfies(lambda v: isinstance(v, (list, tuple)), "a list of column names"),
        ],
        # Checked here, before any metric runs, rather than failing in clone() at the end.
        "estimator": [
            None,
            Satisfies(
                lambda v: all(
                    callable(getattr(v, m, None)) for m in ("fit", "predict", "get_params")
                ),
                "a scikit-learn classifier (with fit, predict and get_params)",
            ),
        ],
    }
    validate_params(params, {name: known[name] for name in params}, owner)


def _to_frame(X: Any, argument: str) -> tuple[pd.DataFrame, bool]:
    if isinstance(X, pd.DataFrame):
        return X, False
    if isinstance(X, pd.Series):
        raise InvalidDataError(
            f"{argument} is a pandas Series; pass a DataFrame (X.to_frame()) or a 2-D array."
        )
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise InvalidDataError(
            f"{argument} must be 2-D (rows x columns); got an array of shape {arr.shape}."
        )
    frame = pd.DataFrame(arr)
    if arr.dtype == object:
        # An object array often holds numbers next to strings; numbers should stay numbers.
        frame = frame.infer_objects()
    return frame, True


def prepare_tables(
    real: Any, others: dict[str, Any], real_argument: str = "real"
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Validate the real table and give every other table the real table's columns, in order.

    An array with as many columns as a real DataFrame takes the DataFrame's column names. A
    column that is entirely missing in another table takes the real column's dtype (one that
    can hold missing values), so that it counts as missing whatever dtype it arrived with.

    Raises
    ------
    InvalidDataError
        If a table is empty or not 2-D, has duplicate column names, or its columns differ from
        the real table's (the message names the missing and the extra columns).
    """
    frame, _, _ = check_table(_to_frame(real, real_argument)[0], real_argument)
    frame = frame.reset_index(drop=True)
    out = {}
    for name, X in others.items():
        other, was_array = _to_frame(X, name)
        if other.shape[0] == 0:
            raise InvalidDataError(f"{name} has no rows.")
        if was_array and other.shape[1] == frame.shape[1]:
            other = other.set_axis(frame.columns, axis=1)
        if other.columns.has_duplicates:
            dups = sorted({str(c) for c in other.columns[other.columns.duplicated()]})
            raise InvalidDataError(f"{name} has duplicate column names: {dups}.")
        missing = [c for c in frame.columns if c not in set(other.columns)]
        extra = [c for c in other.columns if c not in set(frame.columns)]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {missing}")
            if extra:
                parts.append(f"has columns {extra} that {real_argument} does not")
            raise InvalidDataError(
                f"{name} must have the columns of {real_argument}, but it "
                + " and ".join(parts)
                + "."
            )
        other = other[list(frame.columns)].reset_index(drop=True)
        for col in other.columns:
            if other[col].dtype != frame[col].dtype and other[col].isna().all():
                # An all-missing column often arrives as float NaN or object None whatever the
                # real column holds; the real dtype (made able to hold missing values) keeps
                # every later step on the column's own kind, datetimes included.
                other[col] = frame[col].iloc[:0].reindex(other.index)
                continue
            if (
                pd.api.types.is_float_dtype(other[col].dtype)
                and np.isinf(other[col].to_numpy(dtype=float, na_value=np.nan)).any()
            ):
                raise InvalidDataError(
                    f"Column {col!r} of {name} contains infinite values; replace them with NaN "
                    "(missing) or a finite number."
                )
        out[name] = other
    return frame, out


def _is_categorical(dtype: Any) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def column_kinds(
    real: pd.DataFrame,
    others: Sequence[pd.DataFrame] = (),
    others_names: Sequence[str] = (),
    discrete_columns: Sequence[Any] | None = None,
) -> dict[Any, str]:
    """Kind of each column, by the codec's rule, checked against the other tables.

    Categorical: named in ``discrete_columns``, or of a categorical, boolean, string or object
    dtype. Datetime and numeric: the rest. A column that is numeric in ``real`` must be numeric
    (or all-missing) in the other tables too.
    """
    if isinstance(discrete_columns, (str, bytes)):
        # A bare string would be read as a set of one-letter column names.
        raise InvalidParameterError(
            f"discrete_columns must be a list of column names, not the string "
            f"{discrete_columns!r}; write [{discrete_columns!r}] for one column."
        )
    discrete = set(discrete_columns or ())
    unknown = discrete - set(real.columns)
    if unknown:
        raise InvalidDataError(
            f"discrete_columns names columns that the tables lack: {sorted(map(str, unknown))}."
        )
    kinds = {}
    for name in real.columns:
        dtype = real[name].dtype
        if name in discrete or _is_categorical(dtype):
            kinds[name] = CATEGORICAL
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kinds[name] = DATETIME
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds[name] = NUMERIC
        else:
            raise InvalidDataError(
                f"Column {name!r} has dtype {dtype}, which the metrics cannot compare; convert "
                "it to numbers, datetimes or categories, or drop it."
            )
    for other, other_name in zip(others, others_names):
        for name, kind in kinds.items():
            col = other[name]
            if kind == CATEGORICAL or col.isna().all():
                continue
            ok = (
                pd.api.types.is_datetime64_any_dtype(col.dtype)
                if kind == DATETIME
                else pd.api.types.is_numeric_dtype(col.dtype)
                and not pd.api.types.is_bool_dtype(col.dtype)
            )
            if not ok:
                raise InvalidDataError(
                    f"Column {name!r} is {kind} in the real table but has dtype {col.dtype} in "
                    f"{other_name}; give it the real table's dtype."
                )
    return kinds


def _datetime_ns(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since the epoch (UTC) of a datetime column, and its mask of present values."""
    present = col.notna().to_numpy()
    ints = np.full(len(col), np.iinfo(np.int64).min, dtype=np.int64)
    stamps = col[present]
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    ints[present] = stamps.to_numpy().astype("datetime64[ns]").astype(np.int64)
    return ints, present


def numeric_values(col: pd.Series) -> np.ndarray:
    """A numeric or datetime column as float64, NaN where missing (datetimes in ns)."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        ints, present = _datetime_ns(col)
        return np.where(present, ints.astype(np.float64), np.nan)
    return col.to_numpy(dtype=float, na_value=np.nan)


def shared_codes(cols: Sequence[pd.Series]) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes of categorical columns over the union of their values (-1 = missing).

    Returns the codes of each column and the distinct values (code ``i`` is ``values[i]``).
    Equal values get equal codes across the columns, so the codes can be compared and counted
    together.
    """
    values = [c.astype(object) if isinstance(c.dtype, pd.CategoricalDtype) else c for c in cols]
    joined = pd.concat([pd.Series(v.to_numpy(dtype=object)) for v in values], ignore_index=True)
    codes, uniques = pd.factorize(joined, use_na_sentinel=True)
    return np.split(codes, np.cumsum([len(c) for c in cols])[:-1]), np.asarray(uniques)


def check_labels(y: Any, n_rows: int, argument: str) -> np.ndarray:
    """Class labels as a 1-D object array of ``n_rows``, without missing values."""
    arr = y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InvalidDataError(f"{argument} must be 1-D; got shape {arr.shape}.")
    if arr.shape[0] != n_rows:
        raise InvalidDataError(
            f"{argument} has {arr.shape[0]} labels, but its table has {n_rows} rows."
        )
    if pd.isna(pd.Series(arr)).any():
        raise InvalidDataError(f"{argument} has missing labels; drop those rows or fill them.")
    return arr.astype(object)


def make_rng(random_state: Any) -> np.random.Generator:
    """A local numpy generator for ``random_state`` (the global one is never touched)."""
    return np.random.default_rng(resolve_seed(random_state))


def subsample(n_rows: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: all rows, or a uniform draw of ``max_rows`` without replacement."""
    if n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def feature_matrix(frame: pd.DataFrame, argument: str) -> np.ndarray:
    """A table of pre-computed features as a float64 matrix (for ``features=True``)."""
    try:
        arr = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(
            f"With features=True, {argument} must hold numbers only (pre-computed features); "
            f"converting it failed: {exc}"
        ) from exc
    if not np.isfinite(arr).all():
        raise InvalidDataError(
            f"With features=True, {argument} must be finite; it has NaN or infinite values."
        )
    return arr


def encode(
    real: pd.DataFrame,
    others: Sequence[pd.DataFrame],
    *,
    features: bool = False,
    discrete_columns: Sequence[Any] | None = None,
    others_names: Sequence[str] = (),
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Put ``real`` and ``others`` into one numeric space for the k-NN metrics.

    With ``features=True`` the tables are taken as they are (pre-computed features, such as
    image embeddings). Otherwise a :class:`TabularCodec` is fitted on ``real`` and applied to
    every table (categories unseen in ``real`` become all-zero spans); continuous spans are
    standardised with the real rows' statistics and one-hot spans weighted by ``1/sqrt(2)``.

    Returns
    -------
    real_z : ndarray of shape (n_real, d), float64
    others_z : list of ndarray of shape (n_i, d), float64
    """
    names = list(others_names) or [f"table {i}" for i in range(len(others))]
    if features:
        return feature_matrix(real, "real"), [feature_matrix(o, n) for o, n in zip(others, names)]
    space = KnnSpace(discrete_columns)
    real_z = space.fit_transform(real)
    return real_z, [space.transform(o) for o in others]


class KnnSpace:
    """The encoded space of the k-NN metrics, fitted once and applied to any number of tables.

    :func:`encode` uses it for one comparison; copy protection at sampling time
    (:mod:`genaug.synthesizers._copies`) keeps one fitted on the reference rows and applies it
    to every generated chunk, so that both measure distances in the same space.

    Parameters
    ----------
    discrete_columns : sequence of column names, optional
        Numeric columns to encode as categories.
    """

    def __init__(self, discrete_columns: Sequence[Any] | None = None) -> None:
        self.discrete_columns = discrete_columns

    def fit_transform(self, real: pd.DataFrame) -> np.ndarray:
        """Fit the codec and the span scales on ``real``; return its rows in the space."""
        self.codec_ = TabularCodec(discrete_columns=self.discrete_columns).fit(real)
        real_z = self.codec_.transform(real).astype(np.float64)
        self.center_ = np.zeros(self.codec_.output_dim_)
        self.scale_ = np.ones(self.codec_.output_dim_)
        for span in self.codec_.spans_:
            block = slice(span.start, span.stop)
            if span.kind == "continuous":
                self.center_[block] = real_z[:, block].mean(axis=0)
                std = real_z[:, block].std(axis=0)
                self.scale_[block] = 1.0 / np.where(std > 0, std, 1.0)
            else:
                self.scale_[block] = _ONE_HOT_WEIGHT
        # Where each number's distance past the real range goes: its value span, or, for a
        # column of point masses only (0/1 flags, small counts, a constant), a column of its
        # own appended to the codec's (0 on every real row), which the codec would otherwise
        # leave without any coordinate for a value it never saw.
        self.beyond_ = []
        extra = 0
        for info in self.codec_.columns_:
            if info["kind"] == "categorical":
                continue
            values = numeric_values(real[info["name"]])
            values = values[~np.isnan(values)]
            if not values.size:
                continue
            lo, hi = float(values.min()), float(values.max())
            # A constant column has no spread to measure by (its computed std is rounding,
            # 1e-17 for a column of 0.1): its magnitude stands in.
            unit = float(values.std()) if hi > lo else max(abs(lo), 1.0)
            value_span = info["_spans"][1]
            masses = None
            if value_span is None:
                column, scale = self.codec_.output_dim_ + extra, 1.0
                extra += 1
                masses = np.unique(values)
            else:
                column = self.codec_.spans_[value_span].start
                scale = float(self.scale_[column])
            self.beyond_.append((info["name"], column, lo, hi, unit / scale, masses))
        self.n_extra_ = extra
        return np.hstack([(real_z - self.center_) * self.scale_, np.zeros((len(real_z), extra))])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` (the fitted columns) in the space; unseen categories are all-zero.

        A number beyond the fitted rows' range continues past the end of it, by its distance
        from the range in the column's standard deviations: the codec alone would clip it
        onto the range's end, where rows far apart from each other and from every real row
        would meet real rows at distance 0. In a column of point masses only (0/1 flags,
        small counts, a constant), a number that is none of them goes to the nearest one,
        and its distance from it, in standard deviations, into the column's extra
        coordinate.
        """
        shifts = {}
        for name, column, lo, hi, unit, masses in self.beyond_:
            values = numeric_values(frame[name])
            if masses is None:
                past = np.where(values > hi, values - hi, np.where(values < lo, values - lo, 0.0))
            else:
                nearest = _nearest_of(masses, values)
                past = np.nan_to_num(values - nearest)
                if past.any() and not pd.api.types.is_datetime64_any_dtype(frame[name].dtype):
                    # The codec takes a value it never saw for its first point mass: the row
                    # goes to the nearest one instead, the rest of the way in the extra column.
                    if not shifts:
                        frame = frame.copy()
                    mapped = pd.Series(np.where(np.isnan(values), np.nan, nearest))
                    frame[name] = mapped.set_axis(frame.index).astype(frame[name].dtype)
            if past.any():  # NaN compares False: missing values stay where the codec put them
                shifts[column] = past / unit
        z = self.codec_.transform(frame, handle_unknown="ignore").astype(np.float64)
        z = np.hstack([(z - self.center_) * self.scale_, np.zeros((len(z), self.n_extra_))])
        for column, shift in shifts.items():
            z[:, column] += shift
        return z


def _nearest_of(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The element of ``sorted_values`` nearest each ``x`` (NaN stays NaN), vectorised."""
    right = np.clip(np.searchsorted(sorted_values, x), 0, len(sorted_values) - 1)
    left = np.clip(right - 1, 0, len(sorted_values) - 1)
    below, above = sorted_values[left], sorted_values[right]
    return np.where(np.abs(x - below) <= np.abs(above - x), below, above)


def model_matrices(
    frames: Sequence[pd.DataFrame], kinds: dict[Any, str], max_categories: int = 254
) -> tuple[list[np.ndarray], np.ndarray]:
    """Float matrices for gradient boosting, and the mask of the columns to split as categories.

    Numbers stay numbers (NaN for missing, datetimes in ns). Categories become codes shared by
    all ``frames``; a column with more than ``max_categories`` values is passed as its codes
    taken as numbers, because the trees' native categorical splits are bounded by their bins.
    """
    columns: list[list[np.ndarray]] = [[] for _ in frames]
    is_cat = []
    for name, kind in kinds.items():
        if kind == CATEGORICAL:
            codes, values = shared_codes([f[name] for f in frames])
            for out, c in zip(columns, codes):
                out.append(np.where(c < 0, np.nan, c.astype(np.float64)))
            is_cat.append(len(values) <= max_categories)
        else:
            for out, f in zip(columns, frames):
                out.append(numeric_values(f[name]))
            is_cat.append(False)
    return [np.column_stack(c) for c in columns], np.asarray(is_cat, dtype=bool)


def row_keys(frames: Sequence[pd.DataFrame], kinds: dict[Any, str]) -> list[pd.DataFrame]:
    """Integer keys per cell: equal exactly when the values are equal (missing equals missing).

    Categories get shared codes; numbers are compared by the bits of their float64 value after
    folding ``-0.0`` onto ``0.0`` and every NaN onto one NaN, except in a column that is of an
    integer dtype in some table, where whole numbers are keyed by their exact integer value
    (float64 would merge integers beyond 2**53); datetimes by their int64 nanoseconds (float64
    would merge timestamps that differ by less than a microsecond).
    """
    data: list[dict[str, np.ndarray]] = [{} for _ in frames]
    for i, (name, kind) in enumerate(kinds.items()):
        key = f"c{i}"
        cols = [f[name] for f in frames]
        if kind == CATEGORICAL:
            codes, _ = shared_codes(cols)
            for out, c in zip(data, codes):
                out[key] = c.astype(np.int64)
        elif kind == DATETIME:
            # Missing values get the NaT sentinel (int64 minimum).
            for out, col in zip(data, cols):
                out[key] = _datetime_ns(col)[0]
        elif all(isinstance(col.dtype, np.dtype) and col.dtype.kind == "i" for col in cols):
            # numpy signed integers in every table: the values are the keys (nothing missing).
            for out, col in zip(data, cols):
                out[key] = col.to_numpy(dtype=np.int64)
        elif any(pd.api.types.is_integer_dtype(col.dtype) for col in cols):
            for out, col in zip(data, cols):
                out[key], out[f"{key}v"] = _integer_keys(col)
        else:
            for out, col in zip(data, cols):
                vals = numeric_values(col) + 0.0
                vals[np.isnan(vals)] = np.nan
                out[key] = vals.view(np.int64)
    return [pd.DataFrame(d) for d in data]


def _integer_keys(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 keys of a numeric column that may hold integers beyond 2**53: a class (0
    whole number in int64 range, 1 other float, 2 missing, 3 unsigned beyond int64) and a value
    (the integer, or the float's bits), equal exactly when the numbers are equal."""
    missing = col.isna().to_numpy()
    if pd.api.types.is_integer_dtype(col.dtype):
        if pd.api.types.is_unsigned_integer_dtype(col.dtype):
            raw = col.to_numpy(dtype=np.uint64, na_value=0)
            cls = np.where(raw > np.iinfo(np.int64).max, 3, 0)
            vals = raw.view(np.int64)
        else:
            vals = col.to_numpy(dtype=np.int64, na_value=0)
            cls = np.zeros(len(col), dtype=np.int64)
    else:
        floats = numeric_values(col) + 0.0
        # Whole floats below 2**63 in size convert to int64 exactly, to meet equal integers;
        # whole floats in [2**63, 2**64) meet equal uint64 values (class 3, as their bits).
        whole = np.isfinite(floats) & (np.floor(floats) == floats)
        signed = whole & (floats >= -(2.0**63)) & (floats < 2.0**63)
        unsigned = whole & (floats >= 2.0**63) & (floats < 2.0**64)
        bits = np.where(np.isnan(floats), 0.0, floats).view(np.int64)
        as_signed = np.where(signed, floats, 0.0).astype(np.int64)
        as_unsigned = np.where(unsigned, floats, 0.0).astype(np.uint64).view(np.int64)
        vals = np.where(signed, as_signed, np.where(unsigned, as_unsigned, bits))
        cls = np.where(signed, 0, np.where(unsigned, 3, 1))
    cls = np.where(missing, 2, cls).astype(np.int64)
    return cls, np.where(missing, 0, vals).astype(np.int64)
