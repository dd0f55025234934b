"""The README's example runs and tells its story on both stores."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from tests.support.pg_harness import PostgresServer
from velocity_domain.adapters import postgres as postgres_adapter

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quickstart.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check(output: str) -> None:
    assert "1. Priya logged Asha (+919830012345) and a lead from a WhatsApp enquiry." in output
    assert "Entering her again is caught: primary_phone matches 1 person" in output
    assert "2. The lead was converted into an opportunity at stage new." in output
    assert "3. After a call and the site visit the deal is at site_visit_done." in output
    assert "Jumping straight to won is refused" in output
    timeline = output.split("Asha's timeline, newest first:")[1]
    assert timeline.index("visit") < timeline.index("whatsapp")
    assert "site_visit_done  INR 12500000.00" in output
    assert "spent 2 days, 0:00:00 in site_visit_scheduled" in output
    assert "whose list price Omar approved" in output
    assert "proposed it: review_required." in output
    assert "it waits for approval (moves the deal to won)" in output
    inbox = output.split("Omar's inbox, oldest first:")[1].split("Omar approved", maxsplit=1)[0]
    assert inbox.index("update crm_people") < inbox.index("update crm_opportunities")
    assert "running one again applies nothing: False." in output
    assert "Asha's email is now asha.rao@example.com; the deal is won." in output
    assert "Bad input is refused with the field named: crm_people.primary_email" in output


def test_quickstart_in_memory() -> None:
    out = io.StringIO()
    assert _load().main([], out=out) == 0
    assert "on the in-memory store" in out.getvalue()
    _check(out.getvalue())


def _schemas(server: PostgresServer, database: str) -> set[str]:
    engine = sa.create_engine(server.url_for(database), poolclass=sa.NullPool)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars()
        found = {n for n in names if n.startswith("quickstart_")}
    engine.dispose()
    return found


@pytest.fixture
def quickstart_db(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("velocity_quickstart")
    yield name
    pg_server.drop_database(name)


@pytest.mark.postgres
def test_quickstart_on_postgres_drops_its_schema(
    pg_server: PostgresServer, quickstart_db: str
) -> None:
    url = pg_server.url_for(quickstart_db).render_as_string(hide_password=False)
    out = io.StringIO()
    assert _load().main(["--url", url], out=out) == 0
    assert "on PostgreSQL" in out.getvalue()
    _check(out.getvalue())
    made = re.search(r"migrated a new schema (quickstart_[0-9a-f]{8})", out.getvalue())
    assert made is not None
    assert f"(dropped the schema {made[1]}; --keep keeps it)" in out.getvalue()
    assert _schemas(pg_server, quickstart_db) == set()


@pytest.mark.postgres
def test_quickstart_keeps_its_schema_when_asked(
    pg_server: PostgresServer, quickstart_db: str
) -> None:
    url = pg_server.url_for(quickstart_db).render_as_string(hide_password=False)
    out = io.StringIO()
    assert _load().main(["--url", url, "--keep"], out=out) == 0
    made = re.search(r"migrated a new schema (quickstart_[0-9a-f]{8})", out.getvalue())
    assert made is not None
    assert f"(kept the schema {made[1]}; DROP SCHEMA {made[1]} CASCADE" in out.getvalue()
    assert _schemas(pg_server, quickstart_db) == {made[1]}


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad host", "quickstart: cannot reach PostgreSQL (connect to"),
        ("bad credentials", 'role "no_such_role" does not exist'),
        ("not postgresql", "quickstart: url: must be a postgresql:// URL, not mysql://"),
    ],
)
def test_a_wrong_url_is_one_line_and_a_failure(
    pg_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    case: str,
    expected: str,
) -> None:
    url = {
        "bad host": "postgresql://app@127.0.0.1:1/crm?connect_timeout=2",
        "bad credentials": pg_server.admin_url.set(username="no_such_role", password=None)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False),
        "not postgresql": "mysql://app@127.0.0.1/crm",
    }[case]
    out = io.StringIO()
    assert _load().main(["--url", url], out=out) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("quickstart: ")
    assert expected in err
    assert "Traceback" not in err
    assert "quickstart_" not in out.getvalue()


def test_a_missing_postgres_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What importing the adapter does when SQLAlchemy is not installed.
    monkeypatch.setitem(sys.modules, "velocity_domain.adapters.postgres.migrate", None)
    monkeypatch.delattr(postgres_adapter, "migrate", raising=False)
    assert _load().main(["--url", "postgresql://app@db/crm"], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("quickstart: the PostgreSQL store is not installed")
    assert err.rstrip().endswith('pip install "velocity-domain[postgres]"')
