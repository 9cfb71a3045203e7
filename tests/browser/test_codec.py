"""The web client's msgpack codec (the vendored bundle) against the protocol fixtures."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

from realmkit.nodes.login.static import StaticFiles
from realmkit.protocol.client import ClientMessage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protocol"


def _entries(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())
    return entries


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """Only the client's files (no cluster): the page loads its modules."""
    app = web.Application()
    app.add_routes(StaticFiles().routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()


async def test_the_page_decodes_every_fixture_as_its_json(browser: Browser, site: str) -> None:
    """Each message's exact msgpack bytes, decoded in the page, equal its JSON form, and
    what the page encodes from a client message's JSON the gateway decodes as that
    message (floats that are whole numbers go as integers; msgspec takes them)."""
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(site)
    entries = _entries("gateway_to_client.json") + _entries("client_to_gateway.json")
    decoded = await page.evaluate(
        """async (entries) => {
            const { decode, fromHex } = await import("/static/js/codec.js");
            return entries.map((e) => decode(fromHex(e.msgpack)));
        }""",
        entries,
    )
    for entry, value in zip(entries, decoded, strict=True):
        assert value == entry["json"], entry["t"]
    sent = _entries("client_to_gateway.json")
    encoded = await page.evaluate(
        """async (messages) => {
            const { encode } = await import("/static/js/codec.js");
            return messages.map((m) => Array.from(encode(m)));
        }""",
        [e["json"] for e in sent],
    )
    gateway = msgspec.msgpack.Decoder(ClientMessage)
    for entry, data in zip(sent, encoded, strict=True):
        expected = msgspec.json.decode(json.dumps(entry["json"]), type=ClientMessage)
        assert gateway.decode(bytes(data)) == expected, entry["t"]
    assert errors == []
    await page.close()


async def test_the_page_applies_frames_in_order_and_dequantizes_their_rows(
    browser: Browser, site: str
) -> None:
    """The fixture's frame applied in the page: positions in 1/8 units, orientation in
    1/256 turns (replication/quantize.py), rows kept as the Python client's EntityTable
    keeps them; a gap in ``seq`` or an update
    of an unknown row asks for a keyframe, and a reset frame rebuilds the table; an
    entity that leaves view is remembered by kind and template (what a kill after it
    is said with: "you killed Player -12" before)."""
    frame = next(e for e in _entries("gateway_to_client.json") if e["t"] == "frame")
    page = await browser.new_page()
    await page.goto(site)
    result = await page.evaluate(
        """async (hex) => {
            const { decode, fromHex } = await import("/static/js/codec.js");
            const { EntityTable } = await import("/static/js/world.js");
            const frame = decode(fromHex(hex));
            const table = new EntityTable();
            const out = {};
            // The fixture's frame updates row 1044, which a fresh table never got.
            out.first = table.apply({ ...frame, seq: 1 }, 0).applied;
            out.needs = table.needsKeyframe;
            const [removes, adds, updates] = frame.body;
            const keyframe = { ...frame, seq: 7, reset: true,
                body: [removes, [...adds, [1044, 1, 0, 0, 0, 0, 0, 100, 0]], []] };
            out.reset = table.apply(keyframe, 0).applied;
            out.update = table.apply({ ...frame, seq: 8 }, 100).applied;
            out.rows = [...table.entities.values()].map(
                (e) => [e.id, e.kind, e.template, e.x, e.y, e.z, e.o, e.hp, e.flags]);
            // -12 leaves view: who it was is kept, for a kill said after it left.
            out.left = table.apply({ ...frame, seq: 9, body: [[-12], [], []] }, 150).applied;
            out.gone = table.gone.get(-12);
            out.gap = table.apply({ ...frame, seq: 11 }, 200).applied;
            out.ack = table.ack;
            return out;
        }""",
        frame["msgpack"],
    )
    assert result["first"] is False
    assert result["needs"] is True
    assert result["reset"] is True
    assert result["update"] is True
    assert result["gap"] is False
    assert result["left"] is True
    assert result["gone"] == {"kind": 2, "template": 3}
    assert result["ack"] == 42
    rows = {row[0]: row[1:] for row in result["rows"]}
    # The add of -12: kind 2, template 3, at 12160/8, 9680/8, 240/8, facing 64/256 turns.
    assert rows[-12][:5] == [2, 3, 1520.0, 1210.0, 30.0]
    assert rows[-12][5] == pytest.approx(math.pi / 2)
    # Update of 1044: 12164/8, 9688/8, 240/8, o 70/256 turns, hp 255 (as sent), flags 0.
    assert rows[1044][2:5] == [12164 / 8, 9688 / 8, 30.0]
    assert rows[1044][5] == pytest.approx(70 / 256 * 2 * math.pi)
    assert rows[1044][6:] == [255, 0]
    await page.close()
