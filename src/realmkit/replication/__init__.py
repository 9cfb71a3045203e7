"""Sans-I/O per-observer replication: deltas, quantization, priority, byte budget."""
