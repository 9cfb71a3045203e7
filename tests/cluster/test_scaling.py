"""Scaling by load on a real cluster: the leader launches a world node when free
capacity runs low, and drains and stops it once it has been idle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at

from conftest import Cluster, cluster_on_session_engines
from realmkit.engines.embedded import Endpoints
from realmkit.procs import is_alive

pytestmark = pytest.mark.slow

WAIT = 40.0
# Two world nodes of 4 places: 4 players leave half free, under 60%: one more node
# is launched. Once everyone left, more than 60% stays free without it: retired.
SCALING = """\
[instances]
node_timeout = 3.0

[scaling]
launcher = "local"
min_world_nodes = 2
max_world_nodes = 3
scale_up_below = 0.6
scale_down_above = 0.6
idle_after = 2.0
launch_timeout = 30.0
world_capacity = 4

"""


@pytest.fixture(scope="module")
def small_cluster(
    tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints, databases
) -> Iterator[Cluster]:
    with cluster_on_session_engines(
        tmp_path_factory, endpoints, databases, SCALING, world_capacity=4
    ) as c:
        yield c


async def _world_nodes(cluster: Cluster) -> dict[str, str]:
    rows = await fetch(
        cluster.database_url, "SELECT node_id, state FROM cluster.nodes WHERE role = 'world'"
    )
    return {r["node_id"]: r["state"] for r in rows}


async def test_a_node_is_launched_under_load_and_retired_when_idle(
    http, small_cluster: Cluster, eventually
) -> None:
    cluster = small_cluster
    items = await owned_items(cluster.database_url)
    players = [
        await enter_at(http, cluster, f"Crowd{'abcd'[i]}", (200.0 + i, 200.0), gateway=i % 2)
        for i in range(4)
    ]
    try:

        async def launched() -> bool:
            nodes = await _world_nodes(cluster)
            return len(nodes) == 3 and all(s == "ready" for s in nodes.values())

        await eventually(launched, WAIT, "a third world node launched and ready")
        extra = next(n for n in await _world_nodes(cluster) if n not in ("world-1", "world-2"))
        pid_file = cluster.data_dir / "launched" / f"{extra}.pid"
        pid = int(pid_file.read_text())
        assert is_alive(pid, f"node {extra} --role world")
    finally:
        for p in players:
            await p.close()

    async def retired() -> bool:
        # The launcher forgets the pid once it has reaped the process, a moment after
        # it is gone: the pid file is part of the condition, not a check after it.
        return (
            (await _world_nodes(cluster))[extra] == "stopped"
            and not is_alive(pid, extra)
            and not pid_file.exists()
        )

    await eventually(retired, WAIT, f"idle {extra} drained, stopped and its pid file gone")
    nodes = await _world_nodes(cluster)
    assert nodes["world-1"] == nodes["world-2"] == "ready"
    await check_invariants(cluster.database_url, items)
