"""What a player may say: text limits, mutes, and rate limits per player and per
channel that no sequence of messages gets past."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.errors import InvalidInput
from realmkit.social.chat import (
    MAX_TEXT,
    PER_CHANNEL,
    PER_PLAYER,
    ChatGuard,
    Refusal,
    check_written,
)


def _refused(guard: ChatGuard, channel: str, text: str, now: float, wall: float) -> str | None:
    try:
        guard.check(channel, text, now, wall)
    except Refusal as exc:
        return exc.code
    return None


def test_text_must_be_printable_and_short() -> None:
    guard = ChatGuard(now=0.0)
    assert _refused(guard, "trade", "x" * (MAX_TEXT + 1), 0.0, 0.0) == "TEXT_TOO_LONG"
    assert _refused(guard, "trade", "", 0.0, 0.0) == "TEXT_TOO_LONG"
    assert _refused(guard, "trade", "   ", 0.0, 0.0) == "BAD_MESSAGE"
    assert _refused(guard, "trade", "bell\x07", 0.0, 0.0) == "BAD_MESSAGE"
    assert _refused(guard, "trade", "x" * MAX_TEXT, 0.0, 0.0) is None


def test_letters_and_messages_of_the_day_are_printable() -> None:
    check_written("body", "line one\nline two", lines=True, blank=True)
    check_written("body", "", lines=True, blank=True)
    check_written("motd", "", blank=True)
    with pytest.raises(InvalidInput, match="subject: not blank"):
        check_written("subject", "   ")
    with pytest.raises(InvalidInput, match="printable"):
        check_written("subject", "two\nlines")
    with pytest.raises(InvalidInput, match="printable"):
        check_written("motd", "nul\x00", blank=True)
    with pytest.raises(InvalidInput, match="printable"):
        check_written("body", "bell\x07", lines=True, blank=True)


def test_a_mute_holds_until_it_expires_and_says_how_long() -> None:
    guard = ChatGuard(now=0.0, muted_until=1000.0)
    with pytest.raises(Refusal, match="muted for 41 more seconds") as refused:
        guard.check("whisper", "hello", 0.0, 960.0)
    assert refused.value.code == "MUTED"
    assert _refused(guard, "whisper", "hello", 0.0, 1000.0) is None
    guard.mute(2000.0)
    assert _refused(guard, "whisper", "hello", 1.0, 1500.0) == "MUTED"
    guard.mute(None)
    assert _refused(guard, "whisper", "hello", 1.0, 1500.0) is None


def test_one_channel_cannot_take_the_players_whole_rate() -> None:
    guard = ChatGuard(now=0.0)
    said = sum(_refused(guard, "trade", "wts ore", 0.0, 0.0) is None for _ in range(50))
    assert said == int(PER_CHANNEL[1])
    assert _refused(guard, "trade", "wts ore", 0.0, 0.0) == "CHAT_RATE_LIMITED"
    assert _refused(guard, "general", "hello", 0.0, 0.0) is None, "another channel still open"


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "whisper"]), st.floats(0.0, 2.0)),
        max_size=200,
    )
)
def test_no_sequence_says_more_than_the_buckets_allow(steps: list[tuple[str, float]]) -> None:
    """Whatever the channels and the pauses, what was said in any channel, and in all,
    stays within burst + rate x elapsed."""
    guard = ChatGuard(now=0.0)
    now = 0.0
    said: dict[str, int] = {}
    for channel, pause in steps:
        now += pause
        if _refused(guard, channel, "hi", now, 0.0) is None:
            said[channel] = said.get(channel, 0) + 1
    rate, burst = PER_CHANNEL
    for count in said.values():
        assert count <= burst + rate * now + 1e-9
    rate, burst = PER_PLAYER
    assert sum(said.values()) <= burst + rate * now + 1e-9
