"""The repository contract, run against the PostgreSQL store on a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.support.pg_harness import empty_all_tables
from velocity_domain import Velocity
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.testing import RepositoryContract

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_velocity_url(pg_url: URL) -> str:
    return pg_url.render_as_string(hide_password=False)


class TestPostgresStore(RepositoryContract):
    @pytest.fixture
    def velocity(
        self, clock: FixedClock, pg_velocity_url: str, pg_engine: sa.Engine
    ) -> Iterator[Velocity]:
        empty_all_tables(pg_engine)
        with Velocity.from_url(pg_velocity_url, clock=clock, pool_size=4) as velocity:
            yield velocity
