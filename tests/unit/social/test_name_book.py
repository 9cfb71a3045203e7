"""The gateway's book of characters' names: bounded, fresh for a while, and it
remembers ids that are no character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.social.names import NameBook, NameCard


def _card(i: int, level: int = 10) -> NameCard:
    return NameCard(i, f"Char{i}", 1, "Azure", level)


def test_a_card_read_once_is_answered_until_it_is_stale() -> None:
    """A card learnt is found without a read for ``ttl`` seconds, then read again
    (its level may have changed); an id that is no character is not read again
    either, and is not found."""
    book = NameBook(kept=10, ttl=60.0)
    assert book.lookup([5, 6], now=0.0) == ({}, [5, 6])
    book.learn([5, 6], {5: _card(5)}, now=0.0)
    assert book.lookup([5, 6], now=59.0) == ({5: _card(5)}, [])
    assert book.lookup([6, 5], now=60.0) == ({}, [6, 5])
    book.learn([5], {5: _card(5, level=11)}, now=60.0)
    assert book.lookup([5], now=61.0) == ({5: _card(5, level=11)}, [])


def test_creature_ids_are_never_read() -> None:
    """Ids below 1 (creatures) are neither found nor asked of the store; repeated
    ids are asked once."""
    book = NameBook()
    assert book.lookup([-16777217, 0, 3, 3, -1], now=0.0) == ({}, [3])


def test_a_name_seen_from_another_realm_carries_its_realm() -> None:
    """``Name`` in its own realm, ``Name-Realm`` from another."""
    assert _card(1).seen_from(1) == "Char1"
    assert _card(1).seen_from(2) == "Char1-Azure"


@given(st.lists(st.integers(min_value=1, max_value=200), max_size=400))
def test_the_book_keeps_at_most_its_size_and_drops_the_least_used(ids: list[int]) -> None:
    """However many ids are learnt, at most ``kept`` cards stay, the last used ones."""
    book = NameBook(kept=16, ttl=60.0)
    for i in ids:
        _, missing = book.lookup([i], now=1.0)
        book.learn(missing, {m: _card(m) for m in missing}, now=1.0)
        assert len(book) <= 16
    recent = list(dict.fromkeys(reversed(ids)))[:16]
    assert book.lookup(recent, now=2.0) == ({i: _card(i) for i in recent}, [])
