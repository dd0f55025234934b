"""Shared fixtures: a real PostgreSQL server, a migrated template, a database per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import ENV_VAR, SHARED_VAR, NoServerError, PostgresServer
from tests.support.world import World, build
from velocity_domain import Velocity
from velocity_domain.adapters.blobs import LocalBlobStore
from velocity_domain.adapters.postgres import migrate
from velocity_domain.kernel.clock import FixedClock

if TYPE_CHECKING:
    from tests.support.http import HttpWorld

_server: PostgresServer | None = None

# A PostgreSQL-backed Velocity needs a cursor key from its host; the tests are that host.
os.environ.setdefault("VELOCITY_CURSOR_KEY", "velocity-domain tests only, not a secret")


def _get_server() -> PostgresServer:
    global _server  # noqa: PLW0603 - one server for the whole session
    if _server is None:
        try:
            _server = PostgresServer.obtain()
        except NoServerError as exc:
            pytest.exit(str(exc), returncode=3)
    return _server


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, start the private server once here and hand its URL to the workers.

    The controller runs this before it spawns the workers, which inherit the
    environment; without it each worker would start a server of its own.
    """
    workers = config.getoption("numprocesses", default=None)
    is_controller = not hasattr(config, "workerinput")
    wants_postgres = "not postgres" not in (config.getoption("markexpr", default="") or "")
    if not (workers and is_controller and wants_postgres) or os.environ.get(ENV_VAR):
        return
    os.environ[SHARED_VAR] = _get_server().admin_url.render_as_string(hide_password=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _server is not None:
        terminalreporter.write_line(
            f"postgresql tests ran against {_server.description} (server {_server.version})"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server  # noqa: PLW0603
    if _server is not None:
        _server.close()
        _server = None
        if not hasattr(config, "workerinput"):
            os.environ.pop(SHARED_VAR, None)


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    """The PostgreSQL server of this test run (environment URL or a private pgserver)."""
    return _get_server()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database migrated once per run with the shipped migrations; tests clone it."""
    name = pg_server.create_database("velocity_tpl")
    migrate.upgrade(pg_server.url_for(name))
    return name


@pytest.fixture(scope="module")
def pg_url(pg_server: PostgresServer, pg_template: str) -> Iterator[URL]:
    """The URL of a fresh database for this test module, cloned from the template."""
    name = pg_server.create_database("velocity_test", template=pg_template)
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def pg_engine(pg_url: URL) -> Iterator[sa.Engine]:
    """An engine on this module's database."""
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_velocity(request: pytest.FixtureRequest) -> Iterator[tuple[Velocity, FixedClock]]:
    """A fresh Velocity (and its clock) over each store in turn: in memory, then PostgreSQL."""
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))
    if request.param == "memory":
        with Velocity.in_memory(clock=clock) as velocity:
            yield velocity, clock
        return
    from tests.support.pg_harness import empty_all_tables  # noqa: PLC0415

    url: URL = request.getfixturevalue("pg_url")
    empty_all_tables(request.getfixturevalue("pg_engine"))
    blobs = LocalBlobStore(request.getfixturevalue("tmp_path") / "blobs")
    dsn = url.render_as_string(hide_password=False)
    with Velocity.from_url(dsn, clock=clock, blob_store=blobs) as velocity:
        yield velocity, clock


@pytest.fixture
def world(any_velocity: tuple[Velocity, FixedClock]) -> World:
    """The shared world (users of every role, two agents with clients) on each store in turn."""
    velocity, _ = any_velocity
    return build(velocity)


@pytest.fixture
def api(world: World) -> Iterator[HttpWorld]:
    """The world's store served over HTTP (uvicorn on 127.0.0.1), a client per role."""
    from tests.support.http import http_world  # noqa: PLC0415

    with http_world(world) as served:
        yield served
