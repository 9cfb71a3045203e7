"""What a gateway remembers of characters' names and levels, so that a crowd of
clients asking who they see (``names``) does not read PostgreSQL each time.

A bounded LRU of a few thousand cards, each fresh for ``ttl`` seconds (a name
never changes, a level does: a card is read again once it is older). Ids that are
no character are remembered too (as such), so a client asking again and again for
the same wrong ids costs one read per ``ttl``. Time is given by the caller.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

import msgspec

# Cards kept: a gateway's players see each other and their neighbours mostly.
NAMES_KEPT = 4096
# How long a card is trusted: a level shown may lag the world by this much.
NAMES_TTL = 60.0


def split_name(target: str) -> tuple[str, str | None]:
    """``Name`` or ``Name-Realm`` as (name, realm or None)."""
    name, _, realm = target.strip().partition("-")
    return name, (realm.strip() or None)


class NameCard(msgspec.Struct, frozen=True):
    """One character as others see it: its name, realm and level."""

    character_id: int
    name: str
    realm_id: int
    realm: str
    level: int

    def seen_from(self, realm_id: int) -> str:
        """``Name`` in its own realm, ``Name-Realm`` from another."""
        return self.name if realm_id == self.realm_id else f"{self.name}-{self.realm}"


class NameBook:
    def __init__(self, kept: int = NAMES_KEPT, ttl: float = NAMES_TTL) -> None:
        self.kept = kept
        self.ttl = ttl
        # id -> (when read, its card or None: no character).
        self._cards: OrderedDict[int, tuple[float, NameCard | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cards)

    def lookup(self, ids: Iterable[int], now: float) -> tuple[dict[int, NameCard], list[int]]:
        """(the cards known and fresh, the character ids to read). Ids below 1 are
        never characters (creatures have negative ids): neither found nor read."""
        known: dict[int, NameCard] = {}
        missing: list[int] = []
        for i in dict.fromkeys(ids):
            if i < 1:
                continue
            held = self._cards.get(i)
            if held is None or now - held[0] >= self.ttl:
                missing.append(i)
                continue
            self._cards.move_to_end(i)
            if held[1] is not None:
                known[i] = held[1]
        return known, missing

    def learn(self, asked: Iterable[int], found: Mapping[int, NameCard], now: float) -> None:
        """What a read of ``asked`` found (an id not in ``found`` is no character)."""
        for i in asked:
            self._cards[i] = (now, found.get(i))
            self._cards.move_to_end(i)
        while len(self._cards) > self.kept:
            self._cards.popitem(last=False)
