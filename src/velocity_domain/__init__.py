"""velocity_domain: the canonical domain model of the Project Velocity CRM.

Construct a :class:`Velocity` over a store and work in units of work::

    velocity = Velocity.in_memory()            # or Velocity.from_url("postgresql://...")
    with velocity.unit_of_work() as uow:
        uow.crm.people.add(Person(full_name="Asha Rao"))
        uow.commit()
"""

from velocity_domain import errors
from velocity_domain.uow import UnitOfWork
from velocity_domain.velocity import Velocity

__version__ = "0.1.0"

__all__ = ["UnitOfWork", "Velocity", "__version__", "errors"]
