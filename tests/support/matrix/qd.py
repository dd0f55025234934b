"""Matrix rows of QD: recording signal points and the QD query (issue 16)."""

from __future__ import annotations

from tests.support.matrix import ALL_ROLES, Row

ROWS: dict[str, Row] = {
    "crm.qd.record": Row(
        frozenset({"admin", "sales_manager", "sales_agent"}),
        lambda v, w, p: v.qd.record_point(
            p, w.client_a.key, score_type="intent", signal_source="call", value=70
        ),
        "within the same visibility as contacts; the summary is recomputed in the same write",
    ),
    "crm.qd.record_many": Row(
        frozenset({"admin", "sales_manager", "sales_agent"}),
        lambda v, w, p: v.qd.record_points(
            p,
            [
                {
                    "person_id": w.client_a.key,
                    "score_type": "urgency",
                    "signal_source": "email",
                    "value": 40,
                }
            ],
        ),
        "rows of clients the caller may not see are refused, the others recorded",
    ),
    "crm.qd.read": Row(
        ALL_ROLES,
        lambda v, w, p: v.qd.qd(p, w.client_a.key, series="day"),
        "within the same visibility as contacts",
    ),
}
