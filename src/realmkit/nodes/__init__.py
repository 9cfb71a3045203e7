"""Nodes: the I/O shells around the cores, one module (or folder) per role."""
