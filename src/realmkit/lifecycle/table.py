"""One lifecycle table, read the same way for every lifecycle.

A lifecycle module declares its state Enum (a ``StrEnum`` whose values are
the schema's), its event Enum and a ``(state, event) -> state`` dict, and
wraps them in a ``Lifecycle``; everything derived from the dict (the moves
the SQL trigger enforces, the states an event leaves, the live states) is
derived here once, so the five lifecycles cannot drift apart in how they
read their tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Generic, NamedTuple, TypeVar

from realmkit.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=Enum)


class Lifecycle(Generic[S, E]):
    """A transition table and what follows from it."""

    def __init__(self, name: str, states: type[S], transitions: Mapping[tuple[S, E], S]) -> None:
        self.name = name
        self.states = states
        self.transitions = dict(transitions)
        # The changes of state the table can make: what the schema's
        # ``*_moves`` table holds (the triggers ignore an update that keeps
        # the state, so self-loops are not moves).
        self.moves: frozenset[tuple[S, S]] = frozenset(
            (state, target)
            for (state, _), target in self.transitions.items()
            if state is not target
        )
        # A state with no way out is final; the others are live.
        self.live: tuple[S, ...] = tuple(
            s for s in states if any(f is s for f, _ in self.transitions)
        )

    def next_state(self, state: S, event: E) -> S:
        """Where ``event`` takes a row in ``state``; ``IllegalTransition`` if nowhere."""
        try:
            return self.transitions[state, event]
        except KeyError:
            raise IllegalTransition(self.name, state.value, event.name.lower()) from None

    def check_move(self, state: S, target: S) -> None:
        """``IllegalTransition`` unless some event moves a row from ``state`` to ``target``."""
        if (state, target) not in self.moves:
            raise IllegalTransition(self.name, state.value, target.value)

    def sources(self, event: E) -> tuple[S, ...]:
        """The states ``event`` may move a row out of, in declaration order."""
        return tuple(s for s in self.states if (s, event) in self.transitions)

    def target(self, event: E) -> S:
        """The one state ``event`` leads to, for lifecycles where every event
        has one target whatever state it leaves (their set-wide updates are
        ``sources(event) -> target(event)``)."""
        return self.next_state(self.sources(event)[0], event)

    def on(self, event: E) -> dict[S, S]:
        """Every move ``event`` makes, by the state it leaves."""
        return {s: self.next_state(s, event) for s in self.sources(event)}

    def compare_and_set(self, event: E) -> CompareAndSet:
        """The states an update by a single-target event may find, and the state it
        writes, as query parameters."""
        return CompareAndSet([s.value for s in self.sources(event)], self.target(event).value)


class CompareAndSet(NamedTuple):
    froms: list[str]
    to: str
