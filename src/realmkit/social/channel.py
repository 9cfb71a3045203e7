"""Chat channel names: a realm's built-in channels and the names players may make.

Built-in channels exist on every realm, open to all (no password); any other
lowercase name made of 2-20 letters and digits, a letter first, is a custom
channel, made by its first join and gone with its last member.
"""

from __future__ import annotations

import re

from realmkit.errors import InvalidInput

BUILTIN = ("general", "trade", "lfg")
# Names of the other chat channels (``chat_send``'s ``channel``), never a realm's.
RESERVED = ("party", "guild", "whisper", "say", "yell", "system")
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9]{1,19}$")
MAX_PASSWORD = 64


def check_channel(name: str) -> str:
    """The channel's name in lower case, or ``InvalidInput``."""
    lowered = name.lower()
    if not CHANNEL_NAME.match(lowered):
        raise InvalidInput("channel", "2-20 letters or digits, starting with a letter")
    if lowered in RESERVED:
        raise InvalidInput("channel", f"{lowered} is not a realm channel: chat_send to it")
    return lowered


def check_password(channel: str, password: str | None) -> str | None:
    """The password a join may set (None: none; built-ins never have one)."""
    if channel in BUILTIN or not password:
        return None
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password", f"at most {MAX_PASSWORD} characters")
    return password
