"""Routing cores: which gateway a player uses, which world node hosts a space."""
