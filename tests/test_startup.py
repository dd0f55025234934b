"""Starting is cheap: the embedded store pulls in no database driver."""

from __future__ import annotations

import subprocess
import sys


def test_the_in_memory_store_imports_no_sql_toolkit_or_driver() -> None:
    probe = (
        "import sys, velocity_domain\n"
        "velocity = velocity_domain.Velocity.in_memory()\n"
        "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'alembic') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_probe_sees_a_loaded_driver() -> None:
    probe = (
        "import sys, velocity_domain.adapters.postgres.store\n"
        "print(sorted(m for m in ('sqlalchemy', 'psycopg') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['sqlalchemy']"
