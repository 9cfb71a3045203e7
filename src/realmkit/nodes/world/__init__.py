"""The world node: hosts spaces, one tick loop per space, saves characters."""
