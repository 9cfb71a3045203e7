"""Client of the login node's HTTP API."""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from realmkit.errors import EngineUnreachable, RemoteError
from realmkit.protocol.login import (
    CharacterInfo,
    ErrorResponse,
    RealmInfo,
    Session,
    WorldTicket,
)

T = TypeVar("T")


class LoginClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = session
        self.token = ""
        self.refresh_token = ""  # the latest session's, for ``refresh``

    async def _call(self, method: str, path: str, kind: type[T], body: Any = None) -> T:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, self.base_url + path, json=body, headers=headers
        ) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                try:
                    error = msgspec.json.decode(raw, type=ErrorResponse).error
                except msgspec.DecodeError:
                    raise RemoteError(path, f"HTTP_{resp.status}", raw[:200].decode()) from None
                raise RemoteError(path, error.code, error.message)
            return msgspec.json.decode(raw, type=kind) if raw else None  # type: ignore[return-value]

    async def reachable(self) -> None:
        """``EngineUnreachable`` (saying how to start one) unless a login API answers."""
        try:
            async with self.http.get(self.base_url + "/healthz") as resp:
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EngineUnreachable(
                "the login API",
                self.base_url,
                f"{type(exc).__name__}: start the cluster with `realmkit up`, or pass --login",
            ) from exc

    async def register(self, username: str, password: str) -> Session:
        session = await self._call(
            "POST", "/api/register", Session, {"username": username, "password": password}
        )
        return self._began(session)

    async def login(self, username: str, password: str) -> Session:
        session = await self._call(
            "POST", "/api/login", Session, {"username": username, "password": password}
        )
        return self._began(session)

    async def refresh(self, token: str | None = None) -> Session:
        """Log in again with a refresh token (default: the last session's), no password."""
        session = await self._call(
            "POST", "/api/refresh", Session, {"refresh": token or self.refresh_token}
        )
        return self._began(session)

    async def logout(self) -> None:
        """Revoke the last session's refresh token (and its successors)."""
        if self.refresh_token:
            await self._call("POST", "/api/logout", type(None), {"refresh": self.refresh_token})
            self.refresh_token = ""

    def _began(self, session: Session) -> Session:
        self.token, self.refresh_token = session.token, session.refresh
        return session

    async def register_or_login(self, username: str, password: str) -> Session:
        try:
            return await self.register(username, password)
        except RemoteError as exc:
            if exc.remote_code != "ALREADY_EXISTS":
                raise
            return await self.login(username, password)

    async def realms(self) -> list[RealmInfo]:
        return await self._call("GET", "/api/realms", list[RealmInfo])

    async def characters(self, realm_id: int) -> list[CharacterInfo]:
        return await self._call("GET", f"/api/realms/{realm_id}/characters", list[CharacterInfo])

    async def create_character(self, realm_id: int, name: str) -> CharacterInfo:
        return await self._call(
            "POST", f"/api/realms/{realm_id}/characters", CharacterInfo, {"name": name}
        )

    async def character(self, realm_id: int, name: str) -> CharacterInfo:
        """The account's character of that name on the realm, created if missing."""
        for c in await self.characters(realm_id):
            if c.name.lower() == name.lower():
                return c
        return await self.create_character(realm_id, name)

    async def ticket(self, character_id: int) -> WorldTicket:
        return await self._call("POST", f"/api/characters/{character_id}/ticket", WorldTicket)
