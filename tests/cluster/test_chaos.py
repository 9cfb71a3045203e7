"""The engines fail under a playing cluster: NATS restarts, PostgreSQL stops for
5 s, every orchestrator is down. Players keep their sockets, nothing is lost.

This module runs its own NATS and PostgreSQL (the embedded engines), since it
stops and starts them. Its tests are slow: `pytest -m 'not slow'` skips them.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, conservation, fetch, grant, owned_items
from test_instances import enter_at
from test_recovery import plays

from conftest import Cluster, running_cluster
from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient
from realmkit.engines.embedded import EmbeddedEngines, Endpoints
from realmkit.errors import RemoteError
from realmkit.protocol.social import (
    Mailbox,
    MailSend,
    SocialMessage,
    TradeAccept,
    TradeOffer,
    TradeOpen,
    TradeWindow,
)

pytestmark = pytest.mark.slow

T = TypeVar("T")
WAIT = 30.0
OUTAGE = 5.0
STEPS = 100


class Chaos:
    def __init__(self, cluster: Cluster, engines: EmbeddedEngines) -> None:
        self.cluster = cluster
        self.engines = engines


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory, engines_root: Path) -> Iterator[Chaos]:
    pair = EmbeddedEngines(Path(tempfile.mkdtemp(dir=engines_root)), durable=False)
    try:
        pair.up()
        nats_url, database_url = pair.urls()
        endpoints = Endpoints(nats_url=nats_url, database_url=database_url)
        with running_cluster(tmp_path_factory.mktemp("chaos"), endpoints, database_url) as c:
            yield Chaos(c, pair)
    finally:
        pair.down()


async def _crowd(http, cluster: Cluster, prefix: str) -> list[GameClient]:  # type: ignore[no-untyped-def]
    return [
        await enter_at(http, cluster, f"{prefix}{'abc'[i]}", (300.0 + i, 300.0), gateway=i % 2)
        for i in range(3)
    ]


async def _saved_where_they_stand(cluster: Cluster, clients: list[GameClient]) -> bool:
    """Every client's last own position is its character's saved position."""
    rows = await fetch(
        cluster.database_url,
        "SELECT character_id, pos_x, pos_y FROM characters.characters "
        "WHERE character_id = ANY($1::bigint[])",
        [c.character_id for c in clients],
    )
    saved = {r["character_id"]: (r["pos_x"], r["pos_y"]) for r in rows}
    for c in clients:
        me = c.me()
        if me is None or math.dist(saved[c.character_id], world_position(me)[:2]) > 0.5:
            return False
    return True


async def _walk(clients: list[GameClient], dx: float) -> None:
    """Each client walks ``dx`` east and sees itself arrive."""
    async with asyncio.timeout(WAIT):
        for c in clients:
            assert c.position is not None
            target = (c.position[0] + dx, c.position[1])
            for _ in range(STEPS):
                if await c.walk_towards(*target, speed=6.0, step_seconds=0.1):
                    break
                await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
        for c in clients:
            assert c.position is not None
            while (me := c.me()) is None or math.dist(world_position(me)[:2], c.position[:2]) > 0.5:
                await c.wait_frame()


async def test_nats_restart_mid_play(http, chaos: Chaos) -> None:
    """NATS stops and starts again under players: every node reconnects, players
    keep their sockets and play on, a newcomer enters."""
    cluster = chaos.cluster
    items = await owned_items(cluster.database_url)
    players = await _crowd(http, cluster, "Natsy")
    try:
        await asyncio.to_thread(chaos.engines.nats.stop)
        await asyncio.to_thread(chaos.engines.nats.start)
        for p in players:
            await plays(p)
            assert not p.closed.is_set()
        newcomer = await enter_at(http, cluster, "Natsnew", (310.0, 300.0), gateway=1)
        await plays(newcomer)
        await newcomer.close()
        # Chat follows its stream again on both gateways.
        said = await players[0].whisper("Natsyb", "still there?")
        async with asyncio.timeout(WAIT):
            while not any(m.id == said.id for m in players[1].chat):
                players[1].chat_arrived.clear()
                await players[1].chat_arrived.wait()
    finally:
        for p in players:
            await p.close()
    await check_invariants(cluster.database_url, items)


async def test_postgres_stopped_for_five_seconds(http, chaos: Chaos, eventually) -> None:
    """PostgreSQL stops for 5 s while players walk: spaces tick on, the saves made
    meanwhile are retried and land, nobody is moved or disconnected."""
    cluster = chaos.cluster
    items = await owned_items(cluster.database_url)
    players = await _crowd(http, cluster, "Pgsy")
    try:
        stopped = time.monotonic()
        await asyncio.to_thread(chaos.engines.postgres.stop)
        await _walk(players, 6.0)
        # The outage lasts 5 s whatever the walk took: that is the scenario.
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
        await asyncio.to_thread(chaos.engines.postgres.start)
        await eventually(
            lambda: _saved_where_they_stand(cluster, players), WAIT, "the outage's saves landed"
        )
        for p in players:
            await plays(p)
            assert not p.closed.is_set()
            assert p.transfers == 0, "a PostgreSQL outage must not look like a dead node"
    finally:
        for p in players:
            await p.close()
    await check_invariants(cluster.database_url, items)


async def test_postgres_stopped_mid_trades_and_mail_moves_nothing_twice(
    http, chaos: Chaos, eventually
) -> None:
    """PostgreSQL stops for 5 s while two players trade and mail items and money, and
    whisper: what was asked during the outage is refused clearly or done whole; after
    it, every item has one owner, items and money are conserved, chat goes on."""
    cluster = chaos.cluster
    zed = await enter_at(http, cluster, "Zedtrade", (320.0, 300.0), gateway=0)
    ada = await enter_at(http, cluster, "Adatrade", (322.0, 300.0), gateway=1)
    items = await owned_items(cluster.database_url)
    try:
        given = await grant(cluster.database_url, zed.character_id, 8, 500)
        kept = await conservation(cluster.database_url)
        opened = await zed.social_ask(TradeOpen("Adatrade"), TradeWindow)
        offered = await zed.social_ask(TradeOffer(given[:2], 100), TradeWindow)
        await ada.social_ask(TradeAccept(offered.version), TradeWindow)
        refusals: list[str] = []

        async def ask(client: GameClient, message: SocialMessage, kind: type[T]) -> T | None:
            try:
                return await client.social_ask(message, kind)
            except RemoteError as exc:
                refusals.append(exc.remote_code)
            except TimeoutError:
                refusals.append("TIMEOUT")
            return None

        stopped = time.monotonic()
        await asyncio.to_thread(chaos.engines.postgres.stop)
        for item in given[2:5]:
            await ask(zed, MailSend("Adatrade", "loot", "", [item], 10), Mailbox)
        await ask(zed, TradeAccept(offered.version), TradeWindow)
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
        await asyncio.to_thread(chaos.engines.postgres.start)
        assert refusals, "asked while PostgreSQL was down, and nothing was refused"
        assert set(refusals) <= {"STORE_UNAVAILABLE", "TIMEOUT", "RATE_LIMITED"}, refusals

        async def answers() -> bool:
            return (
                await ask(zed, MailSend("Adatrade", "after", "", [given[5]], 10), Mailbox)
                is not None
            )

        await eventually(answers, WAIT, "mail is sent again after the outage")
        state = await ask(zed, TradeAccept(offered.version), TradeWindow)
        rows = await fetch(
            cluster.database_url,
            "SELECT state FROM social.trades WHERE trade_id = $1",
            opened.trade_id,
        )
        assert rows[0]["state"] in ("committed", "open", "cancelled"), (state, rows)
        owners = {
            r["owner_character_id"]
            for r in await fetch(
                cluster.database_url,
                "SELECT owner_character_id FROM characters.items WHERE item_id = ANY($1::bigint[])",
                given[:2],
            )
        }
        assert len(owners) == 1, "the offered items moved together, or neither"
        await ada.whisper("Zedtrade", "all good?")
        assert await conservation(cluster.database_url) == kept
    finally:
        for p in (zed, ada):
            await p.close()
    await check_invariants(cluster.database_url, items - {(i, zed.character_id) for i in given})


async def test_every_orchestrator_down(http, chaos: Chaos, eventually) -> None:
    """Both orchestrators die (and stay dead while the reviver is paused): spaces
    tick and save, a newcomer's placement waits; restarted orchestrators place it."""
    cluster = chaos.cluster
    items = await owned_items(cluster.database_url)
    players = await _crowd(http, cluster, "Orphan")
    os.kill(cluster.pid, signal.SIGSTOP)  # the reviver restarts nothing meanwhile
    try:
        for name in ("orchestrator-1", "orchestrator-2"):
            os.kill(node_pid(cluster.pid, name), signal.SIGKILL)
        await _walk(players, 6.0)
        await eventually(
            lambda: _saved_where_they_stand(cluster, players), WAIT, "saves with no orchestrator"
        )
        api = LoginClient(cluster.login_url, http)
        await api.register_or_login("acct_latecomer", "correct-horse-battery")
        character = await api.character((await api.realms())[0].realm_id, "Latecomer")
        ticket = await api.ticket(character.character_id)
        gateway_log = cluster.data_dir / "logs" / "gateway-1.log"
        asked_before = gateway_log.read_text().count("asking again")
        newcomer = asyncio.create_task(
            GameClient.connect(http, cluster.gateways[0], ticket.ticket, timeout=WAIT)
        )

        async def waiting() -> bool:
            return gateway_log.read_text().count("asking again") > asked_before

        await eventually(waiting, WAIT, "the gateway waiting for an orchestrator")
        assert not newcomer.done(), "placed with no orchestrator running"
    finally:
        os.kill(cluster.pid, signal.SIGCONT)
    late = await asyncio.wait_for(newcomer, WAIT)
    try:
        await plays(late)
        for p in players:
            await plays(p)
            assert not p.closed.is_set()
            assert p.transfers == 0
    finally:
        await late.close()
        for p in players:
            await p.close()
    await check_invariants(cluster.database_url, items)
