"""What a login node tells Prometheus: every request of its API by route and
HTTP status, with its latency (logins are ``route="login"``: 200 a login, 401 a
failure, 429 a lockout; world tickets are ``route="world_ticket"``), and its
password-hash line."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

from realmkit.nodes.http import Handler
from realmkit.nodes.login.hashing import HashLine
from realmkit.nodes.metrics import FAST_BUCKETS, ReadAtScrape, gauge


class LoginMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "realmkit_login_requests_total",
            "Login API requests by route and HTTP status (login: 200 in, 401 refused, "
            "429 locked out).",
            ("route", "status"),
            registry=registry,
        )
        self.seconds = Histogram(
            "realmkit_login_request_seconds",
            "Time a login API request took, by route (password hashing included).",
            ("route",),
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.hashing: Callable[[], HashLine | None] = lambda: None
        registry.register(ReadAtScrape(self._now))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        info = request.match_info
        route = getattr(info.handler, "__name__", "") if info.route.resource else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.seconds.labels(route).observe(time.perf_counter() - started)
            self.requests.labels(route, str(status)).inc()

    def _now(self) -> Iterable[Metric]:
        line = self.hashing()
        waiting = gauge("realmkit_login_hashes_waiting", "Password hashes waiting in line.")
        running = gauge("realmkit_login_hashes_running", "Password hashes running now.")
        turned = CounterMetricFamily(
            "realmkit_login_hashes_turned_away",
            "Logins answered 503 because the hash line was full or too slow.",
        )
        waiting.add_metric([], line.waiting_now if line else 0)
        running.add_metric([], line.running if line else 0)
        turned.add_metric([], line.turned_away if line else 0)
        return [waiting, running, turned]
