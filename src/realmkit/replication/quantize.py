"""Quantization of entity state for clients, and the thresholds on changes.

A client sees integers: position in 1/8 units, orientation in 1/256 turns,
hp in whole percent, flags as they are. "The server's quantized state" in
tests and docs means ``quantize`` applied to a space frame's rows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from realmkit.protocol.frames import FrameArrays

POS_SCALE: Final = 8.0  # quanta per world unit
ORIENT_STEPS: Final = 256  # quanta per full turn

# Columns of a quantized state row.
QX, QY, QZ, QO, QHP, QFLAGS = range(6)
QCOLS: Final = 6

# A change is sent at once when it reaches one of these (in quanta); smaller
# changes wait until they have been pending for SETTLE_TICKS frames (one
# second at the default 10 frames a second), so a
# client still ends on the exact quantized state.
POS_THRESHOLD: Final = 2  # a quarter unit
ORIENT_THRESHOLD: Final = 4  # about 5.6 degrees
SETTLE_TICKS: Final = 10

Quantized = NDArray[np.int64]


def quantize(a: FrameArrays) -> Quantized:
    """Rows of (x, y, z, o, hp%, flags) as int64, one per entity row of the frame."""
    q = np.empty((a.ids.size, QCOLS), dtype=np.int64)
    pos = a.pos.astype(np.float64)
    np.rint(pos[:, :3] * POS_SCALE, out=pos[:, :3])
    q[:, QX : QZ + 1] = pos[:, :3]
    turns = pos[:, 3] / (2 * np.pi)
    q[:, QO] = np.rint(turns * ORIENT_STEPS).astype(np.int64) % ORIENT_STEPS
    max_hp = np.maximum(a.max_hp.astype(np.int64), 1)
    q[:, QHP] = np.clip((a.hp.astype(np.int64) * 100 + max_hp // 2) // max_hp, 0, 100)
    q[:, QFLAGS] = a.flags
    return q


def change_size(old: Quantized, new: Quantized) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per row: the size of the change (quanta, summed) and whether it passes a threshold."""
    dpos = np.abs(new[:, QX : QZ + 1] - old[:, QX : QZ + 1]).max(axis=1)
    do = np.abs(new[:, QO] - old[:, QO])
    do = np.minimum(do, ORIENT_STEPS - do)
    dhp = np.abs(new[:, QHP] - old[:, QHP])
    dflags = new[:, QFLAGS] != old[:, QFLAGS]
    urgent = (dpos >= POS_THRESHOLD) | (do >= ORIENT_THRESHOLD) | (dhp > 0) | dflags
    size: NDArray[np.int64] = dpos + do + dhp * 4 + dflags * 8
    return size, urgent
