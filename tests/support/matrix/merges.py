"""Matrix rows of merges: preview, propose, undo, and reading a merge and a person's lineage."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import ALL_ROLES, Row

PROPOSERS = frozenset({"admin", "sales_manager", "operator"})


def _pair(v: Any, w: Any) -> list[Any]:
    return [w.client_a.key, w.client_b.key]


def _executed(v: Any, w: Any) -> Any:
    """A merge of two fresh people, proposed by the manager, approved twice and executed."""
    made = [
        v.contacts.create(w.admin, full_name=f"Matrix Twin {n}", allow_duplicate=True)
        for n in range(2)
    ]
    merge = v.merges.propose(
        w.by_role["sales_manager"], [p.key for p in made], reason="matrix twins"
    )
    v.writebacks.approve(w.by_role["operator"], merge.writeback_id)
    v.writebacks.approve(w.admin, merge.writeback_id)
    v.writebacks.execute(w.admin, merge.writeback_id)
    return merge


def _scan(v: Any, p: Any) -> Any:
    return v.duplicates.scan(p)


def _proposed(v: Any, w: Any) -> Any:
    return v.merges.propose(w.admin, _pair(v, w), reason="matrix")


ROWS: dict[str, Row] = {
    "crm.merges.preview": Row(PROPOSERS, lambda v, w, p: v.merges.preview(p, _pair(v, w))),
    "crm.merges.merge": Row(
        PROPOSERS,
        lambda v, w, p: v.merges.propose(p, _pair(v, w), reason="matrix"),
        "files a proposal; merges need two approvers",
    ),
    "crm.merges.undo": Row(
        PROPOSERS,
        lambda v, w, p: v.merges.undo(p, _executed(v, w).key, reason="matrix"),
        "files a proposal, reviewed like the merge",
    ),
    "crm.merges.get": Row(
        ALL_ROLES,
        lambda v, w, p: v.merges.get(p, _proposed(v, w).key),
        "a merge is seen by whoever sees its survivor",
    ),
    "crm.merges.list": Row(ALL_ROLES, lambda v, w, p: v.merges.list(p, w.client_a.key)),
    "crm.merges.scan": Row(
        PROPOSERS, lambda v, w, p: _scan(v, p), "files the clusters it finds as merge proposals"
    ),
}
