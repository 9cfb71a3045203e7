"""The login node over real HTTP, PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from realmkit.auth.tickets import Audience, load_public_key, unverified_key_id, verify
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cli.cluster import provide_bot_accounts
from realmkit.client.bots import bot_account, bot_password
from realmkit.client.login import LoginClient
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.login.node import LoginNode
from realmkit.nodes.login.starts import start_in
from realmkit.protocol.cluster import GatewayLoad
from realmkit.settings import DEFAULT_SETTINGS, EngineSettings, LoginSettings, NodeSpec, Role
from realmkit.store.accounts import MAX_LINES
from realmkit.store.cluster import ClusterRepo
from realmkit.store.keys import SigningKeyRepo
from realmkit.store.patches import PatchRepo
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data

    async def account(self, name: str) -> str:
        status, body = await self.call(
            "POST", "/api/register", {"username": name, "password": "hunter2hunter2"}
        )
        assert status == 201, body
        return str(body["token"])


@pytest.fixture
async def realm_id(db: Database) -> int:
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    realm = await cluster.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    return realm.realm_id


@contextlib.asynccontextmanager
async def login_node(
    database_url: str, endpoints: Endpoints, limits: LoginSettings | None = None
) -> AsyncIterator[Api]:
    """A login node on 127.0.0.1 and a client of it (``limits``: the default ones, but
    for registrations from this machine: the tests register many accounts)."""
    spec = NodeSpec(name="login", role=Role.LOGIN, host="127.0.0.1", port=0)
    here = Endpoints(endpoints.nats_url, database_url)
    limits = limits or LoginSettings(registrations_unlimited=("127.0.0.1",))
    node = LoginNode(spec, here, limits=limits)
    await node.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(session, f"http://127.0.0.1:{node.port}")
    finally:
        await node.drain()
        await node.stop()


@contextlib.asynccontextmanager
async def client_from(api: Api, address: str) -> AsyncIterator[Api]:
    """A client of the same node whose requests come from ``address`` (of 127.0.0.0/8)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Api(session, api.base)


@pytest.fixture
async def api(database_url: str, endpoints: Endpoints, realm_id: int) -> AsyncIterator[Api]:
    async with login_node(database_url, endpoints) as client:
        yield client


async def test_register_then_login(api: Api) -> None:
    """A registered account logs in; a taken name and a bad name are refused with codes."""
    await api.account("thrall")
    status, body = await api.call(
        "POST", "/api/register", {"username": "THRALL", "password": "x" * 9}
    )
    assert (status, body["error"]["code"]) == (409, "ALREADY_EXISTS")
    status, body = await api.call("POST", "/api/register", {"username": "a b", "password": "x" * 9})
    assert (status, body["error"]["code"]) == (400, "INVALID_INPUT")
    status, body = await api.call(
        "POST", "/api/login", {"username": "thrall", "password": "hunter2hunter2"}
    )
    assert status == 200
    assert body["token"]


async def test_bad_passwords_are_rate_limited(api: Api) -> None:
    """Five wrong passwords lock the account: even the right one then gets 429."""
    await api.account("jaina")
    for _ in range(5):
        status, body = await api.call(
            "POST", "/api/login", {"username": "jaina", "password": "wrong-pass"}
        )
        assert (status, body["error"]["code"]) == (401, "BAD_CREDENTIALS")
    status, body = await api.call(
        "POST", "/api/login", {"username": "jaina", "password": "hunter2hunter2"}
    )
    assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")


async def test_unknown_account_looks_like_a_wrong_password(api: Api) -> None:
    """Logging into a name that does not exist answers exactly like a wrong password."""
    status, body = await api.call(
        "POST", "/api/login", {"username": "nobody", "password": "whatever1"}
    )
    assert (status, body["error"]["code"]) == (401, "BAD_CREDENTIALS")


async def test_malformed_bodies_get_json_errors(api: Api) -> None:
    """Not JSON, a wrong field type and an unknown route all answer JSON errors."""
    async with api.session.post(api.base + "/api/login", data=b"{nope") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "INVALID_INPUT"
    status, body = await api.call("POST", "/api/login", {"username": 5, "password": "x"})
    assert (status, body["error"]["code"]) == (400, "INVALID_INPUT")
    status, body = await api.call("GET", "/api/nowhere")
    assert (status, body["error"]["code"]) == (404, "HTTP_404")


async def test_characters_belong_to_their_account(api: Api, realm_id: int) -> None:
    """Characters are created, listed and deleted by their owner only."""
    token = await api.account("arthas")
    other = await api.account("uther")
    status, created = await api.call(
        "POST", f"/api/realms/{realm_id}/characters", {"name": "arthas"}, token
    )
    assert status == 201
    start = start_in(load_pack(classic_pack_path()))
    assert (created["name"], created["map_id"]) == ("Arthas", start.map_id)
    status, body = await api.call(
        "POST", f"/api/realms/{realm_id}/characters", {"name": "ARTHAS"}, other
    )
    assert (status, body["error"]["code"]) == (409, "ALREADY_EXISTS")
    status, body = await api.call(
        "POST", f"/api/realms/{realm_id}/characters", {"name": "x1"}, token
    )
    assert status == 400
    assert (await api.call("GET", f"/api/realms/{realm_id}/characters", token=other))[1] == []
    cid = created["character_id"]
    status, _ = await api.call("DELETE", f"/api/characters/{cid}", token=other)
    assert status == 404
    status, _ = await api.call("DELETE", f"/api/characters/{cid}", token=token)
    assert status == 204
    assert (await api.call("GET", f"/api/realms/{realm_id}/characters", token=token))[1] == []


async def test_forged_session_is_refused(api: Api, realm_id: int) -> None:
    """A bearer token that is not a session ticket of ours is a 401."""
    for token in ("garbage", "a.b", "0123456789abcdef.AAAA"):
        status, body = await api.call("GET", f"/api/realms/{realm_id}/characters", token=token)
        assert (status, body["error"]["code"]) == (401, "AUTH_INVALID")


async def test_world_ticket_names_the_least_loaded_gateway(
    api: Api, realm_id: int, bus: NatsBus, db: Database, eventually
) -> None:
    """A ticket verifies with the published key and points at the emptiest gateway."""
    token = await api.account("sylvanas")
    _, character = await api.call(
        "POST", f"/api/realms/{realm_id}/characters", {"name": "Sylvanas"}, token
    )
    path = f"/api/characters/{character['character_id']}/ticket"
    status, body = await api.call("POST", path, token=token)
    assert (status, body["error"]["code"]) == (503, "UNAVAILABLE")
    await bus.publish(
        subjects.gateway_load("gateway-1"),
        GatewayLoad("gateway-1", "ws://127.0.0.1:1/ws", 40, 1000),
    )
    await bus.publish(
        subjects.gateway_load("gateway-2"),
        GatewayLoad("gateway-2", "ws://127.0.0.1:2/ws", 10, 1000),
    )
    await bus.flush()

    async def both_heard() -> bool:
        return (await api.call("GET", "/healthz"))[1]["gateways"] == 2

    await eventually(both_heard, 10.0, "the login node to hear both gateways")
    status, body = await api.call("POST", path, token=token)
    assert status == 200
    assert body["gateway_url"] == "ws://127.0.0.1:2/ws"
    ticket = body["ticket"]
    key = load_public_key(await SigningKeyRepo(db).get(unverified_key_id(ticket)))
    claims = verify(ticket, key, Audience.WORLD, now=time.time())
    assert claims.character_id == character["character_id"]


async def test_the_api_index_lists_the_routes_and_the_cluster(api: Api) -> None:
    """`GET /api` answers the login API's routes and the cluster's realms, nodes and
    players (not 404), and gives away no host, port, key or account."""
    status, body = await api.call("GET", "/api")
    assert status == 200
    routes = {(r["method"], r["path"]) for r in body["routes"]}
    assert {("POST", "/api/login"), ("GET", "/api/realms"), ("GET", "/api"), ("GET", "/")} <= routes
    assert [r["name"] for r in body["realms"]] == ["Azure"]
    assert body["players"] == 0
    assert {"node": "login", "role": "login", "state": "ready"}.items() <= body["nodes"][0].items()
    text = str(body)
    assert "127.0.0.1" not in text
    assert "host" not in text


async def test_the_root_serves_the_browser_client_and_its_files(api: Api) -> None:
    """`GET /` is the client's page and `/static/...` its files, with their content
    types, no-cache and a Content-Security-Policy that lets the page reach gateways
    over ws: only; a path that leaves the folder or names an unknown type is a 404."""
    async with api.session.get(api.base + "/") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-cache"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "connect-src 'self' ws: wss:" in csp
        page = await resp.text()
        etag = resp.headers["ETag"]
    assert "/static/js/main.js" in page
    assert "/static/vendor/msgpack/msgpack.min.js" in page
    async with api.session.get(api.base + "/", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    for path, kind in [
        ("/static/js/main.js", "text/javascript; charset=utf-8"),
        ("/static/css/client.css", "text/css; charset=utf-8"),
        ("/static/vendor/msgpack/msgpack.min.js", "text/javascript; charset=utf-8"),
    ]:
        async with api.session.get(api.base + path) as resp:
            assert (resp.status, resp.headers["Content-Type"]) == (200, kind), path
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for path in [
        "/static/%2e%2e/__init__.py",
        "/static/..%2f__init__.py",
        "/static/js/%2e%2e/%2e%2e/__init__.py",
        "/static/%2fetc%2fpasswd",
        "/static/js/..%5c..%5c__init__.py",
        "/static/vendor/msgpack/LICENSE",
        "/static/js",
        "/static/.hidden.js",
        "/static/nothing.js",
    ]:
        async with api.session.get(api.base + path) as resp:
            assert resp.status == 404, path


async def test_a_refresh_token_logs_in_once_and_a_copy_used_later_revokes_its_line(
    api: Api, db: Database, realm_id: int
) -> None:
    """A session's refresh token logs in without the password, once: the new session
    carries the next token, which works; the first used again (a stolen copy) is
    refused and revokes every token of its line, so the next one fails too. Logging
    out revokes a line; the store keeps hashes only; garbage is a clean 400/401."""
    status, first = await api.call(
        "POST", "/api/register", {"username": "jaina", "password": "hunter2hunter2"}
    )
    assert status == 201
    old = first["refresh"]
    assert len(old) >= 32
    assert first["refresh_expires_in"] > 0
    status, second = await api.call("POST", "/api/refresh", {"refresh": old})
    assert status == 200, second
    assert second["account_id"] == first["account_id"]
    assert second["refresh"] not in ("", old)
    status, body = await api.call(
        "GET", f"/api/realms/{realm_id}/characters", token=second["token"]
    )
    assert status == 200, body  # the new session works
    status, body = await api.call("POST", "/api/refresh", {"refresh": old})
    assert (status, body["error"]["code"]) == (401, "BAD_CREDENTIALS")  # used before
    status, body = await api.call("POST", "/api/refresh", {"refresh": second["refresh"]})
    assert (status, body["error"]["code"]) == (401, "BAD_CREDENTIALS")  # its line revoked
    async with db.connection() as conn:
        stored = await conn.fetch("SELECT token_hash FROM auth.refresh_tokens")
    assert hashlib.sha256(old.encode()).digest() in {bytes(r["token_hash"]) for r in stored}
    # A new line with the password; logging out ends it.
    status, third = await api.call(
        "POST", "/api/login", {"username": "jaina", "password": "hunter2hunter2"}
    )
    assert status == 200
    status, _ = await api.call("POST", "/api/logout", {"refresh": third["refresh"]})
    assert status == 204
    status, body = await api.call("POST", "/api/refresh", {"refresh": third["refresh"]})
    assert status == 401
    status, body = await api.call("POST", "/api/refresh", {"refresh": "short"})
    assert (status, body["error"]["code"]) == (400, "INVALID_INPUT")
    status, body = await api.call("POST", "/api/refresh", {"refresh": "x" * 43})
    assert status == 401


async def test_an_account_keeps_ten_refresh_lines_at_most(api: Api) -> None:
    """Each password login starts a line; the eleventh ends the oldest (its token is
    refused), the newer ones still work."""
    lines = []
    for _ in range(MAX_LINES + 1):
        status, body = await api.call(
            "POST",
            "/api/login" if lines else "/api/register",
            {"username": "arthas", "password": "hunter2hunter2"},
        )
        assert status in (200, 201), body
        lines.append(body["refresh"])
    status, _ = await api.call("POST", "/api/refresh", {"refresh": lines[0]})
    assert status == 401
    status, _ = await api.call("POST", "/api/refresh", {"refresh": lines[1]})
    assert status == 200


async def _login(api: Api, name: str, password: str) -> int:
    status, _ = await api.call("POST", "/api/login", {"username": name, "password": password})
    return status


async def test_wrong_passwords_lock_the_account_only_from_their_address(api: Api) -> None:
    """Five wrong passwords for one account from one address lock that account there;
    another account from that address, and that account from another, log in."""
    await api.account("jaina")
    await api.account("thrall")
    for _ in range(5):
        assert await _login(api, "jaina", "wrong-pass") == 401
    assert await _login(api, "jaina", "hunter2hunter2") == 429
    assert await _login(api, "thrall", "hunter2hunter2") == 200
    async with client_from(api, "127.0.0.2") as elsewhere:
        assert await _login(elsewhere, "jaina", "hunter2hunter2") == 200


async def test_spraying_many_accounts_locks_the_address(api: Api) -> None:
    """Thirty wrong passwords over thirty names from one address are each refused as
    wrong; then every login from there waits (429), the right password too; logins
    from other addresses go on."""
    await api.account("jaina")
    async with client_from(api, "127.0.0.3") as sprayer:
        for n in range(30):
            assert await _login(sprayer, f"victim_{n}", "Summer2024!") == 401
        assert await _login(sprayer, "jaina", "hunter2hunter2") == 429
    assert await _login(api, "jaina", "hunter2hunter2") == 200


async def test_registrations_are_limited_per_address(
    database_url: str, endpoints: Endpoints
) -> None:
    """By default five registrations from one address in ten minutes, loopback too;
    the sixth is 429 with a Retry-After of about ten minutes; another address still
    registers."""
    limits = LoginSettings()
    async with login_node(database_url, endpoints, limits) as api:
        for n in range(5):
            await api.account(f"newbie_{n}")
        async with api.session.post(
            api.base + "/api/register", json={"username": "newbie_5", "password": "x" * 12}
        ) as resp:
            assert resp.status == 429
            assert (await resp.json())["error"]["code"] == "RATE_LIMITED"
            assert 590 <= int(resp.headers["Retry-After"]) <= 600
        async with client_from(api, "127.0.0.2") as elsewhere:
            await elsewhere.account("newbie_6")


async def test_a_burst_of_registrations_does_not_hold_up_cheap_requests(api: Api) -> None:
    """While 60 registrations hash (one or a few at a time, off the event loop), the
    health check and a token refresh answer within a second each."""
    status, session = await api.call(
        "POST", "/api/register", {"username": "honest", "password": "hunter2hunter2"}
    )
    assert status == 201
    burst = [asyncio.create_task(api.account(f"burst_{n}")) for n in range(60)]
    try:
        for _ in range(3):
            started = time.monotonic()
            status, _ = await api.call("GET", "/healthz")
            assert status == 200
            status, session = await api.call(
                "POST", "/api/refresh", {"refresh": session["refresh"]}
            )
            assert status == 200
            assert time.monotonic() - started < 1.0
        assert not all(task.done() for task in burst), "the burst was over before the checks"
    finally:
        await asyncio.gather(*burst)


async def test_bot_accounts_are_made_in_postgresql_past_the_sign_up_limit(
    database_url: str, endpoints: Endpoints
) -> None:
    """`realmkit bots` on the node file's cluster makes its eight accounts in PostgreSQL
    (once: a second swarm of the tag makes none), so all eight log in through a login
    node with the default limits, whose sign-ups from this address stop at five."""
    settings = msgspec.structs.replace(
        DEFAULT_SETTINGS, engines=EngineSettings(database_url=database_url, nats_url="unused")
    )
    assert await provide_bot_accounts(settings, 0, 8, "lim") == 8
    assert await provide_bot_accounts(settings, 0, 8, "lim") == 0
    async with login_node(database_url, endpoints, LoginSettings()) as api:
        for index in range(8):
            client = LoginClient(api.base, api.session)
            await client.register_or_login(bot_account(index, "lim"), bot_password(index))
            assert client.token
        for n in range(5):
            await api.account(f"stranger_{n}")
        status, body = await api.call(
            "POST", "/api/register", {"username": "stranger_5", "password": "x" * 12}
        )
        assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")


async def test_a_realms_content_is_public_and_follows_its_active_patch(
    api: Api, db: Database, realm_id: int
) -> None:
    """`GET /api/realms/{id}/content` answers without a bearer what a client draws the
    realm with, from its game's pack: maps with bounds, portals, spawn points and zones,
    creatures, items and spells (no spawns, loot or damage). With the version it holds
    (If-None-Match) a client gets 304; once a patch is activated on the realm, the
    content is the patched one under a new tag. An unknown realm is 404."""
    pack = load_pack(classic_pack_path())
    async with api.session.get(f"{api.base}/api/realms/{realm_id}/content") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        etag = resp.headers["ETag"]
        body = await resp.json()
    assert (body["realm_id"], body["pack"], body["patch_id"]) == (realm_id, pack.info.name, 0)
    continent = next(m for m in body["maps"] if m["id"] == 1)
    base_map = pack.maps[1]
    assert (continent["name"], continent["kind"]) == (base_map.name, "continent")
    assert continent["bounds"]["max_x"] == base_map.bounds.max_x
    assert [(p["name"], p["to_map"], p["area"]["min_x"]) for p in continent["portals"]] == [
        (p.name, p.to_map, p.area.min_x) for p in base_map.portals
    ]
    assert [s["name"] for s in continent["spawn_points"]] == [s.name for s in base_map.spawn_points]
    assert [z["name"] for z in continent["zones"]] == [z.name for z in base_map.zones]
    assert {m["id"] for m in body["maps"]} == set(pack.maps)
    wolf = pack.creatures[1]
    assert body["creatures"][0] == {"id": 1, "name": wolf.name, "level": wolf.level, "hp": wolf.hp}
    assert [c["id"] for c in body["creatures"]] == sorted(pack.creatures)
    assert [(i["id"], i["name"], i["quality"], i["slot"]) for i in body["items"]] == [
        (i.id, i.name, i.quality, i.slot) for _, i in sorted(pack.items.items())
    ]
    assert [(s["id"], s["name"], s["range"]) for s in body["spells"]] == [
        (s.id, s.name, s.range) for _, s in sorted(pack.spells.items())
    ]
    assert body["player"]["spells"] == pack.player.spells
    assert all(set(c) == {"id", "name", "level", "hp"} for c in body["creatures"])
    text = str(body)
    assert "loot" not in text
    assert "spawns" not in text
    assert "127.0.0.1" not in text

    held = {"If-None-Match": etag}
    async with api.session.get(f"{api.base}/api/realms/{realm_id}/content", headers=held) as resp:
        assert resp.status == 304

    patches = PatchRepo(db)
    patch = await patches.create("classic", "tougher", {"creatures": {"1": {"hp": 777}}}, None)
    await patches.activate(await ClusterRepo(db).realm(realm_id), patch.patch_id)
    async with api.session.get(f"{api.base}/api/realms/{realm_id}/content", headers=held) as resp:
        assert resp.status == 200
        assert resp.headers["ETag"] != etag
        patched = await resp.json()
    assert patched["patch_id"] == patch.patch_id
    assert patched["creatures"][0]["hp"] == 777
    assert patched["creatures"][1:] == body["creatures"][1:]

    status, missing = await api.call("GET", f"/api/realms/{realm_id + 1000}/content")
    assert status == 404
    assert missing["error"]["code"] == "NOT_FOUND"
    status, _ = await api.call("GET", "/api/realms/azure/content")
    assert status == 400
