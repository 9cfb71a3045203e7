"""Passwords: rules for new accounts, argon2id hashes, one error for every wrong login."""

from __future__ import annotations

import pytest

from realmkit.auth.passwords import check_new_credentials, hash_password, verify_password
from realmkit.errors import BadCredentials, InvalidInput


def test_hash_verifies_only_the_right_password() -> None:
    """The argon2id hash accepts its password and refuses any other."""
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    verify_password(stored, "correct horse")
    with pytest.raises(BadCredentials):
        verify_password(stored, "correct horsf")


def test_unknown_account_fails_like_a_wrong_password() -> None:
    """No such account raises the same error as a wrong password."""
    with pytest.raises(BadCredentials):
        verify_password(None, "realmkit-no-such-account")


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("ab", "long enough", "username"),
        ("bad name", "long enough", "username"),
        ("fine", "short", "password"),
    ],
)
def test_new_credentials_follow_the_rules(username: str, password: str, field: str) -> None:
    """Names are 3-32 word characters; passwords 8-128 characters."""
    with pytest.raises(InvalidInput) as caught:
        check_new_credentials(username, password)
    assert caught.value.field == field
