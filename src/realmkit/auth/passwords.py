"""Password rules and argon2id hashes.

Parameters are OWASP's recommendation for argon2id (19 MiB, 2 passes, 1 lane):
about 20 ms of CPU per check here, against 110 ms for argon2-cffi's default
profile, so a wave of logins after a restart cannot starve a small host.
Hashes carry their parameters, so hashes made with others still verify.
Callers on an event loop run these functions in a worker thread.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from realmkit.errors import BadCredentials, InvalidInput

USERNAME = re.compile(r"^[A-Za-z0-9_]{3,32}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Verifying against this when the account does not exist costs the same time
# as a real check, so response times do not reveal which names exist.
_DUMMY_HASH = _hasher.hash("realmkit-no-such-account")


def check_new_credentials(username: str, password: str) -> None:
    """``InvalidInput`` unless the name and password fit the rules."""
    if not USERNAME.match(username):
        raise InvalidInput("username", "3-32 letters, digits or underscores")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"{MIN_PASSWORD}-{MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> None:
    """``BadCredentials`` unless ``password`` matches (``None``: no such account)."""
    if len(password) > MAX_PASSWORD:
        raise BadCredentials()
    try:
        _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as exc:
        raise BadCredentials() from exc
    if stored_hash is None:
        raise BadCredentials()
