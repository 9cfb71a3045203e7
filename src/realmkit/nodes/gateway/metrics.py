"""What a gateway tells Prometheus: its sockets and players now, the bytes and
messages it wrote to them, the frames and events it took from the spaces, the
closes it sent by reason (a player cut off for not reading is ``policy``, one
that logged in elsewhere ``replaced``), and the entries and resumes it seated.
All of it is read from the gateway at scrape time: its hot path only adds to
plain integers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric

from realmkit.nodes.gateway.sockets import CLOSE_BAD_TEXT, CLOSE_INTERNAL, CLOSE_PROTOCOL
from realmkit.nodes.metrics import ReadAtScrape, gauge
from realmkit.protocol.client import (
    CLOSE_GOING_AWAY,
    CLOSE_MOVED,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    CLOSE_TOO_BIG,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHENTICATED,
)

if TYPE_CHECKING:
    from realmkit.nodes.gateway.node import GatewayNode

REASONS = {
    CLOSE_NORMAL: "normal",
    CLOSE_GOING_AWAY: "going_away",
    CLOSE_PROTOCOL: "protocol_error",
    CLOSE_BAD_TEXT: "bad_text",
    CLOSE_POLICY: "policy",
    CLOSE_TOO_BIG: "too_big",
    CLOSE_INTERNAL: "internal",
    CLOSE_TRY_LATER: "try_later",
    CLOSE_UNAUTHENTICATED: "unauthenticated",
    CLOSE_REPLACED: "replaced",
    CLOSE_MOVED: "moved",
}


def watch(registry: CollectorRegistry, gateway: GatewayNode) -> None:
    registry.register(ReadAtScrape(lambda: _now(gateway)))


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text)
    family.add_metric([], value)
    return family


def _now(gateway: GatewayNode) -> Iterable[Metric]:
    tally = gateway.tally
    connections = gauge("realmkit_gateway_connections", "Open player WebSockets.")
    connections.add_metric([], gateway.connections())
    players = gauge("realmkit_gateway_players", "Players in the world through this gateway.")
    players.add_metric([], len(gateway.players))
    held = gauge(
        "realmkit_gateway_held_seats",
        "Seats of players whose connection dropped, kept for their resume.",
    )
    held.add_metric([], len(gateway.held))
    waiting = gauge("realmkit_gateway_waiting_hello", "Sockets not past their hello yet.")
    waiting.add_metric([], len(gateway.lobby))
    closes = CounterMetricFamily(
        "realmkit_gateway_closes",
        "WebSockets the gateway closed, by reason (its close code's name).",
        labels=["reason"],
    )
    by_reason: dict[str, int] = dict.fromkeys(REASONS.values(), 0)
    for code, count in tally.closes.items():
        reason = REASONS.get(code, "other")
        by_reason[reason] = by_reason.get(reason, 0) + count
    for reason, count in sorted(by_reason.items()):
        closes.add_metric([reason], count)
    entries = CounterMetricFamily(
        "realmkit_gateway_entries",
        "Players seated through this gateway, by how (a ticket, or a resume token "
        "after another gateway was lost).",
        labels=["how"],
    )
    entries.add_metric(["ticket"], gateway.entered)
    entries.add_metric(["resume"], gateway.resumed)
    social = gateway._social  # None until the gateway started
    chat = CounterMetricFamily(
        "realmkit_gateway_chat_messages",
        "Chat messages of this gateway's players: said (stored in the cluster's stream), "
        "refused (a mute, a limit, an unknown or offline target), delivered to players.",
        labels=["what"],
    )
    chat.add_metric(["said"], social.sent if social else 0)
    chat.add_metric(["refused"], social.refused if social else 0)
    chat.add_metric(["delivered"], social.delivered if social else 0)
    return [
        connections,
        players,
        held,
        waiting,
        _counter("realmkit_gateway_sent_bytes", "Bytes written to players.", tally.bytes_out),
        _counter(
            "realmkit_gateway_sent_messages", "Messages written to players.", tally.messages_out
        ),
        _counter(
            "realmkit_gateway_space_messages",
            "Frames and events received from the spaces.",
            gateway.space_messages,
        ),
        closes,
        entries,
        _counter(
            "realmkit_gateway_entries_refused",
            "Entries and resumes refused (a bad or replayed ticket, an unknown token...).",
            gateway.refused,
        ),
        _counter(
            "realmkit_gateway_dropped_players",
            "Players in the world whose connection was lost with no goodbye (their seats "
            "kept for a resume within the grace).",
            gateway.dropped,
        ),
        chat,
        _counter(
            "realmkit_gateway_chat_replayed",
            "Chat messages sent again to players who resumed (what they missed).",
            social.replayed if social else 0,
        ),
    ]
