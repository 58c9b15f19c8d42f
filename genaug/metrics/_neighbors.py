"""Nearest-neighbour computations of the diversity and privacy metrics, in bounded memory.

Plain k-NN queries go to scikit-learn's brute-force search, which works through the distance
matrix in chunks. Questions that k-NN cannot answer (is a point inside *any* of the reference
points' own balls, whose radii differ?) are computed here in row blocks of at most
``_BLOCK_ENTRIES`` distances, so memory stays flat whatever the number of rows.

Both go through the expansion ``||a||^2 + ||b||^2 - 2ab``, whose rounding error grows with the
norms of ``a`` and ``b``, not with their distance. Two things keep the results those of an exact
pairwise computation: the rows are centred on the reference rows' mean first (an offset shared
by all rows would otherwise swamp their distances), and a pair whose expanded squared distance
is within ``_REL_TOL * (||a||^2 + ||b||^2)`` of zero (a copy or a near-copy) gets its distance
recomputed from the difference ``a - b``, so that a copy reads exactly 0 and a near-copy its
true distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from genaug.exceptions import InvalidDataError

# 4M float64 distances (32 MiB) per block: big enough for BLAS to run at full speed, small
# enough to stay far from the memory of the tables themselves.
_BLOCK_ENTRIES = 2**22
# Relative rounding tolerance of an expanded squared distance, per pair. The expansion loses at
# most ~1e-16 * d of ||a||^2 + ||b||^2 in d dimensions (typically ~1e-16 * sqrt(d)), so a copy
# lands within it even with thousands of columns, and a point on a ball's edge (a copy of the
# ball's k-th neighbour, reached through another rounding) still counts as in; a float32 copy
# (relative error ~1e-8) stays well outside it.
_REL_TOL = 1e-12


def _sq_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def _exact_sq(query: np.ndarray, ref: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``||query[rows] - ref[cols]||^2`` from the differences, in chunks of bounded memory."""
    out = np.empty(len(rows))
    step = max(1, _BLOCK_ENTRIES // max(query.shape[1], 1))
    for lo in range(0, len(rows), step):
        diff = query[rows[lo : lo + step]] - ref[cols[lo : lo + step]]
        out[lo : lo + step] = _sq_norms(diff)
    return out


@dataclass
class _Pair:
    """Query and reference rows, in float64, as given and centred on the reference median."""

    query: np.ndarray
    ref: np.ndarray

    def __post_init__(self) -> None:
        # float64: the tolerance (1e-12 of the norms) is below float32's resolution.
        same = self.ref is self.query
        self.query = np.asarray(self.query, dtype=np.float64)
        self.ref = self.query if same else np.asarray(self.ref, dtype=np.float64)
        # The median, not the mean: one far outlier would move a mean away from every other
        # row, and the norms (and the tolerance) with it.
        centre = np.median(self.ref, axis=0) if self.ref.shape[0] else 0.0
        self.query_c = self.query - centre
        self.ref_c = self.query_c if self.query is self.ref else self.ref - centre
        self.query_sq = _sq_norms(self.query_c)
        self.ref_sq = self.query_sq if self.query is self.ref else _sq_norms(self.ref_c)

    def block_sq(self, rows: slice | np.ndarray, less_tolerance: bool = False) -> np.ndarray:
        """Expanded squared distances of some query rows to every reference row.

        With ``less_tolerance``, each less its pair's rounding tolerance:
        ``d2 - c (||q||^2 + ||r||^2) = (1 - c)(||q||^2 + ||r||^2) - 2qr`` with ``c = _REL_TOL``,
        at no extra pass over the block.
        """
        factor = 1.0 - _REL_TOL if less_tolerance else 1.0
        d2 = self.query_c[rows] @ self.ref_c.T
        d2 *= -2.0
        d2 += factor * self.query_sq[rows, None]
        d2 += factor * self.ref_sq[None, :]
        return d2

    def tolerance(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return _REL_TOL * (self.query_sq[rows] + self.ref_sq[cols])

    def knn_sq(self, n_neighbors: int, leave_one_out: bool) -> np.ndarray:
        """Squared distances to the ``n_neighbors`` nearest reference rows, sorted."""
        nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(self.ref_c)
        # kneighbors() without a query leaves each row out of its own neighbours, duplicates
        # kept.
        dist, ind = nn.kneighbors(None if leave_one_out else self.query_c)
        sq = dist**2
        near = sq <= _REL_TOL * (self.query_sq[:, None] + self.ref_sq[ind])
        if not near.any():
            return sq
        rows, cols = np.nonzero(near)
        sq[rows, cols] = _exact_sq(self.query, self.ref, rows, ind[rows, cols])
        sq.sort(axis=1)
        # When even the last candidate was a near-copy, another near-copy that rounding ranked
        # below it may be nearer still: those rows are searched again, exactly.
        n_other = self.ref.shape[0] - int(leave_one_out)
        redo = np.flatnonzero(near[:, -1] & (sq[:, -1] > 0.0)) if n_other > n_neighbors else []
        if len(redo):
            sq[redo] = self._exact_knn_sq(redo, n_neighbors, leave_one_out)
        return sq

    def _exact_knn_sq(self, rows: np.ndarray, n_neighbors: int, leave_one_out: bool) -> np.ndarray:
        out = np.empty((len(rows), n_neighbors))
        block = max(1, _BLOCK_ENTRIES // max(self.ref.shape[0], 1))
        for lo in range(0, len(rows), block):
            sub = rows[lo : lo + block]
            d2 = self.block_sq(sub)
            if leave_one_out:
                d2[np.arange(len(sub)), sub] = np.inf
            near = d2 <= self.tolerance(sub[:, None], np.arange(d2.shape[1]))
            i, j = np.divmod(np.flatnonzero(near), d2.shape[1])
            d2[i, j] = _exact_sq(self.query, self.ref, sub[i], j)
            part = np.partition(d2, n_neighbors - 1, axis=1)[:, :n_neighbors]
            out[lo : lo + block] = np.sort(np.maximum(part, 0.0), axis=1)
        return out


def nearest(query: np.ndarray, ref: np.ndarray, n_neighbors: int = 1) -> np.ndarray:
    """Euclidean distances from each query row to its ``n_neighbors`` nearest ``ref`` rows."""
    n_neighbors = min(n_neighbors, ref.shape[0])
    return np.sqrt(_Pair(query, ref).knn_sq(n_neighbors, leave_one_out=False))


def kth_neighbor_distance(X: np.ndarray, k: int, argument: str = "real") -> np.ndarray:
    """Distance from each row of ``X`` to its ``k``-th nearest *other* row of ``X``."""
    if X.shape[0] <= k:
        raise InvalidDataError(
            f"{argument} has {X.shape[0]} rows; the k-NN metrics with k={k} need more than k. "
            "Pass more rows or a smaller k."
        )
    return np.sqrt(_Pair(X, X).knn_sq(k, leave_one_out=True)[:, -1])


@dataclass
class BallScan:
    """What one blocked pass of query rows against reference balls found.

    Attributes
    ----------
    in_any_ball : ndarray of bool, shape (n_query,)
        Whether the query row lies within some reference row's ball.
    n_balls : ndarray of int, shape (n_query,)
        Number of reference balls that hold the query row.
    min_sq : ndarray of float, shape (n_query,)
        Squared distance to the nearest reference row, less the pair's rounding tolerance
        (exact for a copy or near-copy): compare it with a squared radius as it is.
    group_min_sq : ndarray of float, shape (n_query, n_groups) or None
        The same per group of reference rows (inf for a group without reference rows), when
        ``ref_groups`` was given.
    """

    in_any_ball: np.ndarray
    n_balls: np.ndarray
    min_sq: np.ndarray
    group_min_sq: np.ndarray | None


def _recompute_near(
    d2: np.ndarray, row_min: np.ndarray, fix: np.ndarray, query: np.ndarray, ref: np.ndarray
) -> None:
    """Replace the entries of a block at or below 0 by exact squared distances, in place.

    ``d2`` holds squared distances less their tolerance, ``row_min`` its row minima, and
    ``fix`` the rows whose minimum is at or below 0.
    """
    # flatnonzero is many times faster than a 2-D nonzero on a mostly-False block.
    if 4 * fix.size < d2.shape[0]:
        i, j = np.divmod(np.flatnonzero(d2[fix] <= 0.0), d2.shape[1])
        i = fix[i]
    else:
        i, j = np.divmod(np.flatnonzero(d2 <= 0.0), d2.shape[1])
    exact = _exact_sq(query, ref, i, j)
    d2[i, j] = exact
    # flatnonzero lists the entries row by row, so each row's run is one reduceat segment.
    starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
    row_min[i[starts]] = np.minimum.reduceat(exact, starts)
    # A row whose nearest entry was a near-copy, not a copy, may have its minimum elsewhere
    # (the other entries are all above 0).
    again = fix[row_min[fix] > 0.0]
    if again.size:
        row_min[again] = d2[again].min(axis=1)


def scan_balls(
    query: np.ndarray,
    ref: np.ndarray,
    ref_radii: np.ndarray,
    ref_groups: np.ndarray | None = None,
    n_groups: int = 0,
) -> BallScan:
    """Test every query row against the balls ``B(ref_j, ref_radii_j)``, block by block.

    Parameters
    ----------
    query : ndarray of shape (n_query, d)
    ref : ndarray of shape (n_ref, d)
    ref_radii : ndarray of shape (n_ref,)
    ref_groups : ndarray of int of shape (n_ref,), optional
        Group code (0 .. n_groups-1) of each reference row, for nearest distances per group.
    n_groups : int
        Number of groups.
    """
    if ref_groups is not None:
        # Sorting the references by group makes each group a contiguous run of columns, so the
        # per-group minimum is one np.minimum.reduceat per block instead of a loop.
        order = np.argsort(ref_groups, kind="stable")
        ref, ref_radii, ref_groups = ref[order], ref_radii[order], ref_groups[order]
        present = np.unique(ref_groups)
        starts = np.searchsorted(ref_groups, present)
    pair = _Pair(query, ref)
    radius_sq = ref_radii.astype(np.float64) ** 2
    n_q = query.shape[0]
    in_any = np.zeros(n_q, dtype=bool)
    n_balls = np.zeros(n_q, dtype=np.int64)
    min_sq = np.empty(n_q)
    group_min = None if ref_groups is None else np.full((n_q, n_groups), np.inf)
    block = max(1, _BLOCK_ENTRIES // max(ref.shape[0], 1))
    for lo in range(0, n_q, block):
        hi = min(lo + block, n_q)
        # Squared distances less their tolerance, compared with the squared radii as they are.
        d2 = pair.block_sq(slice(lo, hi), less_tolerance=True)
        row_min = d2.min(axis=1)
        # Only rows with a copy or near-copy among the references hold entries at or below 0.
        fix = np.flatnonzero(row_min <= 0.0)
        if fix.size:
            _recompute_near(d2, row_min, fix, pair.query[lo:hi], pair.ref)
        inside = d2 <= radius_sq[None, :]
        in_any[lo:hi] = inside.any(axis=1)
        n_balls[lo:hi] = inside.sum(axis=1)
        min_sq[lo:hi] = row_min
        if group_min is not None:
            group_min[lo:hi, present] = np.minimum.reduceat(d2, starts, axis=1)
    return BallScan(in_any, n_balls, min_sq, group_min)
