"""The client protocol over WebSocket (DESIGN.md §6), version 1.

Binary frames are msgpack, text frames JSON (for debugging); both carry the
same tagged messages, ``t`` naming the type. A client's first message must be
``hello`` with its world ticket (or ``resume`` with a resume token, after its
gateway died), within 5 seconds.

Client -> gateway: ``hello`` or ``resume``, the inputs of ``realmkit.protocol.inputs``
(``move``, ``attack``, ``cast``, ``release``, ``say``), ``keyframe``.
Gateway -> client: ``new_world``, ``frame`` (see ``protocol.frames``),
``transfer_pending``, the sim's player events (``chat``, ``correct``,
``rejected``, ``loot``, ``died``, ``portal``), ``error``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from realmkit.protocol.inputs import Attack, Cast, Move, Release, Say

PROTOCOL_VERSION = 1

Ticket = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class Hello(msgspec.Struct, frozen=True, tag_field="t", tag="hello", forbid_unknown_fields=True):
    ticket: Ticket
    version: int = PROTOCOL_VERSION


ResumeToken = Annotated[str, msgspec.Meta(min_length=16, max_length=128)]


class Resume(msgspec.Struct, frozen=True, tag_field="t", tag="resume", forbid_unknown_fields=True):
    """Instead of ``hello``, after losing a gateway: come back with the token of the
    last ``new_world``, through any gateway, within the resume grace period."""

    token: ResumeToken
    version: int = PROTOCOL_VERSION


class KeyframeRequest(msgspec.Struct, frozen=True, tag_field="t", tag="keyframe"):
    """The client saw a gap in frame sequence numbers."""


ClientMessage = Hello | Resume | KeyframeRequest | Move | Attack | Cast | Release | Say


class NewWorld(msgspec.Struct, frozen=True, tag_field="t", tag="new_world"):
    """You are in this space now; frames for it follow (never before this)."""

    character_id: int
    instance_id: int
    map_id: int
    tick_rate: int
    # A fresh resume token on entering (keep it secret; each token resumes once);
    # empty after a transfer: the one held stays valid.
    resume: str = ""


class TransferPending(msgspec.Struct, frozen=True, tag_field="t", tag="transfer_pending"):
    """You are moving to another space (``reason``: portal, transfer, recovery).

    Inputs sent from now until ``new_world`` are dropped; after ``new_world``
    the client starts a new entity table and reports its position again.
    """

    reason: str


class ErrorFrame(msgspec.Struct, frozen=True, tag_field="t", tag="error"):
    code: str
    message: str


# WebSocket close codes the gateway uses.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # abuse: floods, repeated malformed messages
CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHENTICATED = 4001
CLOSE_REPLACED = 4002  # the same character connected again elsewhere
