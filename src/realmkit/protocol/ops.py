"""The operations API (``/api/ops/...`` on the login node): request and response
bodies. Every route takes an operator's bearer token; errors are the login API's
``{"error": {"code", "message"}}``.

``GET /api/ops/state`` answers ``nodes.login.ops.OpsState``. Actions are the
CLI's commands, each answered ``ActionDone`` with the CLI's ``--json`` answer as
its result:

    POST /api/ops/drain           {node}                      realmkit drain NODE
    POST /api/ops/realm-status    {realm, status}             realmkit realm set-status
    POST /api/ops/patch/activate  {patch, realm | pool}       realmkit patch activate
    POST /api/ops/patch/rollback  {realm | pool}              realmkit patch rollback
    POST /api/ops/announce        {realm, text}               realmkit realm announce
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Names or ids, as on the command line.
RealmKey = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^\S(.*\S)?$")]
PoolKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
PatchKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
NodeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
AnnouncementText = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
# ``store.values.RealmStatus``'s values (a unit test keeps them equal).
RealmStatusName = Literal["online", "offline", "locked", "maintenance"]


class DrainAction(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    node: NodeName


class RealmStatusAction(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    realm: RealmKey
    status: RealmStatusName


class PatchActivateAction(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Exactly one of ``realm`` and ``pool``."""

    patch: PatchKey
    realm: RealmKey | None = None
    pool: PoolKey | None = None


class PatchRollbackAction(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Exactly one of ``realm`` and ``pool``."""

    realm: RealmKey | None = None
    pool: PoolKey | None = None


class AnnounceAction(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    realm: RealmKey
    text: AnnouncementText


class ActionDone(msgspec.Struct, frozen=True):
    """An action's answer: what the CLI's ``--json`` prints for the same command."""

    action: str
    result: Any
    ok: bool = True
