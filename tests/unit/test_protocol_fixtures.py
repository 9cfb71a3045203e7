"""Every message of the client protocol has a fixture, and realmkit reads and writes it
exactly as stored (tests/fixtures/protocol, for clients in other languages)."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from realmkit.client.game import ServerMessage
from realmkit.content.schema import Bounds
from realmkit.protocol.client import ClientMessage, Hello, Resume
from realmkit.protocol.events import ItemIdsNeeded, MatchWon
from realmkit.session.connection import Authenticate, Connection, Reply

FIXTURES = Path(__file__).parent.parent / "fixtures" / "protocol"
# Space events the gateway never forwards to a client.
NODE_ONLY = {ItemIdsNeeded.__struct_config__.tag, MatchWon.__struct_config__.tag}


def _tags(union: Any) -> set[str]:
    return {str(kind.__struct_config__.tag) for kind in typing.get_args(union)}


def _load(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())
    return entries


CLIENT = _load("client_to_gateway")
SERVER = _load("gateway_to_client")


def test_every_message_type_has_a_fixture() -> None:
    """One entry per client message type, one per message a client may receive."""
    assert sorted(e["t"] for e in CLIENT) == sorted(_tags(ClientMessage))
    assert sorted(e["t"] for e in SERVER) == sorted(_tags(ServerMessage) - NODE_ONLY)


@pytest.mark.parametrize("entry", CLIENT, ids=[e["t"] for e in CLIENT])
def test_client_fixture_is_read_and_accepted(entry: dict[str, Any]) -> None:
    """The JSON and the msgpack bytes decode to the same message, which encodes to
    exactly those bytes, and a gateway connection in the world accepts it."""
    data = bytes.fromhex(entry["msgpack"])
    message = msgspec.msgpack.decode(data, type=ClientMessage)
    assert msgspec.json.decode(json.dumps(entry["json"]), type=ClientMessage) == message
    assert msgspec.msgpack.encode(message) == data
    conn = Connection(opened_at=0.0)
    if isinstance(message, Hello | Resume):
        assert len(conn.receive(data, now=0.1)) == 1
        assert isinstance(conn.receive(data, now=0.1)[0], Reply)  # only once
        return
    assert conn.receive(msgspec.msgpack.encode(Hello("t")), now=0.1) == [Authenticate("t")]
    conn.entered(Bounds(min_x=0, min_y=0, max_x=4096, max_y=4096))
    actions = conn.receive(data, now=0.2)
    assert not any(isinstance(a, Reply) for a in actions), actions


@pytest.mark.parametrize("entry", SERVER, ids=[e["t"] for e in SERVER])
def test_server_fixture_is_read_as_stored(entry: dict[str, Any]) -> None:
    """A client decodes the bytes to the message the JSON describes, and realmkit
    writes that message as exactly those bytes."""
    data = bytes.fromhex(entry["msgpack"])
    message = msgspec.msgpack.decode(data, type=ServerMessage)
    assert msgspec.json.decode(json.dumps(entry["json"]), type=ServerMessage) == message
    assert msgspec.msgpack.encode(message) == data
