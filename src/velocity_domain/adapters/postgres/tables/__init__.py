"""Every canonical table as a SQLAlchemy Core ``Table`` on one ``MetaData``.

One module per domain, named after the spec's table prefixes. Importing this
package registers all of them on :data:`metadata`.
"""

from velocity_domain.adapters.postgres.tables import (
    crm,
    identity,
    intel,
    inventory,
    oracle,
    workflow,
)
from velocity_domain.adapters.postgres.tables._columns import NAMING_CONVENTION, metadata

DOMAIN_MODULES = {
    "crm": crm,
    "intel": intel,
    "inventory": inventory,
    "oracle": oracle,
    "identity": identity,
    "workflow": workflow,
}

__all__ = ["DOMAIN_MODULES", "NAMING_CONVENTION", "metadata"]
