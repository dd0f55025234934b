"""The HTTP load benchmark at its smallest size: it serves the API, loads it and prints its table.

The run is short (two seconds of load per side): it checks the machinery
(the server in its own process, the clients, the in-process threads, the
table), not the figures.
"""

from __future__ import annotations

import re

import pytest
from benchmarks import http_load

from tests.support.pg_harness import PostgresServer
from velocity_domain import Velocity
from velocity_domain.asgi import create_app


def test_the_window_counts_completions_and_times_the_requests_started_in_it() -> None:
    tally = http_load.Tally(
        (10.0, 20.0),
        calls=[(9.0, 10.5, True), (10.0, 12.0, True), (15.0, 15.5, True), (19.0, 21.0, False)],
    )
    assert tally.latencies == [2.0, 0.5, 2.0]
    assert tally.rate == pytest.approx(4 / 11)  # ended at 10.5, 12, 15.5 and 21
    assert tally.errors == 1
    assert tally.p(99) == 2.0


def _row(output: str, name: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(name))
    return re.split(r"\s{2,}", line.strip())


@pytest.mark.postgres
def test_a_short_run_prints_the_table_with_rates_and_no_errors(
    pg_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = pg_server.create_database("velocity_httpbench")
    server = pg_server.admin_url.render_as_string(hide_password=False)
    try:
        code = http_load.main(
            ["--people", "1000", "--seconds", "2", "--warmup", "0.5", "--url", server, "--db", name]
        )
    finally:
        pg_server.drop_database(name)
    output = capsys.readouterr().out
    assert code == 0, output
    assert "Machine:" in output
    assert "Load average before the load" in output
    cells = _row(output, "contacts, pages 1-20 of 50 (admin)")
    assert len(cells) == len(http_load.HEADERS), cells
    assert int(cells[1]) > 0
    assert float(cells[2].removesuffix("/s").replace(",", "")) > 0
    assert float(cells[5].removesuffix("/s").replace(",", "")) > 0
    assert cells[-2:] == ["0 + 0", "PASS"]
    assert (
        "HTTP and in-process pages 1-20 (admin) list the same people in the same order;"
        " a sales agent's first page is the same over HTTP and in-process"
    ) in output
    paths = create_app(Velocity.in_memory()).openapi_schema.paths or {}
    client_360 = _row(output, "client 360, random clients (admin)")
    if any(http_load.CLIENT_360_PATH.match(p) for p in paths):
        assert client_360[-2:] == ["0 + 0", "PASS"]
        assert float(client_360[2].removesuffix("/s").replace(",", "")) > 0
    else:
        assert client_360[-1] == "skipped"
        assert "has no path /api/crm/client-360/{client_id}" in output
