-- Refresh tokens (issue 16): a returning player logs in without a password hash.
-- A token is stored as its SHA-256 only; it is used once: each use marks it used
-- and issues the next of its family (rotation). A token used a second time was
-- copied: the whole family is revoked (its thief and its owner both log in with
-- the password again). Logging out revokes the family.
CREATE TABLE auth.refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id  bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
    family      bytea NOT NULL CHECK (length(family) = 16),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at),
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON auth.refresh_tokens (family);
CREATE INDEX refresh_tokens_account ON auth.refresh_tokens (account_id);
