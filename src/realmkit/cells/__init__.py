"""Cells: one continent over many world nodes, without I/O.

A continent instance is tiled by **cells**: the leaves of a k-d tree of
axis-aligned rectangles over the map's bounds (``partition``). Each cell is a
space of its own (its own ``characters.instances`` row, node, checkpoint and
input subject), so loading, checkpoints, recovery and live migration work for
a cell as for any space. The continent's partition id keys what a player's
gateway keeps (its replicator), so a player's view outlives the cell it is
in. The partition, its version and each cell's epoch live in PostgreSQL.

Every entity has exactly one **owner** cell. Each tick an owner publishes, to
every other cell whose rectangle lies within the ghost margin of it, the
entities within that margin of that cell (``border``); the receiver holds them
as read-only **ghosts** (``ghosts``) in its interest grid, so its players see
across the border. Authority moves when an entity has gone far enough into
another cell (``border.crossings``).

How the design answers the hard cases (shared/CELLS.md), each pinned by a test
in ``tests/unit/cells`` or, where it needs processes, in ``tests/cluster``:

1. Two owners, or none. A player's owner is its assignment: the cell whose
   instance the assignment names, under the assignment's epoch. A crossing is
   a seat through the orchestrator's hand-over (``CrossCell``: epoch + 1 by a
   compare-and-set on the epoch the hand-over carried, or over an older
   crossing's ownership version when the player crossed back before the first
   was placed); a cell whose crossing is refused (a resume placed the player
   meanwhile) drops its copy, a cell whose save is refused adopts a newer
   epoch placed here or drops its copy, a cell restored from a checkpoint
   keeps only the players the assignments give it (``Space.resume_elsewhere``),
   and a hand-over whose crossing is never placed (its receiver died, or never
   heard it) is taken back by its sender (the decisions: ``handover``; the
   store's side: ``nodes/world/crossings.py``). A
   player seated again (a restore, a resume) claims an ownership version from
   its new epoch, above any its older bodies reached, so ghosts of those never
   outrank it. A creature
   carries an ownership **version**, raised by every hand-off; when two cells
   claim one id (a restored checkpoint after a hand-off it did not see), the
   cell whose copy is older drops it when it sees the other's ghost
   (``sim/cell.take_ghosts``), so it is not doubled. A creature handed to a
   cell that is then loaded again from a checkpoint written before it took the
   creature (its node died, or it moved live and the hand-over came after its
   snapshot) is sent again by its sender when it hears the new incarnation
   (``handover.Resends``, 30 s); the cell takes only what it does not hold, and
   a cell loaded without any checkpoint, which spawned all of its own spawns
   afresh, refuses those spawns' creatures. Left: a creature handed on to a
   third cell before the restored cell's checkpoint could be doubled until the
   older copy sees the newer one's ghost.
2. Ping-pong. An entity crosses only when it is more than ``cross_margin``
   inside the other cell (hysteresis), and not before ``min_stay`` ticks in
   its current owner: walking along a border, or being knocked back and
   forth over it, does not hand it over every tick.
3. No global tick. Cells tick on their own clocks. A ghost batch carries its
   source cell, the partition version and the source's tick; the receiver
   keeps the newest batch per source by that tick and never compares ticks of
   two cells. A hand-off carries the entity's state, not a tick to meet at.
4. Deltas continue. Frames of every cell carry the continent's partition id
   as their replication key (``SpaceFrame.replica``); the gateway keeps one
   replicator per continent, and only the cell that owns a player lists it as
   an observer, so a crossing changes no entity the client holds and its
   frame sequence runs on. The gateway's re-point is quiet (no ``new_world``).
5. Inputs in flight. Inputs carry the client's sequence numbers; the owner's
   record carries the last one applied. The old owner forwards inputs for a
   player it handed off to the new one (while its crossing is open, and five
   seconds after the last input came), which applies only sequence numbers
   above the last applied: each input once, in order, and the acknowledgement
   keeps counting. A gateway that did not answer the crossing's re-point is
   told again (for 30 s); until it hears, its inputs keep being forwarded.
6. Seeing across. Ghosts carry the real entity's id and columns, and are
   replicated through the same frame columns as owned entities, so the
   gateway quantizes and prioritises them alike; when a ghost becomes real on
   this cell nothing in the frame changes but who computed it.
7. Acting on a ghost. An action whose target is a ghost is sent to the
   ghost's owner with a hop count; an owner that no longer has the target
   forwards it to where it handed it, at most ``MAX_HOPS`` times, then drops
   it. A hit is one message, applied by the owner of the target when it comes
   (the bus delivers it at most once).
8. Creatures. A creature's hand-off carries its whole row (AI state, target,
   threat, leash point, destination) with the target as an entity id, not a
   slot; a creature chasing across a border keeps its target. A spawn point
   belongs to the cell that contains it; respawns happen there, and a
   creature that left its spawn's cell is still counted for that spawn.
9. Events with a range. Say and yell go from the speaker's cell to every cell
   within reach of the speaker (``Heard``), which tells its own players in
   reach. What a cell's rules produce for a player another cell owns (a kill
   of a creature owned here, the loot rolled for it: loot belongs to the
   creature's owner) goes to that player's cell (``CellEvents``), which
   delivers it once. Creatures aggro on ghost players as on their own.
10. Ids. Creature ids are drawn per cell from a block named by the cell's
    instance id (``ids``), so they stay unique across splits; item ids come
    from the cluster's blocks as for every space.
11. Split, merge and border move under traffic. A change of partition is a new
    version: the cells of the old layout hand every entity of the moved area
    to its new owner as in a crossing; ghost batches of an older version are
    dropped by their receiver, and a hand-over is taken whatever layout its
    sender ran (its ownership version decides). A cell a split makes starts empty
    (its creatures are handed to it, never spawned twice). A cell that missed
    the new layout's announcement reads it from the store as soon as a
    neighbour writes to it under a newer version, and every few seconds.
12. Crash during a split. The new partition is written in one transaction
    with the cells' instance rows; a node that dies before the write leaves
    the old partition, after it the new one: never a hole or an overlap,
    because every stored partition is a k-d tree whose leaves tile the map.
    Entities follow case 1.
13. Cost. The ghost margin is view radius + view hysteresis + cross margin +
    the fastest entity's movement during the bus's delay; cells are never
    split below ``2 * margin`` on a side, so ghosts stay a small share of a
    tick. ``bench/cells.py`` measures it.

Where the build stands (issue 15): cases 1 to 10 and 13's margins run, in the
core (``sim/cell.py``), between world nodes (``cell.<partition>.<cell>``
subjects, ``nodes/world/runner.py``), through the orchestrator (crossings,
``nodes/orchestrator/handover.py``) and the gateway (case 4); 12 is the
schema's (migrations 0010, 0011); splits run through the orchestrator
(``nodes/orchestrator/cells.py``), and so do merges and the leader's splits
and merges by load and their moves of a border between two uneven sibling
cells (``cells/balance.py``). Each load of a cell's space raises
its epoch (``characters.cells.epoch``); its neighbours refuse what an older
incarnation still sends (``ghosts.Incarnations``), and its checkpoints and
saves are fenced as every space's are (the instance row's node, the
assignments' epochs). Measured by ``bench/cells.py`` (crossings and ghosts)
and ``bench/cells_capacity.py`` (a continent larger than the machine, under
time dilation).
"""
