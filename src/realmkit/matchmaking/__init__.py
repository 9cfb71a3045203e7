"""Sans-I/O matchmaking rules: ticket lifecycle, queues, battleground/arena/dungeon matching.

The matchmaker node (``realmkit.nodes``) feeds a ``Queue`` per (pool, activity)
from PostgreSQL tickets and calls ``Queue.match(now)``; nothing here reads a
clock or touches I/O.
"""
