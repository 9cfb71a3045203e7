"""Guild ranks and what each may do, as data.

- Rule 1: a guild has exactly one LEADER while it has members (PostgreSQL's
  partial unique index refuses a second; ``successor`` and the schema's
  hand-over trigger, migration 0018, keep one).
- Rule 2: an action needs at least the rank ``MINIMUM_RANK`` names: leaders
  and officers invite, kick, promote, demote and set the message of the day;
  only the leader disbands.
- Rule 3: nobody acts on an equal or higher rank, and nobody raises a member
  to their own rank: an officer promotes initiates to members, the leader
  members to officers. Nobody is promoted to leader nor demoted below
  initiate; newcomers join as initiates.
- Rule 4: anyone may leave. A leader who leaves hands over to the highest
  ranked, longest serving member; alone, the guild is disbanded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum, StrEnum
from typing import NamedTuple

from realmkit.errors import GuildRankTooLow, InvalidInput

GUILD_NAME = re.compile(r"^[A-Za-z][A-Za-z ]{2,23}$")
MOTD_LENGTH = 255


class Rank(IntEnum):
    """Values are ``social.guild_members.rank``'s; a lower number outranks a higher."""

    LEADER = 0
    OFFICER = 1
    MEMBER = 2
    INITIATE = 3


class Action(StrEnum):
    INVITE = "invite"
    KICK = "kick"
    PROMOTE = "promote"
    DEMOTE = "demote"
    SET_MOTD = "set_motd"
    DISBAND = "disband"


# Rule 2: the lowest rank allowed each action.
MINIMUM_RANK: dict[Action, Rank] = {
    Action.INVITE: Rank.OFFICER,
    Action.KICK: Rank.OFFICER,
    Action.PROMOTE: Rank.OFFICER,
    Action.DEMOTE: Rank.OFFICER,
    Action.SET_MOTD: Rank.OFFICER,
    Action.DISBAND: Rank.LEADER,
}

JOINING_RANK = Rank.INITIATE


class Member(NamedTuple):
    character_id: int
    rank: Rank


def _target_rank(action: Action, actor: Rank, target: Rank) -> Rank | None:
    """Rule 3: the target's rank after ``action`` by ``actor`` (None: refused). A
    kicked member keeps its rank (it leaves)."""
    if target <= actor:
        return None
    if action is Action.PROMOTE:
        raised = Rank(target - 1)
        return raised if raised > actor else None
    if action is Action.DEMOTE:
        return Rank(target + 1) if target < Rank.INITIATE else None
    return target


def allowed(action: Action, actor: Rank, target: Rank | None = None) -> bool:
    """Whether ``actor`` may do ``action`` (to a member of rank ``target``)."""
    if actor > MINIMUM_RANK[action]:
        return False
    return target is None or _target_rank(action, actor, target) is not None


def require(action: Action, actor_id: int, actor: Rank, target: Rank | None = None) -> None:
    """``GuildRankTooLow`` unless ``allowed``."""
    if not allowed(action, actor, target):
        raise GuildRankTooLow(actor_id, action.value, int(actor), target)


def new_rank(action: Action, actor_id: int, actor: Rank, target: Rank) -> Rank:
    """The rank a PROMOTE or DEMOTE gives its target; ``GuildRankTooLow`` if refused."""
    require(action, actor_id, actor, target)
    changed = _target_rank(action, actor, target)
    assert changed is not None
    return changed


def successor(members: Sequence[Member], leaving: int) -> int | None:
    """Rule 4: who leads after the leader ``leaving`` goes: the highest ranked of the
    others, the longest serving among equals. ``members`` are in the order they
    joined (ties by character id); None: nobody is left, the guild is disbanded."""
    rest = [m for m in members if m.character_id != leaving]
    if not rest:
        return None
    return min(enumerate(rest), key=lambda seat: (seat[1].rank, seat[0]))[1].character_id


def check_name(name: str) -> str:
    """The guild name, or ``InvalidInput``: 3-24 letters and single spaces, a letter
    first and last."""
    if not GUILD_NAME.match(name) or name != name.rstrip() or "  " in name:
        raise InvalidInput("name", "3-24 letters and single spaces, starting with a letter")
    return name


def check_motd(text: str) -> str:
    if len(text) > MOTD_LENGTH:
        raise InvalidInput("motd", f"at most {MOTD_LENGTH} characters")
    return text
