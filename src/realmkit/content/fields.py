"""Turn msgspec validation messages into the (field, detail) a ContentError carries.

Shared by the pack loader and patches so both name a bad value the same way:
``maps[0].tick_rate``, never msgspec's ``$.maps[0].tick_rate``.
"""

from __future__ import annotations

import re

_AT = re.compile(r"^(?P<detail>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
# A bad dict key is reported as "... - at `key` in `$.creatures`".
_KEY_AT = re.compile(r"^(?P<detail>.*?) - at `key` in `\$(?P<path>[^`]*)`$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def split_validation_error(message: str) -> tuple[str, str]:
    """``"Expected int - at `$.maps[0].rate`"`` -> ``("maps[0].rate", "Expected int")``."""
    keyed = _KEY_AT.match(message)
    if keyed:
        path = keyed.group("path").lstrip(".")
        return f"{path}[...]", f"{keyed.group('detail')} (in a key)"
    match = _AT.match(message)
    detail = match.group("detail") if match else message
    path = (match.group("path") or "") if match else ""
    path = path.lstrip(".")
    named = _NAMED.search(detail)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return (path or "(root)"), detail
