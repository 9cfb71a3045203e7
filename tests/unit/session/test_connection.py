"""A player's connection protocol: hello first, validation, rate limits, strikes."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.content.schema import Bounds
from realmkit.protocol.client import (
    CLOSE_POLICY,
    CLOSE_UNAUTHENTICATED,
    PROTOCOL_VERSION,
    ErrorFrame,
    Hello,
    NewWorld,
    PartyAccept,
    PartyDecline,
    PartyInvite,
    PartyLeave,
    QueueJoin,
    Resume,
)
from realmkit.protocol.cluster import Repoint
from realmkit.protocol.frames import replica_key
from realmkit.protocol.inputs import Move, Say
from realmkit.protocol.matchmaking import (
    AnswerInvitation,
    InviteToParty,
    JoinQueue,
    LeaveParty,
)
from realmkit.session.connection import (
    BURST,
    HELLO_TIMEOUT,
    MAX_STRIKES,
    AskMatchmaker,
    Authenticate,
    Close,
    Connection,
    ConnState,
    Forward,
    Reply,
    StopReplicating,
)

enc = msgspec.msgpack.encode


BOUNDS = Bounds(min_x=0, min_y=0, max_x=100, max_y=100)


def _in_world() -> Connection:
    conn = Connection(opened_at=0.0)
    assert conn.receive(enc(Hello("tkt")), now=0.1) == [Authenticate("tkt")]
    conn.entered(BOUNDS)
    return conn


def test_hello_then_inputs_are_forwarded() -> None:
    """After hello and placement, a legal move is forwarded as is."""
    conn = _in_world()
    move = Move(1.0, 2.0, 3.0, 0.5, client_time_ms=10, seq=1)
    assert conn.receive(enc(move), now=0.2) == [Forward(move)]


def test_json_text_frames_are_accepted() -> None:
    """The same messages work as JSON text (for debugging)."""
    conn = Connection(opened_at=0.0)
    assert conn.receive('{"t": "hello", "ticket": "abc"}', now=0.1) == [Authenticate("abc")]


def test_resume_instead_of_hello() -> None:
    """``resume`` with a token may open a connection instead of hello, once; a token
    too short to be one is refused before anything is asked."""
    conn = Connection(opened_at=0.0)
    token = "t" * 43
    assert conn.receive(enc(Resume(token)), now=0.1) == [Authenticate(resume=token)]
    assert conn.state is ConnState.ENTERING
    again = conn.receive(enc(Resume(token)), now=0.2)
    assert again == [Reply(ErrorFrame("BAD_MESSAGE", "hello was already sent"))]
    short = Connection(opened_at=0.0)
    refused = short.receive('{"t": "resume", "token": "abc"}', now=0.1)
    assert len(refused) == 1
    assert isinstance(refused[0], Reply)
    assert refused[0].message.code == "BAD_MESSAGE"
    assert short.state is ConnState.AWAITING_HELLO


@given(version=st.integers(min_value=-(2**40), max_value=2**40).filter(lambda v: v != 1))
def test_a_hello_of_another_protocol_version_is_refused(version: int) -> None:
    """``hello`` or ``resume`` of a version this gateway does not speak never enters
    the world: an error naming the version it speaks, and a close (before, it entered)."""
    for first in (Hello("tkt", version=version), Resume("t" * 43, version=version)):
        conn = Connection(opened_at=0.0)
        actions = conn.receive(enc(first), now=0.1)
        assert not any(isinstance(a, Authenticate) for a in actions)
        assert isinstance(actions[0], Reply)
        assert actions[0].message.code == "UNSUPPORTED_VERSION"
        assert f"speaks version {PROTOCOL_VERSION}" in actions[0].message.message
        assert actions[1:] == [Close(CLOSE_UNAUTHENTICATED, "unsupported version")]
        assert conn.state is ConnState.CLOSED
    assert Connection(opened_at=0.0).receive(enc(Hello("tkt", version=PROTOCOL_VERSION)), 0.1) == [
        Authenticate("tkt")
    ]


def test_no_hello_in_time_closes() -> None:
    """A silent client is closed with 4001 after the hello timeout."""
    conn = Connection(opened_at=0.0)
    assert conn.timed_out(now=HELLO_TIMEOUT - 0.1) == []
    assert conn.timed_out(now=HELLO_TIMEOUT) == [Close(CLOSE_UNAUTHENTICATED, "no hello in time")]


def test_input_before_hello_closes() -> None:
    """Anything but hello first is refused with a close."""
    conn = Connection(opened_at=0.0)
    actions = conn.receive(enc(Say("hi")), now=0.1)
    assert actions == [Close(CLOSE_UNAUTHENTICATED, "the first message must be hello")]


def test_inputs_while_entering_are_dropped() -> None:
    """Inputs sent before the player is in the world are dropped, not queued."""
    conn = Connection(opened_at=0.0)
    conn.receive(enc(Hello("tkt")), now=0.1)
    assert conn.receive(enc(Say("early")), now=0.2) == []
    assert conn.dropped == 1


def test_queue_and_party_messages_go_to_the_matchmakers_once_in_the_world() -> None:
    """Queue and party messages are dropped before the player was ever in the world,
    forwarded after as requests for the character seated here, and a party invite
    with a name no character can have is refused before it leaves the gateway."""
    conn = Connection(opened_at=0.0)
    conn.receive(enc(Hello("tkt")), now=0.1)
    assert conn.receive(enc(PartyInvite("Bob")), now=0.2) == []
    assert conn.dropped == 1
    conn.seated(42, 1, 1, BOUNDS)
    for message, request in (
        (QueueJoin("battleground", ["tank"]), JoinQueue(42, "battleground", ["tank"])),
        (PartyInvite("Bob"), InviteToParty(42, "Bob")),
        (PartyAccept(7), AnswerInvitation(42, 7, True)),
        (PartyDecline(7), AnswerInvitation(42, 7, False)),
        (PartyLeave(), LeaveParty(42)),
    ):
        assert conn.receive(enc(message), now=0.3) == [AskMatchmaker(request)]
    refused = conn.receive('{"t": "party_invite", "name": "Bob; DROP"}', now=0.4)
    assert len(refused) == 1
    assert isinstance(refused[0], Reply)
    assert refused[0].message.code == "BAD_MESSAGE"
    zero = conn.receive('{"t": "party_accept", "party_id": 0}', now=0.5)
    assert isinstance(zero[0], Reply)


def test_non_finite_position_is_refused() -> None:
    """A move with NaN or infinity gets an error frame and is not forwarded."""
    conn = _in_world()
    actions = conn.receive(enc(Move(float("nan"), 0, 0, 0, client_time_ms=1, seq=1)), now=0.2)
    assert len(actions) == 1
    assert isinstance(actions[0], Reply)
    assert actions[0].message.code == "BAD_MESSAGE"


def test_move_outside_the_map_is_not_forwarded() -> None:
    """The gateway's pre-check refuses a position outside the map's bounds."""
    conn = _in_world()
    actions = conn.receive(enc(Move(500.0, 5.0, 0.0, 0.0, client_time_ms=1, seq=1)), now=0.2)
    assert len(actions) == 1
    assert isinstance(actions[0], Reply)
    assert (actions[0].message.code, actions[0].message.message) == ("BAD_MOVE", "out_of_bounds")


def test_flood_is_limited_then_closed() -> None:
    """A burst beyond the bucket earns strikes; enough strikes close with 1008."""
    conn = _in_world()
    say = enc(Say("spam"))
    results = [conn.receive(say, now=1.0) for _ in range(int(BURST) + MAX_STRIKES)]
    forwarded = sum(1 for r in results if r and isinstance(r[0], Forward))
    assert forwarded <= BURST
    assert results[-1] == [Close(CLOSE_POLICY, "too many bad messages")]
    assert conn.state is ConnState.CLOSED
    assert conn.receive(say, now=100.0) == []


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_random_bytes_never_forward(garbage: bytes) -> None:
    """Random bytes are answered with an error or a close, never forwarded."""
    conn = _in_world()
    for action in conn.receive(garbage, now=0.5):
        assert not isinstance(action, Forward | Authenticate)


def test_a_crossing_into_another_cell_re_points_quietly() -> None:
    """A re-point to another cell of the same continent changes where inputs go and
    the epoch, nothing the client sees: no ``new_world``, the replication goes on.
    An older re-point arriving late changes nothing; a transfer out of the continent
    stops replicating it."""
    conn = Connection(opened_at=0.0)
    conn.receive(enc(Hello("tkt")), now=0.1)
    conn.seated(42, 11, 3, BOUNDS, continent=5)
    held, actions = conn.repointed(
        Repoint(42, 4, 12, 1, 20, BOUNDS, fresh=False, continent=5), True
    )
    assert (held, actions) == (True, [])
    assert (conn.instance_id, conn.epoch, conn.replica) == (12, 4, replica_key(11, 5))
    late = Repoint(42, 3, 11, 1, 20, BOUNDS, fresh=False, continent=5)
    assert conn.repointed(late, True) == (True, [])
    assert (conn.instance_id, conn.epoch) == (12, 4)
    held, actions = conn.repointed(Repoint(42, 5, 30, 2, 20, BOUNDS), True)
    assert held
    assert actions[0] == StopReplicating(replica_key(0, 5))
    assert isinstance(actions[1], Reply)
    assert isinstance(actions[1].message, NewWorld)
    assert conn.replica == replica_key(30, 0) == 30


def test_a_transfer_overtaken_by_a_crossing_still_completes() -> None:
    """A restore seats the player again (``transfer_pending``), and the cell it lands
    in hands it over the border at once: the crossing's quiet re-point (newer epoch)
    reaches the gateway before the transfer's. The transfer still ends with a
    ``new_world``, for the cell the player is in now."""
    conn = Connection(opened_at=0.0)
    conn.receive(enc(Hello("tkt")), now=0.1)
    conn.seated(42, 12, 3, BOUNDS, continent=5)
    held, _ = conn.transfer_started("recovery")
    assert held
    crossing = Repoint(42, 5, 11, 1, 20, BOUNDS, fresh=False, continent=5)
    assert conn.repointed(crossing, True) == (True, [])
    assert conn.state is ConnState.ENTERING
    held, actions = conn.repointed(Repoint(42, 4, 12, 1, 20, BOUNDS, continent=5), True)
    assert held
    assert actions[0] == StopReplicating(replica_key(11, 5))
    assert isinstance(actions[1], Reply)
    assert isinstance(actions[1].message, NewWorld)
    assert actions[1].message.instance_id == 11
    assert (conn.state, conn.instance_id, conn.epoch) == (ConnState.IN_WORLD, 11, 5)
