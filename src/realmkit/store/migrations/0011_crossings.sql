-- Border crossings (issue 15): a player that crosses from one cell of a
-- continent to another is placed in the new cell's instance under the next
-- epoch by a compare-and-set on the epoch the hand-over carried. A player that
-- crosses back before the first crossing is placed asks with an epoch that has
-- moved on; ``crossing`` lets that later crossing through: it holds the
-- player's ownership version (raised by every hand-over between cells) when
-- the assignment's last move was a crossing, and 0 after any other move, so a
-- crossing overtakes only an older crossing, never a login, a resume or a
-- transfer (realmkit/store/placement.py, AssignmentRepo.cross).
ALTER TABLE characters.player_assignments
    ADD COLUMN crossing bigint NOT NULL DEFAULT 0 CHECK (crossing >= 0);
