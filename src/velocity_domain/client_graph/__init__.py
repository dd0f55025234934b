"""The client graph: read models derived from the canonical tables (never a second truth)."""
