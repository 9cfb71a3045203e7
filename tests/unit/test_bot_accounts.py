"""Bot swarms: their own accounts and characters, and latency that is never negative."""

from __future__ import annotations

import re
from collections import deque

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from realmkit.auth.passwords import USERNAME
from realmkit.client.bots import (
    MAX_TAG,
    bot_account,
    bot_name,
    latency_samples,
    new_tag,
    valid_tag,
)
from realmkit.protocol.login import NewCharacter


def test_two_swarms_draw_different_tags() -> None:
    """Two swarms started without a tag (`realmkit bots`, `up --bots`) do not share bot_0."""
    tags = {new_tag() for _ in range(50)}
    assert len(tags) > 40
    a, b = sorted(tags)[:2]
    assert bot_account(0, a) != bot_account(0, b)
    assert bot_name(0, a).lower() != bot_name(0, b).lower()


@given(
    st.integers(min_value=0, max_value=26**4 - 1),
    st.text("abcdefghijklmnopqrstuvwxyz", max_size=MAX_TAG),
)
def test_names_are_valid_for_the_login_api(index: int, tag: str) -> None:
    """Every tag and index gives a valid account name and character name."""
    assert valid_tag(tag)
    assert USERNAME.match(bot_account(index, tag))
    msgspec.convert({"name": bot_name(index, tag)}, NewCharacter)
    assert re.fullmatch(r"Bot[a-z]+", bot_name(index, tag))


def test_untagged_names_are_the_old_ones() -> None:
    """Without a tag, bots are bot_<n> / Bot<letters> as before (reusing old accounts)."""
    assert (bot_account(3), bot_name(3)) == ("bot_3", "Botaaad")


def test_bad_tags_are_refused() -> None:
    """Tags go into character names: letters only, five at most."""
    assert not valid_tag("ab1")
    assert not valid_tag("abcdef")
    assert not valid_tag("é")


def test_an_ack_older_than_the_move_is_no_sample() -> None:
    """An ack that arrived before the move was sent (another client's, a stolen
    character's) gives no sample; a real one gives its delay."""
    sent = {1: 10.0, 2: 10.1}
    acks: deque[tuple[int, float]] = deque([(1, 9.5), (2, 10.3)])
    samples = latency_samples(sent, acks)
    assert [round(s, 3) for s in samples] == [0.2]
    assert sent == {}
    assert not acks


@given(
    st.dictionaries(st.integers(1, 50), st.floats(0, 100), max_size=20),
    st.lists(st.tuples(st.integers(1, 50), st.floats(0, 100)), max_size=20),
)
def test_latency_is_never_negative(sent: dict[int, float], acks: list[tuple[int, float]]) -> None:
    """Whatever the acks and send times, no sample is negative."""
    assert all(s >= 0 for s in latency_samples(dict(sent), deque(acks)))
