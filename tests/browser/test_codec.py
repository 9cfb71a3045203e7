"""The web client's msgpack codec (the vendored bundle) against the protocol fixtures."""

from __future__ import annotations

import json
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
