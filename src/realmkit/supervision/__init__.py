"""Supervising node processes: the restart policy (``policy``) and the ``reviver`` applying it."""
