"""msgpack encoding of protocol Structs, with one cached decoder per type."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from realmkit.errors import BadMessage

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()


def encode(message: Any) -> bytes:
    """The msgpack bytes of a Struct (or any msgspec-encodable value)."""
    return _encoder.encode(message)


_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def _decoder(kind: Any) -> msgspec.msgpack.Decoder[Any]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.msgpack.Decoder(kind)
    return decoder


def decode(data: bytes, kind: type[T], where: str = "message") -> T:
    """Decode and validate; ``BadMessage`` naming ``where`` if the bytes are wrong."""
    try:
        result: T = _decoder(kind).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadMessage(where, str(exc)) from exc
    return result
