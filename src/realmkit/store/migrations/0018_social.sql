-- Social across the cluster: friends, ignore lists, chat channels, mutes and
-- guilds (realmkit/store/friends.py, chat.py, guilds.py). Friends may play on
-- any realm of one pool; channels and guilds belong to one realm.
--
-- The schema refuses what no client may ever store: oneself as a friend or an
-- ignored player, a friendship across pools, two rows for one friendship, two
-- guilds or two leaders for one character or guild, a guild member of another
-- realm, a password on a built-in channel. Caps on what a stranger can grow
-- (friend requests, guild invitations, channels) are counted by the
-- repositories under a lock of the character or guild, in the same transaction.
CREATE SCHEMA social;

-- A character's pool is its realm's.
CREATE FUNCTION social.pool_of(player bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT r.pool_id FROM characters.characters c JOIN auth.realmlist r USING (realm_id)
    WHERE c.character_id = player
$$;

-- Raised as a check_violation naming TG_ARGV[2], so the store maps it like a
-- constraint: the two characters named by columns TG_ARGV[0] and [1] of the
-- new row play in one pool.
CREATE FUNCTION social.refuse_cross_pool() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    fields jsonb := to_jsonb(NEW);
BEGIN
    IF social.pool_of((fields ->> TG_ARGV[0])::bigint)
       IS DISTINCT FROM social.pool_of((fields ->> TG_ARGV[1])::bigint) THEN
        RAISE EXCEPTION 'characters % and % play in different pools',
            fields ->> TG_ARGV[0], fields ->> TG_ARGV[1]
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_ARGV[2];
    END IF;
    RETURN NEW;
END $$;

-- ---------------------------------------------------------------- friends --

-- Asked and not yet answered; both asking each other makes them friends (the
-- repository never stores both directions).
CREATE TABLE social.friend_requests (
    from_id     bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    to_id       bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_id, to_id),
    CONSTRAINT friend_requests_not_self CHECK (from_id <> to_id)
);
CREATE INDEX friend_requests_to_idx ON social.friend_requests (to_id, created_at);

CREATE TRIGGER friend_requests_same_pool
    BEFORE INSERT OR UPDATE ON social.friend_requests
    FOR EACH ROW EXECUTE FUNCTION social.refuse_cross_pool('from_id', 'to_id', 'friend_requests_same_pool');

-- A friendship is one fact, so one row: the smaller id first (which also keeps
-- anybody from befriending themselves).
CREATE TABLE social.friendships (
    low_id      bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    high_id     bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (low_id, high_id),
    CONSTRAINT friendships_one_row_per_pair CHECK (low_id < high_id)
);
CREATE INDEX friendships_high_idx ON social.friendships (high_id);

CREATE TRIGGER friendships_same_pool
    BEFORE INSERT OR UPDATE ON social.friendships
    FOR EACH ROW EXECUTE FUNCTION social.refuse_cross_pool('low_id', 'high_id', 'friendships_same_pool');

-- ---------------------------------------------------------------- ignores --

-- Whom a character does not hear from: no whispers, no friend requests.
CREATE TABLE social.ignores (
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    ignored_id    bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (character_id, ignored_id),
    CONSTRAINT ignores_not_self CHECK (character_id <> ignored_id)
);
CREATE INDEX ignores_ignored_idx ON social.ignores (ignored_id);

-- ---------------------------------------------------------------- channels --

-- A realm's chat channels. The built-in ones (general, trade, lfg) get their
-- row at their first join, never a password, and are never deleted; a custom
-- one is made by joining a new name and goes with its last member (the
-- trigger below), so names do not pile up. The password is an argon2id hash.
CREATE TABLE social.channels (
    realm_id       integer NOT NULL REFERENCES auth.realmlist ON DELETE CASCADE,
    name           text NOT NULL CHECK (name ~ '^[a-z][a-z0-9]{1,19}$'),
    password_hash  text CHECK (length(password_hash) > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, name),
    CONSTRAINT channels_builtin_open CHECK (
        name NOT IN ('general', 'trade', 'lfg') OR password_hash IS NULL)
);

-- A player's channels survive reconnects: the gateway joins them again.
CREATE TABLE social.channel_members (
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    realm_id      integer NOT NULL,
    channel       text NOT NULL,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (character_id, realm_id, channel),
    FOREIGN KEY (realm_id, channel) REFERENCES social.channels (realm_id, name) ON DELETE CASCADE
);
CREATE INDEX channel_members_channel_idx ON social.channel_members (realm_id, channel);

-- The last member gone (leaving, or the character deleted), a custom channel
-- goes too. Its row is locked first, as a join locks it, so a join at the same
-- moment either comes first (and the channel stays) or finds it gone.
CREATE FUNCTION social.drop_empty_channel() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.channel IN ('general', 'trade', 'lfg') THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM social.channels WHERE realm_id = OLD.realm_id AND name = OLD.channel FOR UPDATE;
    IF NOT EXISTS (
        SELECT 1 FROM social.channel_members WHERE realm_id = OLD.realm_id AND channel = OLD.channel
    ) THEN
        DELETE FROM social.channels WHERE realm_id = OLD.realm_id AND name = OLD.channel;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER channel_members_drop_empty
    AFTER DELETE ON social.channel_members
    FOR EACH ROW EXECUTE FUNCTION social.drop_empty_channel();

-- ------------------------------------------------------------------ mutes --

-- Set by an operator; setting again replaces. A mute past its end is no mute
-- (compared with the database's clock), so nothing has to clear it.
CREATE TABLE social.mutes (
    character_id  bigint PRIMARY KEY REFERENCES characters.characters ON DELETE CASCADE,
    until         timestamptz NOT NULL,
    reason        text NOT NULL CHECK (length(reason) <= 255),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- ----------------------------------------------------------------- guilds --

-- One name per realm whatever its case; words of letters, single spaces.
CREATE TABLE social.guilds (
    guild_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm_id    integer NOT NULL REFERENCES auth.realmlist ON DELETE CASCADE,
    name        text NOT NULL CHECK (
                    name ~ '^[A-Za-z][A-Za-z ]{2,23}$' AND name = rtrim(name) AND name !~ '  '),
    motd        text NOT NULL DEFAULT '' CHECK (length(motd) <= 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX guilds_realm_name_key ON social.guilds (realm_id, lower(name));

-- Keyed by character: one guild per character. Ranks are
-- realmkit.social.guild.Rank: 0 leader, 1 officer, 2 member, 3 initiate.
CREATE TABLE social.guild_members (
    character_id  bigint PRIMARY KEY REFERENCES characters.characters ON DELETE CASCADE,
    guild_id      bigint NOT NULL REFERENCES social.guilds ON DELETE CASCADE,
    rank          smallint NOT NULL CHECK (rank BETWEEN 0 AND 3),
    joined_at     timestamptz NOT NULL DEFAULT now()
);
-- At most one leader; the trigger below keeps at least one.
CREATE UNIQUE INDEX guild_members_one_leader ON social.guild_members (guild_id) WHERE rank = 0;
CREATE INDEX guild_members_guild_idx ON social.guild_members (guild_id, rank, joined_at);

CREATE FUNCTION social.refuse_foreign_member() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT realm_id FROM characters.characters WHERE character_id = NEW.character_id)
       IS DISTINCT FROM (SELECT realm_id FROM social.guilds WHERE guild_id = NEW.guild_id) THEN
        RAISE EXCEPTION 'character % is not of the realm of guild %', NEW.character_id, NEW.guild_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'guild_members_same_realm';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER guild_members_same_realm
    BEFORE INSERT OR UPDATE OF character_id, guild_id ON social.guild_members
    FOR EACH ROW EXECUTE FUNCTION social.refuse_foreign_member();

-- A leader gone (left, or the character deleted) hands over to the highest
-- ranked, longest serving member: realmkit.social.guild.successor holds the
-- same rule (a test keeps the two equal). The last member gone, the guild goes.
-- The guild's row is locked first, as the repository locks it for every change.
CREATE FUNCTION social.hand_over_guild() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    heir bigint;
BEGIN
    PERFORM 1 FROM social.guilds WHERE guild_id = OLD.guild_id FOR UPDATE;
    IF NOT FOUND OR EXISTS (
        SELECT 1 FROM social.guild_members WHERE guild_id = OLD.guild_id AND rank = 0
    ) THEN
        RETURN NULL;
    END IF;
    SELECT character_id INTO heir FROM social.guild_members WHERE guild_id = OLD.guild_id
        ORDER BY rank, joined_at, character_id LIMIT 1;
    IF heir IS NULL THEN
        DELETE FROM social.guilds WHERE guild_id = OLD.guild_id;
    ELSE
        UPDATE social.guild_members SET rank = 0 WHERE character_id = heir;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER guild_members_hand_over
    AFTER DELETE OR UPDATE OF rank, guild_id ON social.guild_members
    FOR EACH ROW WHEN (OLD.rank = 0) EXECUTE FUNCTION social.hand_over_guild();

-- Asked by a leader or officer; valid until expires_at.
CREATE TABLE social.guild_invites (
    guild_id      bigint NOT NULL REFERENCES social.guilds ON DELETE CASCADE,
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    inviter_id    bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (guild_id, character_id)
);
CREATE INDEX guild_invites_character_idx ON social.guild_invites (character_id, expires_at);
