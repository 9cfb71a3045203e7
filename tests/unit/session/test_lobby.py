"""The count of sockets waiting for their hello (``session/lobby.py``)."""

from __future__ import annotations

from realmkit.session.lobby import Lobby


def test_an_address_has_its_share_and_the_gateway_its_total() -> None:
    """Past ``per_address`` an address is refused while others are admitted; past
    ``per_gateway`` everyone is; what leaves makes room, once."""
    lobby: Lobby[int] = Lobby(per_gateway=5, per_address=2)
    assert [lobby.admit(n, "a") for n in range(3)] == [True, True, False]
    assert [lobby.admit(n, "bcd"[n - 3]) for n in (3, 4, 5)] == [True, True, True]
    assert lobby.full()
    assert not lobby.admit(6, "e")
    assert lobby.refused == 3
    lobby.left(0)
    lobby.left(0)  # twice: counted once
    lobby.left(2)  # never admitted: nothing
    assert len(lobby) == 4
    assert not lobby.full()
    assert lobby.admit(7, "a")
    assert not lobby.admit(8, "a")
