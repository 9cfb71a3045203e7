"""The shared movement validator: legal moves pass at every allowed speed, cheats do not."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.sim.movement import MoveRules, MoveTrack, check_move, normalize_orientation

PACK = load_pack(classic_pack_path())
RULES = MoveRules(
    bounds=PACK.maps[1].bounds,
    run_speed=PACK.player.run_speed,
    vertical_speed=PACK.player.vertical_speed,
)


def _anchored(x: float = 1000.0, y: float = 1000.0, z: float = 10.0) -> MoveTrack:
    verdict, track = check_move(RULES, MoveTrack(x, y, z, 9_900), x, y, z, 0.0, 10_000, 9_900)
    assert verdict == "ok"
    return track


legs = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=1.0),  # fraction of the allowed speed
        st.floats(min_value=0.0, max_value=2 * math.pi),  # heading
        st.integers(min_value=1, max_value=1000),  # client ms since the last report
        st.integers(min_value=0, max_value=300),  # one-way latency of this report
        st.floats(min_value=-1.0, max_value=1.0),  # climb as a fraction of vertical speed
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(legs=legs, speed=st.sampled_from(["walk", "run"]))
def test_legal_movement_is_accepted_at_every_allowed_speed(
    legs: list[tuple[float, float, int, int, float]], speed: str
) -> None:
    """Any path at or below the pack's walk/run speed, with network jitter, is accepted."""
    top = PACK.player.run_speed if speed == "run" else PACK.player.walk_speed
    track = _anchored()
    x, y, z, client = track.x, track.y, track.z, 10_000
    for fraction, heading, dt, latency, climb in legs:
        client += dt
        step = top * fraction * dt / 1000.0
        x += step * math.cos(heading)
        y += step * math.sin(heading)
        z += RULES.vertical_speed * climb * dt / 1000.0
        z = min(max(z, RULES.bounds.min_z), RULES.bounds.max_z)
        verdict, track = check_move(RULES, track, x, y, z, heading, client, client - 100 + latency)
        assert verdict == "ok", (verdict, fraction, dt)


@settings(max_examples=80, deadline=None)
@given(
    factor=st.floats(min_value=1.3, max_value=20.0),
    dt=st.integers(min_value=50, max_value=1000),
)
def test_speed_hack_is_rejected(factor: float, dt: int) -> None:
    """Running 1.3x run speed or faster is rejected within 20 s, however often it reports."""
    track = _anchored()
    client, server = 10_000, 9_900
    verdicts = []
    for _ in range(20_000 // dt):
        client += dt
        server += dt
        step = PACK.player.run_speed * factor * dt / 1000.0
        verdict, after = check_move(
            RULES, track, track.x + step, track.y, track.z, 0.0, client, server
        )
        verdicts.append(verdict)
        if verdict != "ok":
            assert after == track
            break
        track = after
    assert verdicts[-1] in ("too_fast", "teleport")


def test_frequent_reports_gain_no_distance() -> None:
    """Tiny reports every 50 ms cannot add up to more than run speed plus one budget."""
    track = _anchored()
    client, server, start = 10_000, 9_900, track.x
    for _ in range(200):  # 10 seconds
        client += 50
        server += 50
        verdict, after = check_move(
            RULES, track, track.x + 0.5, track.y, track.z, 0.0, client, server
        )
        if verdict == "ok":
            track = after
    budget = PACK.player.run_speed * 1.1 * (10 + 1) + RULES.slack
    assert track.x - start <= budget


def test_faked_clock_is_caught() -> None:
    """A client claiming more elapsed time than really passed is stopped by the clock lead check."""
    track = _anchored()
    client, server, x = 10_000, 9_900, track.x
    verdicts = []
    for _ in range(40):
        client += 1000  # claims a second per report ...
        server += 100  # ... while only a tenth of one passes
        x += PACK.player.run_speed
        verdict, track = check_move(RULES, track, x, track.y, track.z, 0.0, client, server)
        verdicts.append(verdict)
    assert "clock_ahead" in verdicts
    assert track.x < 1000.0 + 12 * PACK.player.run_speed


@pytest.mark.parametrize(
    ("x", "y", "z", "o", "reason"),
    [
        (math.nan, 1000.0, 10.0, 0.0, "not_finite"),
        (1000.0, math.inf, 10.0, 0.0, "not_finite"),
        (1000.0, 1000.0, 10.0, 1e300, "not_finite"),
        (-5.0, 1000.0, 10.0, 0.0, "out_of_bounds"),
        (1000.0, 1000.0, 5000.0, 0.0, "out_of_bounds"),
        (1500.0, 1000.0, 10.0, 0.0, "teleport"),
    ],
)
def test_bad_reports_are_rejected(x: float, y: float, z: float, o: float, reason: str) -> None:
    """Non-finite, out-of-bounds and far-jump reports are rejected with their reason."""
    track = _anchored()
    verdict, _ = check_move(RULES, track, x, y, z, o, 10_500, 10_400)
    assert verdict == reason


def test_time_backwards_is_rejected() -> None:
    """A client clock that runs backwards is rejected."""
    track = _anchored()
    verdict, _ = check_move(RULES, track, track.x, track.y, track.z, 0.0, 9_000, 10_000)
    assert verdict == "time_backwards"


def test_first_report_after_placement_is_bounded_by_server_time() -> None:
    """The first report after a placement may cover only what the server's elapsed time allows."""
    placed = MoveTrack(100.0, 100.0, 0.0, 1_000)
    run = PACK.player.run_speed
    ok, _ = check_move(RULES, placed, 100.0 + run * 0.2, 100.0, 0.0, 0.0, 5, 1_200)
    assert ok == "ok"
    far, _ = check_move(RULES, placed, 100.0 + run * 0.5, 100.0, 0.0, 0.0, 5, 1_200)
    assert far == "teleport"


def test_orientation_is_folded() -> None:
    """Orientation is folded into [0, 2*pi)."""
    assert normalize_orientation(-math.pi / 2) == pytest.approx(1.5 * math.pi)
    assert 0.0 <= normalize_orientation(100.0) < 2 * math.pi
