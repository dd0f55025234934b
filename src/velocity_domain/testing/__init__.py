"""Test support a host can import: the repository contract suite and sample rows.

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

__all__ = ["RepositoryContract", "SampleWorld"]
