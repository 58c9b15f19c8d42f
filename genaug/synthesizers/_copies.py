"""Copy protection at sampling time: redraw synthetic rows that sit too close to real rows.

``sample(n, ..., reject_copies=True, reference=X_train)`` measures each generated row's
distance to its closest reference row (DCR) and redraws the rows within the copy threshold,
with the same class labels (and ``conditions``), from the same seeded random stream, until
none is left or :data:`MAX_COPY_ROUNDS` rounds have passed.

Where distances are measured
    Tables: in the encoded space of genaug's privacy metrics
    (:class:`genaug.metrics._encoding.KnnSpace`, fitted on the reference rows: continuous
    spans standardised, one-hot spans weighted by ``1/sqrt(2)``), so a threshold means the
    same as a distance from :func:`genaug.metrics.distance_to_closest_record` on the same
    rows. Images: in the model codec's pixel space (values in [-1, 1], flattened), the
    generated images decoded to the training form first, as ``sample`` returns them. The
    nearest-neighbour search is the metrics' own (:func:`genaug.metrics._neighbors.nearest`).
    Labels are not part of the distance: a row that copies a training row's features is
    redrawn whatever its label.

The default threshold
    The ``copy_quantile`` (default 1 %) quantile of the reference rows' leave-one-out DCR:
    each reference row's distance to its nearest *other* reference row. That is the
    holdout-to-train DCR with a holdout of one row at a time, the closest a fresh real row
    typically comes to the training rows; a synthetic row closer than almost every real row
    is treated as a copy. (A split into two halves would measure distances to half the rows
    and so overstate them.) It is estimated on at most :data:`MAX_THRESHOLD_ROWS` reference
    rows (a subsample drawn from the model's seed) against all of them. Rows at the
    threshold (within a relative 1e-9, for rounding) count as too close, so exact copies are
    always redrawn, also when the threshold is 0 (a table with duplicate rows).

Images
    In pixel space a blurry, average-looking image sits closer to every training image than
    real images sit to each other, so the default threshold can reject everything a young
    or smooth model makes (:class:`~genaug.exceptions.CopyProtectionError` then says so).
    For images pass an explicit ``copy_threshold`` (an L2 distance between images scaled to
    [-1, 1]), chosen for what counts as a copy in your data.

Nothing of the reference is stored in the model: pass it to each ``sample`` call (a saved
model holds no training rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from genaug._random import derive_seed
from genaug.exceptions import CopyProtectionError, InvalidDataError, InvalidParameterError
from genaug.metrics._encoding import KnnSpace, prepare_tables, subsample
from genaug.metrics._neighbors import nearest

#: Quantile of the reference rows' leave-one-out DCR used as the default threshold.
DEFAULT_COPY_QUANTILE = 0.01
#: Redraw rounds per generated chunk before :class:`~genaug.exceptions.CopyProtectionError`.
MAX_COPY_ROUNDS = 20
#: Reference rows whose leave-one-out DCR estimates the default threshold.
MAX_THRESHOLD_ROWS = 10_000
# Distances within this relative margin above the threshold count as at it. The same distance
# rounds differently from row to row (the expanded form ||a||^2 + ||b||^2 - 2ab): on an
# all-categorical table, rows one category apart read 1.0, 0.9999999999999998 or
# 0.9999999999999996, and a threshold estimated from such rows would split them at random.
_THRESHOLD_RTOL = 1e-9


@dataclass
class CopyReport:
    """What copy protection did in the last ``sample`` or ``iter_sample`` call.

    Read it from the synthesizer's ``copy_report_`` attribute after the call (after the last
    chunk for ``iter_sample``; it is updated as chunks are made).

    Attributes
    ----------
    threshold : float
        Rows within this distance of a reference row were redrawn.
    n_reference : int
        Reference rows the synthetic rows were compared with.
    n_rows : int
        Rows generated so far (all of the call's rows once it is done).
    n_replaced : int
        Returned rows whose first draw was too close and was replaced.
    n_redrawn : int
        Rows generated again in all, counting redraws that were too close again.
    max_rounds : int
        Most redraw rounds any generated chunk needed.
    replaced_per_class : dict or None
        ``n_replaced`` by class label (every class, zeros included); ``None`` without labels.
    """

    threshold: float
    n_reference: int
    n_rows: int = 0
    n_replaced: int = 0
    n_redrawn: int = 0
    max_rounds: int = 0
    replaced_per_class: dict[Any, int] | None = field(default=None)

    @property
    def replaced_rate(self) -> float:
        """``n_replaced / n_rows`` (0 before any row)."""
        return self.n_replaced / self.n_rows if self.n_rows else 0.0


def check_copy_options(
    reject_copies: Any, reference: Any, copy_threshold: Any, copy_quantile: Any
) -> bool:
    """Validate the copy-protection arguments of ``sample``; return whether it is on."""
    if not isinstance(reject_copies, (bool, np.bool_)):
        raise InvalidParameterError(f"reject_copies must be a bool; got {reject_copies!r}.")
    if copy_threshold is not None and (
        isinstance(copy_threshold, bool)
        or not isinstance(copy_threshold, (int, float, np.integer, np.floating))
        or not math.isfinite(copy_threshold)
        or copy_threshold < 0
    ):
        raise InvalidParameterError(
            f"copy_threshold must be a finite distance >= 0 or None; got {copy_threshold!r}."
        )
    if (
        isinstance(copy_quantile, bool)
        or not isinstance(copy_quantile, (float, int, np.floating, np.integer))
        or not 0 <= copy_quantile <= 1
    ):
        raise InvalidParameterError(
            f"copy_quantile must be a number in [0, 1]; got {copy_quantile!r}."
        )
    if not reject_copies:
        if reference is not None or copy_threshold is not None:
            raise InvalidParameterError(
                "reference and copy_threshold only apply with reject_copies=True."
            )
        return False
    if reference is None:
        raise InvalidParameterError(
            "reject_copies=True needs reference=X_train, the rows the synthesizer was fitted "
            "on: genaug does not keep training rows in the model."
        )
    return True


class CopyFilter:
    """The reference rows in the distance space, the threshold, and the redraw loop.

    Parameters
    ----------
    model : BaseSynthesizer
        The fitted synthesizer that generates the rows.
    reference : DataFrame, array-like or images
        The training rows (in the form given to ``fit``), or any rows to keep away from.
    copy_threshold : float or None
        Distance at or below which a row is a copy; ``None`` estimates it (see the module
        docstring).
    copy_quantile : float
        Quantile of the leave-one-out DCR used when ``copy_threshold`` is ``None``.
    """

    def __init__(
        self, model: Any, reference: Any, copy_threshold: float | None, copy_quantile: float
    ) -> None:
        self.model = model
        self.images = model._image_shape() is not None
        self._frame: pd.DataFrame | None = None  # the reference as a table, for _why
        if self.images:
            self.space = None
            self.reference = model.codec_.transform(reference).reshape(len(reference), -1)
            self.reference = self.reference.astype(np.float64)
        else:
            frame, _ = prepare_tables(reference, {}, real_argument="reference")
            columns = [info["name"] for info in model.codec_.columns_]
            if list(frame.columns) != columns:
                if frame.shape[1] == len(columns) and not isinstance(reference, pd.DataFrame):
                    frame = frame.set_axis(columns, axis=1)
                else:
                    raise InvalidDataError(
                        f"reference must have the training columns {columns[:20]}; got "
                        f"{list(frame.columns)[:20]}."
                    )
            self.columns = columns
            self.space = KnnSpace(model.discrete_columns)
            self.reference = self.space.fit_transform(frame)
            self._frame = frame
        n_ref = self.reference.shape[0]
        self._loo: np.ndarray | None = None
        if copy_threshold is None:
            if n_ref < 2:
                raise InvalidDataError(
                    "reference has one row; estimating the copy threshold needs at least two. "
                    "Pass copy_threshold."
                )
            rng = np.random.default_rng(derive_seed(model.seed_, 7))
            rows = subsample(n_ref, MAX_THRESHOLD_ROWS, rng)
            # Each row's nearest reference row is itself (distance 0); the second is its
            # nearest other row, or a duplicate of it at distance 0.
            self._loo = nearest(self.reference[rows], self.reference, 2)[:, 1]
            copy_threshold = float(np.quantile(self._loo, copy_quantile))
        self.threshold = float(copy_threshold)

    def new_report(self) -> CopyReport:
        """An empty report for one sampling call."""
        report = CopyReport(self.threshold, int(self.reference.shape[0]))
        if self.model.classes_ is not None:
            report.replaced_per_class = {_plain(c): 0 for c in self.model.classes_}
        return report

    def too_close(self, block: np.ndarray) -> np.ndarray:
        """Whether each row of ``block`` (the model's encoded space) is within the threshold."""
        if self.images:
            # As the caller gets them: the network's output has the codec's padding and
            # values between the input dtype's levels, so a copy would read 0.5-1.0 away
            # from its encoded original.
            codec = self.model.codec_
            z = codec.transform(codec.inverse_transform(block))
            z = z.reshape(block.shape[0], -1).astype(np.float64)
        else:
            decoded = self.model._decode_rows(block)
            if not isinstance(decoded, pd.DataFrame):
                decoded = pd.DataFrame(decoded, columns=self.columns)
                if decoded.dtypes.eq(object).any():
                    decoded = decoded.infer_objects()
            z = self.space.transform(decoded)
        return nearest(z, self.reference, 1)[:, 0] <= self.threshold * (1 + _THRESHOLD_RTOL)

    def replace(
        self,
        block: np.ndarray,
        labels: torch.Tensor | None,
        conditions: Any,
        generator: torch.Generator,
        report: CopyReport,
    ) -> np.ndarray:
        """Redraw the rows of ``block`` that are too close, in place, and count them.

        The redraws use the rows' own labels and ``conditions`` and draw from ``generator``
        right after the chunk itself, so the sample stays a function of the seed.

        Raises
        ------
        CopyProtectionError
            If rows are still too close after :data:`MAX_COPY_ROUNDS` rounds.
        """
        model = self.model
        bad = self.too_close(block)
        replaced = bad.copy()
        rounds = 0
        while bad.any() and rounds < MAX_COPY_ROUNDS:
            rounds += 1
            idx = np.flatnonzero(bad)
            c = None
            if labels is not None:
                sub = labels[torch.from_numpy(idx)]
                c = torch.nn.functional.one_hot(sub, model.cond_dim_).float().to(model.device_)
            with torch.no_grad(), model._autocast():
                rows = model._generate(idx.size, c, generator, conditions)
            fresh = rows.float().cpu().numpy()
            block[idx] = fresh
            report.n_redrawn += int(idx.size)
            bad = np.zeros_like(bad)
            bad[idx] = self.too_close(fresh)
        report.n_rows += int(block.shape[0])
        report.n_replaced += int(replaced.sum())
        report.max_rounds = max(report.max_rounds, rounds)
        if labels is not None and replaced.any():
            counts = np.bincount(labels.numpy()[replaced], minlength=len(model.classes_))
            for cls, count in zip(model.classes_, counts):
                report.replaced_per_class[_plain(cls)] += int(count)
        if bad.any():
            raise CopyProtectionError(
                f"{int(bad.sum())} of {block.shape[0]} generated rows were still within "
                f"copy_threshold={self.threshold:.6g} of a reference row after "
                f"{MAX_COPY_ROUNDS} redraws each: {self._why()}"
            )
        return block

    def _why(self) -> str:
        """Why the redraws keep failing, and what to do: the end of the error's message."""
        # Counted only here, on failure: a drop_duplicates of a large reference costs.
        combinations = None
        if self._frame is not None:
            combinations = _all_combinations(self._frame, self.model.codec_.columns_)
        if combinations is not None:
            return (
                f"the reference holds all {combinations:,} combinations of its columns' "
                "values, so every row a model can make copies one of them: copy protection "
                "cannot work on this table."
            )
        if self._loo is None:  # an explicit threshold: how dense is the reference at it?
            rng = np.random.default_rng(derive_seed(self.model.seed_, 7))
            rows = subsample(self.reference.shape[0], MAX_THRESHOLD_ROWS, rng)
            self._loo = nearest(self.reference[rows], self.reference, 2)[:, 1]
        dense = float(np.mean(self._loo <= self.threshold * (1 + _THRESHOLD_RTOL)))
        apart = self._loo[self._loo > 0]
        if dense >= 0.5 and self.threshold > 0 and apart.size:
            return (
                f"{dense:.0%} of the reference rows are themselves within that distance of "
                "another reference row; in a table this dense few new rows can keep it. "
                f"Pass a copy_threshold below {apart.min():.6g}, the distance between the "
                "closest two different reference rows, to reject only nearer rows."
            )
        if dense >= 0.5:
            return (
                f"{dense:.0%} of the reference rows are exact duplicates of other reference "
                "rows: with so few distinct rows, the rows a model makes keep being copies of "
                "them, and copy protection can hardly work on this table."
            )
        return (
            "the model keeps reproducing those rows. Pass a smaller copy_threshold or "
            "copy_quantile, or train a model that memorises less (fewer epochs, more data, "
            "early_stopping)."
        )


def _all_combinations(frame: pd.DataFrame, columns: list[dict]) -> int | None:
    """The number of combinations of the columns' values (missing counted as one), when the
    model can only make finitely many values in every column (categories, or numbers that
    are all point masses) and every combination is a row of ``frame``; else None."""
    if not columns or any(
        info["kind"] != "categorical" and info["_spans"][1] is not None for info in columns
    ):
        return None
    combinations = math.prod(int(frame[c].nunique(dropna=False)) for c in frame.columns)
    if combinations > len(frame):
        return None
    distinct = len(frame.drop_duplicates())
    return combinations if distinct == combinations else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
