"""aiohttp plumbing shared by the HTTP nodes: JSON bodies in, JSON errors out.

Request bodies are decoded straight into msgspec Structs (a bad body is a
400 naming the field); every ``RealmkitError`` becomes a JSON error with its
stable code and an HTTP status from the error's branch; anything else is a
500 that says nothing about internals. A request too malformed to reach a
handler (an oversized header) is logged in one line that quotes none of it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from realmkit.errors import (
    AlreadyExists,
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    RealmkitError,
    Unavailable,
    UsageError,
)
from realmkit.protocol.login import ErrorBody, ErrorResponse

log = logging.getLogger("realmkit.http")

T = TypeVar("T")
MAX_BODY = 16 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: list[tuple[type[RealmkitError], int]] = [
    (RateLimited, 429),
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (Conflict, 409),
    (UsageError, 400),
    (Unavailable, 503),
]


def status_of(error: RealmkitError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(error: RealmkitError) -> web.Response:
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    elif isinstance(error.data.get("retry_after"), int | float):
        headers["Retry-After"] = str(max(1, round(error.data["retry_after"])))
    body = ErrorResponse(ErrorBody(error.code, error.message))
    return json_response(body, status_of(error), headers)


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, minus what clients sent.

    aiohttp logs a request it cannot parse as an ERROR with a traceback whose
    message quotes the offending bytes: an oversized Authorization header
    lands in the log, secret and all. Such a request is the client's mistake,
    answered with its 4xx: one line at INFO naming the kind of error is enough.
    """

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"))

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        given = kwargs.get("exc_info")
        failure = given if isinstance(given, BaseException) else sys.exc_info()[1]
        if isinstance(failure, HttpProcessingError):
            log.info("malformed request refused (%d %s)", failure.code, type(failure).__name__)
            return
        super().exception(msg, *args, **kwargs)


def runner(app: web.Application) -> web.AppRunner:
    """The app's runner: no access log, and ``ServerLog`` for aiohttp's own."""
    return web.AppRunner(app, access_log=None, logger=ServerLog())


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RealmkitError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status >= 400:
            body = ErrorResponse(ErrorBody(f"HTTP_{exc.status}", exc.reason))
            return json_response(body, exc.status)
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return json_response(ErrorResponse(ErrorBody("INTERNAL", "internal error")), 500)


async def body_as(request: web.Request, kind: type[T]) -> T:
    """The request's JSON body as ``kind``; ``InvalidInput`` naming the field if it is wrong."""
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise InvalidInput("body", f"at most {MAX_BODY} bytes")
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit("`", 2)[-2] if "`" in str(exc) else "body"
        raise InvalidInput(field, str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidInput("body", "not valid JSON") from exc


def int_param(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except (KeyError, ValueError) as exc:
        raise InvalidInput(name, "an integer") from exc
    if not 0 < value < 2**63:
        raise InvalidInput(name, "a positive 64-bit integer")
    return value
