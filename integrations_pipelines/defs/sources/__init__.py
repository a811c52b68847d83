"""Source steps shared by every pair that reads the same system: one extraction, one owner."""
