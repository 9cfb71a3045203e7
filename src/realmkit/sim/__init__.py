"""Sans-I/O game core: one map instance (space), movement, AOI grid, combat, loot."""
