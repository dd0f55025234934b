"""Benchmarks of velocity_domain against raw psycopg 3 in the same run (see README.md)."""

import os
import secrets

from velocity_domain.kernel.pagination import CURSOR_KEY_ENV

# The benchmarks are the host here: a PostgreSQL-backed Velocity needs a cursor key
# from it. One random key per run is enough (its cursors need not outlive the run).
os.environ.setdefault(CURSOR_KEY_ENV, secrets.token_hex(32))
