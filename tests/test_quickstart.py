"""The README's example runs and tells its story on both stores."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.pg_harness import PostgresServer

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


@pytest.mark.postgres
def test_quickstart_on_postgres(pg_server: PostgresServer) -> None:
    name = pg_server.create_database("velocity_quickstart")
    try:
        url = pg_server.url_for(name).render_as_string(hide_password=False)
        out = io.StringIO()
        assert _load().main(["--url", url], out=out) == 0
        assert "on PostgreSQL" in out.getvalue()
        _check(out.getvalue())
    finally:
        pg_server.drop_database(name)
