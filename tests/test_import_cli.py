"""``velocity-domain import``: the pipeline from the terminal, on a real PostgreSQL database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from tests.support.world import build
from velocity_domain import Velocity, cli
from velocity_domain.testing import unit_of_work

pytestmark = pytest.mark.postgres

SHEET = (
    "Name;Mobile;Email ID;Budget\r\n"
    "Jos\xe9 D'Souza;98300 99999;jose@example.in;1.2 Cr\r\n"
    "Priya Nair;+91 98450 88888;;80 L\r\n"
    "No Contact;;;90 lakhs\r\n"
    "Asha Rao;9830012345;asha.new@example.in;\r\n"
).encode("cp1252")


def test_the_import_command_commits_new_people_and_reports(
    tmp_path: Path, pg_url: URL, pg_engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_all_tables(pg_engine)
    url = pg_url.render_as_string(hide_password=False)
    with Velocity.from_url(url, cursor_key="k" * 32) as velocity:
        build(velocity)  # staff and a first client, Asha Rao at +91 98300 12345
    sheet = tmp_path / "expo leads.csv"
    sheet.write_bytes(SHEET)
    out = io.StringIO()
    args = ["import", str(sheet), "--url", url, "--source-system", "expo"]
    assert cli.main([*args, "--assign-to", "sales_agent.user@velocity.example"], out=out) == 0
    report = out.getvalue()
    assert ": proposed (4 rows)" in report.splitlines()[0]
    lines = {line.split()[0]: line.split()[-1] for line in report.splitlines()[1:6]}
    assert (lines["created"], lines["updates"], lines["invalid"]) == ("2", "1", "1")
    assert "wait for review in the operator inbox" in report
    errors = tmp_path / "expo leads.csv.errors.csv"
    assert f"bad rows and their reasons: {errors}" in report
    written = errors.read_text(encoding="utf-8").splitlines()
    assert written[0] == "Name,Mobile,Email ID,Budget,row,error"
    assert written[1].startswith("No Contact,,,90 lakhs,3,")
    assert "\r" in capsys.readouterr().err  # the progress line
    with Velocity.from_url(url, cursor_key="k" * 32) as velocity, unit_of_work(velocity) as uow:
        expo = uow.crm.people.where_in("source_system", ["expo"])
        assert sorted(p.full_name for p in expo) == ["José D'Souza", "Priya Nair"]
        agent = next(
            u for u in uow.identity.users.list().items if u.email.startswith("sales_agent")
        )
        assert {p.owner_user_id for p in expo} == {agent.key}


def test_an_unreadable_file_is_one_line_on_stderr(
    tmp_path: Path, pg_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    url = pg_url.render_as_string(hide_password=False)
    code = cli.main(["import", str(empty), "--url", url, "--source-system", "x"], out=io.StringIO())
    assert code == 1
    assert capsys.readouterr().err.strip().startswith("error: file: the file is empty")
