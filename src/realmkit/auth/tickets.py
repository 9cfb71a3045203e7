"""Signed tickets: what a login node hands out and a gateway checks.

A ticket is ``base64url(claims) "." base64url(signature)`` where the claims
are a msgpack Struct and the signature is Ed25519. Each login replica signs
with its own key pair, generated in memory at start; only the public half is
published (with its ``key_id``), so gateways verify without holding any
secret and no private key is ever written to disk.

Two audiences share the format and must never be confused: ``session``
(the account's bearer token for the login API) and ``world`` (a short-lived,
single-use pass to enter the world with one character). Single use is the
gateway's job: it claims the ticket's ``nonce`` cluster-wide before accepting.

Time is injected (``now`` in seconds); nothing here reads a clock.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from enum import StrEnum

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realmkit.errors import TicketExpired, TicketInvalid

WORLD_TICKET_SECONDS = 60.0
SESSION_SECONDS = 3600.0
MAX_TICKET_CHARS = 1024


class Audience(StrEnum):
    SESSION = "session"
    WORLD = "world"


class Claims(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    key_id: str
    audience: Audience
    account_id: int
    # 0 for a session ticket; the character entering the world otherwise.
    character_id: int
    realm_id: int
    issued_at: float
    expires_at: float
    nonce: str


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


class TicketSigner:
    """Issues tickets with a fresh key pair; ``key_id`` and ``public_key`` are published."""

    def __init__(self, key_id: str | None = None) -> None:
        self._private = Ed25519PrivateKey.generate()
        self.key_id = key_id or secrets.token_hex(8)
        self.public_key = self._private.public_key()

    def issue(
        self,
        audience: Audience,
        *,
        account_id: int,
        now: float,
        character_id: int = 0,
        realm_id: int = 0,
        ttl: float | None = None,
    ) -> str:
        if ttl is None:
            ttl = WORLD_TICKET_SECONDS if audience is Audience.WORLD else SESSION_SECONDS
        claims = Claims(
            key_id=self.key_id,
            audience=audience,
            account_id=account_id,
            character_id=character_id,
            realm_id=realm_id,
            issued_at=now,
            expires_at=now + ttl,
            nonce=secrets.token_urlsafe(12),
        )
        body = _encoder.encode(claims)
        return f"{_b64(body)}.{_b64(self._private.sign(body))}"


def unverified_key_id(ticket: str) -> str:
    """The key id a ticket claims, to look up the key; trust nothing else yet."""
    return _parse(ticket)[0].key_id


def verify(ticket: str, key: Ed25519PublicKey, audience: Audience, now: float) -> Claims:
    """The ticket's claims if ``key`` signed it for ``audience`` and it has not expired."""
    claims, body, signature = _parse(ticket)
    try:
        key.verify(signature, body)
    except InvalidSignature as exc:
        raise TicketInvalid("bad signature") from exc
    if claims.audience is not audience:
        raise TicketInvalid(f"a {claims.audience} ticket is not a {audience} ticket")
    if now >= claims.expires_at:
        raise TicketExpired(claims.expires_at)
    if claims.issued_at > now + 5.0:  # a little clock skew between hosts is fine
        raise TicketInvalid("issued in the future")
    return claims


def _parse(ticket: str) -> tuple[Claims, bytes, bytes]:
    if not isinstance(ticket, str) or len(ticket) > MAX_TICKET_CHARS or ticket.count(".") != 1:
        raise TicketInvalid("malformed")
    head, tail = ticket.split(".")
    try:
        body, signature = _unb64(head), _unb64(tail)
        claims = _decoder.decode(body)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise TicketInvalid("malformed") from exc
    return claims, body, signature
