"""Benchmarks of velocity_domain against raw psycopg 3 in the same run (see README.md)."""
