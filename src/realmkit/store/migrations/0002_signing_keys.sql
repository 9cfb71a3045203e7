-- Public keys of the login replicas' ticket signers. Each replica generates a
-- key pair in memory at start and publishes only the public half here, so a
-- gateway (or another replica) can verify a ticket by its key_id. Keys stay
-- until they expire, after the longest ticket they may have signed.

CREATE TABLE cluster.signing_keys (
    key_id      text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    node_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
