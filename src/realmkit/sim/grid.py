"""Uniform-grid neighbour search over numpy arrays, returning pairs as arrays.

Points are bucketed into square cells of side ``cell``; for every query point
the three rows of three cells around it are contiguous ranges of the sorted
cell keys, found with ``searchsorted``. Pairs come out as two index arrays,
never as per-point Python sets (grouping in Python costs more than the
search itself).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

_STRIDE: Final = 1 << 24  # cells per row in the key; maps are far smaller
_BIAS: Final = 1 << 22  # keeps cell coordinates positive for negative positions

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _cells(x: FloatArray, y: FloatArray, cell: float) -> tuple[IntArray, IntArray]:
    cx = np.floor(x / cell).astype(np.int64) + _BIAS
    cy = np.floor(y / cell).astype(np.int64) + _BIAS
    return cx, cy


def candidate_pairs(
    qx: FloatArray, qy: FloatArray, px: FloatArray, py: FloatArray, cell: float
) -> tuple[IntArray, IntArray]:
    """Index pairs (query i, point j) with j in the 3x3 cells around query i.

    Every pair closer than ``cell`` is included (and some farther ones, which
    the caller filters by exact distance). Pairs are grouped by query index.
    """
    empty = np.zeros(0, dtype=np.int64)
    if qx.size == 0 or px.size == 0:
        return empty, empty
    # A hair wider than asked: two points ``cell`` apart in float64 (one just under
    # a cell boundary, say at -1e-313) must still fall in neighbouring cells.
    cell = cell * (1.0 + 1e-9) + 1e-9
    pcx, pcy = _cells(px, py, cell)
    keys = pcx * _STRIDE + pcy
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    qcx, qcy = _cells(qx, qy, cell)
    starts = []
    ends = []
    for dx in (-1, 0, 1):
        row = (qcx + dx) * _STRIDE + qcy
        starts.append(np.searchsorted(sorted_keys, row - 1, side="left"))
        ends.append(np.searchsorted(sorted_keys, row + 1, side="right"))
    # Interleave so that the pairs of one query stay together.
    start = np.stack(starts, axis=1).ravel().astype(np.int64)
    count = (np.stack(ends, axis=1).ravel() - start).astype(np.int64)
    query = np.repeat(np.arange(qx.size, dtype=np.int64), 3)
    total = int(count.sum())
    if total == 0:
        return empty, empty
    qi = np.repeat(query, count)
    run_start = np.cumsum(count) - count
    offset = np.arange(total, dtype=np.int64) - np.repeat(run_start, count)
    pj = order[np.repeat(start, count) + offset].astype(np.int64)
    return qi, pj


def group_rank(groups: IntArray) -> IntArray:
    """Position of each element within its run of equal ``groups`` values (sorted input)."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(groups[1:], groups[:-1], out=new_run[1:])
    run_start_idx = np.flatnonzero(new_run)
    run_id = np.cumsum(new_run) - 1
    rank: IntArray = np.arange(n, dtype=np.int64) - run_start_idx[run_id]
    return rank
