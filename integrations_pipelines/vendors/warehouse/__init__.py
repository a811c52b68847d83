"""The analytics warehouse (PostgreSQL) as a destination: tables a pair loads by key."""
