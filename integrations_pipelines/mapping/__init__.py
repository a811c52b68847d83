"""Pure mapping functions, one module per source -> destination pair (no I/O)."""
