"""Every canonical table, and the others, as a SQLAlchemy Core ``Table`` on one ``MetaData``.

One module per domain, named after the spec's table prefixes. Importing this
package registers all of them on :data:`metadata`; the derived tables
(read models the store keeps in step) are in :mod:`.projections`, the
operational tables of the HTTP way in (idempotency keys) in :mod:`.api`.
:data:`NON_CANONICAL` names both kinds: the tables that are none of the spec's.
"""

from velocity_domain.adapters.postgres.tables import (
    api,
    crm,
    identity,
    intel,
    inventory,
    oracle,
    projections,
    workflow,
)
from velocity_domain.adapters.postgres.tables._columns import NAMING_CONVENTION, metadata
from velocity_domain.adapters.postgres.tables.api import API_TABLES
from velocity_domain.adapters.postgres.tables.projections import PROJECTION_TABLES

DOMAIN_MODULES = {
    "crm": crm,
    "intel": intel,
    "inventory": inventory,
    "oracle": oracle,
    "identity": identity,
    "workflow": workflow,
}

#: The tables that are not canonical: the derived read models and the HTTP way in's records.
NON_CANONICAL = PROJECTION_TABLES | API_TABLES

__all__ = [
    "API_TABLES",
    "DOMAIN_MODULES",
    "NAMING_CONVENTION",
    "NON_CANONICAL",
    "PROJECTION_TABLES",
    "api",
    "metadata",
    "projections",
]
