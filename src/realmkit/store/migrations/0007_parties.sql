-- Parties: players who queue together (one matchmaking ticket for them all).
-- A party lives until its last member but one leaves; its leader invites by
-- name within the realm, and only the leader queues the party.

CREATE TABLE matchmaking.parties (
    party_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    leader_id   bigint NOT NULL UNIQUE REFERENCES characters.characters ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A character is in one party at most (the primary key); the leader is a member.
CREATE TABLE matchmaking.party_members (
    character_id  bigint PRIMARY KEY REFERENCES characters.characters ON DELETE CASCADE,
    party_id      bigint NOT NULL REFERENCES matchmaking.parties ON DELETE CASCADE,
    joined_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX party_members_party_idx ON matchmaking.party_members (party_id, joined_at);

CREATE TABLE matchmaking.party_invites (
    party_id      bigint NOT NULL REFERENCES matchmaking.parties ON DELETE CASCADE,
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (party_id, character_id)
);
CREATE INDEX party_invites_character_idx ON matchmaking.party_invites (character_id);
