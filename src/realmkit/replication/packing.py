"""msgpack for many rows of integers at once, with numpy: the bytes msgspec would write.

A gateway encodes the rows of every observer's frame body together
(``pack_rows``), then cuts each observer's body out of the result by row
offsets: no Python object per value, and a body shared by several observers
is the same slice. Each integer takes msgpack's smallest form (positive and
negative fixint, then 8, 16, 32 and 64 bits, unsigned for values >= 0), as
``msgspec.msgpack.encode`` writes it, so the bytes are equal to encoding the
rows as lists of ints (the unit tests check it).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

_UINT8: Final = 0xCC
_UINT16: Final = 0xCD
_UINT32: Final = 0xCE
_UINT64: Final = 0xCF
_INT8: Final = 0xD0
_INT16: Final = 0xD1
_INT32: Final = 0xD2
_INT64: Final = 0xD3
MAX_FIXARRAY: Final = 15


# msgpack's integer forms by value range: the bin of ``np.searchsorted(_EDGES, v,
# "right")`` gives the type byte and the payload length (0: a fixint, no type byte).
_EDGES = np.array([-(1 << 31), -(1 << 15), -(1 << 7), -32, 0, 1 << 7, 1 << 8, 1 << 16, 1 << 32])
_CODE = np.array(
    [_INT64, _INT32, _INT16, _INT8, 0, 0, _UINT8, _UINT16, _UINT32, _UINT64], dtype=np.uint8
)
_PAYLOAD = np.array([8, 4, 2, 1, 0, 0, 1, 2, 4, 8], dtype=np.int64)


def _bins(v: IntArray) -> IntArray:
    bins: IntArray = np.searchsorted(_EDGES, v, side="right")
    return bins


def _write(buf: NDArray[np.uint8], start: IntArray, v: IntArray) -> None:
    """Write each value of ``v`` at its ``start`` in ``buf`` (room made by the caller).

    A payload of n bytes is the last n bytes of the value's big-endian int64: two's
    complement keeps that true for the signed forms too."""
    bins = _bins(v)
    payload = _PAYLOAD[bins]
    fix = payload == 0
    buf[start[fix]] = (v[fix] & 0xFF).astype(np.uint8)
    typed = np.flatnonzero(~fix)
    if typed.size == 0:
        return
    buf[start[typed]] = _CODE[bins[typed]]
    n = payload[typed]
    total = int(n.sum())
    first = np.cumsum(n) - n
    j = np.arange(total, dtype=np.int64) - np.repeat(first, n)
    big_endian = v.astype(">i8").view(np.uint8)
    src = np.repeat(typed * 8 + 8 - n, n) + j
    dst = np.repeat(start[typed] + 1, n) + j
    buf[dst] = big_endian[src]


def _widths(v: IntArray) -> IntArray:
    """Bytes each value takes."""
    width: IntArray = 1 + _PAYLOAD[_bins(v)]
    return width


def pack_rows(rows: IntArray) -> tuple[bytes, IntArray]:
    """Each row of ``rows`` (n x k, k <= 15) as a msgpack array of its ints, all
    rows back to back; and the n + 1 byte offsets of the rows in the result."""
    n, k = rows.shape
    if k > MAX_FIXARRAY:
        raise ValueError(f"rows of at most {MAX_FIXARRAY} values, not {k}")
    if n == 0:
        return b"", np.zeros(1, dtype=np.int64)
    v = np.ascontiguousarray(rows, dtype=np.int64).ravel()
    width = _widths(v).reshape(n, k)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(1 + width.sum(axis=1), out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    buf[offsets[:-1]] = 0x90 | k
    # Where each value starts: after its row's header and the values before it.
    start = (offsets[:-1, None] + 1 + np.cumsum(width, axis=1) - width).ravel()
    _write(buf, start, v)
    return buf.tobytes(), offsets


def pack_ints(values: IntArray) -> tuple[bytes, IntArray]:
    """Each int of ``values`` in msgpack, back to back; and the n + 1 byte offsets."""
    v = np.ascontiguousarray(values, dtype=np.int64)
    offsets = np.zeros(v.size + 1, dtype=np.int64)
    if v.size == 0:
        return b"", offsets
    np.cumsum(_widths(v), out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    _write(buf, offsets[:-1], v)
    return buf.tobytes(), offsets


def array_header(n: int) -> bytes:
    """The msgpack header of an array of ``n`` items."""
    if n <= MAX_FIXARRAY:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return bytes((0xDC, n >> 8, n & 0xFF))
    return bytes((0xDD,)) + n.to_bytes(4, "big")
