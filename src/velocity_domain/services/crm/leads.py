"""Leads: creation, assignment and conversion into opportunities.

Conversion works as in the best CRMs: a lead becomes a new opportunity for
its person (keeping the lead's assignee), or joins an open opportunity the
person already has; either way the lead is marked converted and keeps the
link in ``converted_opportunity_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import check_person_for_new_record, default_assignee
from velocity_domain.crm.entities import Lead, LeadStatus, Opportunity, OpportunityStage, Urgency
from velocity_domain.crm.lifecycle import LEAD_STATUS, Pipeline
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.governance.service import GovernedUpdate, Service, applier, creator, serves
from velocity_domain.kernel.arguments import Version
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Query, desc, equal
from velocity_domain.services.crm.opportunities import (
    WRITE as OPPORTUNITIES_WRITE,
)
from velocity_domain.services.crm.opportunities import check_references, record_entry
from velocity_domain.uow import UnitOfWork

__all__ = ["LeadService"]

READ = "crm.leads.read"
WRITE = "crm.leads.write"
CREATE = register("crm.leads.create", WRITE, "create a lead for a person")
ASSIGN = register("crm.leads.assign", WRITE, "assign a lead to a user")
CONVERT = register("crm.leads.convert", WRITE, "convert a lead into an opportunity")
GET = register("crm.leads.get", READ, "read one lead")
LIST = register("crm.leads.list", READ, "list leads")
_CLOSED = (OpportunityStage.WON, OpportunityStage.LOST)


def _context_uuid(context: Mapping[str, Any], name: str) -> UUID | None:
    raw = context.get(name)
    if raw is None:
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise ValidationFailed(name, "must be a UUID", value=raw) from None


def _context_value(context: Mapping[str, Any]) -> Decimal | None:
    raw = context.get("value")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValidationFailed("value", "money is given as a string, not a number", value=raw)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed("value", "is not a number", value=raw) from None


def _check_assignee(uow: UnitOfWork, _before: Lead, wanted: Lead) -> None:
    """Refuse an assignee who is no user."""
    check_references(uow, assigned_user_id=wanted.assigned_user_id)


_ASSIGN = GovernedUpdate(ASSIGN, Lead, "crm", _check_assignee)
#: A conversion's proposed status alone is no valid lead: its applier sets the link.
_CONVERT = GovernedUpdate(CONVERT, Lead, "crm", validate=False)


class LeadService(Service):
    """Leads: creation, assignment and conversion into opportunities."""

    def _visible(self, uow: UnitOfWork, principal: Principal, lead_id: object) -> Lead:
        return self._visibility(uow, principal).get(Lead, lead_id, "lead_id")

    @serves(CREATE)
    def create(
        self,
        principal: Principal,
        *,
        person_id: UUID,
        source_system: str,
        account_id: UUID | None = None,
        source_ref: str | None = None,
        budget_band: str | None = None,
        urgency: Urgency | str | None = None,
        assigned_user_id: UUID | None = None,
    ) -> Lead:
        """Open a lead for a person; an agent who names no assignee holds it themself."""
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Lead:
            lead = Lead(
                person_id=person_id,
                account_id=account_id,
                source_system=source_system,
                source_ref=source_ref,
                budget_band=budget_band,
                urgency=None if urgency is None else Urgency(urgency),
                assigned_user_id=default_assignee(principal, assigned_user_id),
                created_at=now,
                updated_at=now,
            )
            check_person_for_new_record(uow, principal, lead.person_id)
            return lead

        return self._governed_create(principal, CREATE, build, insert=self._insert)

    def _insert(self, uow: UnitOfWork, principal: Principal, lead: Lead) -> Lead:
        if uow.crm.people.find(lead.person_id) is None:
            raise ValidationFailed("person_id", "no such person", value=lead.person_id)
        check_references(uow, account_id=lead.account_id, assigned_user_id=lead.assigned_user_id)
        return self._add_audited(uow, principal, CREATE.name, lead, domain="crm")

    _apply_create = creator(Lead, _insert)

    @serves(GET)
    def get(self, principal: Principal, lead_id: UUID) -> Lead:
        """Read one lead; a lead of a client the principal may not see is ``NotFound``."""
        with self._begin(principal, GET) as uow:
            return self._visible(uow, principal, lead_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        status: LeadStatus | str | None = None,
        assigned_user_id: UUID | None = None,
        person_id: UUID | None = None,
        source_system: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Lead]:
        """List the leads the principal may see, newest first."""
        where = equal(
            status=status,
            assigned_user_id=assigned_user_id,
            person_id=person_id,
            source_system=source_system,
        )
        with self._reading(principal, LIST) as uow:
            order = (desc("created_at"), desc("lead_id"))
            query = Query(self._seen_only(uow, principal, where), order, limit, cursor)
            page = uow.crm.leads.list(query)
            if person_id is not None and not page.items and cursor is None:
                self._visibility(uow, principal).refuse_merged_id(person_id)
            return page

    @serves(ASSIGN)
    def assign(
        self,
        principal: Principal,
        lead_id: UUID,
        user_id: UUID | None,
        *,
        expected_version: Version,
    ) -> Lead:
        """Give a lead to ``user_id`` (``None`` leaves it unassigned).

        Taking a lead from the user who holds it is high-risk by default: it
        is stored for approval and ``ApprovalRequired`` is raised.
        """
        given = {"assigned_user_id": user_id}
        return self._governed_update(
            principal, _ASSIGN, lead_id, expected_version, given, apply=self._apply_assign
        )

    _apply_assign = applier(_ASSIGN)

    @serves(CONVERT)
    def convert(
        self,
        principal: Principal,
        lead_id: UUID,
        *,
        expected_version: Version,
        project_id: UUID | None = None,
        unit_id: UUID | None = None,
        value: Decimal | None = None,
        into_opportunity_id: UUID | None = None,
    ) -> tuple[Lead, Opportunity]:
        """Convert a lead into a new opportunity, or into its person's open one.

        A new opportunity starts at ``new`` (with its first stage-history
        row) for the lead's person, account and assignee. Returns the
        converted lead and the opportunity; all in one transaction.
        """

        def check(uow: UnitOfWork, before: Lead, _same: Lead) -> None:
            LEAD_STATUS.transition(before.status, LeadStatus.CONVERTED)
            if into_opportunity_id is not None:
                self._existing(uow, before, into_opportunity_id)
                if project_id is not None or unit_id is not None or value is not None:
                    raise ValidationFailed(
                        "into_opportunity_id",
                        "give either an opportunity to join or the new one's project/unit/value",
                    )
            else:
                principal.require(OPPORTUNITIES_WRITE, CONVERT.name)
                Opportunity(person_id=before.person_id, value=value)  # refuse a bad value now
                check_references(uow, project_id=project_id, unit_id=unit_id)

        context = {
            "project_id": project_id,
            "unit_id": unit_id,
            "value": value,
            "into_opportunity_id": into_opportunity_id,
        }
        return self._governed_update(
            principal,
            _CONVERT,
            lead_id,
            expected_version,
            {"status": LeadStatus.CONVERTED},
            context=plain_values(context),
            check=check,
            apply=self._convert_and_read,
        )

    def _convert_and_read(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> tuple[Lead, Opportunity]:
        """Apply a conversion; return the converted lead and its opportunity."""
        after = self._apply_convert(uow, principal, change)
        assert after.converted_opportunity_id is not None
        return after, uow.crm.opportunities.get(after.converted_opportunity_id)

    def _apply_convert(self, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> Lead:
        assert change.target_ref is not None
        if dict(change.fields) != {"status": LeadStatus.CONVERTED.value}:
            raise ValidationFailed(
                "status", "a lead's status changes only by conversion (to converted)"
            )
        before = uow.crm.leads.get(change.target_ref)
        LEAD_STATUS.transition(before.status, LeadStatus.CONVERTED)
        ctx = change.context
        now = self.clock.now()
        into = _context_uuid(ctx, "into_opportunity_id")
        if into is not None:
            opportunity = self._existing(uow, before, into)
            created = False
        else:
            opportunity = Opportunity(
                person_id=before.person_id,
                lead_id=before.lead_id,
                account_id=before.account_id,
                project_id=_context_uuid(ctx, "project_id"),
                unit_id=_context_uuid(ctx, "unit_id"),
                stage=Pipeline.initial,
                value=_context_value(ctx),
                assigned_user_id=before.assigned_user_id,
                created_at=now,
                updated_at=now,
            )
            check_references(uow, project_id=opportunity.project_id, unit_id=opportunity.unit_id)
            created = True
            uow.crm.opportunities.add(opportunity)
            record_entry(uow, self.clock, principal, opportunity, None, reason="lead converted")
            self._audit(
                uow,
                principal,
                "crm.opportunities.create",
                target_domain="crm",
                target_ref=opportunity.key,
                after=opportunity,
                reason="lead conversion",
            )
        converted = attrs.evolve(
            before,
            status=LeadStatus.CONVERTED,
            converted_opportunity_id=opportunity.key,
            converted_at=now,
        )
        details = {"opportunity_id": str(opportunity.key), "new_opportunity": created}
        return self._write_update(
            uow, principal, change, before, converted, domain="crm", details=details
        )

    @staticmethod
    def _existing(uow: UnitOfWork, lead: Lead, key: UUID) -> Opportunity:
        opportunity = uow.crm.opportunities.find(key)
        if opportunity is None or opportunity.person_id != lead.person_id:
            raise ValidationFailed(
                "into_opportunity_id", "no such opportunity of the lead's person", value=key
            )
        if opportunity.closed_at is not None or opportunity.stage in _CLOSED:
            raise ValidationFailed("into_opportunity_id", "is closed (won or lost)", value=key)
        return opportunity
