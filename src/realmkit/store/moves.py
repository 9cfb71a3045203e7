"""A lifecycle event's moves as query parameters.

A repository that changes the state of rows it has not read (a heartbeat, a
dead node's rows) cannot call ``next_state`` on each: it passes what the
Python table says the event makes of every state, as two parallel arrays,
and the statement joins them::

    UPDATE t SET state = m.to_state
    FROM unnest($2::text[], $3::text[]) AS m(from_state, to_state)
    WHERE ... AND t.state = m.from_state

so a row moves only as the table says, in one round trip. A row in a state
the event does not leave is not updated: the caller tells that apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


def arrays(moves: Mapping[S, S]) -> tuple[list[str], list[str]]:
    """``(from_states, to_states)``, in the same order, for ``unnest``."""
    return [s.value for s in moves], [t.value for t in moves.values()]
