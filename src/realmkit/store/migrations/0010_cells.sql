-- Cells (issue 15): a continent is tiled by cells, each a space of its own (an
-- instance row), laid out by a k-d partition (realmkit/cells/partition.py). The
-- partition's layout is stored as that module dumps it; each cell's rectangle is
-- stored beside it, so the database checks the tiling itself.
--
-- These invariants replace "one live continent instance per realm and map"
-- (instances_one_live_continent, dropped below): a continent now has as many
-- live instances as its partition has cells.
--   * one live partition per realm, map and zone group (partitions_one_live);
--   * every continent instance created from now on is a cell of a partition,
--     by the end of the transaction that creates it (RK005);
--   * a cell's instance is a continent of its partition's realm and map, and an
--     instance runs at most one cell (RK004, UNIQUE);
--   * the cells of a live partition tile its bounds: each inside them, no two
--     overlapping, their areas adding up to the bounds' (RK004). The check runs
--     at commit, so a split or a merge written in one transaction leaves the old
--     layout or the new one, never a hole or an overlap;
--   * a partition's version and a cell's epoch only grow (RK001, as epochs do).
-- A partition stops being live when the last of its cells' instances is gone.
-- Continents that were live before this migration get their partition from the
-- orchestrator, which knows their maps' bounds (PartitionRepo.ensure).

CREATE TABLE characters.partitions (
    partition_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm_id      integer NOT NULL REFERENCES auth.realmlist,
    map_id        integer NOT NULL CHECK (map_id >= 0),
    zone_group    integer NOT NULL DEFAULT 0 CHECK (zone_group >= 0),
    min_x         double precision NOT NULL,
    min_y         double precision NOT NULL,
    max_x         double precision NOT NULL,
    max_y         double precision NOT NULL,
    version       bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    layout        jsonb NOT NULL,
    live          boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (min_x < max_x AND min_y < max_y)
);
CREATE UNIQUE INDEX partitions_one_live ON characters.partitions (realm_id, map_id, zone_group)
    WHERE live;

CREATE TABLE characters.cells (
    partition_id  bigint NOT NULL REFERENCES characters.partitions,
    cell_id       integer NOT NULL CHECK (cell_id > 0),
    instance_id   bigint NOT NULL UNIQUE REFERENCES characters.instances,
    min_x         double precision NOT NULL,
    min_y         double precision NOT NULL,
    max_x         double precision NOT NULL,
    max_y         double precision NOT NULL,
    -- Raised by every load of the cell's space (a restore, a move): fences the
    -- checkpoints and ownership claims of an older incarnation.
    epoch         bigint NOT NULL DEFAULT 1 CHECK (epoch >= 1),
    PRIMARY KEY (partition_id, cell_id),
    CHECK (min_x < max_x AND min_y < max_y)
);

DROP INDEX characters.instances_one_live_continent;

-- Why partition p does not hold, or NULL when it does.
CREATE FUNCTION characters.partition_fault(p bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    part characters.partitions%ROWTYPE;
    tolerance double precision;
BEGIN
    SELECT * INTO part FROM characters.partitions WHERE partition_id = p;
    IF NOT FOUND OR NOT part.live THEN
        RETURN NULL;
    END IF;
    tolerance := 1e-9 * (part.max_x - part.min_x) * (part.max_y - part.min_y);
    IF NOT EXISTS (SELECT 1 FROM characters.cells WHERE partition_id = p) THEN
        RETURN 'it has no cell';
    END IF;
    IF EXISTS (
        SELECT 1 FROM characters.cells c
        WHERE c.partition_id = p AND (c.min_x < part.min_x OR c.min_y < part.min_y
                                      OR c.max_x > part.max_x OR c.max_y > part.max_y)
    ) THEN
        RETURN 'a cell lies outside the map';
    END IF;
    IF EXISTS (
        SELECT 1 FROM characters.cells a JOIN characters.cells b
            ON a.partition_id = b.partition_id AND a.cell_id < b.cell_id
        WHERE a.partition_id = p
          AND least(a.max_x, b.max_x) > greatest(a.min_x, b.min_x)
          AND least(a.max_y, b.max_y) > greatest(a.min_y, b.min_y)
    ) THEN
        RETURN 'two cells overlap';
    END IF;
    IF abs((SELECT sum((max_x - min_x) * (max_y - min_y)) FROM characters.cells
            WHERE partition_id = p)
           - (part.max_x - part.min_x) * (part.max_y - part.min_y)) > tolerance THEN
        RETURN 'the cells leave a hole';
    END IF;
    IF EXISTS (
        SELECT 1 FROM characters.cells c JOIN characters.instances i USING (instance_id)
        WHERE c.partition_id = p AND (i.kind <> 'continent' OR i.realm_id <> part.realm_id
                                      OR i.map_id <> part.map_id
                                      OR i.zone_group <> part.zone_group)
    ) THEN
        RETURN 'a cell runs in an instance of another continent';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION characters.refuse_broken_partition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    p bigint;
    fault text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        p := OLD.partition_id;
    ELSE
        p := NEW.partition_id;
    END IF;
    fault := characters.partition_fault(p);
    IF fault IS NOT NULL THEN
        RAISE EXCEPTION 'partition %: %', p, fault USING ERRCODE = 'RK004';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER cells_tile_their_partition
    AFTER INSERT OR UPDATE OR DELETE ON characters.cells
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_broken_partition();

CREATE CONSTRAINT TRIGGER partitions_are_tiled
    AFTER INSERT OR UPDATE ON characters.partitions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_broken_partition();

CREATE FUNCTION characters.refuse_continent_without_cell() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM characters.cells WHERE instance_id = NEW.instance_id) THEN
        RAISE EXCEPTION 'continent instance % is in no partition', NEW.instance_id
            USING ERRCODE = 'RK005';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER continents_are_cells
    AFTER INSERT ON characters.instances
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'continent')
    EXECUTE FUNCTION characters.refuse_continent_without_cell();

CREATE FUNCTION characters.refuse_older_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version < OLD.version THEN
        RAISE EXCEPTION 'partition %: version % is behind %',
            OLD.partition_id, NEW.version, OLD.version USING ERRCODE = 'RK001';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION characters.refuse_older_cell_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.epoch < OLD.epoch THEN
        RAISE EXCEPTION 'cell % of partition %: epoch % is behind %',
            OLD.cell_id, OLD.partition_id, NEW.epoch, OLD.epoch USING ERRCODE = 'RK001';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER partitions_versions_grow BEFORE UPDATE ON characters.partitions
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_older_version();
CREATE TRIGGER cells_epochs_grow BEFORE UPDATE ON characters.cells
    FOR EACH ROW EXECUTE FUNCTION characters.refuse_older_cell_epoch();

-- The last cell's instance gone: the partition is over (a new continent of that
-- realm and map may start).
CREATE FUNCTION characters.end_partition_with_its_cells() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE characters.partitions p SET live = false, updated_at = now()
    FROM characters.cells c
    WHERE c.instance_id = NEW.instance_id AND p.partition_id = c.partition_id AND p.live
      AND NOT EXISTS (
          SELECT 1 FROM characters.cells o JOIN characters.instances i USING (instance_id)
          WHERE o.partition_id = c.partition_id AND i.state <> 'gone');
    RETURN NULL;
END $$;

CREATE TRIGGER instances_end_partitions AFTER UPDATE OF state ON characters.instances
    FOR EACH ROW WHEN (NEW.state = 'gone' AND OLD.state <> 'gone')
    EXECUTE FUNCTION characters.end_partition_with_its_cells();
