"""The operations API and page on a real login node (HTTP, PostgreSQL, NATS)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from test_login import Api, login_node, realm_id  # noqa: F401 (realm_id: a fixture)
from yarl import URL

from realmkit import operators
from realmkit.engines.embedded import Endpoints
from realmkit.store.postgres import Database

OPERATOR = ("gm_ops", "operator password")


@pytest.fixture
async def api(database_url: str, endpoints: Endpoints, realm_id: int) -> AsyncIterator[Api]:  # noqa: F811
    async with login_node(database_url, endpoints) as client:
        yield client


async def _login(api: Api, username: str, password: str) -> str:
    status, body = await api.call(
        "POST", "/api/login", {"username": username, "password": password}
    )
    assert status == 200, body
    return str(body["token"])


@pytest.fixture
async def operator(db: Database, api: Api) -> str:
    """An operator made as `realmkit operator add` makes one; its bearer token."""
    await operators.add(db, *OPERATOR)
    return await _login(api, *OPERATOR)


async def test_an_operator_gets_the_state_a_player_403_nobody_401(
    api: Api, operator: str, db: Database
) -> None:
    """The state answers an operator; a player's token gets 403 and no token 401, both
    with the API's error body; removing the operator refuses its token at once."""
    status, state = await api.call("GET", "/api/ops/state", token=operator)
    assert status == 200, state
    assert state["operator"] == "gm_ops"
    assert [r["name"] for r in state["realms"]] == ["Azure"]
    assert [(p["name"], p["realms"]) for p in state["pools"]] == [("europe", 1)]
    login = next(n for n in state["nodes"] if n["node_id"] == "login")
    assert (login["role"], login["state"]) == ("login", "ready")
    assert login["memory_bytes"] > 0  # written with its heartbeat
    for key in ("instances", "cells", "queues", "backups", "restarts", "gateways"):
        assert state[key] == []
    player = await api.account("peasant")
    status, body = await api.call("GET", "/api/ops/state", token=player)
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    status, body = await api.call("GET", "/api/ops/state")
    assert (status, body["error"]["code"]) == (401, "AUTH_INVALID")
    status, body = await api.call("POST", "/api/ops/announce", {"realm": "Azure", "text": "hi"})
    assert status == 401
    await operators.remove(db, "gm_ops")
    status, body = await api.call("GET", "/api/ops/state", token=operator)
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


async def test_actions_validate_their_bodies_and_do_what_the_cli_does(
    api: Api, operator: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad bodies are 400 with the error body; a realm's status and an announcement
    go through the CLI's functions; each action is logged with the operator's name."""
    bad = [
        ("/api/ops/realm-status", {"realm": "Azure", "status": "closed"}),
        ("/api/ops/realm-status", {"realm": "Azure"}),
        ("/api/ops/realm-status", {"realm": "Azure", "status": "online", "extra": 1}),
        ("/api/ops/announce", {"realm": "Azure", "text": ""}),
        ("/api/ops/announce", {"realm": "", "text": "hello"}),
        ("/api/ops/drain", {"node": "../world-1"}),
        ("/api/ops/patch/rollback", {"realm": "Azure", "pool": "europe"}),
        ("/api/ops/patch/activate", {"realm": "Azure"}),
    ]
    for path, body in bad:
        status, answer = await api.call("POST", path, body, token=operator)
        assert status == 400, (path, body, answer)
        assert set(answer) == {"error"}, answer
        assert answer["error"]["code"], answer
    async with api.session.post(
        api.base + "/api/ops/announce",
        data=b"{not json",
        headers={"Authorization": f"Bearer {operator}"},
    ) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (400, "INVALID_INPUT")
    status, answer = await api.call(
        "POST", "/api/ops/realm-status", {"realm": "Nowhere", "status": "online"}, token=operator
    )
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")

    with caplog.at_level(logging.INFO, logger="realmkit.login.ops"):
        status, done = await api.call(
            "POST",
            "/api/ops/realm-status",
            {"realm": "Azure", "status": "maintenance"},
            token=operator,
        )
        assert status == 200, done
        assert (done["ok"], done["action"], done["result"]["realm"]["status"]) == (
            True,
            "realm-status",
            "maintenance",
        )
        status, done = await api.call(
            "POST", "/api/ops/announce", {"realm": "Azure", "text": "Back soon"}, token=operator
        )
        assert (status, done["result"]) == (200, {"told": 0})
    logged = [r.getMessage() for r in caplog.records if r.name == "realmkit.login.ops"]
    assert len(logged) == 2, logged
    assert all("by gm_ops" in line for line in logged), logged
    assert not any(operator in line for line in logged)
    status, state = await api.call("GET", "/api/ops/state", token=operator)
    assert state["realms"][0]["status"] == "maintenance"
    player = await api.account("meddler")
    status, answer = await api.call(
        "POST", "/api/ops/realm-status", {"realm": "Azure", "status": "online"}, token=player
    )
    assert (status, answer["error"]["code"]) == (403, "FORBIDDEN")


async def test_the_page_is_served_with_its_headers_and_nothing_else(api: Api) -> None:
    """/ops is the HTML with a self-only CSP and no-cache; its two assets have their
    types; any other name under /ops is 404 with the error body."""
    async with api.session.get(api.base + "/ops") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "unsafe" not in csp
        assert resp.headers["Cache-Control"] == "no-cache"
        assert '<script type="module" src="/ops/ops.js">' in await resp.text()
    for name, kind in (("ops.js", "text/javascript"), ("ops.css", "text/css")):
        async with api.session.get(f"{api.base}/ops/{name}") as resp:
            assert (resp.status, resp.content_type) == (200, kind)
            assert "Content-Security-Policy" in resp.headers
    # Sent as written (``encoded``): the server, not the client, meets the dots.
    for path in ("/ops/secret.py", "/ops/..%2Fapi.py", "/ops/%2e%2e", "/ops/index.htm", "/ops/.."):
        async with api.session.get(URL(api.base + path, encoded=True)) as resp:
            assert resp.status == 404, path
            assert (await resp.json())["error"]["code"] in ("NOT_FOUND", "HTTP_404")
