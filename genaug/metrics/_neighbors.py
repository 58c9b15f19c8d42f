"""Nearest-neighbour computations of the diversity and privacy metrics, in bounded memory.

Plain k-NN queries go to scikit-learn's brute-force search, which works through the distance
matrix in chunks. Questions that k-NN cannot answer (is a point inside *any* of the reference
points' own balls, whose radii differ?) are computed here in row blocks of at most
``_BLOCK_ENTRIES`` distances, so memory stays flat whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from genaug.exceptions import InvalidDataError

# 4M float64 distances (32 MiB) per block: big enough for BLAS to run at full speed, small
# enough to stay far from the memory of the tables themselves.
_BLOCK_ENTRIES = 2**22
# Distances are compared after an expansion ||a||^2 + ||b||^2 - 2ab that loses ~1e-12 of the
# norms; a point on a ball's edge (a copy of a point whose radius is 0) must still count as in.
_REL_TOL = 1e-9


def nearest(query: np.ndarray, ref: np.ndarray, n_neighbors: int = 1) -> np.ndarray:
    """Euclidean distances from each query row to its ``n_neighbors`` nearest ``ref`` rows."""
    n_neighbors = min(n_neighbors, ref.shape[0])
    nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(ref)
    dist = nn.kneighbors(query, return_distance=True)[0]
    # The same expansion leaves ~1e-8 where two rows are equal; a copy must read as 0.
    scale = float(np.einsum("ij,ij->i", query, query).max(initial=0.0))
    scale += float(np.einsum("ij,ij->i", ref, ref).max(initial=0.0))
    dist[dist <= np.sqrt(_REL_TOL * (scale + 1.0))] = 0.0
    return dist


def kth_neighbor_distance(X: np.ndarray, k: int, argument: str = "real") -> np.ndarray:
    """Distance from each row of ``X`` to its ``k``-th nearest *other* row of ``X``."""
    if X.shape[0] <= k:
        raise InvalidDataError(
            f"{argument} has {X.shape[0]} rows; the k-NN metrics with k={k} need more than k. "
            "Pass more rows or a smaller k."
        )
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X)
    # kneighbors() without a query leaves each row out of its own neighbours, duplicates kept.
    return nn.kneighbors(return_distance=True)[0][:, -1]


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
        Squared distance to the nearest reference row.
    group_min_sq : ndarray of float, shape (n_query, n_groups) or None
        Squared distance to the nearest reference row of each group (inf for a group without
        reference rows), when ``ref_groups`` was given.
    tol : float
        Absolute tolerance used on squared distances.
    """

    in_any_ball: np.ndarray
    n_balls: np.ndarray
    min_sq: np.ndarray
    group_min_sq: np.ndarray | None
    tol: float


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
    q_sq = np.einsum("ij,ij->i", query, query)
    r_sq = np.einsum("ij,ij->i", ref, ref)
    tol = _REL_TOL * (float(q_sq.max(initial=0.0)) + float(r_sq.max(initial=0.0)) + 1.0)
    # Testing ||q||^2 - 2qr <= radius^2 + tol - ||r||^2 saves one pass over each block.
    threshold = ref_radii.astype(np.float64) ** 2 + tol - r_sq
    n_q = query.shape[0]
    in_any = np.zeros(n_q, dtype=bool)
    n_balls = np.zeros(n_q, dtype=np.int64)
    min_sq = np.empty(n_q)
    group_min = None if ref_groups is None else np.full((n_q, n_groups), np.inf)
    block = max(1, _BLOCK_ENTRIES // max(ref.shape[0], 1))
    for lo in range(0, n_q, block):
        hi = min(lo + block, n_q)
        d2 = query[lo:hi] @ ref.T
        d2 *= -2.0
        d2 += q_sq[lo:hi, None]
        inside = d2 <= threshold[None, :]
        in_any[lo:hi] = inside.any(axis=1)
        n_balls[lo:hi] = inside.sum(axis=1)
        d2 += r_sq[None, :]
        min_sq[lo:hi] = d2.min(axis=1)
        if group_min is not None:
            group_min[lo:hi, present] = np.minimum.reduceat(d2, starts, axis=1)
    # Rounding can leave a duplicate's squared distance slightly below 0.
    np.maximum(min_sq, 0.0, out=min_sq)
    if group_min is not None:
        np.maximum(group_min, 0.0, out=group_min)
    return BallScan(in_any, n_balls, min_sq, group_min, tol)
