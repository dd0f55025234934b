"""Test support a host can import: seeding helpers, sample rows and the contract suite.

Seed the data a test needs with :func:`seed` (rows straight into the
store, beneath the services) or :func:`seed_world` (a connected row in every
table), inspect what a service wrote with :func:`count` or a raw
:func:`unit_of_work`; the application itself always goes through the
services on :class:`~velocity_domain.Velocity`.

To prove a store adapter (your own, or one of the built-in ones), subclass
:class:`~velocity_domain.testing.contract.RepositoryContract` in a pytest
module and give it a ``velocity`` fixture that yields a
:class:`~velocity_domain.Velocity` over a fresh store (empty but for the
seeded permission catalogue and default roles)::

    import pytest
    from velocity_domain import Velocity
    from velocity_domain.testing import RepositoryContract

    class TestMyStore(RepositoryContract):
        @pytest.fixture
        def velocity(self):
            yield Velocity(MyStore(...), clock=self.clock)

Every test of the suite then runs against that store. This module needs
``pytest`` (a test dependency, not a runtime one).
"""

from velocity_domain.testing.contract import RepositoryContract
from velocity_domain.testing.samples import SampleWorld
from velocity_domain.testing.seeding import count, seed, seed_world, store_of, unit_of_work

__all__ = [
    "RepositoryContract",
    "SampleWorld",
    "count",
    "seed",
    "seed_world",
    "store_of",
    "unit_of_work",
]
