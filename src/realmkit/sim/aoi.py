"""Interest management: who sees whom, with hysteresis and a per-observer cap.

Rule (the naive scan in the tests states the same rule in plain Python):

    entity e is a candidate for observer o (e != o) when
        d(o, e) <= radius                                   (enter), or
        e was visible to o last update and d <= radius + hysteresis   (stay);
    o sees its ``cap`` nearest candidates, ties broken by lower slot.

Distances are on the ground plane, squared, computed as ``dx*dx + dy*dy`` in
float64. Visibility is kept as sorted int64 pair keys ``observer << 32 | entity``
(slots), so "was visible" is one ``searchsorted`` for all pairs at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from realmkit.sim.grid import candidate_pairs, group_rank

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class InterestGrid:
    """Visible sets for every observer of one space, recomputed per update."""

    def __init__(self, radius: float, hysteresis: float, cap: int) -> None:
        self.radius = radius
        self.hysteresis = hysteresis
        self.cap = cap
        self.keys: IntArray = np.zeros(0, dtype=np.int64)

    def update(
        self,
        x: FloatArray,
        y: FloatArray,
        observers: IntArray,
        visible: IntArray,
    ) -> tuple[IntArray, IntArray]:
        """Recompute visibility; returns (observer slot, entity slot) pairs.

        ``x``/``y`` are indexed by slot; ``observers`` and ``visible`` are slot
        lists (an observer that is also visible is not shown to itself). Pairs
        are grouped by observer (ascending) and nearest first within a group.
        """
        enter = self.radius
        stay = self.radius + self.hysteresis
        qi, pj = candidate_pairs(x[observers], y[observers], x[visible], y[visible], stay)
        obs = observers[qi].astype(np.int64)
        ent = visible[pj].astype(np.int64)
        dx = x[ent] - x[obs]
        dy = y[ent] - y[obs]
        d2 = dx * dx + dy * dy
        # Only pairs within the stay radius can be kept: look those up alone.
        near = np.flatnonzero((d2 <= stay * stay) & (obs != ent))
        obs, ent, d2 = obs[near], ent[near], d2[near]
        keys = (obs << 32) | ent
        keep = (d2 <= enter * enter) | _member(keys, self.keys)
        obs, ent, d2, keys = obs[keep], ent[keep], d2[keep], keys[keep]
        order = _order_by_observer_distance_entity(obs, d2, ent)
        obs, ent, keys = obs[order], ent[order], keys[order]
        within = group_rank(obs) < self.cap
        obs, ent, keys = obs[within], ent[within], keys[within]
        self.keys = np.sort(keys)
        return obs, ent

    def forget(self, slot: int) -> None:
        """Drop every pair involving ``slot`` (its entity left; the slot may be reused)."""
        if self.keys.size == 0:
            return
        obs = self.keys >> 32
        ent = self.keys & 0xFFFFFFFF
        self.keys = self.keys[(obs != slot) & (ent != slot)]

    def forget_many(self, slots: IntArray) -> None:
        """``forget`` for many slots at once."""
        if self.keys.size == 0 or slots.size == 0:
            return
        obs = self.keys >> 32
        ent = self.keys & 0xFFFFFFFF
        self.keys = self.keys[~(np.isin(obs, slots) | np.isin(ent, slots))]

    def dump(self) -> dict[str, Any]:
        return {"keys": self.keys.tobytes()}

    def load(self, data: dict[str, Any]) -> None:
        self.keys = np.frombuffer(data["keys"], dtype=np.int64).copy()


def _order_by_observer_distance_entity(obs: IntArray, d2: FloatArray, ent: IntArray) -> IntArray:
    """``np.lexsort((ent, d2, obs))``, faster: three stable passes, two of them radix sorts.

    numpy radix-sorts 16-bit integers in linear time, while a three-key lexsort
    costs several times one float sort (18 ms against 11 ms for 90k pairs).
    """
    if obs.size == 0 or max(int(obs.max()), int(ent.max())) >= 1 << 16:
        order: IntArray = np.lexsort((ent, d2, obs))
        return order
    by_ent = np.argsort(ent.astype(np.uint16), kind="stable")
    by_d2 = by_ent[np.argsort(d2[by_ent], kind="stable")]
    by_obs = np.argsort(obs[by_d2].astype(np.uint16), kind="stable")
    return by_d2[by_obs].astype(np.int64)


def _member(keys: IntArray, sorted_keys: IntArray) -> NDArray[np.bool_]:
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    idx = np.searchsorted(sorted_keys, keys)
    idx[idx == sorted_keys.size] = 0
    hit: NDArray[np.bool_] = sorted_keys[idx] == keys
    return hit
