"""velocity_domain: the canonical domain model of the Project Velocity CRM.

Construct a :class:`Velocity` over a store and work through its services,
always naming who acts (a :class:`Principal`)::

    velocity = Velocity.in_memory()            # or Velocity.from_url(url, cursor_key=...)
    office = Principal.system("front-office")  # a host's own trusted work, audited as such
    asha = velocity.contacts.create(office, full_name="Asha Rao", primary_phone="098300 12345")

Every read passes permissions and record visibility; every write passes the
writeback policy and is audited. Tests seed data with
:mod:`velocity_domain.testing`.
"""

from velocity_domain import errors
from velocity_domain.access.principal import Principal, PrincipalKind
from velocity_domain.velocity import Velocity

__version__ = "0.2.0.dev0"

__all__ = ["Principal", "PrincipalKind", "Velocity", "__version__", "errors"]
