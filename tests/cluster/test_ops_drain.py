"""The operations API on a real cluster: the state shows a player's space on its node,
and the drain action moves it as `realmkit drain` does."""

from __future__ import annotations

from typing import Any

from test_instances import enter_at

from realmkit import operators
from realmkit.store.postgres import Database

WAIT = 20.0


async def _call(
    http, cluster, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.request(method, cluster.login_url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_state_shows_the_cluster_and_drain_moves_a_space(
    http, cluster, eventually
) -> None:  # type: ignore[no-untyped-def]
    """An operator sees every node with its CPU and memory, the player's continent on
    its node with its tick p99 and its cell; draining that node moves the space to the
    other world node with the player on board; a node that is not a world node is 404."""
    db = await Database.connect(cluster.database_url, max_size=1)
    try:
        await operators.add(db, "gm_cluster", "cluster operator password")
    finally:
        await db.close()
    async with http.post(
        cluster.login_url + "/api/login",
        json={"username": "gm_cluster", "password": "cluster operator password"},
    ) as resp:
        assert resp.status == 200
        token = (await resp.json())["token"]
    player = await enter_at(http, cluster, "Opsdrain", (150.0, 240.0))
    try:
        seen: dict[str, Any] = {}

        async def reported() -> bool:
            status, state = await _call(http, cluster, "GET", "/api/ops/state", token)
            assert status == 200, state
            seen.update(state)
            spaces = [i for i in state["instances"] if i["players"] >= 1]
            worlds = [n for n in state["nodes"] if n["role"] == "world"]
            return (
                bool(spaces)
                and spaces[0]["tick_p99_ms"] is not None
                and len(worlds) == 2
                and all(n["cpu_percent"] is not None and n["memory_bytes"] for n in worlds)
            )

        await eventually(reported, WAIT, "the player's space and the world nodes' loads")
        space = next(i for i in seen["instances"] if i["players"] >= 1)
        assert space["kind"] == "continent"
        cells = [c for c in seen["cells"] if c["instance_id"] == space["instance_id"]]
        assert len(cells) == 1
        assert cells[0]["max_x"] > cells[0]["min_x"]
        node = space["node_id"]
        other = "world-2" if node == "world-1" else "world-1"

        status, done = await _call(http, cluster, "POST", "/api/ops/drain", token, {"node": node})
        assert status == 200, done
        assert done["action"] == "drain"
        assert [(s["instance_id"], s["to_node"]) for s in done["result"]["spaces"]] == [
            (space["instance_id"], other)
        ]
        status, state = await _call(http, cluster, "GET", "/api/ops/state", token)
        moved = next(i for i in state["instances"] if i["instance_id"] == space["instance_id"])
        assert moved["node_id"] == other
        assert not player.closed.is_set()
        status, answer = await _call(
            http, cluster, "POST", "/api/ops/drain", token, {"node": "gateway-1"}
        )
        assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    finally:
        await player.close()
