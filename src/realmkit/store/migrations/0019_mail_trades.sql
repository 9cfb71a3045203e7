-- Money, mail and player-to-player trades (issue 18).
--
-- Invariants held here, whatever a client or a stale node sends:
--   * money is never negative nor above the cap, on a character or in a mail,
--     so an overdraft is refused by the row itself, not by a read before it;
--   * an item has exactly one owner: a character or a mail (never both, never
--     none), so attaching and taking are single compare-and-set updates of
--     one row, never a copy and a delete;
--   * a mail holding items or money cannot be deleted: nothing vanishes with it;
--   * a trade is open, committed or cancelled (realmkit/lifecycle/trade.py
--     holds the same moves; a test keeps them identical), and a character is
--     in one open trade at most.
-- Migration 0018 also uses the social schema; neither depends on the other.

CREATE SCHEMA IF NOT EXISTS social;

-- ------------------------------------------------------------------ money --

-- The cap leaves room to add two purses in a bigint, and is far above what a
-- game hands out: a balance near it is a bug or an exploit, refused.
ALTER TABLE characters.characters
    ADD COLUMN money bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT characters_money_not_negative CHECK (money >= 0),
    ADD CONSTRAINT characters_money_cap CHECK (money <= 1000000000000);

-- ------------------------------------------------------------------- mail --

CREATE TABLE social.mail (
    mail_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL once the sender is deleted: the mail stays with its recipient.
    sender_id     bigint REFERENCES characters.characters ON DELETE SET NULL,
    -- The mailbox it is in. A mail with attachments keeps its recipient from
    -- being deleted (the items' RESTRICT and the money trigger below).
    recipient_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    subject       text NOT NULL CHECK (length(subject) <= 64),
    body          text NOT NULL DEFAULT '' CHECK (length(body) <= 1000),
    money         bigint NOT NULL DEFAULT 0,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz,
    -- Sent back unread: sender and recipient swapped; it is never sent back again.
    returned      boolean NOT NULL DEFAULT false,
    -- NULL: kept until taken (a returned mail with attachments never expires away).
    expires_at    timestamptz,
    CONSTRAINT mail_money_not_negative CHECK (money >= 0),
    CONSTRAINT mail_money_cap CHECK (money <= 1000000000000),
    CHECK (sender_id <> recipient_id)
);
CREATE INDEX mail_recipient_idx ON social.mail (recipient_id, sent_at);
CREATE INDEX mail_sender_idx ON social.mail (sender_id) WHERE sender_id IS NOT NULL;
CREATE INDEX mail_expiry_idx ON social.mail (expires_at) WHERE expires_at IS NOT NULL;

-- Money in a mail is as real as an item in it: it is taken first.
CREATE FUNCTION social.refuse_deleting_money() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.money > 0 THEN
        RAISE EXCEPTION 'mail % still holds % money', OLD.mail_id, OLD.money
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'mail_money_kept';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER mail_money_kept
    BEFORE DELETE ON social.mail
    FOR EACH ROW EXECUTE FUNCTION social.refuse_deleting_money();

-- An item attached to a mail is owned by the mail. RESTRICT: a mail with items
-- cannot be deleted, nor (through its cascade) the character it waits for.
ALTER TABLE characters.items
    ALTER COLUMN owner_character_id DROP NOT NULL,
    ADD COLUMN mail_id bigint REFERENCES social.mail ON DELETE RESTRICT,
    ADD CONSTRAINT items_one_owner CHECK ((owner_character_id IS NULL) <> (mail_id IS NULL));
CREATE INDEX items_mail_idx ON characters.items (mail_id) WHERE mail_id IS NOT NULL;

-- `realmkit db check --repair` keeps an item whose mail is gone here too.
ALTER TABLE ops.recovery_mailbox
    ALTER COLUMN former_owner_id DROP NOT NULL,
    ADD COLUMN former_mail_id bigint,
    ADD CONSTRAINT recovery_mailbox_former_holder
        CHECK (former_owner_id IS NOT NULL OR former_mail_id IS NOT NULL);

-- ----------------------------------------------------------------- trades --

-- Both players trade where they stand: the assignment epochs they had when
-- the trade opened must still be theirs, in the world, when it commits.
CREATE TABLE social.trades (
    trade_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    a_id        bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    b_id        bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    a_epoch     bigint NOT NULL CHECK (a_epoch >= 1),
    b_epoch     bigint NOT NULL CHECK (b_epoch >= 1),
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'committed', 'cancelled')),
    -- Grows on every change of either offer: an accept names the version it saw.
    version     bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Kept by PostgreSQL, copied to the offers (below) so that one index can
    -- hold "one open trade per character" over both sides.
    open        boolean GENERATED ALWAYS AS (state = 'open') STORED,
    UNIQUE (trade_id, open),
    CHECK (a_id <> b_id),
    -- A cancelled trade says why.
    CHECK ((state = 'cancelled') = (reason <> ''))
);
CREATE INDEX trades_b_idx ON social.trades (b_id);
CREATE INDEX trades_a_idx ON social.trades (a_id);

-- One row per side. `open` follows its trade's by the cascade, never by hand.
CREATE TABLE social.trade_offers (
    trade_id      bigint NOT NULL,
    character_id  bigint NOT NULL REFERENCES characters.characters ON DELETE CASCADE,
    open          boolean NOT NULL,
    item_ids      bigint[] NOT NULL DEFAULT '{}' CHECK (cardinality(item_ids) <= 12),
    money         bigint NOT NULL DEFAULT 0 CHECK (money BETWEEN 0 AND 1000000000000),
    accepted      boolean NOT NULL DEFAULT false,
    -- The trade's version when this offer last changed.
    version       bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    PRIMARY KEY (trade_id, character_id),
    FOREIGN KEY (trade_id, open) REFERENCES social.trades (trade_id, open)
        ON UPDATE CASCADE ON DELETE CASCADE
);
-- A character is in one open trade at most, as either side.
CREATE UNIQUE INDEX trade_offers_one_open ON social.trade_offers (character_id) WHERE open;

CREATE TABLE social.trade_moves (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);

INSERT INTO social.trade_moves (from_state, to_state) VALUES
    ('open', 'committed'),
    ('open', 'cancelled');

CREATE FUNCTION social.refuse_illegal_trade_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM social.trade_moves
        WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'trade %: cannot go from % to %', OLD.trade_id, OLD.state, NEW.state
            USING ERRCODE = 'RK002';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trades_legal_moves
    BEFORE UPDATE OF state ON social.trades
    FOR EACH ROW EXECUTE FUNCTION social.refuse_illegal_trade_move();
