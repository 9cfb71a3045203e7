"""A client's ``names`` and ``inventory`` lookups: what a gateway connection takes
to its desk, and what it refuses before asking anything."""

from __future__ import annotations

import msgspec
import pytest

from realmkit.content.schema import Bounds
from realmkit.protocol.client import ErrorFrame, Hello
from realmkit.protocol.social import MAX_NAMES, InventoryRequest, NamesRequest
from realmkit.session.connection import AskSocial, Authenticate, Connection, Reply

BOUNDS = Bounds(min_x=0, min_y=0, max_x=100, max_y=100)


def _in_world() -> Connection:
    conn = Connection(opened_at=0.0)
    assert conn.receive(msgspec.msgpack.encode(Hello("tkt")), now=0.1) == [Authenticate("tkt")]
    conn.entered(BOUNDS)
    return conn


def _refused(conn: Connection, data: str) -> str:
    """The ``BAD_MESSAGE`` detail a message gets (it must get one)."""
    actions = conn.receive(data, now=0.2)
    assert len(actions) == 1, actions
    reply = actions[0]
    assert isinstance(reply, Reply), actions
    assert isinstance(reply.message, ErrorFrame), actions
    assert reply.message.code == "BAD_MESSAGE"
    return reply.message.message


def test_names_of_up_to_64_ids_go_to_the_desk() -> None:
    """1 and 64 entity ids, characters' and creatures' (negative) alike, are asked
    of the desk as they came, in JSON and in msgpack."""
    conn = _in_world()
    one = conn.receive('{"t": "names", "ids": [7]}', now=0.2)
    assert one == [AskSocial(NamesRequest([7]))]
    many = NamesRequest([*range(1, MAX_NAMES), -(2**24 + 5)])
    assert conn.receive(msgspec.msgpack.encode(many), now=0.2) == [AskSocial(many)]
    assert conn.strikes == 0


def test_names_of_more_than_64_ids_are_refused() -> None:
    """65 ids are a bad message: a strike, nothing asked."""
    conn = _in_world()
    ids = list(range(1, MAX_NAMES + 2))
    detail = _refused(conn, msgspec.json.encode({"t": "names", "ids": ids}).decode())
    assert "ids" in detail
    assert conn.strikes == 1


@pytest.mark.parametrize(
    "data",
    [
        '{"t": "names", "ids": []}',
        '{"t": "names"}',
        '{"t": "names", "ids": ["Thrall"]}',
        '{"t": "names", "ids": [1.5]}',
        '{"t": "names", "ids": [null]}',
        '{"t": "names", "ids": 7}',
        f'{{"t": "names", "ids": [{2**62 + 1}]}}',
        f'{{"t": "names", "ids": [{-(2**62) - 1}]}}',
        '{"t": "names", "ids": [1], "realm": 2}',
        '{"t": "inventory", "character_id": 2}',
    ],
)
def test_bad_lookups_are_refused(data: str) -> None:
    """No ids, ids that are not integers or beyond 62 bits, and fields the messages
    do not have (another character's inventory) are bad messages, never asked."""
    conn = _in_world()
    _refused(conn, data)
    assert conn.strikes == 1


def test_inventory_goes_to_the_desk_only_once_in_the_world() -> None:
    """``inventory`` names no character (the desk answers the session's own); before
    the player was ever in the world it is dropped."""
    conn = _in_world()
    assert conn.receive('{"t": "inventory"}', now=0.2) == [AskSocial(InventoryRequest())]
    entering = Connection(opened_at=0.0)
    entering.receive(msgspec.msgpack.encode(Hello("tkt")), now=0.1)
    assert entering.receive('{"t": "inventory"}', now=0.2) == []
    assert entering.receive('{"t": "names", "ids": [1]}', now=0.2) == []
    assert entering.dropped == 2
