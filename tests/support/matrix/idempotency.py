"""Matrix rows of the idempotency keys behind HTTP ``Idempotency-Key`` (issue 17)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.matrix import ADMIN_ONLY, ALL_ROLES, Row
from velocity_domain.services.identity.idempotency import StoredResponse

_serial = itertools.count()
_OK = StoredResponse(200, (), b"{}", "application/json")


def _claimed(v: Any, p: Any) -> str:
    key = f"matrix-{next(_serial)}"
    v.idempotency.begin(p, key, "fingerprint")
    return key


ROWS: dict[str, Row] = {
    "identity.idempotency.begin": Row(
        ALL_ROLES,
        lambda v, w, p: v.idempotency.begin(p, f"matrix-{next(_serial)}", "fingerprint"),
        "keys are scoped per principal",
    ),
    "identity.idempotency.finish": Row(
        ALL_ROLES,
        lambda v, w, p: v.idempotency.finish(p, _claimed(v, p), _OK),
        "only one's own pending claim",
    ),
    "identity.idempotency.abandon": Row(
        ALL_ROLES,
        lambda v, w, p: v.idempotency.abandon(p, _claimed(v, p)),
        "only one's own pending claim",
    ),
    "identity.idempotency.purge": Row(
        ADMIN_ONLY, lambda v, w, p: v.idempotency.purge_expired(p), "every owner's expired keys"
    ),
}
