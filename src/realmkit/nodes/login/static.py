"""The browser client's files, served by the login node (``realmkit.web``'s ``static/``).

``GET /`` is the client's page, ``GET /static/{path}`` its scripts, styles and the
vendored msgpack bundle. Only regular files inside the folder, of a known type, are
served: a path with an empty, dot or dot-dot part, a backslash or a NUL is refused
before it touches the file system, and what it resolves to (symlinks followed) must
still lie inside the folder. Every answer says ``Cache-Control: no-cache`` (a browser
asks again, and gets 304 while the file's ETag holds: a new release is seen at once)
and carries the Content-Security-Policy: scripts, styles and images from this origin
only, WebSockets to the gateways (``ws:``/``wss:``, on their own hosts and ports).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from aiohttp import web

import realmkit.web
from realmkit.errors import NotFound

STATIC_ROOT = Path(realmkit.web.__file__).parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # The gateways listen on their own ports (and hosts): any ws/wss address.
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def safe_path(root: Path, relative: str) -> Path:
    """The file ``relative`` names under ``root``; ``NotFound`` for anything else."""
    parts = relative.split("/")
    if (
        not relative
        or "\\" in relative
        or "\x00" in relative
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
    ):
        raise NotFound("file", relative)
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFound("file", relative)
    if path.suffix not in CONTENT_TYPES:
        raise NotFound("file", relative)
    return path


class StaticFiles:
    """Handlers for the client's page and its files under ``root``."""

    def __init__(self, root: Path = STATIC_ROOT) -> None:
        self.root = root

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/static/{path:.+}", self.asset),
        ]

    async def index(self, request: web.Request) -> web.Response:
        return await self._serve(request, "index.html")

    async def asset(self, request: web.Request) -> web.Response:
        return await self._serve(request, request.match_info["path"])

    async def _serve(self, request: web.Request, relative: str) -> web.Response:
        path = safe_path(self.root, relative)
        body = await asyncio.to_thread(path.read_bytes)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {**SECURITY_HEADERS, "ETag": etag}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = CONTENT_TYPES[path.suffix]
        return web.Response(body=body, headers=headers)
