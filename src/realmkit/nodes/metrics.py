"""Prometheus metrics: every node's registry and the ``/metrics`` endpoint it serves.

Each node owns a registry (``node_registry``): the process, platform and GC
collectors of prometheus-client plus what its role counts (``nodes/<role>/
metrics.py``). Metrics of what a node holds now (players, connections, tickets)
are read from the node at scrape time by a collector, so nothing keeps a second
count; events (a late tick, a refused save, a placement) are counters and
histograms updated where they happen.

The endpoint is served on the node's own event loop (prometheus-client's aiohttp
handler), so a collector reads the node's state between two of its callbacks,
never in the middle of one. Names follow Prometheus conventions: ``realmkit_``
prefix, base units (seconds, bytes), ``_total`` for counters; labels take only
bounded values (a realm, a map, a live instance, a reason), never a character.

Every node also writes ``<data_dir>/metrics/<name>.json``, a Prometheus
``file_sd`` target, while it serves (``deploy/prometheus/``), so a scrape
configuration finds nodes whose port was picked at start.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from realmkit.errors import RealmkitError

log = logging.getLogger("realmkit.metrics")

# Seconds buckets for work that takes milliseconds (a tick, a save, a request).
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Seconds buckets for what a player waits (a transfer, a queue).
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def node_registry(role: str, name: str) -> CollectorRegistry:
    """A registry with the process' own collectors and ``realmkit_node_info``."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    info = Gauge(
        "realmkit_node_info",
        "The node this process runs (always 1).",
        ("role", "node"),
        registry=registry,
    )
    info.labels(role, name).set(1)
    return registry


class ReadAtScrape(Collector):
    """Families built at scrape time by ``read`` (what a node holds now)."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return list(self._read())

    def describe(self) -> Iterable[Metric]:
        return []  # families vary with what the node holds: checked at each scrape


def gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class MetricsEndpoint:
    """``/metrics`` on ``host:port`` (0: a free port): 503 until ``serve`` names
    the registry (the node is built once its port is known)."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        self._handler: Handler | None = None
        self._target: Path | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (``port``, or the free one picked for 0)."""
        await self._runner.setup()
        sock = socket.create_server((host, port), family=_family(host))
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]
        return self.port

    def serve(self, registry: CollectorRegistry) -> None:
        self._handler = make_aiohttp_handler(registry)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if self._handler is None:
            return web.Response(status=503, text="starting")
        return await self._handler(request)

    def advertise(self, data_path: Path, name: str, role: str, host: str) -> None:
        """Write this node's ``file_sd`` target (removed by ``stop``)."""
        target = [{"targets": [f"{host}:{self.port}"], "labels": {"node": name, "role": role}}]
        folder = data_path / "metrics"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._target = folder / f"{name}.json"
            # Whole or absent: Prometheus may read it at any moment.
            partial = folder / f".{name}.json.part"
            partial.write_text(json.dumps(target))
            partial.replace(self._target)
        except OSError as exc:  # metrics still served; only the file is missing
            log.warning("metrics target %s not written: %s", folder, exc.strerror)

    async def stop(self) -> None:
        if self._target is not None:
            with contextlib.suppress(OSError):
                self._target.unlink()
        await self._runner.cleanup()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def leader_family(role: str, leading: bool) -> GaugeMetricFamily:
    """``realmkit_<role>_leader``: 1 while this replica leads its role."""
    family = gauge(f"realmkit_{role}_leader", f"1 while this {role} leads the {role}s, else 0.")
    family.add_metric([], 1 if leading else 0)
    return family


class RequestMeter:
    """Requests a node serves, by kind and outcome (``ok`` or the error's code),
    and how long each took: a counter and a histogram."""

    def __init__(self, registry: CollectorRegistry, prefix: str, served: str) -> None:
        self.total = Counter(
            f"{prefix}_requests_total",
            f"Requests {served}, by kind and outcome (ok or the error code).",
            ("request", "outcome"),
            registry=registry,
        )
        self.seconds = Histogram(
            f"{prefix}_request_seconds",
            f"Time one request {served} took, by kind.",
            ("request",),
            buckets=WAIT_BUCKETS,
            registry=registry,
        )

    @contextlib.contextmanager
    def timing(self, request: str) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except RealmkitError as exc:
            outcome = exc.code.lower()
            raise
        except Exception:
            outcome = "internal"
            raise
        finally:
            self.seconds.labels(request).observe(time.perf_counter() - started)
            self.total.labels(request, outcome).inc()


@functools.cache
def kind_of(message_type: type) -> str:
    """A message's kind for a label: ``EnterWorld`` is ``enter_world``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", message_type.__name__).lower()
