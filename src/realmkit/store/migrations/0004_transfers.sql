-- Transfers, dungeons, checkpoints and live migration.

-- Live migration: a draining instance is loaded again on another node and
-- continues there under the same instance_id (realmkit/lifecycle.py).
INSERT INTO characters.instance_moves (from_state, to_state) VALUES ('draining', 'loading');

-- A dungeon instance is bound to the characters who entered it until its
-- reset: the same character going through the portal again returns to it.
CREATE TABLE characters.instance_bindings (
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    map_id        integer NOT NULL CHECK (map_id >= 0),
    instance_id   bigint NOT NULL REFERENCES characters.instances,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (character_id, map_id)
);
CREATE INDEX instance_bindings_instance_idx ON characters.instance_bindings (instance_id);

-- The latest checkpoint of each space, written by the node that runs it.
-- The write is fenced by the instance row: only the instance's current node,
-- while the instance is live there, can replace it.
CREATE TABLE characters.space_checkpoints (
    instance_id  bigint PRIMARY KEY REFERENCES characters.instances,
    node_id      text NOT NULL,
    tick         bigint NOT NULL CHECK (tick >= 0),
    snapshot     bytea NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now()
);
