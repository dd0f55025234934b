"""Shared steps of the writeback tests: the deal they change and the proposals they make."""

from __future__ import annotations

from uuid import UUID

from tests.support.world import World
from velocity_domain import Velocity
from velocity_domain.crm.entities import Opportunity
from velocity_domain.workflow.entities import WritebackStatus


def deal_of_client_b(velocity: Velocity, w: World) -> Opportunity:
    """Client B's open deal, held by agent B."""
    deal: Opportunity = velocity.opportunities.list(w.admin, person_id=w.client_b.key).items[0]
    return deal


def agent_proposes_next_action(velocity: Velocity, w: World, text: str) -> UUID:
    """The Oracle agent proposes a next action for client B's deal; it waits for review."""
    deal = deal_of_client_b(velocity, w)
    proposal = velocity.writebacks.propose(
        w.by_role["oracle_agent"],
        target_table="crm_opportunities",
        change_kind="update",
        target_ref=deal.key,
        base_version=deal.version,
        fields={"next_action": text},
    )
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    key: UUID = proposal.key
    return key


def audit_count(velocity: Velocity, w: World, action: str, ref: object) -> int:
    """How many audit events of ``action`` name ``ref``."""
    return len(velocity.audit.list(w.admin, action=action, target_ref=ref).items)
