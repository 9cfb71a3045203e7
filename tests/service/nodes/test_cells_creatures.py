"""A split moves creatures, never makes them: the new cell starts empty and gets the
split cell's creatures on its side by hand-over (orchestrator and two world nodes on
real NATS and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from node_fixtures import two_worlds_and_an_orchestrator

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.border import CROSS_MARGIN
from realmkit.engines.embedded import Endpoints
from realmkit.protocol.cluster import (
    CellsChanged,
    DescribeSpace,
    EnterWorld,
    Placement,
    SpaceDescription,
    SplitCell,
)
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus

WAIT = 20.0
BORDER = 1024.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


@pytest.fixture
async def nodes(database_url: str, endpoints: Endpoints) -> AsyncIterator[list[object]]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here) as started:
        yield started


async def _standing(bus: NatsBus, instance_id: int) -> list[tuple[float, float]]:
    described = await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=WAIT
    )
    return [spot for spots in described.standing.values() for spot in spots]


async def test_a_split_hands_creatures_over_and_makes_none(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Before the split one cell holds every creature of the continent; after it the
    two cells hold as many together, each only those on its side, and the new one
    holds some (handed over, not spawned a second time)."""
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    realm = await cluster.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    account = await AccountRepo(db).create("tester", "h")
    character = await CharacterRepo(db).create(
        account.account_id,
        realm.realm_id,
        "Watcher",
        map_id=1,
        position=(200.0, 200.0, 0.0),
        hp=100,
    )
    placed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        EnterWorld(character.character_id, "gw-test"),
        Placement,
        timeout=WAIT,
    )
    before = len(await _standing(bus, placed.instance_id))
    assert before > 0
    changed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        SplitCell(realm.realm_id, 1, 1, "x", BORDER),
        CellsChanged,
        timeout=WAIT,
    )
    west, east = changed.cells[1], changed.cells[2]

    async def shared_out() -> bool:
        mine, theirs = await _standing(bus, west), await _standing(bus, east)
        return (
            len(mine) + len(theirs) == before
            and len(theirs) > 0
            # (one wandering over the border stays until it is past the hysteresis)
            and all(x < BORDER + CROSS_MARGIN for x, _ in mine)
            and all(x >= BORDER - CROSS_MARGIN for x, _ in theirs)
        )

    await eventually(shared_out, WAIT, "the creatures shared out between the cells, once each")
