"""Matrix rows of the writeback release flow (``velocity.writebacks``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tests.support.matrix import Row
from velocity_domain.crm.entities import Person
from velocity_domain.testing import unit_of_work

PROPOSERS = frozenset({"admin", "sales_manager", "sales_agent", "operator", "oracle_agent"})
APPROVERS = frozenset({"admin", "operator"})


def _new_deal(v: Any) -> dict[str, Any]:
    """A create of an opportunity for a fresh contact: a human's is approved at once."""
    person = Person(full_name="Mira Das")
    with unit_of_work(v) as uow:
        uow.crm.people.add(person)
        uow.commit()
    return {
        "target_table": "crm_opportunities",
        "change_kind": "create",
        "fields": {"person_id": person.key},
    }


def _pending(v: Any, w: Any) -> UUID:
    """A proposal of the Oracle agent, which the default policy sends to review."""
    opp = v.opportunities.list(w.admin, person_id=w.client_b.key).items[0]
    proposal = v.writebacks.propose(
        w.by_role["oracle_agent"],
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=opp.key,
        base_version=opp.version,
        fields={"next_action": "Call back on Monday"},
    )
    assert isinstance(proposal.key, UUID)
    return proposal.key


def _own_approved(v: Any, w: Any, p: Any) -> UUID:
    """A proposal of ``p``'s own (the only kind a sales agent may read), approved."""
    proposal = v.writebacks.propose(p, **_new_deal(v))
    if proposal.status.value == "review_required":
        approver = w.by_role["operator"] if p.user_id == w.admin.user_id else w.admin
        proposal = v.writebacks.approve(approver, proposal.key)
    assert proposal.status.value == "approved"
    assert isinstance(proposal.key, UUID)
    return proposal.key


ROWS: dict[str, Row] = {
    "workflow.writebacks.propose": Row(
        PROPOSERS, lambda v, w, p: v.writebacks.propose(p, **_new_deal(v))
    ),
    "workflow.writebacks.propose_many": Row(
        PROPOSERS, lambda v, w, p: v.writebacks.propose_many(p, [_new_deal(v)])
    ),
    "workflow.writebacks.approve": Row(
        APPROVERS,
        lambda v, w, p: v.writebacks.approve(p, _pending(v, w)),
        "never one's own proposal, never an automated agent",
    ),
    "workflow.writebacks.reject": Row(
        APPROVERS, lambda v, w, p: v.writebacks.reject(p, _pending(v, w), comment="not now")
    ),
    "workflow.writebacks.execute": Row(
        PROPOSERS,
        lambda v, w, p: v.writebacks.execute(p, _own_approved(v, w, p)),
        "only approved proposals; exactly once; a sales_agent only their own",
    ),
    "workflow.writebacks.get": Row(
        PROPOSERS,
        lambda v, w, p: v.writebacks.get(p, _own_approved(v, w, p)),
        "a sales_agent reads only their own proposals",
    ),
    "workflow.writebacks.list": Row(PROPOSERS, lambda v, w, p: v.writebacks.list(p)),
    "workflow.writebacks.inbox": Row(APPROVERS, lambda v, w, p: v.writebacks.inbox(p)),
}
