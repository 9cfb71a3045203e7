"""The shared movement validator: the space runs it, the gateway may pre-check with it.

Clients report where they are (position, orientation, their own clock), as
MMO clients do, and the server decides whether that could be true:

- every value must be finite and inside the map bounds (else ``out_of_bounds``
  / ``not_finite``);
- the client clock must not run backwards (``time_backwards``) nor run ahead
  of the server clock by more than ``max_clock_lead_ms`` (``clock_ahead``):
  a speed hack that fakes elapsed time is caught here;
- the distance travelled must fit in a travel budget (a token bucket):
  it fills at ``run_speed`` (plus a small relative tolerance) per second of
  client time and holds at most ``max_interval_ms`` of running plus an
  absolute ``slack``. Reporting often therefore gains nothing, a sustained
  speed hack drains the budget (``too_fast``), and a jump longer than a full
  budget is a ``teleport``. Height uses its own budget at ``vertical_speed``.

The validator is pure: a ``MoveTrack`` (the last accepted move) goes in, a
verdict and the next track come out. Server time is passed in by the caller
(tick time in a space, the gateway's clock in a gateway).
"""

from __future__ import annotations

import math
from typing import Final, Literal

import msgspec

from realmkit.content.schema import Bounds

Reason = Literal[
    "ok", "not_finite", "out_of_bounds", "time_backwards", "clock_ahead", "teleport", "too_fast"
]

MAX_ABS_COORD: Final = 1e7


class MoveRules(msgspec.Struct, frozen=True):
    """Limits for one map and one kind of mover."""

    bounds: Bounds
    run_speed: float
    vertical_speed: float
    tolerance: float = 0.10
    slack: float = 0.5
    max_interval_ms: int = 1000
    max_clock_lead_ms: int = 1000


class MoveTrack(msgspec.Struct, frozen=True):
    """The last accepted position and clocks of one mover.

    ``clock_offset`` is the smallest (client time - server time) seen so far;
    a client clock that keeps gaining on the server clock drifts away from it.
    ``credit`` / ``climb_credit`` are the travel budgets left, in units.
    ``placed_ms`` is the server time the server put the mover here: until the
    first report anchors the clocks, it may have run for that long.
    """

    x: float
    y: float
    z: float
    placed_ms: int = 0
    client_time_ms: int | None = None
    clock_offset: int | None = None
    credit: float = 0.0
    climb_credit: float = 0.0


def start_track(x: float, y: float, z: float, server_time_ms: int) -> MoveTrack:
    """A track for a mover placed by the server (login, teleport, correction)."""
    return MoveTrack(x, y, z, server_time_ms)


def check_position(bounds: Bounds, x: float, y: float, z: float, o: float) -> Reason:
    """The stateless half of the validator: finite values inside the map.

    Needs no track and no clock, so a gateway runs it on every reported move
    before forwarding it; the space then runs the whole of ``check_move``.
    """
    # A comparison with NaN is False, and infinities are out of range: one test each.
    m = MAX_ABS_COORD
    if not (-m < x < m and -m < y < m and -m < z < m and -m < o < m):
        return "not_finite"
    b = bounds
    if not (b.min_x <= x <= b.max_x and b.min_y <= y <= b.max_y and b.min_z <= z <= b.max_z):
        return "out_of_bounds"
    return "ok"


def check_move(
    rules: MoveRules,
    track: MoveTrack,
    x: float,
    y: float,
    z: float,
    o: float,
    client_time_ms: int,
    server_time_ms: int,
) -> tuple[Reason, MoveTrack]:
    """Judge one reported move; returns the reason ("ok" if legal) and the next track.

    On rejection the track is returned unchanged; the space answers with a
    correction and restarts the track at the corrected position, so the next
    report may only move ``slack`` units until the clocks are anchored again.
    Clients that keep moving should report at least every ``max_interval_ms``.
    """
    where = check_position(rules.bounds, x, y, z, o)
    if where != "ok":
        return where, track
    offset = client_time_ms - server_time_ms
    horizontal = math.hypot(x - track.x, y - track.y)
    climb = abs(z - track.z)
    if track.client_time_ms is None or track.clock_offset is None:
        # First report after a server placement: the clocks are not anchored
        # yet, so the server's own elapsed time bounds the distance.
        since = max(0, server_time_ms - track.placed_ms)
        if (
            horizontal > _budget(rules.run_speed, rules, since) + rules.slack
            or climb > _budget(rules.vertical_speed, rules, since) + rules.slack
        ):
            return "teleport", track
        return "ok", MoveTrack(x, y, z, track.placed_ms, client_time_ms, offset)
    elapsed = client_time_ms - track.client_time_ms
    if elapsed < 0:
        return "time_backwards", track
    base = min(track.clock_offset, offset)
    if offset - base > rules.max_clock_lead_ms:
        return "clock_ahead", track
    run_cap = _budget(rules.run_speed, rules, rules.max_interval_ms) + rules.slack
    climb_cap = _budget(rules.vertical_speed, rules, rules.max_interval_ms) + rules.slack
    if horizontal > run_cap or climb > climb_cap:
        return "teleport", track
    credit = min(track.credit + _budget(rules.run_speed, rules, elapsed), run_cap)
    climb_credit = min(
        track.climb_credit + _budget(rules.vertical_speed, rules, elapsed), climb_cap
    )
    if horizontal > credit or climb > climb_credit:
        return "too_fast", track
    return "ok", MoveTrack(
        x, y, z, track.placed_ms, client_time_ms, base, credit - horizontal, climb_credit - climb
    )


def _budget(speed: float, rules: MoveRules, dt_ms: int) -> float:
    return speed * min(dt_ms, rules.max_interval_ms) / 1000.0 * (1 + rules.tolerance)


def normalize_orientation(o: float) -> float:
    """Orientation folded into [0, 2*pi)."""
    folded = math.fmod(o, math.tau)
    return folded + math.tau if folded < 0 else folded
