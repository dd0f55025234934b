"""Test support: the shared world, the PostgreSQL harness, the model catalogue, the matrix rows."""
