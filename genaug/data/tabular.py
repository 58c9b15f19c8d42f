"""Reversible encoding of mixed-type tables into the matrices that the networks see.

Every column becomes a *mode* span and/or a *value* span of the encoded matrix:

* a categorical column (object, ``str``, ``string``, ``category``, ``bool``/``boolean``, or a
  column named in ``discrete_columns``) becomes one one-hot span over the categories seen in
  ``fit``, with one more slot for "missing" when the column had missing values;
* a numeric column (integers, floats, datetimes) becomes a one-hot *mode* span, whose slots are
  "missing" (if any value was missing), each *point mass* (a value repeated in at least
  ``point_mass_threshold`` of the rows, and at least twice, such as the zeros of a
  capital-gain column) and the continuous components, followed by one *value* span holding
  the standardised value of the rows that fall in a continuous component (0 elsewhere).

Two encodings of the continuous part are offered (``continuous_encoding``):

``"quantile"`` (default)
    One component. The value is mapped through the column's empirical CDF and then through
    the inverse normal CDF, so that every marginal, skewed or multi-modal, becomes N(0, 1).
    Decoding inverts both steps by linear interpolation between stored quantiles.
``"mode"``
    Mode-specific normalisation in the style of Xu et al. (2019, "Modeling Tabular Data using
    Conditional GAN"): a Gaussian mixture per column, each row assigned to a component drawn
    from its posterior, and the value standardised within that component.

``benchmarks/codec.py`` compares the two (results in ``benchmarks/results/codec.md``): on
Adult, a VAE trained on either scores within 0.01 of the other on train-synthetic-test-real
macro-F1 and ROC-AUC and on detection AUC, while "quantile" fits its codec about 7 times
faster and encodes to a third fewer columns, which is why it is the default.

On decoding, values are clipped to the training range, rounded to the number of
decimal places the column had (a datetime column to the coarsest unit, from days to
nanoseconds, that divided all its values), and restored to the column's dtype, so integers stay
integers (beyond 2**53 too), dates stay dates, point masses come back exactly and no category
appears that was not in the training data.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri

from genaug._validation import Interval, Options, Satisfies, validate_params
from genaug.exceptions import InvalidDataError, ModelFileError, NotFittedError

__all__ = ["Span", "TabularCodec"]

_STATE_VERSION = 1
_N_QUANTILES = 1000
_MAX_DECIMALS = 8
# Keep the normal scores finite: a value at the very edge of the CDF maps to +-5.2 sigma.
_CDF_EPS = 1e-7
# pandas before 3 consolidates same-dtype columns into one 2-D block when a frame is built.
_PANDAS_CONSOLIDATES = int(pd.__version__.split(".")[0]) < 3
# Integers up to this magnitude are exact in float64: an integer column within it is decoded
# through floats, one beyond it (ids, sentinels such as 2**63 - 1) through integers.
_FLOAT_EXACT = 2**53
# Resolutions a datetime column can have, coarsest first, in nanoseconds (day ... ns).
_DATETIME_UNITS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)


@dataclass(frozen=True)
class Span:
    """A contiguous block of columns in the encoded matrix.

    Attributes
    ----------
    start : int
        Index of the block's first column.
    size : int
        Number of columns in the block.
    kind : {"categorical", "continuous"}
        A categorical block is one-hot (one slot per category or mode); a continuous block
        holds one real value per row.
    column : str
        Name of the original column the block encodes (``str`` of it for non-string names).
    """

    start: int
    size: int
    kind: str
    column: str

    @property
    def stop(self) -> int:
        """Index one past the block's last column."""
        return self.start + self.size


def _py(value: Any) -> Any:
    """Convert a numpy scalar to the Python scalar that JSON can hold."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decimals(values: np.ndarray) -> int | None:
    """Smallest number of decimal places that represents every value exactly, if any.

    The tolerance is relative to each value: a value too small for ``_MAX_DECIMALS`` places
    (a p-value of 1e-10) leaves the column unrounded instead of being rounded to 0.
    """
    if values.size == 0:
        return 0
    magnitude = np.abs(values)
    # Relative to each value, so that 1e-10 is not rounded to 0; but at least 1e-15 of the
    # column's largest, so that float noise such as 0.1 + 0.2 - 0.3 (5.6e-17) still rounds.
    tolerance = 1e-9 * np.maximum(magnitude, 1e-6 * magnitude.max())
    for d in range(_MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(values, d) - values) <= tolerance):
            return d
    return None


def _resolution(ns: np.ndarray) -> int:
    """The coarsest of ``_DATETIME_UNITS`` that divides every value (int64 nanoseconds)."""
    for unit in _DATETIME_UNITS[:-1]:
        if not (ns % unit).any():
            return unit
    return 1


def _float_exact(info: dict) -> bool:
    """Whether an integer column's values all survive a round trip through float64."""
    if info["kind"] == "datetime":
        return False
    return -_FLOAT_EXACT <= info["min"] and info["max"] <= _FLOAT_EXACT


# Category values and column names that JSON has no type for are saved as tagged objects,
# {"type": tag, "value": text}; types with no tag make save() name the column.
def _encode_value(value: Any, column: Any) -> Any:
    """``value`` (a category) as JSON can hold it."""
    value = _py(value)
    if isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"type": "float", "value": repr(value)}
    if isinstance(value, pd.Timestamp):
        tag = {"type": "timestamp", "value": value.isoformat(), "unit": value.unit}
        return tag if value.tz is None else {**tag, "tz": _tz_name(value.tz)}
    if isinstance(value, datetime.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, bytes):
        return {"type": "bytes", "value": value.hex()}
    raise InvalidDataError(
        f"Column {column!r} has categories of type {type(value).__name__}, which a saved model "
        "cannot hold; convert the column before fitting (for example with .astype(str), or "
        "pd.to_datetime for dates)."
    )


def _tz_name(tz: Any) -> str:
    """A name of ``tz`` that pandas parses back: dateutil zones print as
    ``tzfile('/usr/share/zoneinfo/Europe/Berlin')``, which it does not."""
    for name in (getattr(tz, "key", None), getattr(tz, "zone", None)):
        if isinstance(name, str):
            return name
    filename = getattr(tz, "_filename", None)
    if isinstance(filename, str) and "zoneinfo/" in filename:
        return "dateutil/" + filename.split("zoneinfo/", 1)[1]
    try:  # a fixed offset without a name (dateutil's tzoffset, tzutc)
        offset = tz.utcoffset(None)
    except (TypeError, AttributeError):
        offset = None
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return "UTC" if minutes == 0 else f"UTC{sign}{hours:02d}:{rest:02d}"
    return str(tz)


def _decode_value(value: Any) -> Any:
    """Inverse of :func:`_encode_value` (plain JSON values are returned as they are)."""
    if not isinstance(value, dict):
        return value
    tag, text = value.get("type"), value.get("value")
    if not isinstance(text, str):
        raise ModelFileError(f"A tagged category {str(value)[:60]!r} has no text value.")
    try:
        if tag == "float" and text in ("inf", "-inf"):
            return float(text)
        if tag == "timestamp":
            stamp = pd.Timestamp(text)
            if value.get("tz") is not None:
                stamp = stamp.tz_convert(value["tz"])
            return stamp.as_unit(value.get("unit", "ns"))
        if tag == "datetime":
            return datetime.datetime.fromisoformat(text)
        if tag == "date":
            return datetime.date.fromisoformat(text)
        if tag == "decimal":
            return decimal.Decimal(text)
        if tag == "bytes":
            return bytes.fromhex(text)
    except Exception as exc:  # whatever the parsers raise (a time zone pandas lacks...)
        raise ModelFileError(f"A tagged category {str(value)[:60]!r} is malformed: {exc}") from exc
    raise ModelFileError(f"A category has an unknown type tag {str(tag)[:40]!r}.")


def _encode_name(name: Any) -> Any:
    """A column name as JSON can hold it: tuples (MultiIndex columns) are tagged."""
    name = _py(name)
    if isinstance(name, tuple):
        return {"type": "tuple", "value": [_encode_name(part) for part in name]}
    if isinstance(name, (str, int)) or (isinstance(name, float) and math.isfinite(name)):
        return name
    raise InvalidDataError(
        f"Column {name!r} has a name of type {type(name).__name__}, which a saved model "
        "cannot hold; rename the columns before fitting (for example "
        "X.columns = X.columns.map(str))."
    )


def _decode_name(name: Any) -> Any:
    """Inverse of :func:`_encode_name`; anything else is returned for validation to refuse."""
    if isinstance(name, dict) and name.get("type") == "tuple":
        parts = name.get("value")
        if isinstance(parts, list):
            return tuple(_decode_name(part) for part in parts)
    return name


def _is_saved_name(name: Any) -> bool:
    if isinstance(name, tuple):
        return all(_is_saved_name(part) for part in name)
    return isinstance(name, (str, int)) or (isinstance(name, float) and math.isfinite(name))


def _is_categorical_dtype(dtype: Any) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def _is_datetime_dtype(dtype: Any) -> bool:
    return pd.api.types.is_datetime64_any_dtype(dtype)


def _as_frame(X: Any, argument: str = "X") -> tuple[pd.DataFrame, bool, Any]:
    """Return ``X`` as a DataFrame, whether it was an array, and the array's dtype."""
    if isinstance(X, pd.DataFrame):
        return X, False, None
    if isinstance(X, pd.Series):
        raise InvalidDataError(
            f"{argument} is a pandas Series; pass a DataFrame (X.to_frame()) or a 2-D array."
        )
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - numpy's own message is kept
        raise InvalidDataError(f"{argument} cannot be converted to an array: {exc}") from exc
    if arr.ndim != 2:
        raise InvalidDataError(
            f"{argument} must be 2-D (rows x columns); got an array of shape {arr.shape}."
        )
    return pd.DataFrame(arr), True, arr.dtype


def check_table(X: Any, argument: str = "X") -> tuple[pd.DataFrame, bool, Any]:
    """Validate a table passed by a user and return it as a DataFrame.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_rows, n_columns)
        The table.
    argument : str, default="X"
        Name used for ``X`` in error messages.

    Returns
    -------
    frame : DataFrame
        ``X`` itself, or a DataFrame view of the array.
    was_array : bool
        Whether ``X`` was given as an array.
    array_dtype : numpy dtype or None
        The array's dtype when ``was_array``.

    Raises
    ------
    InvalidDataError
        If ``X`` is empty, not 2-D, has duplicate column names, holds infinite values or complex
        numbers, or has a column whose values are all missing (such a column carries nothing to
        learn: drop it).
    """
    frame, was_array, array_dtype = _as_frame(X, argument)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidDataError(
            f"{argument} is empty (shape {frame.shape}); it needs at least one row and one column."
        )
    if frame.columns.has_duplicates:
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidDataError(f"{argument} has duplicate column names: {dups}.")
    for name in frame.columns:
        col = frame[name]
        if col.isna().all():
            raise InvalidDataError(
                f"Column {name!r} of {argument} is entirely missing; drop it before fitting."
            )
        if pd.api.types.is_complex_dtype(col.dtype):
            # numpy would drop the imaginary part silently when encoding.
            raise InvalidDataError(
                f"Column {name!r} of {argument} holds complex numbers, which genaug cannot "
                "model; split it into real and imaginary columns (.real, .imag) or drop it."
            )
        if pd.api.types.is_float_dtype(col.dtype):
            vals = col.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(vals).any():
                raise InvalidDataError(
                    f"Column {name!r} of {argument} contains infinite values; replace them with "
                    "NaN (missing) or a finite number."
                )
    return frame, was_array, array_dtype


class TabularCodec:
    """Reversible encoder between a mixed-type table and a float32 matrix.

    Parameters
    ----------
    discrete_columns : sequence of column names (or indices for arrays), optional
        Columns to treat as categorical whatever their dtype. Object, string, category and
        boolean columns are always categorical.
    continuous_encoding : {"quantile", "mode"}, default="quantile"
        How the continuous part of a numeric column is encoded (see the module docstring).
    point_mass_threshold : float, default=0.05
        A numeric value that occurs in at least this share of a column's rows (and at least
        twice) becomes its own mode and is reproduced exactly.
    max_point_masses : int, default=10
        At most this many point masses per column (the most frequent ones).
    max_modes : int, default=10
        Largest number of mixture components per column for ``continuous_encoding="mode"``.
    max_categories : int, default=1000
        A categorical column with more distinct values is refused with an
        :class:`~genaug.exceptions.InvalidDataError` that names it (such columns are usually
        identifiers or free text, which the synthesizers should not copy). The check runs on
        the column's distinct values before anything per category is built, so a column of
        100,000 distinct strings fails in a fraction of a second, in memory proportional to
        the rows, never allocating a one-hot block of that width. Rare values are not merged
        into an "other" category: that would make up values for the synthetic rows.

    random_state : int or None, default=None
        Seed of the mixture fit and the component draws for ``continuous_encoding="mode"``.

    Attributes
    ----------
    columns_ : list of dict
        Per-column state (kind, dtype, categories, modes, quantiles, range, rounding).
    spans_ : list of Span
        Layout of the encoded matrix.
    output_dim_ : int
        Number of columns of the encoded matrix.

    Notes
    -----
    A constant column (one distinct value) is legitimate: it becomes a single point mass or a
    single category and every decoded row holds that value exactly. A column whose values are
    all missing is refused by :func:`check_table` (it carries nothing to learn; drop it).
    """

    def __init__(
        self,
        discrete_columns: Sequence[Any] | None = None,
        continuous_encoding: str = "quantile",
        point_mass_threshold: float = 0.05,
        max_point_masses: int = 10,
        max_modes: int = 10,
        max_categories: int = 1000,
        random_state: int | None = None,
    ) -> None:
        self.discrete_columns = discrete_columns
        self.continuous_encoding = continuous_encoding
        self.point_mass_threshold = point_mass_threshold
        self.max_point_masses = max_point_masses
        self.max_modes = max_modes
        self.max_categories = max_categories
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "discrete_columns": [
            None,
            Satisfies(lambda v: isinstance(v, (list, tuple)), "a list of column names"),
        ],
        "continuous_encoding": [Options(("quantile", "mode"))],
        "point_mass_threshold": [Interval(float, 0, 1, closed="right")],
        "max_point_masses": [Interval(int, 0, None)],
        "max_modes": [Interval(int, 1, None)],
        "max_categories": [Interval(int, 1, None)],
        "random_state": [None, Interval(int, 0, None)],
    }

    def _check_params(self) -> None:
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        validate_params(params, self._parameter_constraints, type(self).__name__)

    def fit(self, X: Any) -> TabularCodec:
        """Learn each column's kind, categories, modes and range.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The training table.

        Returns
        -------
        self : TabularCodec
        """
        self._check_params()
        frame, was_array, array_dtype = check_table(X)
        discrete = set(self.discrete_columns or ())
        unknown = discrete - set(frame.columns)
        if unknown:
            raise InvalidDataError(
                f"discrete_columns names columns that X does not have: {sorted(map(str, unknown))}."
            )
        rng = np.random.default_rng(self.random_state)
        self.input_was_array_ = was_array
        self.array_dtype_ = None if array_dtype is None else str(array_dtype)
        self.columns_ = []
        for name in frame.columns:
            col = frame[name]
            if name in discrete or _is_categorical_dtype(col.dtype):
                info = self._fit_categorical(name, col)
            elif _is_datetime_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
                info = self._fit_numeric(name, col, rng)
            else:
                raise InvalidDataError(
                    f"Column {name!r} has dtype {col.dtype}, which genaug cannot model; convert "
                    "it to numbers, datetimes or categories, or drop it."
                )
            self.columns_.append(info)
        self._build_layout()
        return self

    def _fit_categorical(self, name: Any, col: pd.Series) -> dict:
        missing = col.isna().to_numpy()
        present = col[~missing]
        try:
            uniques_all = present.unique()
        except TypeError as exc:  # unhashable values such as dicts or lists
            raise InvalidDataError(
                f"Column {name!r} holds values that cannot be categories ({exc}); convert them to "
                "strings or numbers, or drop the column."
            ) from exc
        # Refuse before sorting the values or building anything per category: the memory used
        # so far is one array of the distinct values, whatever their number.
        self._check_cardinality(name, len(uniques_all))
        kinds = {type(v) for v in uniques_all[:10_000]}
        # numpy scalars and their Python counterparts are the same kind of value
        kinds = {bool if issubclass(k, (bool, np.bool_)) else k for k in kinds}
        kinds = {str if issubclass(k, str) else k for k in kinds}
        if len(kinds) > 1 and not all(issubclass(k, (int, float, np.number)) for k in kinds):
            raise InvalidDataError(
                f"Column {name!r} mixes value types {sorted(k.__name__ for k in kinds)}; "
                "convert it "
                "to one type (for example with .astype(str)) before fitting."
            )
        if isinstance(col.dtype, pd.CategoricalDtype):
            counts = present.value_counts(sort=False)
            categories = [c for c in col.dtype.categories if counts.get(c, 0) > 0]
            dtype_categories = [_py(c) for c in col.dtype.categories]
            ordered = bool(col.dtype.ordered)
        elif _is_datetime_dtype(col.dtype):
            # Timestamps (a datetime column in discrete_columns): numpy's tolist() would give
            # nanosecond integers, which transform's Timestamps do not match.
            categories = sorted(present.unique())
            dtype_categories, ordered = None, False
        else:
            uniques = pd.unique(present.to_numpy())
            try:
                categories = sorted(uniques.tolist())
            except TypeError:
                categories = uniques.tolist()
            dtype_categories, ordered = None, False
        self._check_cardinality(name, len(categories))
        return {
            "name": _py(name),
            "kind": "categorical",
            "dtype": _dtype_name(col.dtype),
            "categories": [_py(c) for c in categories],
            "dtype_categories": dtype_categories,
            "ordered": ordered,
            "has_missing": bool(missing.any()),
        }

    def _check_cardinality(self, name: Any, n_distinct: int) -> None:
        if n_distinct <= self.max_categories:
            return
        listed = name in set(self.discrete_columns or ())
        hint = (
            "it is listed in discrete_columns: leave it out to model it as a number, or drop it"
            if listed
            else "such a column is usually an identifier or free text: drop it before fitting "
            "(exclude_columns in the Hugging Face adapter)"
        )
        raise InvalidDataError(
            f"Column {name!r} has {n_distinct} distinct values, more than "
            f"max_categories={self.max_categories}; {hint}. If it really is a category, raise "
            "TabularCodec's max_categories."
        )

    def _fit_numeric(self, name: Any, col: pd.Series, rng: np.random.Generator) -> dict:
        is_datetime = _is_datetime_dtype(col.dtype)
        is_integer = is_datetime or pd.api.types.is_integer_dtype(col.dtype)
        if is_integer:
            # Point masses and the range from the integers themselves: through float64, an
            # int64 of 2**63 - 1 would become 2**63 and 2**53 + 1 would become 2**53.
            ints, missing = self._integer_values(col, is_datetime)
            exact = ints[~missing]
            present = exact.astype(np.float64)
        else:
            values = self._numeric_values(col, is_datetime)
            missing = np.isnan(values)
            present = exact = values[~missing]
        uniq, counts = np.unique(exact, return_counts=True)
        share = counts / len(missing)
        order = np.argsort(-share, kind="stable")
        # A value seen once is no point mass, however few the rows: in a table of 20 rows
        # or fewer every value would otherwise be one, and the column could only return
        # the training values.
        massive = (share[order] >= self.point_mass_threshold) & (counts[order] >= 2)
        order = order[massive][: self.max_point_masses]
        point_masses = uniq[np.sort(order)]
        rest = present[~np.isin(exact, point_masses)]
        # Python ints for integer columns: JSON keeps them exact, whatever their size.
        scalar = int if is_integer else float
        info: dict[str, Any] = {
            "name": _py(name),
            "kind": "datetime" if is_datetime else "numeric",
            "dtype": _dtype_name(col.dtype),
            "has_missing": bool(missing.any()),
            "point_masses": [scalar(v) for v in point_masses],
            "min": scalar(exact.min()),
            "max": scalar(exact.max()),
            "integer": bool(is_integer),
            "decimals": 0 if is_integer else _decimals(present),
            "quantiles": None,
            "means": None,
            "stds": None,
        }
        if is_datetime:
            # Decoded values are rounded to it: a column of dates comes back as dates.
            info["resolution"] = _resolution(exact)
            zone = getattr(col.dt, "tz", None)
            if zone is not None:
                # Dates in Tokyo are midnights there, 15:00 in UTC: the wall-clock values
                # may have the coarser unit (and hourly UTC readings in Kolkata the finer).
                try:
                    local = _wall_clock_resolution(exact, zone, info["resolution"])
                except (pd.errors.OutOfBoundsDatetime, OverflowError):
                    local = 0  # wall clock past pandas' bounds (year 2262): UTC it is
                if local > info["resolution"]:
                    info["resolution"], info["resolution_local"] = local, True
        if rest.size == 0:
            return info
        if self.continuous_encoding == "quantile":
            n_q = int(min(_N_QUANTILES, max(rest.size, 2)))
            info["quantiles"] = [float(v) for v in np.quantile(rest, np.linspace(0, 1, n_q))]
        else:
            info["means"], info["stds"] = self._fit_mixture(rest, rng)
        return info

    def _fit_mixture(self, values: np.ndarray, rng: np.random.Generator) -> tuple[list, list]:
        from sklearn.mixture import GaussianMixture

        # Squares of values beyond ~1e154 overflow (the standard deviation, the mixture's
        # variances), and the floor of 1e-6 on the components' deviations below would merge
        # values under ~1e-6: such values are fitted scaled by a power of two, which is exact,
        # and the components scaled back. Other values are fitted as they are.
        top = float(np.abs(values).max())
        shift = math.frexp(top)[1] if top > 2.0**500 or 0 < top < 2.0**-20 else 0
        if shift:
            values = np.ldexp(values, -shift)
        n_unique = np.unique(values).size
        k = int(min(self.max_modes, n_unique))
        if k <= 1:
            std = float(values.std()) or 1.0
            return [float(np.ldexp(values.mean(), shift))], [float(np.ldexp(std, shift))]
        # A mixture fit on a bounded subsample keeps fit time flat in the number of rows.
        sample = values if values.size <= 20_000 else rng.choice(values, 20_000, replace=False)
        center, scale = float(sample.mean()), float(sample.std()) or 1.0
        gm = GaussianMixture(
            n_components=k,
            covariance_type="diag",
            max_iter=100,
            reg_covar=1e-4,
            random_state=int(rng.integers(2**31 - 1)),
        ).fit(((sample - center) / scale).reshape(-1, 1))
        keep = gm.weights_ > 0.005
        means = gm.means_.ravel()[keep] * scale + center
        stds = np.sqrt(gm.covariances_.ravel()[keep]) * scale
        order = np.argsort(means)
        floor = max(1e-6, 1e-3 * float(values.std()))
        return (
            [float(np.ldexp(m, shift)) for m in means[order]],
            [float(np.ldexp(max(s, floor), shift)) for s in stds[order]],
        )

    @staticmethod
    def _integer_values(col: pd.Series, is_datetime: bool) -> tuple[np.ndarray, np.ndarray]:
        """An integer column's values (int64 or uint64; datetimes as UTC nanoseconds), 0
        where missing, and the mask of the missing ones."""
        missing = col.isna().to_numpy()
        if is_datetime:
            out = np.zeros(len(col), dtype=np.int64)
            stamps = col[~missing]
            if getattr(stamps.dt, "tz", None) is not None:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            out[~missing] = stamps.to_numpy().astype("datetime64[ns]").astype(np.int64)
            return out, missing
        unsigned = pd.api.types.is_unsigned_integer_dtype(col.dtype)
        return col.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0), missing

    @staticmethod
    def _numeric_values(col: pd.Series, is_datetime: bool) -> np.ndarray:
        if is_datetime:
            ints, missing = TabularCodec._integer_values(col, True)
            out = ints.astype(np.float64)
            out[missing] = np.nan
            return out
        return col.to_numpy(dtype=float, na_value=np.nan)

    # --------------------------------------------------------------- layout
    @staticmethod
    def _modes(info: dict) -> int:
        n_cont = 0
        if info["quantiles"] is not None:
            n_cont = 1
        elif info["means"] is not None:
            n_cont = len(info["means"])
        return int(info["has_missing"]) + len(info["point_masses"]) + n_cont

    def _build_layout(self) -> None:
        spans: list[Span] = []
        start = 0
        for info in self.columns_:
            label = str(info["name"])
            if info["kind"] == "categorical":
                size = len(info["categories"]) + int(info["has_missing"])
                spans.append(Span(start, size, "categorical", label))
                info["_spans"] = (len(spans) - 1, None)
                start += size
                continue
            n_modes = self._modes(info)
            has_value = info["quantiles"] is not None or info["means"] is not None
            mode_idx = value_idx = None
            if n_modes > 1:
                spans.append(Span(start, n_modes, "categorical", label))
                mode_idx = len(spans) - 1
                start += n_modes
            if has_value:
                spans.append(Span(start, 1, "continuous", label))
                value_idx = len(spans) - 1
                start += 1
            info["_spans"] = (mode_idx, value_idx)
        self.spans_ = spans
        self.output_dim_ = start
        # For decoding one-hot rows by one product: column j of the weights holds the
        # category indices 0..size-1 of the j-th one-hot span, zeros elsewhere.
        one_hot = [i for i, span in enumerate(spans) if span.kind == "categorical"]
        weights = np.zeros((start, len(one_hot)), dtype=np.float32)
        for j, i in enumerate(one_hot):
            weights[spans[i].start : spans[i].stop, j] = np.arange(spans[i].size)
        self._code_weights = weights
        self._code_slot = {i: j for j, i in enumerate(one_hot)}
        self._value_spans = [i for i, span in enumerate(spans) if span.kind == "continuous"]

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("This TabularCodec is not fitted yet; call fit(X) first.")

    @property
    def column_names(self) -> list:
        """Names of the columns, in the order of the table."""
        self._check_fitted()
        return [info["name"] for info in self.columns_]

    # ------------------------------------------------------------ transform
    def transform(
        self, X: Any, handle_unknown: str = "error", random_state: int | None = None
    ) -> np.ndarray:
        """Encode a table with the layout learned in ``fit``.

        Parameters
        ----------
        X : DataFrame or array-like
            A table with the training columns (extra columns are ignored).
        handle_unknown : {"error", "ignore"}, default="error"
            What to do with a category not seen in ``fit``: raise, or encode it as an all-zero
            span. Numeric values outside the training range are clipped to it.
        random_state : int or None, default=None
            Seed for the component draws of ``continuous_encoding="mode"``.

        Returns
        -------
        ndarray of shape (n_rows, output_dim_), dtype float32
        """
        self._check_fitted()
        frame, _, _ = _as_frame(X)
        if self.input_was_array_ and frame.shape[1] == len(self.columns_):
            frame.columns = self.column_names
        missing_cols = [info["name"] for info in self.columns_ if info["name"] not in frame.columns]
        if missing_cols:
            raise InvalidDataError(f"X lacks the columns the codec was fitted on: {missing_cols}.")
        rng = np.random.default_rng(random_state)
        n = len(frame)
        out = np.zeros((n, self.output_dim_), dtype=np.float32)
        rows = np.arange(n)
        for info in self.columns_:
            col = frame[info["name"]]
            if info["kind"] == "categorical":
                self._encode_categorical(info, col, out, rows, handle_unknown)
            else:
                self._encode_numeric(info, col, out, rows, rng)
        return out

    def _encode_categorical(self, info, col, out, rows, handle_unknown) -> None:
        span = self.spans_[info["_spans"][0]]
        values = col.astype(object) if isinstance(col.dtype, pd.CategoricalDtype) else col
        codes = pd.Index(info["categories"], dtype=object).get_indexer(values.astype(object))
        codes = codes.astype(np.int64)
        missing = col.isna().to_numpy()
        unknown = (codes < 0) & ~missing
        if unknown.any():
            if handle_unknown == "error":
                examples = pd.unique(col[unknown].astype(str))[:5].tolist()
                raise InvalidDataError(
                    f"Column {info['name']!r} has values not seen in fit: {examples}."
                )
        if missing.any():
            if info["has_missing"]:
                codes[missing] = len(info["categories"])
            else:
                codes[missing] = -1
        ok = codes >= 0
        out[rows[ok], span.start + codes[ok]] = 1.0

    def _encode_numeric(self, info, col, out, rows, rng) -> None:
        mode_idx, value_idx = info["_spans"]
        is_datetime = info["kind"] == "datetime"
        exact = None
        try:
            if not is_datetime and _is_datetime_dtype(col.dtype):
                # numpy would read the datetimes as numbers of nanoseconds.
                raise TypeError("datetimes are not numbers")
            # Files saved before exact integers hold float point masses: matched as floats.
            exact_state = all(isinstance(v, int) for v in info["point_masses"])
            if (
                info["integer"]
                and not _float_exact(info)
                and exact_state
                and (is_datetime or pd.api.types.is_integer_dtype(col.dtype))
            ):
                # Beyond 2**53 the point masses are found among the integers themselves.
                exact, missing = self._integer_values(col, is_datetime)
                values = exact.astype(np.float64)
                values[missing] = np.nan
            else:
                values = self._numeric_values(col, is_datetime)
                missing = np.isnan(values)
        except (TypeError, ValueError, AttributeError) as exc:  # AttributeError: .dt
            raise InvalidDataError(
                f"Column {info['name']!r} has dtype {col.dtype}, but it was {info['kind']} "
                f"(dtype {info['dtype']}) in fit: {exc}."
            ) from exc
        n_pm = len(info["point_masses"])
        offset = int(info["has_missing"])
        mode = np.full(len(values), -1, dtype=np.int64)
        if info["has_missing"]:
            mode[missing] = 0
        if n_pm:
            if exact is None:
                pm, lookup = np.asarray(info["point_masses"], dtype=np.float64), values
            else:
                pm, lookup = _point_mass_integers(info, exact.dtype), exact
            pos = np.searchsorted(pm, lookup)
            pos_c = np.clip(pos, 0, n_pm - 1)
            hit = ~missing & (pm[pos_c] == lookup)
            mode[hit] = offset + pos_c[hit]
        cont = (mode < 0) & ~missing
        if value_idx is not None and cont.any():
            x = np.clip(values[cont], float(info["min"]), float(info["max"]))
            if info["quantiles"] is not None:
                comp = np.zeros(x.size, dtype=np.int64)
                z = self._quantile_forward(x, np.asarray(info["quantiles"]))
            else:
                comp, z = self._mixture_forward(x, info, rng)
            mode[cont] = offset + n_pm + comp
            out[rows[cont], self.spans_[value_idx].start] = z
        elif cont.any():  # pragma: no cover - every continuous value found a point mass
            mode[cont] = offset
        if mode_idx is not None:
            ok = mode >= 0
            out[rows[ok], self.spans_[mode_idx].start + mode[ok]] = 1.0

    @staticmethod
    def _quantile_forward(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        p = np.linspace(0.0, 1.0, q.size)
        # Average of the left and right interpolations maps tied quantiles (integer columns)
        # to the middle of their probability step instead of one edge.
        u = 0.5 * (np.interp(x, q, p) - np.interp(-x, -q[::-1], -p[::-1]))
        return ndtri(np.clip(u, _CDF_EPS, 1.0 - _CDF_EPS)).astype(np.float32)

    @staticmethod
    def _mixture_forward(x, info, rng) -> tuple[np.ndarray, np.ndarray]:
        means = np.asarray(info["means"])
        stds = np.asarray(info["stds"])
        logp = -0.5 * ((x[:, None] - means) / stds) ** 2 - np.log(stds)
        logp -= logp.max(axis=1, keepdims=True)
        prob = np.exp(logp)
        cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
        comp = (rng.random(x.size)[:, None] > cum).sum(axis=1)
        comp = np.minimum(comp, means.size - 1)
        z = np.clip((x - means[comp]) / (4.0 * stds[comp]), -0.99, 0.99)
        return comp, z.astype(np.float32)

    # ---------------------------------------------------- inverse transform
    def inverse_transform(self, Z: np.ndarray) -> pd.DataFrame | np.ndarray:
        """Decode an encoded matrix back to the training table's form.

        Categorical spans are decoded by their largest entry, so one-hot rows, probabilities
        and logits all work.

        Parameters
        ----------
        Z : ndarray of shape (n_rows, output_dim_)

        Returns
        -------
        DataFrame with the training columns, order, dtypes and categories, or an ndarray of
        the training array's dtype when the codec was fitted on an array.
        """
        return self._inverse_transform(Z, one_hot=False)

    def _inverse_transform(self, Z: np.ndarray, one_hot: bool) -> pd.DataFrame | np.ndarray:
        """:meth:`inverse_transform`; with ``one_hot`` the caller vouches that every
        categorical span of ``Z`` is an exact one-hot row (a synthesizer's sample is)."""
        self._check_fitted()
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.output_dim_:
            raise InvalidDataError(
                f"Expected an encoded matrix with {self.output_dim_} columns; got shape {Z.shape}."
            )
        codes = self._span_codes(Z, one_hot)
        return self._decode_frame(codes, lambda i: Z[:, self.spans_[i].start])

    def _inverse_transform_compact(self, C: np.ndarray) -> pd.DataFrame | np.ndarray:
        """:meth:`inverse_transform` of rows with one column per span.

        Column ``j`` of ``C`` holds, for the ``j``-th categorical span, the slot chosen in it
        (an integer value), and then each continuous span's value, in the order of
        ``spans_`` (:meth:`genaug.nn.spans.SpanLayout.sample_compact`'s rows). A
        synthesizer's draw is decoded from them without building its one-hot rows and
        reading the slots back. The slots must be whole numbers (they are cast, not
        rounded); either memory order works, column-major is faster.
        """
        self._check_fitted()
        C = np.asarray(C)
        k = len(self._code_slot)
        if C.ndim != 2 or C.shape[1] != len(self.spans_):
            raise InvalidDataError(
                f"Expected compact rows with {len(self.spans_)} columns (one per span); "
                f"got shape {C.shape}."
            )
        codes = C[:, :k].T.astype(np.int64, order="C")  # one contiguous row per span
        sizes = np.asarray([self.spans_[i].size for i in self._code_slot], dtype=np.int64)
        if ((codes < 0) | (codes >= sizes[:, None])).any():
            raise InvalidDataError("Compact rows hold a categorical slot out of its span's range.")
        # Each continuous span's values as one contiguous float64 row: read from columns of
        # C, each column's operations would walk the rows with C's stride.
        values = C[:, k:].T.astype(np.float64, order="C")
        value_slot = {i: j for j, i in enumerate(self._value_spans)}
        return self._decode_frame(codes, lambda i: values[value_slot[i]])

    def _decode_frame(
        self, codes: np.ndarray, value_of: Callable[[int], np.ndarray]
    ) -> pd.DataFrame | np.ndarray:
        """The table of the categorical spans' ``codes`` and the continuous values
        ``value_of(span index)``."""
        data = {}
        for info in self.columns_:
            if info["kind"] == "categorical":
                data[info["name"]] = self._decode_categorical(info, codes)
            else:
                data[info["name"]] = self._decode_numeric(info, value_of, codes)
        if _PANDAS_CONSOLIDATES:
            # One block per column: consolidating eight object columns of 50,000 rows took 9
            # of a 33 ms decode on pandas 2.3 (0.3 ms this way); pandas 3 does not consolidate.
            frame = pd.concat(list(data.values()), axis=1, copy=False)
            frame.columns = pd.Index(self.column_names)
        else:
            frame = pd.DataFrame(data, columns=self.column_names)
        if self.input_was_array_:
            return frame.to_numpy(dtype=self.array_dtype_)
        return frame

    def _span_codes(self, Z: np.ndarray, one_hot: bool) -> np.ndarray:
        """The chosen slot of every categorical span: an int64 array (n_spans, n_rows).

        In a one-hot row a span's slot is the dot product of the span with 0, 1, ...,
        size - 1, so all spans are read by one matrix product instead of an argmax per span,
        whose per-row loop over a handful of columns is slow (50,000 sampled Adult rows, 12
        spans: 3 ms against 18 ms on the 2-core dev box). The
        product is exact for 0/1 entries; a span whose result is not a slot index (a
        non-finite value elsewhere in the row, or rows that are not one-hot after all) is
        read by its argmax instead.
        """
        spans = [self.spans_[i] for i in self._code_slot]
        if not spans:
            return np.zeros((0, Z.shape[0]), dtype=np.int64)
        if not one_hot or not np.issubdtype(Z.dtype, np.floating):
            return np.stack([Z[:, s.start : s.stop].argmax(axis=1) for s in spans])
        # In torch rather than numpy: numpy's BLAS threads, left spinning after the product,
        # slowed the torch work of the next draw (separate-process runs, 2 cores).
        # The checks too (torch's kernels use both cores): 50,000 Adult rows 8 -> 3 ms.
        weights = torch.from_numpy(self._code_weights.astype(Z.dtype, copy=False))
        product = weights.T @ torch.from_numpy(np.ascontiguousarray(Z)).T  # (n_spans, n)
        rounded = product.round()
        sizes = torch.tensor([s.size for s in spans], dtype=product.dtype)[:, None]
        exact = ((product == rounded) & (rounded >= 0) & (rounded < sizes)).all(dim=1)
        codes = rounded.to(torch.int64).numpy()
        for j in np.flatnonzero(~exact.numpy()):
            codes[j] = Z[:, spans[j].start : spans[j].stop].argmax(axis=1)
        return codes

    def _decode_categorical(self, info: dict, span_codes: np.ndarray) -> pd.Series:
        codes = span_codes[self._code_slot[info["_spans"][0]]]
        n_cat = len(info["categories"])
        missing = codes >= n_cat
        dtype = info["dtype"]
        if info["dtype_categories"] is not None:
            cat_dtype = pd.CategoricalDtype(info["dtype_categories"], ordered=info["ordered"])
            lookup = np.asarray(
                [info["dtype_categories"].index(c) for c in info["categories"]], dtype=np.int64
            )
            full = np.where(missing, -1, lookup[np.minimum(codes, n_cat - 1)])
            return pd.Series(pd.Categorical.from_codes(full, dtype=cat_dtype))
        arrow_dtype = _arrow_string_dtype(dtype)
        if arrow_dtype is not None and all(isinstance(c, str) for c in info["categories"]):
            # Arrow-backed strings (pandas 3's default): one Arrow take of the category
            # strings is about 10x faster than converting a column of Python objects.
            import pyarrow as pa

            table = pa.array([*info["categories"], None], type=pa.large_string())
            taken = table.take(pa.array(np.where(missing, n_cat, codes)))
            return pd.Series(taken, dtype=arrow_dtype)
        cats = np.empty(n_cat, dtype=object)
        cats[:] = info["categories"]
        values = cats[np.minimum(codes, n_cat - 1)]
        has_na = bool(missing.any())
        if has_na:
            values[missing] = None
        if dtype == "object":
            return pd.Series(values, dtype=object)
        return _restore_dtype(pd.Series(values, dtype=object), dtype, has_na=has_na)

    def _decode_numeric(
        self, info: dict, value_of: Callable[[int], np.ndarray], span_codes: np.ndarray
    ) -> pd.Series:
        mode_idx, value_idx = info["_spans"]
        n = span_codes.shape[1]
        if mode_idx is not None:
            mode = span_codes[self._code_slot[mode_idx]]
        else:
            mode = np.full(n, self._modes(info) - 1, dtype=np.int64)
        offset = int(info["has_missing"])
        n_pm = len(info["point_masses"])
        pm_rows = (mode >= offset) & (mode < offset + n_pm) if n_pm else None
        cont = mode >= offset + n_pm
        x = None
        if value_idx is not None and cont.any():
            column = value_of(value_idx)
            z = (column if cont.all() else column[cont]).astype(np.float64, copy=False)
            if info["quantiles"] is not None:
                q = np.asarray(info["quantiles"])
                x = _interp_uniform_grid(_normal_cdf(z), q)
            else:
                comp = mode[cont] - offset - n_pm
                x = z * 4.0 * np.asarray(info["stds"])[comp] + np.asarray(info["means"])[comp]
            x = np.clip(x, float(info["min"]), float(info["max"]))
            if info["decimals"] is not None:
                x = np.round(x, info["decimals"])
        if info["integer"] and not _float_exact(info):
            return _decode_integers(info, mode, offset, pm_rows, cont, x)
        values = np.full(n, np.nan)
        if n_pm:
            pm = np.asarray(info["point_masses"], dtype=np.float64)
            values[pm_rows] = pm[mode[pm_rows] - offset]
        if x is not None:
            values[cont] = x
        if info["integer"]:
            has_na = bool(np.isnan(values).any())
            if not has_na and info["dtype"] in _NUMPY_INTEGERS:
                # Finite (clipped to the training range): numpy's cast, without the checks of
                # pandas's (50,000 values: 0.03 against 0.12 ms).
                return pd.Series(values.astype(info["dtype"]))
            return _restore_dtype(pd.Series(values), info["dtype"], integer=True, has_na=has_na)
        return _restore_dtype(pd.Series(values), info["dtype"])

    # ---------------------------------------------------------------- state
    def to_dict(self) -> dict:
        """JSON-serialisable state of the fitted codec (parameters included).

        Categories that JSON has no type for (``datetime.date``, ``datetime.datetime``,
        ``Timestamp``, ``Decimal``, ``bytes``, infinite floats) and tuple column names
        (MultiIndex columns) are saved as tagged objects, which :meth:`from_dict` turns back.

        Raises
        ------
        InvalidDataError
            Naming the column, if one of its categories or its name is of another type.
        """
        self._check_fitted()
        columns = []
        for info in self.columns_:
            state = {k: v for k, v in info.items() if k != "_spans"}
            state["name"] = _encode_name(info["name"])
            if info["kind"] == "categorical":
                # Dates, Decimals, bytes, Timestamps... tagged; other types refused by name.
                for key in ("categories", "dtype_categories"):
                    if info[key] is not None:
                        state[key] = [_encode_value(c, info["name"]) for c in info[key]]
            columns.append(state)
        return {
            "state_version": _STATE_VERSION,
            "params": {
                "discrete_columns": None
                if self.discrete_columns is None
                else [_encode_name(c) for c in self.discrete_columns],
                "continuous_encoding": self.continuous_encoding,
                "point_mass_threshold": float(self.point_mass_threshold),
                "max_point_masses": int(self.max_point_masses),
                "max_modes": int(self.max_modes),
                "max_categories": int(self.max_categories),
                "random_state": self.random_state,
            },
            "input_was_array": self.input_was_array_,
            "array_dtype": self.array_dtype_,
            "columns": columns,
        }

    @classmethod
    def from_dict(cls, state: dict) -> TabularCodec:
        """Rebuild a fitted codec from :meth:`to_dict`'s output.

        Raises
        ------
        ModelFileError
            If the state is not of a known version or is malformed.
        """
        from genaug.io import check_saved_dtype

        try:
            if state.get("state_version") != _STATE_VERSION:
                raise ModelFileError(
                    f"Unknown codec state version {state.get('state_version')!r}; "
                    f"this genaug reads version {_STATE_VERSION}."
                )
            params = dict(state["params"])
            if isinstance(params.get("discrete_columns"), list):
                params["discrete_columns"] = [_decode_name(c) for c in params["discrete_columns"]]
            codec = cls(**params)
            codec._check_params()  # an InvalidParameterError is a ValueError: see below
            codec.input_was_array_ = bool(state["input_was_array"])
            codec.array_dtype_ = state["array_dtype"]
            if codec.array_dtype_ is not None:
                check_saved_dtype(codec.array_dtype_, "the table's array dtype")
            codec.columns_ = [_decode_column_state(c) for c in state["columns"]]
            for info in codec.columns_:
                _validate_column_state(info)
            codec._build_layout()
        except ModelFileError:
            raise
        except (
            KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError
        ) as exc:
            raise ModelFileError(f"The codec state is malformed: {exc!r}.") from exc
        return codec


_COLUMN_KEYS = {
    "categorical": ("name", "dtype", "categories", "dtype_categories", "ordered", "has_missing"),
    "numeric": (
        "name",
        "dtype",
        "has_missing",
        "point_masses",
        "min",
        "max",
        "integer",
        "decimals",
        "quantiles",
        "means",
        "stds",
    ),
}
_COLUMN_KEYS["datetime"] = _COLUMN_KEYS["numeric"]
# Values a category can be once read back (a missing value is its own slot, not a category):
# JSON's, and those of the tags of _decode_value (datetime and Timestamp are dates).
_SCALARS = (str, int, float, bool, datetime.date, decimal.Decimal, bytes)


def _decode_column_state(state: Any) -> dict:
    """A column's saved state with its name and categories decoded from their tags."""
    info = dict(state)
    info["name"] = _decode_name(info.get("name"))
    for key in ("categories", "dtype_categories"):
        if isinstance(info.get(key), list):
            info[key] = [_decode_value(c) for c in info[key]]
    return info


def _validate_column_state(info: dict) -> None:
    """Check one column's saved state so that a hand-edited file fails here, not in numpy
    (or later, when sampling)."""
    from genaug.io import check_saved_dtype

    kind = info.get("kind")
    if not isinstance(kind, str) or kind not in _COLUMN_KEYS:
        raise ModelFileError(f"Column state has an unknown kind {str(kind)[:40]!r}.")
    absent = [k for k in _COLUMN_KEYS[kind] if k not in info]
    if absent:
        raise ModelFileError(f"Column {info.get('name')!r} state lacks {absent}.")
    name = info["name"]
    if not _is_saved_name(name):
        raise ModelFileError(f"Column state has a name {str(name)[:40]!r} of the wrong type.")
    check_saved_dtype(info["dtype"], f"the dtype of column {name!r}")
    if not isinstance(info["has_missing"], bool):
        raise ModelFileError(f"Column {name!r} has a has_missing flag that is not a bool.")
    if kind == "categorical":
        categories, declared = info["categories"], info["dtype_categories"]
        if not isinstance(categories, list) or not categories:
            raise ModelFileError(f"Column {name!r} has no categories.")
        if not all(isinstance(c, _SCALARS) for c in categories) or len(
            set(map(repr, categories))
        ) != len(categories):
            raise ModelFileError(f"Column {name!r} has categories that are not distinct values.")
        if declared is not None and (
            not isinstance(declared, list)
            or not all(isinstance(c, _SCALARS) for c in declared)
            or not {repr(c) for c in categories} <= {repr(c) for c in declared}
        ):
            raise ModelFileError(f"Column {name!r} has categories outside its dtype's.")
        if not isinstance(info["ordered"], bool):
            raise ModelFileError(f"Column {name!r} has an 'ordered' flag that is not a bool.")
        return
    if not isinstance(info["integer"], bool):
        raise ModelFileError(f"Column {name!r} has an 'integer' flag that is not a bool.")
    decimals = info["decimals"]
    if decimals is not None and (
        not isinstance(decimals, int) or isinstance(decimals, bool)
        or not 0 <= decimals <= _MAX_DECIMALS
    ):
        raise ModelFileError(f"Column {name!r} has an invalid number of decimals.")
    # Decoded integers must be whole numbers: rounded to 0 decimals, point masses integral.
    if info["integer"] and kind == "numeric" and (
        decimals != 0
        or not isinstance(info["point_masses"], list)
        or not all(isinstance(v, (int, float)) and float(v).is_integer()
                   for v in info["point_masses"])
    ):
        raise ModelFileError(f"Integer column {name!r} has fractional decimals or modes.")
    for key in ("min", "max"):
        if not isinstance(info[key], (int, float)) or not math.isfinite(info[key]):
            raise ModelFileError(f"Column {info['name']!r} has a non-finite {key}.")
    resolution = info.get("resolution")  # datetimes; files from before it have none
    if resolution is not None and (
        not isinstance(resolution, int) or isinstance(resolution, bool)
        or not 1 <= resolution <= _DATETIME_UNITS[0]
    ):
        raise ModelFileError(f"Column {name!r} has an invalid datetime resolution.")
    for key in ("point_masses", "quantiles", "means", "stds"):
        val = info[key]
        # isfinite raises OverflowError on an integer beyond float64 (from_dict refuses it).
        if val is not None and (
            not isinstance(val, list)
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in val)
        ):
            raise ModelFileError(f"Column {info['name']!r} has a malformed {key}.")
    if info["means"] is not None and (
        info["stds"] is None or len(info["stds"]) != len(info["means"])
    ):
        raise ModelFileError(f"Column {info['name']!r} has means and stds of unequal length.")
    if (
        info["point_masses"] is None
        or info["quantiles"] == []
        or info["means"] == []
        or TabularCodec._modes(info) < 1
    ):
        raise ModelFileError(f"Column {name!r} has no mode to decode its values from.")
    if kind == "datetime":
        try:
            is_datetime = _is_datetime_dtype(pd.api.types.pandas_dtype(info["dtype"]))
        except ImportError:  # an Arrow timestamp without pyarrow: decoded as datetime64[ns]
            is_datetime = True
        except (TypeError, ValueError):
            is_datetime = False
        if not is_datetime:
            raise ModelFileError(f"Datetime column {name!r} has a dtype that is not a datetime.")


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF of float64 ``z``, as :func:`scipy.special.ndtr` to rounding.

    torch's vectorised kernel: 0.05 ms for 50,000 values against scipy's 0.46 ms (2-core
    dev box), and a sampled table decodes every continuous column through it.
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    return torch.special.ndtr(torch.from_numpy(z)).numpy()


def _interp_uniform_grid(p: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(p, np.linspace(0, 1, fp.size), fp)`` by index arithmetic.

    The knots are evenly spaced, so each value's interval is ``floor(p * (size - 1))``: no
    binary search (``np.interp`` took 3 ms for 50,000 values on 1,000 knots, this 0.25 ms,
    2-core dev box). ``p`` outside [0, 1] takes the end values, NaN stays NaN.
    """
    if fp.size == 1:
        return np.where(np.isnan(p), np.nan, fp[0])
    # fmin/fmax send NaN to 0, a valid index; the NaN is put back at the end.
    pos = np.fmin(np.fmax(p, 0.0), 1.0) * (fp.size - 1)
    i = np.minimum(pos.astype(np.int64), fp.size - 2)
    low = fp[i]
    out = low + (pos - i) * (fp[i + 1] - low)
    nan = np.isnan(p)
    if nan.any():
        out[nan] = np.nan
    return out


# numpy's integer dtype names (not the nullable or Arrow-backed ones, e.g. "int64[pyarrow]").
_NUMPY_INTEGERS = frozenset(f"{u}int{b}" for u in ("", "u") for b in (8, 16, 32, 64))


def _saved_dtype(name: str) -> Any:
    """The dtype that a saved dtype name stands for on this install, ``None`` if none.

    pandas 3's "str" is numpy's fixed-width ``<U`` on pandas 2, into which a missing value
    is cast as the string 'None': text is kept in objects there. An Arrow-backed dtype on an
    install without pyarrow: "string[pyarrow]" becomes "string[python]", the others ``None``.
    """
    try:
        target = pd.api.types.pandas_dtype(name)
    except ImportError:
        return pd.StringDtype("python") if name.startswith("string") else None
    except (TypeError, ValueError):
        return None
    if isinstance(target, np.dtype) and target.kind in "US":
        return np.dtype(object)
    return target


def _restore_dtype(
    values: pd.Series, dtype: str, integer: bool = False, has_na: bool | None = None
) -> pd.Series:
    """Cast decoded values to the column's original dtype, keeping missing values missing.

    ``has_na``: whether ``values`` holds a missing value, when the caller knows (``isna`` on
    50,000 Python strings takes about a millisecond).
    """
    if has_na is None:
        has_na = bool(values.isna().any())
    if integer:
        if has_na and dtype[:1] not in ("I", "U"):
            # An integer column that had missing values: nullable, of the values' sign.
            unsigned = isinstance(values.dtype, pd.UInt64Dtype)
            return values.astype("UInt64" if unsigned else "Int64")
        target = _saved_dtype(dtype)
        return values if target is None else values.astype(target)
    if dtype == "bool":
        if has_na:
            return values.astype("boolean")
        return values.astype(bool)
    target = _saved_dtype(dtype)
    # None: a dtype name from another pandas version or one needing pyarrow: kept as decoded.
    return values if target is None else values.astype(target)


def _integer_range(info: dict) -> tuple[np.dtype, int, int]:
    """The integer dtype to decode a column in, and its range clipped to the dtype's bounds."""
    target = None if info["kind"] == "datetime" else _saved_dtype(info["dtype"])
    numpy_dtype = getattr(target, "numpy_dtype", target)  # masked and Arrow dtypes have one
    if not (isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "iu"):
        numpy_dtype = np.dtype(np.int64)
    bounds = np.iinfo(numpy_dtype)
    work = np.dtype(np.uint64 if numpy_dtype.kind == "u" else np.int64)
    hi = min(int(info["max"]), int(bounds.max))
    lo = min(max(int(info["min"]), int(bounds.min)), hi)
    return work, lo, hi


def _point_mass_integers(info: dict, dtype: np.dtype) -> np.ndarray:
    """An integer column's point masses in ``dtype``, clipped to its bounds."""
    bounds = np.iinfo(dtype)
    clipped = [min(max(int(v), int(bounds.min)), int(bounds.max)) for v in info["point_masses"]]
    return np.asarray(clipped, dtype=dtype)


def _float_to_integers(x: np.ndarray, lo: int, hi: int, dtype: np.dtype) -> np.ndarray:
    """Finite floats as integers in [lo, hi]: clipped before the cast, which would wrap
    float(2**63 - 1) == 2**63 round to -2**63."""
    flo, fhi = float(lo), float(hi)
    x = np.clip(x, flo, fhi)
    top, bottom = x >= fhi, x <= flo
    out = np.where(top | bottom, 0.0, x).astype(dtype)
    out[top] = hi
    out[bottom] = lo
    # float(hi) may lie above hi, and so may the floats just below it.
    return np.clip(out, dtype.type(lo), dtype.type(hi))


def _decode_integers(
    info: dict,
    mode: np.ndarray,
    offset: int,
    pm_rows: np.ndarray | None,
    cont: np.ndarray,
    x: np.ndarray | None,
) -> pd.Series:
    """An integer or datetime column decoded in integers, so that values beyond 2**53 keep
    every digit: point masses exactly, the continuous part ``x`` clipped to the range."""
    work, lo, hi = _integer_range(info)
    ints = np.zeros(mode.size, dtype=work)
    present = np.zeros(mode.size, dtype=bool)
    if pm_rows is not None:
        ints[pm_rows] = _point_mass_integers(info, work)[mode[pm_rows] - offset]
        present |= pm_rows
    if x is not None:
        finite = ~np.isnan(x)
        ints[cont] = _float_to_integers(np.where(finite, x, 0.0), lo, hi, work)
        present[cont] = finite
    if info["kind"] == "datetime":
        return _restore_datetime(ints, present, info)
    if present.all():
        if info["dtype"] in _NUMPY_INTEGERS:
            return pd.Series(ints.astype(info["dtype"]))
        return _restore_dtype(pd.Series(ints), info["dtype"], integer=True, has_na=False)
    series = pd.Series(pd.arrays.IntegerArray(ints, ~present))
    return _restore_dtype(series, info["dtype"], integer=True, has_na=True)


def _dtype_name(dtype: Any) -> str:
    """A name ``pandas_dtype`` turns back into ``dtype``.

    ``str()`` of a ``StringDtype`` drops its storage ("string" means pyarrow storage where
    pyarrow is installed), so the storage is spelt out; pandas 3's ``str`` keeps its name and
    takes the machine's default storage, as a freshly loaded column would.
    """
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
        return f"string[{dtype.storage}]"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime64[{dtype.unit}, {_tz_name(dtype.tz)}]"  # dateutil zones
    return str(dtype)


def _arrow_string_dtype(dtype: str) -> pd.StringDtype | None:
    """The pandas string dtype named ``dtype`` when it is stored in Arrow, else ``None``."""
    target = _saved_dtype(dtype)
    if isinstance(target, pd.StringDtype) and target.storage == "pyarrow":
        return target
    return None


def _zone_offsets(utc_ns: np.ndarray, zone: Any) -> np.ndarray:
    """Each instant's offset from UTC in ``zone``, in nanoseconds (wall clock = UTC + it)."""
    utc = pd.DatetimeIndex(utc_ns.astype("datetime64[ns]"), tz="UTC")
    return utc.tz_convert(zone).tz_localize(None).asi8 - utc.asi8


def _dtype_zone(dtype: Any) -> Any:
    """The time zone of a pandas or Arrow datetime dtype, ``None`` if naive or not one."""
    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.tz
    arrow = getattr(dtype, "pyarrow_dtype", None)
    return getattr(arrow, "tz", None) or None


def _wall_clock_resolution(utc_ns: np.ndarray, zone: Any, coarser_than: int) -> int:
    """The coarsest unit above ``coarser_than`` to which rounding in ``zone``'s wall clock gives
    every value back (a day whose midnight the zone skips starts at 01:00 and still counts
    as a date), or 0."""
    wall = utc_ns + _zone_offsets(utc_ns, zone)
    for unit in _DATETIME_UNITS:
        if unit <= coarser_than:
            return 0
        off = np.flatnonzero(wall % unit)
        if off.size == 0:
            return unit
        # Only a few values may be off the unit and still round back to themselves (the
        # first instants of days the zone starts late): those alone are localized again.
        if off.size <= max(10, wall.size // 100) and np.array_equal(
            _round_wall_clock(utc_ns[off], zone, unit), utc_ns[off]
        ):
            return unit
    return 0


def _round_wall_clock(utc_ns: np.ndarray, zone: Any, resolution: int) -> np.ndarray:
    """Instants rounded to ``resolution`` in ``zone``'s wall-clock time, back in UTC ns.

    The rounded wall times are localized again, so that a day across a change of daylight
    saving time still ends on a midnight: a time repeated by the change takes the side of the
    instant it came from, a time skipped by it moves forward.
    """
    low = (utc_ns + _zone_offsets(utc_ns, zone)) // resolution
    # The wall times on each side, each localized on both sides of a repeated hour: the row
    # takes the candidate instant nearest its own (a value a hair before a fall-back change
    # is nearest the earlier wall time's second instant, not the later wall time).
    best = np.zeros_like(utc_ns)
    best_gap = np.full(utc_ns.shape, np.iinfo(np.int64).max)
    for step in (0, 1):
        wall = pd.DatetimeIndex(((low + step) * resolution).astype("datetime64[ns]"))
        for side in (True, False):
            candidate = (
                wall.tz_localize(
                    zone, ambiguous=np.full(len(wall), side), nonexistent="shift_forward"
                )
                .tz_convert("UTC")
                .tz_localize(None)
                .as_unit("ns")
                .asi8
            )
            gap = np.abs(candidate - utc_ns)
            nearer = gap < best_gap
            best = np.where(nearer, candidate, best)
            best_gap = np.where(nearer, gap, best_gap)
    return best


def _restore_datetime(ns: np.ndarray, present: np.ndarray, info: dict) -> pd.Series:
    """Datetimes from UTC nanoseconds, rounded to the column's resolution (a column of dates
    comes back as dates), missing where not ``present``."""
    resolution = info.get("resolution") or 1  # files from before resolutions have none
    target = _saved_dtype(info["dtype"])
    zone = _dtype_zone(target)
    if resolution > 1:
        _, lo, hi = _integer_range(info)
        wall_clock = None
        if info.get("resolution_local") and zone is not None:
            try:
                wall_clock = _round_wall_clock(np.clip(ns, lo, hi), zone, resolution)
            except (pd.errors.OutOfBoundsDatetime, OverflowError):
                pass  # near pandas' bounds: rounded in UTC below
        if wall_clock is not None:
            ns = wall_clock
        else:
            low, rest = np.divmod(ns, resolution)
            low *= resolution
            # Up to the next multiple only where it stays in the range: no int64 overflow.
            below = np.int64(max(hi - resolution, np.iinfo(np.int64).min))
            ns = low + np.where((2 * rest >= resolution) & (low <= below), resolution, 0)
        ns = np.clip(ns, lo, hi)
    stamps = ns.astype("datetime64[ns]")
    stamps[~present] = np.datetime64("NaT")
    series = pd.Series(stamps)
    if target is None:  # e.g. an Arrow timestamp without pyarrow
        return series
    if isinstance(target, pd.DatetimeTZDtype):
        return series.dt.tz_localize("UTC").dt.tz_convert(target.tz).astype(target)
    return series.astype(target)
