"""Every NATS subject realmkit uses, built here and nowhere else.

Names follow DESIGN.md: ``space.<instance_id>.in`` carries a space's batched
inputs, ``gateway.<gateway_id>.frames`` a gateway's frames. Variable parts are
checked so that no value can smuggle in a ``.`` or a wildcard.
"""

from __future__ import annotations

import re

from realmkit.errors import UsageError

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Queue groups: each request is served by exactly one member.
ORCHESTRATOR_QUEUE = "orchestrators"

# Requests to the orchestrator replicas (placement, transfers).
ORCHESTRATOR_REQUESTS = "orchestrator.requests"

# A realm's or pool's active patch changed (every world node listens).
CONTENT_PATCHES = "content.patches"

# Requests to the matchmaker replicas (queue_join, match_accept...), one queue group.
MATCHMAKER_QUEUE = "matchmakers"
MATCHMAKER_REQUESTS = "matchmaker.requests"
# What the replicas tell the leader (a ticket queued, left, an answer to a proposal).
MATCHMAKER_NEWS = "matchmaker.news"
# Served by the leader only: a ticket's queue position.
MATCHMAKER_WHERE = "matchmaker.where"
# Every match space's result (space.<id>.result).
SPACE_RESULTS = "space.*.result"

# JetStream stream of cluster events (node up/down, instance lifecycle).
EVENTS_STREAM = "EVENTS"
EVENTS_ALL = "events.>"


def _token(value: object) -> str:
    text = str(value)
    if not _TOKEN.match(text):
        raise UsageError(f"not a valid subject token: {text!r}", token=text)
    return text


def space_inputs(instance_id: int) -> str:
    return f"space.{_token(instance_id)}.in"


def space_control(instance_id: int) -> str:
    return f"space.{_token(instance_id)}.control"


def cell_messages(partition_id: int, cell_id: int) -> str:
    """What a continent's cell hears from its neighbours (ghosts, hand-overs, hits)."""
    return f"cell.{_token(partition_id)}.{_token(cell_id)}"


def gateway_frames(gateway_id: str) -> str:
    return f"gateway.{_token(gateway_id)}.frames"


def gateway_control(gateway_id: str) -> str:
    return f"gateway.{_token(gateway_id)}.control"


# Every gateway's load report (login nodes pick the least loaded gateway).
GATEWAY_LOADS = "gateway.*.load"


def gateway_load(gateway_id: str) -> str:
    return f"gateway.{_token(gateway_id)}.load"


# Every world node's load report (node_heartbeat below).
WORLD_LOADS = "node.*.heartbeat"


def node_heartbeat(node_id: str) -> str:
    return f"node.{_token(node_id)}.heartbeat"


def node_control(node_id: str) -> str:
    return f"node.{_token(node_id)}.control"


def event(kind: str) -> str:
    return f"events.{_token(kind)}"


def gateway_deliver(gateway_id: str) -> str:
    """Client messages for some of a gateway's players (match proposals, results)."""
    return f"gateway.{_token(gateway_id)}.deliver"


def space_results(instance_id: int) -> str:
    """A match space's outcome (its win rule decided, or its time ran out)."""
    return f"space.{_token(instance_id)}.result"


# JetStream stream of chat (whispers, party, guild and realm channels): its last ten
# minutes, for a player who resumes after losing its gateway. A message's stream
# sequence is its id: unique in the cluster and growing.
CHAT_STREAM = "CHAT"
CHAT_ALL = "chat.>"


def chat_whisper(to_id: int, from_id: int) -> str:
    """A whisper: ``chat.w.<to>.<from>`` (a character's history is both ways)."""
    return f"chat.w.{_token(to_id)}.{_token(from_id)}"


def chat_whispers_of(character_id: int) -> list[str]:
    """The filters of every whisper to or from ``character_id``."""
    return [f"chat.w.{_token(character_id)}.*", f"chat.w.*.{_token(character_id)}"]


def chat_channel(realm_id: int, channel: str) -> str:
    return f"chat.c.{_token(realm_id)}.{_token(channel)}"


def chat_guild(guild_id: int) -> str:
    return f"chat.g.{_token(guild_id)}"


def chat_party(party_id: int) -> str:
    return f"chat.p.{_token(party_id)}"
