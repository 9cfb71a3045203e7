"""Replication: clients converge under any budget, traffic stays under it, gaps are repaired."""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.protocol.frames import ClientFrameIn, FrameArrays, SpaceFrame
from realmkit.replication.client import EntityRow, EntityTable
from realmkit.replication.quantize import SETTLE_TICKS, quantize
from realmkit.replication.replicator import MIN_BURST, ReplicationConfig, Replicator


class World:
    """A synthetic space: entities wander, observers see what is within ``radius``."""

    def __init__(self, n: int, observers: int, seed: int, radius: float = 40.0) -> None:
        self.r = random.Random(seed)
        self.ids = np.array([i + 1 if i < observers else -(i + 1) for i in range(n)], np.int64)
        self.kinds = np.array([1 if i < observers else 2 for i in range(n)], np.uint8)
        self.templates = np.array([self.r.randrange(1, 9) for _ in range(n)], np.int32)
        self.pos = np.array(
            [[self.r.uniform(0, 100), self.r.uniform(0, 100), 0.0, 0.0] for _ in range(n)],
            np.float32,
        )
        self.max_hp = np.full(n, 200, np.int32)
        self.hp = np.full(n, 200, np.int32)
        self.flags = np.zeros(n, np.uint8)
        self.observers = observers
        self.radius = radius
        self.tick = 0
        self.tick_rate = 20

    def evolve(self) -> None:
        for i in range(self.ids.size):
            roll = self.r.random()
            if roll < 0.5:
                self.pos[i, 0] += self.r.uniform(-3, 3)
                self.pos[i, 1] += self.r.uniform(-3, 3)
                self.pos[i, 3] = self.r.uniform(0, 2 * math.pi)
            elif roll < 0.6:
                self.pos[i, 0] += self.r.uniform(-0.1, 0.1)  # below the threshold
            elif roll < 0.65:
                self.hp[i] = self.r.randrange(0, 201)
            elif roll < 0.67:
                self.flags[i] ^= 2

    def visible(self, o: int) -> list[int]:
        d = np.hypot(self.pos[:, 0] - self.pos[o, 0], self.pos[:, 1] - self.pos[o, 1])
        near = [i for i in np.argsort(d, kind="stable").tolist() if i != o]
        return [i for i in near if d[i] <= self.radius]

    def frame(self) -> SpaceFrame:
        vis = [self.visible(o) for o in range(self.observers)]
        offsets = np.cumsum([0] + [len(v) for v in vis])
        return FrameArrays(
            ids=self.ids,
            kinds=self.kinds,
            templates=self.templates,
            pos=self.pos,
            hp=self.hp,
            max_hp=self.max_hp,
            flags=self.flags,
            observers=self.ids[: self.observers],
            selves=np.arange(self.observers, dtype=np.int32),
            acks=np.full(self.observers, self.tick // 3, np.int64),
            offsets=offsets.astype(np.int32),
            visible=np.array([i for v in vis for i in v], np.int32),
        ).to_frame(1, 1, self.tick, tick_rate=self.tick_rate)

    def expected(self, o: int) -> dict[int, EntityRow]:
        """The server's quantized state of everything observer ``o`` sees (itself included)."""
        q = quantize(FrameArrays.of(self.frame()))
        out = {}
        for i in [o, *self.visible(o)]:
            x, y, z, ori, hp, flags = q[i].tolist()
            out[int(self.ids[i])] = EntityRow(
                int(self.kinds[i]), int(self.templates[i]), x, y, z, ori, hp, flags
            )
        return out


def _run(
    world: World, rep: Replicator, tables: dict[int, EntityTable], ticks: int, drop: float
) -> dict[int, list[int]]:
    sent: dict[int, list[int]] = {oid: [] for oid in tables}
    lose = random.Random(99)
    for _ in range(ticks):
        out = dict(rep.step(world.frame()))
        for oid, table in tables.items():
            data = out.get(oid)
            sent[oid].append(len(data) if data else 0)
            if data is None or lose.random() < drop:
                continue
            if not table.apply(data):
                rep.request_keyframe(oid)
        world.tick += 1
    return sent


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=30),
    observers=st.integers(min_value=1, max_value=4),
    moving=st.integers(min_value=1, max_value=60),
    budget=st.sampled_from([150.0, 600.0, 2000.0, 8192.0, 1e6]),
    drop=st.sampled_from([0.0, 0.0, 0.15]),
    seed=st.integers(0, 10_000),
)
def test_clients_converge_under_any_budget(
    n: int, observers: int, moving: int, budget: float, drop: float, seed: int
) -> None:
    """After the world stops changing, every client holds exactly the server's quantized view."""
    observers = min(observers, n)
    world = World(n, observers, seed)
    rep = Replicator(ReplicationConfig(budget_bytes_per_s=budget, burst_bytes=1024.0))
    tables = {int(world.ids[o]): EntityTable() for o in range(observers)}
    for _ in range(moving):
        world.evolve()
        _run(world, rep, tables, 1, drop)
    frozen = 0
    while frozen < 2000:
        _run(world, rep, tables, 20, 0.0)
        frozen += 20
        if all(tables[int(world.ids[o])].rows == world.expected(o) for o in range(observers)):
            break
    for o in range(observers):
        assert tables[int(world.ids[o])].rows == world.expected(o)
        assert not tables[int(world.ids[o])].needs_keyframe


@settings(max_examples=25, deadline=None)
@given(
    budget=st.sampled_from([200.0, 1000.0, 4000.0, 8192.0]),
    burst=st.sampled_from([0.0, 512.0, 4096.0]),
    seed=st.integers(0, 10_000),
    tick_rate=st.sampled_from([20, 30]),
)
def test_traffic_never_exceeds_budget_plus_burst(
    budget: float, burst: float, seed: int, tick_rate: int
) -> None:
    """Over every window of T ticks an observer receives at most budget*T/rate + burst
    bytes, at the space's own tick rate (a 30 Hz arena's ticks are shorter)."""
    world = World(60, 3, seed, radius=80.0)
    world.tick_rate = tick_rate
    config = ReplicationConfig(budget_bytes_per_s=budget, burst_bytes=burst)
    rep = Replicator(config)
    tables = {int(world.ids[o]): EntityTable() for o in range(3)}
    sizes: dict[int, list[int]] = {oid: [] for oid in tables}
    for _ in range(200):
        world.evolve()
        for oid, got in _run(world, rep, tables, 1, 0.0).items():
            sizes[oid] += got
    cap = max(burst, MIN_BURST)
    for got in sizes.values():
        total = np.concatenate([[0], np.cumsum(got)])
        for window in (1, 5, 20, 100, 200):
            worst = (total[window:] - total[:-window]).max()
            assert worst <= cap + budget * window / tick_rate + 1e-6
        assert sum(got) > 0


def test_identical_views_share_one_encoded_body() -> None:
    """Observers who see the same changes get frames whose bodies were encoded once."""
    world = World(12, 2, 1)
    world.pos[1] = world.pos[0]  # both observers on the same spot ...
    world.ids[:2] = [1, 2]
    rep = Replicator(ReplicationConfig(budget_bytes_per_s=1e6))
    rep.step(world.frame())
    world.pos[2:, 0] += 5.0  # ... then everything else moves
    world.tick += 1
    out = dict(rep.step(world.frame()))
    bodies = [msgspec.msgpack.decode(out[o], type=ClientFrameIn).body for o in (1, 2)]
    assert bodies[0] == bodies[1]
    assert rep.stats.bodies_encoded < rep.stats.frames


def test_small_changes_wait_then_settle() -> None:
    """A sub-threshold move is held back, then sent once it has waited SETTLE_TICKS."""
    world = World(2, 1, 3, radius=1000.0)
    rep = Replicator(ReplicationConfig(budget_bytes_per_s=1e6))
    table = EntityTable()
    _run(world, rep, {1: table}, 1, 0.0)
    world.pos[1, 0] += 0.125  # one quantum
    waited = 0
    while True:
        world.tick += 1
        out = dict(rep.step(world.frame()))
        if 1 in out:
            table.apply(out[1])
            if msgspec.msgpack.decode(out[1], type=ClientFrameIn).body.updates:
                break
        waited += 1
        assert waited <= SETTLE_TICKS
    assert waited == SETTLE_TICKS - 1
    assert table.rows == world.expected(0)


def test_gap_is_repaired_with_a_keyframe() -> None:
    """A lost frame makes the client refuse deltas until a reset frame rebuilds its table."""
    world = World(10, 1, 5, radius=1000.0)
    rep = Replicator(ReplicationConfig(budget_bytes_per_s=1e6))
    table = EntityTable()
    _run(world, rep, {1: table}, 1, 0.0)
    world.evolve()
    rep.step(world.frame())  # this frame is lost
    world.tick += 1
    world.evolve()
    world.tick += 1
    world.evolve()
    data = dict(rep.step(world.frame()))[1]
    assert table.apply(data) is False
    assert table.needs_keyframe
    rep.request_keyframe(1)
    world.tick += 1
    reset = dict(rep.step(world.frame()))[1]
    assert msgspec.msgpack.decode(reset, type=ClientFrameIn).reset
    assert table.apply(reset)
    assert table.rows == world.expected(0)


def test_tight_budget_sends_own_entity_then_nearest_first() -> None:
    """Under a small budget the first frame carries the observer itself, then the nearest adds."""
    world = World(30, 1, 8, radius=1000.0)
    rep = Replicator(ReplicationConfig(budget_bytes_per_s=6000.0))
    data = dict(rep.step(world.frame()))[1]
    body = msgspec.msgpack.decode(data, type=ClientFrameIn).body
    ids = [a.id for a in body.adds]
    assert ids[0] == 1
    order = [int(world.ids[i]) for i in world.visible(0)]
    assert ids[1:] == order[: len(ids) - 1]
    assert 1 < len(ids) < 30


def test_ack_is_delivered() -> None:
    """The prediction ack of the frame reaches the client even when nothing else changed."""
    world = World(1, 1, 2)
    rep = Replicator()
    table = EntityTable()
    _run(world, rep, {1: table}, 10, 0.0)
    assert table.ack == (world.tick - 1) // 3


@settings(max_examples=30, deadline=None)
@given(
    observers=st.integers(min_value=2, max_value=6),
    asked=st.sets(st.integers(min_value=1, max_value=8), max_size=6),
    seed=st.integers(0, 10_000),
)
def test_keyframes_asked_together_are_keyframes_asked_one_by_one(
    observers: int, asked: set[int], seed: int
) -> None:
    """``request_keyframes`` (a gateway's unreachable players, in one pass) leaves the
    replicator as ``request_keyframe`` for each would: the asked restart with a reset
    frame, the others go on with their deltas, byte for byte (ids it does not know
    are ignored)."""
    world = World(25, observers, seed, radius=60.0)
    together = Replicator(ReplicationConfig(budget_bytes_per_s=4000.0))
    one_by_one = Replicator(ReplicationConfig(budget_bytes_per_s=4000.0))
    for _ in range(5):
        world.evolve()
        frame = world.frame()
        assert together.step(frame) == one_by_one.step(frame)
        world.tick += 1
    together.request_keyframes(asked)
    for oid in asked:
        one_by_one.request_keyframe(oid)
    world.evolve()
    frame = world.frame()
    out = together.step(frame)
    assert out == one_by_one.step(frame)
    for oid, data in out:
        assert msgspec.msgpack.decode(data, type=ClientFrameIn).reset is (oid in asked)
