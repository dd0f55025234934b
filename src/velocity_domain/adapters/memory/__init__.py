"""The in-memory store: the embedded default, held to the same contract as PostgreSQL."""
