"""A swarm's measuring window: the summary covers what came after the mark."""

from __future__ import annotations

import pytest

from realmkit.client.bots import SwarmStats, summary


def test_the_summary_covers_the_window_after_the_mark() -> None:
    stats = SwarmStats()
    stats.connected = stats.entered = 2
    stats.frames, stats.bytes = 500, 50_000  # the ramp and the settling
    stats.latencies.extend([5.0, 5.0])  # a login wave's late frames
    before = summary(stats, 2)
    assert not before.windowed
    assert before.frames == 500
    stats.mark()
    stats.frames += 40
    stats.bytes += 4_000
    stats.latencies.extend([0.010, 0.020])
    stats.probe_latencies.append(0.030)
    after = summary(stats, 2)
    assert after.windowed
    assert after.frames == 40
    assert after.latency_p99_ms == 20.0  # the wave's 5 s samples are gone
    assert after.probe_latency_p99_ms == 30.0
    assert after.in_window == 2
    stats.connected = 0  # the bots left before the summary is made
    left = summary(stats, 2)
    # Bytes per bot over the two in the window (not over the none left): 4,000 / 2
    # bytes against 40 frames, whatever the window's length.
    assert left.bytes_per_second_per_bot / left.frames_per_second == pytest.approx(50, rel=1e-3)


def test_what_comes_after_the_window_ends_is_not_counted() -> None:
    stats = SwarmStats()
    stats.connected = stats.entered = 1
    stats.mark()
    stats.frames, stats.bytes = 30, 3_000
    stats.end()
    stats.frames, stats.bytes = 90, 9_000  # the bots stopping, after the window
    closed = summary(stats, 1)
    assert closed.frames == 30
    assert closed.bytes_per_second_per_bot / closed.frames_per_second == pytest.approx(100)
