"""Published public keys of ticket signers (``cluster.signing_keys``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from realmkit.errors import NotFound
from realmkit.store.postgres import Database


class SigningKeyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def publish(self, key_id: str, public_key: bytes, node_id: str, valid_for: float) -> None:
        """Publish ``public_key`` under ``key_id`` for ``valid_for`` s; drop expired keys."""
        expires = datetime.now(UTC) + timedelta(seconds=valid_for)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM cluster.signing_keys WHERE expires_at < now()")
            await conn.execute(
                "INSERT INTO cluster.signing_keys (key_id, public_key, node_id, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                key_id,
                public_key,
                node_id,
                expires,
            )

    async def get(self, key_id: str) -> bytes:
        async with self.db.connection() as conn:
            raw = await conn.fetchval(
                "SELECT public_key FROM cluster.signing_keys "
                "WHERE key_id = $1 AND expires_at > now()",
                key_id,
            )
        if raw is None:
            raise NotFound("signing key", key_id)
        return bytes(raw)
