"""Every canonical table, and the derived ones, as a SQLAlchemy Core ``Table`` on one ``MetaData``.

One module per domain, named after the spec's table prefixes. Importing this
package registers all of them on :data:`metadata`; the derived tables
(read models the store keeps in step) are in :mod:`.projections`.
"""

from velocity_domain.adapters.postgres.tables import (
    crm,
    identity,
    intel,
    inventory,
    oracle,
    projections,
    workflow,
)
from velocity_domain.adapters.postgres.tables._columns import NAMING_CONVENTION, metadata
from velocity_domain.adapters.postgres.tables.projections import PROJECTION_TABLES

DOMAIN_MODULES = {
    "crm": crm,
    "intel": intel,
    "inventory": inventory,
    "oracle": oracle,
    "identity": identity,
    "workflow": workflow,
}

__all__ = ["DOMAIN_MODULES", "NAMING_CONVENTION", "PROJECTION_TABLES", "metadata", "projections"]
