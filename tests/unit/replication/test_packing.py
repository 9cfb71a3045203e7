"""Vectorised msgpack of int rows writes exactly what msgspec writes."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.replication.packing import array_header, pack_ints, pack_rows

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
# The edges of every msgpack size class, where an off-by-one would show.
EDGES = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32]
EDGES += [-1, -31, -32, -33, -127, -128, -129, -32768, -32769, -(1 << 31), -(1 << 31) - 1]
EDGES += [(1 << 63) - 1, -(1 << 63)]


@given(st.lists(st.lists(INT64, min_size=7, max_size=7), max_size=30))
def test_rows_are_what_msgspec_writes(rows: list[list[int]]) -> None:
    """Any int64 rows: the same bytes as msgspec, and each row at its offsets."""
    array = np.array(rows, dtype=np.int64).reshape(len(rows), 7)
    data, offsets = pack_rows(array)
    assert data == b"".join(msgspec.msgpack.encode(r) for r in rows)
    for i, row in enumerate(rows):
        assert data[offsets[i] : offsets[i + 1]] == msgspec.msgpack.encode(row)


@given(st.lists(INT64 | st.sampled_from(EDGES), max_size=60))
def test_ints_are_what_msgspec_writes(values: list[int]) -> None:
    """Any int64 values, the size classes' edges often among them."""
    data, offsets = pack_ints(np.array(values, dtype=np.int64))
    assert data == b"".join(msgspec.msgpack.encode(v) for v in values)
    assert offsets.tolist()[-1] == len(data)


def test_every_size_class_edge() -> None:
    """Each value on either side of a msgpack size class boundary."""
    rows = np.array(EDGES, dtype=np.int64).reshape(-1, 1)
    data, _ = pack_rows(rows)
    assert data == b"".join(msgspec.msgpack.encode([v]) for v in EDGES)


@pytest.mark.parametrize("n", [0, 15, 16, 65535, 65536])
def test_array_headers(n: int) -> None:
    """fixarray up to 15 items, array 16 up to 65,535, array 32 beyond."""
    assert msgspec.msgpack.encode([0] * n) == array_header(n) + bytes(n)


def test_rows_wider_than_a_fixarray_are_refused() -> None:
    """A row header is a fixarray: 16 values would need another form."""
    with pytest.raises(ValueError, match="at most 15"):
        pack_rows(np.zeros((1, 16), dtype=np.int64))
