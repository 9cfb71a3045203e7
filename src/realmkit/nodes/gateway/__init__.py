"""The gateway: players' WebSockets, per-player replication, input batching."""
