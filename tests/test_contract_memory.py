"""The repository contract, run against the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from velocity_domain import Velocity
from velocity_domain.kernel.clock import FixedClock
from velocity_domain.testing import RepositoryContract


class TestMemoryStore(RepositoryContract):
    @pytest.fixture
    def velocity(self, clock: FixedClock) -> Iterator[Velocity]:
        with Velocity.in_memory(clock=clock) as velocity:
            yield velocity
