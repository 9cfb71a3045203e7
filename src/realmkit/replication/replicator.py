"""Per-observer replication for one gateway: space frames in, client frame bytes out.

For every observer the replicator remembers exactly what the client holds
(the quantized rows it was sent). Each space frame then yields, per observer:

- removes: entities it holds but no longer sees;
- adds: entities it sees but does not hold (its own entity included);
- updates: held entities whose quantized state differs, sent at once when the
  change passes a threshold, else once it has waited ``SETTLE_TICKS``.

An observer whose candidates all fit its byte credit gets them all (in the
order of its held keys). Otherwise its candidates are ranked removes, own
entity, adds (nearest first), then updates by a priority accumulator that
grows every frame an update waits, by the size of the change and more for
near entities, and the list is cut where the credit runs out: a token bucket filled at
``budget_bytes_per_s`` and capped at ``burst_bytes``, so over any ``T``
seconds an observer receives at most ``budget * T + burst`` bytes. Row costs
are msgpack upper bounds, so the cut never overspends; the real size is then
charged.

All observers are processed together with numpy (pairs keyed
``observer << 32 | entity`` as in the AOI); Python runs once per observer
that gets a frame, to slice and encode. Bodies are encoded once per distinct
content, so observers seeing the same changes share the same bytes.

Invariants: ``_keys`` is sorted and unique; ``_vals[i]`` is what the client
of ``_keys[i] >> 32`` holds for entity ``_keys[i] & 0xFFFFFFFF``; credit
never goes below zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import msgspec
import numpy as np
from numpy.typing import NDArray

from realmkit.protocol.frames import ClientFrame, FrameArrays, SpaceFrame
from realmkit.replication.packing import array_header, pack_ints, pack_rows
from realmkit.replication.quantize import QCOLS, SETTLE_TICKS, Quantized, change_size, quantize

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# msgpack upper bounds, in bytes, of one row of each kind and of a frame
# without rows (envelope, seq, tick, ack, reset, empty body).
REMOVE_COST: Final = 9
ADD_COST: Final = 36
UPDATE_COST: Final = 30
HEADER_COST: Final = 80
MIN_BURST: Final = 256

# Candidate kinds, in the order they are served (before priorities within a kind).
_REMOVE, _SELF_ADD, _SELF_UPDATE, _ADD, _UPDATE = range(5)
_BASE = np.array([5e12, 4e12, 3e12, 2e12, 0.0])
_COST = np.array([REMOVE_COST, ADD_COST, UPDATE_COST, ADD_COST, UPDATE_COST], dtype=np.int64)
_MASK32: Final = 0xFFFFFFFF
_BODY: Final = b"\x93"  # a FrameBody: an array of three arrays


@dataclass(frozen=True, slots=True)
class ReplicationConfig:
    """Per-gateway settings; budgets are per observer."""

    budget_bytes_per_s: float = 8192.0
    burst_bytes: float = 2048.0
    near: float = 20.0  # distance at which an update's priority is halved


@dataclass
class ReplicationStats:
    frames: int = 0
    bytes: int = 0
    bodies_encoded: int = 0


class _Observer:
    __slots__ = ("ack", "budget", "credit", "index", "last_tick", "reset", "seq")

    def __init__(self, index: int, budget: float) -> None:
        self.index = index
        self.seq = 0
        self.credit = 0.0
        self.budget = budget
        self.last_tick: int | None = None
        self.reset = True  # the first frame a client gets is a keyframe
        self.ack = -1


class Replicator:
    """Replication state of every observer behind one gateway, for one space."""

    def __init__(self, config: ReplicationConfig | None = None) -> None:
        self.config = config or ReplicationConfig()
        self.stats = ReplicationStats()
        self._observers: dict[int, _Observer] = {}
        self._free_obs: list[int] = []
        # Entity interning: sorted ids -> local index, and index -> id.
        self._ids_sorted: IntArray = np.zeros(0, dtype=np.int64)
        self._idx_sorted: IntArray = np.zeros(0, dtype=np.int64)
        self._id_of: IntArray = np.zeros(0, dtype=np.int64)
        # What each client holds, sorted by key.
        self._keys: IntArray = np.zeros(0, dtype=np.int64)
        self._vals: Quantized = np.zeros((0, QCOLS), dtype=np.int64)
        self._acc: FloatArray = np.zeros(0, dtype=np.float64)
        self._stale: IntArray = np.zeros(0, dtype=np.int64)

    # --- observers ---------------------------------------------------------

    def set_budget(self, observer_id: int, bytes_per_s: float) -> None:
        """Override one observer's byte budget."""
        self._observer(observer_id).budget = bytes_per_s

    def request_keyframe(self, observer_id: int) -> None:
        """The client saw a gap: forget what it holds and restart it with a reset frame."""
        self.request_keyframes((observer_id,))

    def request_keyframes(self, observer_ids: Iterable[int]) -> None:
        """``request_keyframe`` for several observers at once: their pairs go in one
        pass (one pass each, for the hundreds a gateway cannot reach yet in a login
        wave, cost a pass over every pair per observer per frame)."""
        indexes = []
        for observer_id in observer_ids:
            obs = self._observers.get(observer_id)
            if obs is not None:
                obs.reset = True
                indexes.append(obs.index)
        if indexes:
            self._drop_pairs(np.isin(self._keys >> 32, np.array(indexes, dtype=np.int64)))

    @property
    def observers(self) -> int:
        """How many observers it keeps state for."""
        return len(self._observers)

    def observer_ids(self) -> list[int]:
        """The observers it keeps state for."""
        return list(self._observers)

    def remove_observer(self, observer_id: int) -> None:
        """The player left this space (or the gateway): drop its state."""
        obs = self._observers.pop(observer_id, None)
        if obs is not None:
            self._drop_pairs(self._keys >> 32 == obs.index)
            self._free_obs.append(obs.index)

    def _observer(self, observer_id: int) -> _Observer:
        obs = self._observers.get(observer_id)
        if obs is None:
            index = self._free_obs.pop() if self._free_obs else len(self._observers)
            obs = _Observer(index, self.config.budget_bytes_per_s)
            self._observers[observer_id] = obs
        return obs

    def _drop_pairs(self, mask: NDArray[np.bool_]) -> None:
        keep = ~mask
        self._keys, self._vals = self._keys[keep], self._vals[keep]
        self._acc, self._stale = self._acc[keep], self._stale[keep]

    # --- entities ----------------------------------------------------------

    def _intern(self, ids: IntArray) -> IntArray:
        pos, found = _find(self._ids_sorted, ids)
        if not found.all():
            fresh = np.unique(ids[~found])
            start = self._id_of.size
            self._id_of = np.concatenate([self._id_of, fresh])
            all_ids = np.concatenate([self._ids_sorted, fresh])
            all_idx = np.concatenate([self._idx_sorted, np.arange(start, start + fresh.size)])
            order = np.argsort(all_ids, kind="stable")
            self._ids_sorted, self._idx_sorted = all_ids[order], all_idx[order]
            pos, found = _find(self._ids_sorted, ids)
        local: IntArray = self._idx_sorted[pos]
        return local

    # --- the tick ----------------------------------------------------------

    def step(self, frame: SpaceFrame) -> list[tuple[int, bytes]]:
        """Consume one space frame; returns (observer id, client frame bytes) to send."""
        a = FrameArrays.of(frame)
        if a.observers.size == 0:
            return []
        q = quantize(a)
        ent_of_row = self._intern(a.ids)
        observers = [self._observer(int(i)) for i in a.observers.tolist()]
        obs_index = np.array([o.index for o in observers], dtype=np.int64)
        self._refill(observers, frame.tick, frame.tick_rate)

        # Current pairs: every observer's own entity plus what it sees.
        counts = np.diff(a.offsets).astype(np.int64)
        cur_obs = np.concatenate([obs_index, np.repeat(obs_index, counts)])
        cur_row = np.concatenate([a.selves, a.visible]).astype(np.int64)
        cur_self = np.zeros(cur_row.size, dtype=bool)
        cur_self[: obs_index.size] = True
        cur_keys = (cur_obs << 32) | ent_of_row[cur_row]
        order = np.argsort(cur_keys, kind="stable")
        cur_keys, cur_row, cur_self = cur_keys[order], cur_row[order], cur_self[order]
        cur_obs = cur_keys >> 32

        # Distance of each current pair from its observer, for priorities.
        self_row = np.full(int(obs_index.max()) + 1, -1, dtype=np.int64)
        self_row[obs_index] = a.selves
        d = a.pos[cur_row, :2].astype(np.float64) - a.pos[self_row[cur_obs], :2]
        dist = np.sqrt((d * d).sum(axis=1))

        pos, held = _find(self._keys, cur_keys)
        present = np.zeros(self_row.size, dtype=bool)
        present[obs_index] = True
        old_obs = self._keys >> 32
        in_frame = np.zeros(self._keys.size, dtype=bool)
        in_frame[pos[held]] = True
        seen_obs = old_obs < present.size
        removes = np.flatnonzero(
            ~in_frame & seen_obs & present[np.minimum(old_obs, present.size - 1)]
        )

        # Updates: held pairs whose quantized state changed.
        h_cur = np.flatnonzero(held)
        h_old = pos[h_cur]
        new_vals = q[cur_row[h_cur]]
        size, urgent = change_size(self._vals[h_old], new_vals)
        changed = size > 0
        waiting = self._stale[h_old] + 1
        weight = 1.0 / (1.0 + dist[h_cur] / self.config.near)
        self._acc[h_old] = np.where(changed, self._acc[h_old] + (1.0 + size) * weight, 0.0)
        self._stale[h_old] = np.where(changed, waiting, 0)
        due = changed & (urgent | (waiting >= SETTLE_TICKS))
        upd_cur, upd_old = h_cur[due], h_old[due]
        adds = np.flatnonzero(~held)

        # One candidate list, cut per observer at its credit.
        cand_obs = np.concatenate([old_obs[removes], cur_obs[adds], cur_obs[upd_cur]])
        cand_kind = np.concatenate(
            [
                np.full(removes.size, _REMOVE),
                np.where(cur_self[adds], _SELF_ADD, _ADD),
                np.where(cur_self[upd_cur], _SELF_UPDATE, _UPDATE),
            ]
        )
        cand_ref = np.concatenate([removes, adds, upd_cur])
        prio = (
            np.concatenate(
                [
                    np.zeros(removes.size),
                    1e6 / (1.0 + dist[adds]),
                    self._acc[upd_old],
                ]
            )
            + _BASE[cand_kind]
        )
        cost = _COST[cand_kind]
        waiting_rows = np.bincount(cand_obs, minlength=present.size)
        credit = np.zeros(present.size)
        for o in observers:
            credit[o.index] = o.credit
        # An observer whose candidates all fit its credit gets them all; the others'
        # are ranked (observer, priority, row) and cut where the credit runs out.
        total = np.bincount(cand_obs, weights=cost, minlength=present.size)
        over = total > credit - HEADER_COST
        ranked = over[cand_obs]
        chosen = np.flatnonzero(~ranked)  # grouped by observer within each kind
        if ranked.any():
            top = np.flatnonzero(ranked)
            top = top[np.lexsort((cand_ref[top], -prio[top], cand_obs[top]))]
            spent = _group_cumsum(cand_obs[top], cost[top])
            top = top[spent <= credit[cand_obs[top]] - HEADER_COST]
            # Each observer's rows in one run: a ranked observer's by priority.
            chosen = np.concatenate([chosen, top])
            chosen = chosen[np.argsort(cand_obs[chosen], kind="stable")]
        cand_obs, cand_kind, cand_ref = cand_obs[chosen], cand_kind[chosen], cand_ref[chosen]

        out = self._emit(
            a, q, frame.tick, observers, cand_obs, cand_kind, cand_ref, cur_row, waiting_rows
        )
        self._commit(q, cand_kind, cand_ref, cur_keys, cur_row, pos)
        return out

    def _refill(self, observers: list[_Observer], tick: int, tick_rate: int) -> None:
        """Credit for the ticks since each observer's last frame, at the space's own
        tick rate (a 30 Hz arena's ticks are shorter than a 20 Hz continent's)."""
        per_tick = 1.0 / max(1, tick_rate)
        for o in observers:
            # The cells of a continent count their own ticks: a frame whose tick is
            # not after the last one (a player that crossed into a cell whose clock
            # is behind) counts as one tick, not as none.
            ticks = 1 if o.last_tick is None or tick <= o.last_tick else tick - o.last_tick
            burst = max(self.config.burst_bytes, MIN_BURST)
            o.credit = min(burst, o.credit + o.budget * per_tick * ticks)
            o.last_tick = tick

    def _emit(
        self,
        a: FrameArrays,
        q: Quantized,
        tick: int,
        observers: list[_Observer],
        cand_obs: IntArray,
        cand_kind: IntArray,
        cand_ref: IntArray,
        cur_row: IntArray,
        waiting_rows: IntArray,
    ) -> list[tuple[int, bytes]]:
        """Encode one frame per observer that has rows, or a reset or new ack and nothing waiting.

        A frame without rows while rows wait for credit would only delay them:
        the reset flag and the ack ride on the next frame that carries rows.
        Every observer's rows are encoded together (``packing``); each body is
        cut out of them, and a body seen before is reused (same bytes).
        """
        is_rm = cand_kind == _REMOVE
        rm_ids = self._id_of[(self._keys & _MASK32)[cand_ref[is_rm]]]
        rows = cur_row[cand_ref[~is_rm]]
        kinds = cand_kind[~is_rm]
        is_add = (kinds == _ADD) | (kinds == _SELF_ADD)
        add_r, upd_r = rows[is_add], rows[~is_add]
        rm_bytes, rm_off = pack_ints(rm_ids)
        add_bytes, add_off = pack_rows(
            np.column_stack([a.ids[add_r], a.kinds[add_r], a.templates[add_r], q[add_r]])
        )
        upd_bytes, upd_off = pack_rows(np.column_stack([a.ids[upd_r], q[upd_r]]))
        rest_obs = cand_obs[~is_rm]
        idx = np.arange(max((o.index for o in observers), default=0) + 2)
        rm_at = np.searchsorted(cand_obs[is_rm], idx).tolist()
        add_at = np.searchsorted(rest_obs[is_add], idx).tolist()
        upd_at = np.searchsorted(rest_obs[~is_add], idx).tolist()
        rm_b, add_b, upd_b = rm_off.tolist(), add_off.tolist(), upd_off.tolist()
        waiting = waiting_rows.tolist()
        bodies: dict[bytes, msgspec.Raw] = {}
        out: list[tuple[int, bytes]] = []
        for observer_id, o, ack in zip(
            a.observers.tolist(), observers, a.acks.tolist(), strict=True
        ):
            i = o.index
            r0, r1 = rm_at[i], rm_at[i + 1]
            a0, a1 = add_at[i], add_at[i + 1]
            u0, u1 = upd_at[i], upd_at[i + 1]
            has_rows = r1 > r0 or a1 > a0 or u1 > u0
            if not has_rows and (waiting[i] or not (o.reset or ack != o.ack)):
                continue
            if o.credit < HEADER_COST:
                continue
            encoded = b"".join(
                (
                    _BODY,
                    array_header(r1 - r0),
                    rm_bytes[rm_b[r0] : rm_b[r1]],
                    array_header(a1 - a0),
                    add_bytes[add_b[a0] : add_b[a1]],
                    array_header(u1 - u0),
                    upd_bytes[upd_b[u0] : upd_b[u1]],
                )
            )
            body = bodies.get(encoded)
            if body is None:
                body = bodies[encoded] = msgspec.Raw(encoded)
                self.stats.bodies_encoded += 1
            o.seq += 1
            data = msgspec.msgpack.encode(ClientFrame(o.seq, tick, ack, o.reset, body))
            o.reset = False
            o.ack = ack
            o.credit -= len(data)
            self.stats.frames += 1
            self.stats.bytes += len(data)
            out.append((observer_id, data))
        return out

    def _commit(
        self,
        q: Quantized,
        cand_kind: IntArray,
        cand_ref: IntArray,
        cur_keys: IntArray,
        cur_row: IntArray,
        pos: IntArray,
    ) -> None:
        """Record what was sent: the client tables now hold these rows."""
        upd = cand_ref[(cand_kind == _UPDATE) | (cand_kind == _SELF_UPDATE)]
        old = pos[upd]
        self._vals[old] = q[cur_row[upd]]
        self._acc[old] = 0.0
        self._stale[old] = 0
        gone = np.zeros(self._keys.size, dtype=bool)
        gone[cand_ref[cand_kind == _REMOVE]] = True
        added = cand_ref[(cand_kind == _ADD) | (cand_kind == _SELF_ADD)]
        keys = np.concatenate([self._keys[~gone], cur_keys[added]])
        vals = np.concatenate([self._vals[~gone], q[cur_row[added]]])
        acc = np.concatenate([self._acc[~gone], np.zeros(added.size)])
        stale = np.concatenate([self._stale[~gone], np.zeros(added.size, dtype=np.int64)])
        order = np.argsort(keys, kind="stable")
        self._keys, self._vals, self._acc, self._stale = (
            keys[order],
            vals[order],
            acc[order],
            stale[order],
        )


def _find(sorted_keys: IntArray, keys: IntArray) -> tuple[IntArray, NDArray[np.bool_]]:
    """Positions of ``keys`` in ``sorted_keys`` and whether each is there."""
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=np.int64), np.zeros(keys.size, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys).astype(np.int64)
    pos = np.minimum(pos, sorted_keys.size - 1)
    found: NDArray[np.bool_] = sorted_keys[pos] == keys
    return pos, found


def _group_cumsum(groups: IntArray, values: IntArray) -> IntArray:
    """Running sum of ``values`` restarting at each new value of sorted ``groups``."""
    if groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    total = np.cumsum(values)
    start = np.ones(groups.size, dtype=bool)
    start[1:] = groups[1:] != groups[:-1]
    before = (total - values)[start]
    run = np.cumsum(start) - 1
    spent: IntArray = total - before[run]
    return spent
