"""Starting is cheap: the embedded store pulls in no database driver."""

from __future__ import annotations

import subprocess
import sys

import pytest

from velocity_domain import Velocity
from velocity_domain.errors import NotConfigured


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


def test_a_missing_postgres_extra_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What importing the adapter does when SQLAlchemy is not installed.
    monkeypatch.setitem(sys.modules, "velocity_domain.adapters.postgres.engine", None)
    with pytest.raises(NotConfigured) as err:
        Velocity.from_url("postgresql://app@db/crm", cursor_key="k" * 32)
    assert str(err.value).startswith("the PostgreSQL store is not installed")
    assert str(err.value).endswith('pip install "velocity-domain[postgres]"')
    assert "db upgrade" not in str(err.value)
    assert err.value.to_dict()["code"] == "not_configured"
