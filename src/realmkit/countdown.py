"""A realm restart's countdown: when it is due, which warning to give, in words.

Pure functions of the time they are given (seconds since the Unix epoch); the
orchestrators' leader calls them each round with the database's clock
(``realmkit.nodes.orchestrator.restarts``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_DELAY = re.compile(r"^\s*(\d{1,6})\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DELAY = 7 * 86400


def parse_delay(text: str) -> int:
    """ "10m", "90s", "2h", "1d" or a number of seconds, as seconds (0 to 7 days);
    ``ValueError`` naming what is accepted otherwise."""
    found = _DELAY.match(text.lower())
    seconds = int(found.group(1)) * _UNIT[found.group(2)] if found else -1
    if not 0 <= seconds <= MAX_DELAY:
        raise ValueError(f"{text!r}: a delay such as 90s, 10m, 2h or 1d (at most 7 days)")
    return seconds


DAY = 86_400


def next_daily(now: float, at: str) -> float:
    """The first ``at`` ("HH:MM", UTC) strictly after ``now``, both in seconds since
    the Unix epoch (whose days are all ``DAY`` long)."""
    hours, minutes = (int(part) for part in at.split(":"))
    today = now - now % DAY + hours * 3600 + minutes * 60
    return today if today > now else today + DAY


def mark_to_tell(remaining: float, marks: Sequence[int], told: int | None) -> int | None:
    """The warning mark to tell now, or None: the smallest mark at or above
    ``remaining`` seconds, if it is below the last one told (``told``).

    A restart asked for in 7 minutes with marks (600, 300, 60) is told at once
    (mark 600), then at 300 and at 60; a leader that was away for the 300 mark
    and comes back at 100 s tells once (mark 300), not twice."""
    passed = [m for m in marks if m >= remaining]
    if not passed:
        return None
    mark = min(passed)
    return mark if told is None or mark < told else None


def spoken(seconds: float) -> str:
    """``seconds`` as a player reads it: "2 hours", "10 minutes", "1 minute", "30 seconds"."""
    whole = max(0, round(seconds))
    if whole >= 2 * 3600 - 30 * 60:
        return f"{round(whole / 3600)} hours"
    if whole >= 90:
        return f"{round(whole / 60)} minutes"
    if whole >= 60:
        return "1 minute"
    return "1 second" if whole == 1 else f"{whole} seconds"


def warning(seconds: float) -> str:
    return (
        f"The realm restarts in {spoken(seconds)}. Everyone is saved and comes back "
        "where they stand."
    )


def moved(seconds: float) -> str:
    return f"The realm restart is moved: it restarts in {spoken(seconds)}."


CANCELLED = "The realm restart is called off."
