"""What a player may say, without I/O: text limits, mutes and rate limits.

The gateway asks ``ChatGuard.check`` before a message leaves for the cluster;
a refusal is an error code and a sentence for the player, and nothing is
sent. Two token buckets per player: one over all of its chat (``PER_PLAYER``)
and one per channel it speaks in (``PER_CHANNEL``: a player cannot fill one
channel at its full rate). Time is injected (``now``: seconds; ``wall``: the
clock mutes are set in, seconds since 1970).
"""

from __future__ import annotations

from typing import Final

from realmkit.auth.limits import TokenBucket
from realmkit.errors import InvalidInput

MAX_TEXT: Final = 255
# (rate per second, burst)
PER_PLAYER: Final = (2.0, 10.0)
PER_CHANNEL: Final = (1.0, 5.0)
# A player speaks in few channels; older buckets are forgotten past this many.
MAX_CHANNEL_BUCKETS: Final = 16


class Refusal(Exception):
    """Why a message was not sent: a stable ``code`` and a sentence for the player."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_text(text: str) -> None:
    """1 to ``MAX_TEXT`` printable characters, not only spaces."""
    if not 0 < len(text) <= MAX_TEXT:
        raise Refusal("TEXT_TOO_LONG", f"a message is 1 to {MAX_TEXT} characters")
    if not text.isprintable() or not text.strip():
        raise Refusal("BAD_MESSAGE", "a message is printable characters, not only spaces")


def check_written(field: str, text: str, *, lines: bool = False, blank: bool = False) -> None:
    """What a player writes outside chat (a letter's subject and body, a guild's
    message of the day): printable characters, line breaks too where ``lines``, and
    not only spaces unless ``blank``; else ``InvalidInput`` naming ``field``."""
    if not (text.replace("\n", "") if lines else text).isprintable():
        raise InvalidInput(field, "printable characters only")
    if not blank and not text.strip():
        raise InvalidInput(field, "not blank")


class ChatGuard:
    """One player's chat limits at its gateway."""

    def __init__(self, now: float, muted_until: float | None = None) -> None:
        self.player = TokenBucket(*PER_PLAYER, now)
        self.channels: dict[str, TokenBucket] = {}
        self.muted_until = muted_until

    def mute(self, until: float | None) -> None:
        """Muted until ``until`` (seconds since 1970); None lifts it."""
        self.muted_until = until

    def check_unmuted(self, wall: float) -> None:
        """Raise ``Refusal`` while the player is muted."""
        if self.muted_until is not None and wall < self.muted_until:
            left = int(self.muted_until - wall) + 1
            raise Refusal("MUTED", f"you are muted for {left} more seconds")

    def check(self, channel: str, text: str, now: float, wall: float) -> None:
        """Raise ``Refusal`` unless the player may say ``text`` in ``channel`` now."""
        self.check_unmuted(wall)
        check_text(text)
        bucket = self.channels.get(channel)
        if bucket is None:
            if len(self.channels) >= MAX_CHANNEL_BUCKETS:
                del self.channels[next(iter(self.channels))]
            bucket = self.channels[channel] = TokenBucket(*PER_CHANNEL, now)
        # The channel's bucket first: a refusal there leaves the player's own intact.
        if not bucket.take(now):
            raise Refusal("CHAT_RATE_LIMITED", f"too many messages in {channel}: slow down")
        if not self.player.take(now):
            raise Refusal("CHAT_RATE_LIMITED", "too many messages: slow down")
