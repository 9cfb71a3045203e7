-- realmkit schema, version 1.
--
-- Invariants are written as keys, constraints and triggers so that no client,
-- however buggy or partitioned, can break them:
--   * an item has exactly one owner (one row per item id, one owner column);
--   * a character is in at most one instance (assignment keyed by character);
--   * epochs only grow: a save or assignment with an older epoch is refused;
--   * one live continent instance per (realm, map, zone group);
--   * a patch chain stays inside one game and cannot loop;
--   * one live matchmaking ticket per (character, activity).
-- Identifiers for characters, items and instances are unique cluster-wide
-- (one database, bigint keys from sequences).

CREATE SCHEMA auth;
CREATE SCHEMA cluster;
CREATE SCHEMA characters;
CREATE SCHEMA matchmaking;

-- ---------------------------------------------------------------- cluster --

CREATE TABLE cluster.games (
    game_id       text PRIMARY KEY CHECK (game_id ~ '^[a-z][a-z0-9_-]{0,31}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    content_pack  text NOT NULL CHECK (length(content_pack) BETWEEN 1 AND 64),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cluster.realm_pools (
    pool_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cluster.patches (
    patch_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game_id     text NOT NULL REFERENCES cluster.games,
    parent_id   bigint,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    overrides   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(overrides) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (game_id, name),
    UNIQUE (patch_id, game_id),
    -- The parent belongs to the same game...
    FOREIGN KEY (parent_id, game_id) REFERENCES cluster.patches (patch_id, game_id),
    -- ...and is older, so a chain can never loop.
    CHECK (parent_id < patch_id)
);

CREATE TABLE cluster.nodes (
    node_id            text PRIMARY KEY CHECK (node_id ~ '^[a-z][a-z0-9-]{0,62}$'),
    role               text NOT NULL CHECK (role IN
                           ('login', 'gateway', 'world', 'orchestrator', 'matchmaker', 'reviver')),
    host               text NOT NULL,
    port               integer NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    state              text NOT NULL DEFAULT 'starting' CHECK (state IN
                           ('starting', 'ready', 'draining', 'unhealthy', 'stopped')),
    capacity           integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    started_at         timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------------------- auth --

CREATE TABLE auth.accounts (
    account_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL CHECK (username ~ '^[A-Za-z0-9_]{3,32}$'),
    password_hash  text NOT NULL CHECK (length(password_hash) > 0),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'banned')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
CREATE UNIQUE INDEX accounts_username_key ON auth.accounts (lower(username));

CREATE TABLE auth.realmlist (
    realm_id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
    game_id          text NOT NULL REFERENCES cluster.games,
    pool_id          integer NOT NULL REFERENCES cluster.realm_pools,
    status           text NOT NULL DEFAULT 'offline' CHECK (status IN
                         ('online', 'offline', 'locked', 'maintenance')),
    current_phase    integer NOT NULL DEFAULT 0 CHECK (current_phase >= 0),
    active_patch_id  bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (realm_id, pool_id),
    UNIQUE (realm_id, game_id),
    -- A realm's active patch is one of its own game's patches.
    FOREIGN KEY (active_patch_id, game_id) REFERENCES cluster.patches (patch_id, game_id)
);
CREATE UNIQUE INDEX realmlist_name_key ON auth.realmlist (lower(name));

-- ------------------------------------------------------------- characters --

CREATE TABLE characters.characters (
    character_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
    realm_id      integer NOT NULL REFERENCES auth.realmlist,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z]{2,12}$'),
    level         integer NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 255),
    hp            integer NOT NULL CHECK (hp >= 0),
    map_id        integer NOT NULL CHECK (map_id >= 0),
    pos_x         double precision NOT NULL CHECK (pos_x BETWEEN -1e6 AND 1e6),
    pos_y         double precision NOT NULL CHECK (pos_y BETWEEN -1e6 AND 1e6),
    pos_z         double precision NOT NULL CHECK (pos_z BETWEEN -1e6 AND 1e6),
    orientation   real NOT NULL DEFAULT 0 CHECK (orientation >= 0 AND orientation < 7),
    -- The assignment epoch the last accepted save was made under.
    save_epoch    bigint NOT NULL DEFAULT 0 CHECK (save_epoch >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    saved_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX characters_realm_name_key ON characters.characters (realm_id, lower(name));
CREATE INDEX characters_account_idx ON characters.characters (account_id);

-- The epoch triggers raise SQLSTATE RK001 (class RK is realmkit's own);
-- the store turns it into realmkit.errors.StaleEpoch.
CREATE FUNCTION characters.refuse_stale_save() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.save_epoch < OLD.save_epoch THEN
        RAISE EXCEPTION 'stale save epoch % for character % (current %)',
            NEW.save_epoch, OLD.character_id, OLD.save_epoch
            USING ERRCODE = 'RK001';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER characters_save_epoch_grows
    BEFORE UPDATE OF save_epoch ON characters.characters
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_stale_save();

-- Item ids are minted by world nodes in blocks: each nextval is the first id
-- of a fresh block of 1024, so ids are unique cluster-wide without a round
-- trip per item.
CREATE SEQUENCE characters.item_id_blocks AS bigint INCREMENT BY 1024 START WITH 1;

CREATE TABLE characters.items (
    -- One row per item: an item cannot exist twice nor have two owners.
    item_id             bigint PRIMARY KEY CHECK (item_id > 0),
    template_id         integer NOT NULL CHECK (template_id > 0),
    owner_character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    stack_count         integer NOT NULL DEFAULT 1 CHECK (stack_count BETWEEN 1 AND 10000),
    -- NULL slot: in the bags without a fixed place.
    slot                smallint CHECK (slot BETWEEN 0 AND 255),
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_character_id, slot)
);
CREATE INDEX items_owner_idx ON characters.items (owner_character_id);

CREATE TABLE characters.instances (
    instance_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game_id      text NOT NULL REFERENCES cluster.games,
    map_id       integer NOT NULL CHECK (map_id >= 0),
    kind         text NOT NULL CHECK (kind IN ('continent', 'dungeon', 'battleground', 'arena')),
    -- NULL realm: a cross-realm instance owned by the pool.
    realm_id     integer,
    pool_id      integer NOT NULL REFERENCES cluster.realm_pools,
    zone_group   integer NOT NULL DEFAULT 0 CHECK (zone_group >= 0),
    node_id      text REFERENCES cluster.nodes ON DELETE SET NULL,
    state        text NOT NULL DEFAULT 'requested' CHECK (state IN
                     ('requested', 'loading', 'ready', 'draining', 'stopping', 'gone', 'unhealthy')),
    capacity     integer NOT NULL CHECK (capacity > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- A realm instance lives in its realm's pool and game.
    FOREIGN KEY (realm_id, pool_id) REFERENCES auth.realmlist (realm_id, pool_id),
    FOREIGN KEY (realm_id, game_id) REFERENCES auth.realmlist (realm_id, game_id),
    -- Continents belong to a realm.
    CHECK (kind <> 'continent' OR realm_id IS NOT NULL),
    -- Loading and running instances have a node.
    CHECK (state NOT IN ('loading', 'ready', 'draining') OR node_id IS NOT NULL)
);
-- Two concurrent placements cannot create two live copies of one continent.
CREATE UNIQUE INDEX instances_one_live_continent ON characters.instances (realm_id, map_id, zone_group)
    WHERE kind = 'continent' AND state <> 'gone';
CREATE INDEX instances_node_idx ON characters.instances (node_id) WHERE state <> 'gone';

CREATE TABLE characters.player_assignments (
    -- Keyed by character: a character is in at most one instance.
    character_id  bigint PRIMARY KEY REFERENCES characters.characters ON DELETE CASCADE,
    instance_id   bigint REFERENCES characters.instances,
    gateway_id    text,
    -- Grows on every placement or transfer; rows are kept (state offline)
    -- after logout so the epoch never restarts.
    epoch         bigint NOT NULL CHECK (epoch >= 1),
    state         text NOT NULL CHECK (state IN ('placing', 'in_world', 'transferring', 'offline')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'offline') = (instance_id IS NULL))
);
CREATE INDEX player_assignments_instance_idx ON characters.player_assignments (instance_id)
    WHERE instance_id IS NOT NULL;

CREATE FUNCTION characters.refuse_stale_assignment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.epoch < OLD.epoch
       OR (NEW.instance_id IS DISTINCT FROM OLD.instance_id AND NEW.epoch = OLD.epoch) THEN
        RAISE EXCEPTION 'stale assignment epoch % for character % (current %)',
            NEW.epoch, OLD.character_id, OLD.epoch
            USING ERRCODE = 'RK001';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER player_assignments_epoch_grows
    BEFORE UPDATE ON characters.player_assignments
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_stale_assignment();

-- ------------------------------------------------------------ matchmaking --

CREATE TABLE matchmaking.tickets (
    ticket_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id       integer NOT NULL REFERENCES cluster.realm_pools,
    activity_id   text NOT NULL CHECK (activity_id ~ '^[a-z][a-z0-9_-]{0,31}$'),
    -- The party leader, or the solo player.
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    members       bigint[] NOT NULL CHECK (cardinality(members) BETWEEN 1 AND 40),
    roles         text[] NOT NULL DEFAULT '{}',
    rating        integer NOT NULL DEFAULT 1500 CHECK (rating BETWEEN 0 AND 10000),
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN
                      ('queued', 'proposed', 'accepted', 'in_match', 'done', 'cancelled')),
    match_id      bigint,
    queued_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (character_id = ANY (members))
);
-- Joining twice answers "already queued".
CREATE UNIQUE INDEX tickets_one_live_per_activity ON matchmaking.tickets (character_id, activity_id)
    WHERE state IN ('queued', 'proposed', 'accepted', 'in_match');
CREATE INDEX tickets_queue_idx ON matchmaking.tickets (pool_id, activity_id, queued_at)
    WHERE state = 'queued';
