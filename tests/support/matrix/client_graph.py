"""Matrix rows of the client graph: client 360 and the summary list."""

from __future__ import annotations

from tests.support.matrix import ALL_ROLES, Row

ROWS: dict[str, Row] = {
    "crm.client_360.read": Row(
        ALL_ROLES,
        lambda v, w, p: v.client_graph.client_360(p, w.client_a.key),
        "parts whose read permission is missing are left empty and named",
    ),
    "crm.client_summaries.read": Row(
        ALL_ROLES,
        lambda v, w, p: v.client_graph.summaries(p, sort="name"),
        "an agent sees their own slice; parts without their permission are omitted",
    ),
}
