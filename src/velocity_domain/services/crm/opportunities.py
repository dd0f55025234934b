"""The opportunities route family (``/api/crm/opportunities``): the deal pipeline.

Stage moves follow :attr:`OpportunityService.pipeline` (by default
:data:`velocity_domain.crm.lifecycle.DEFAULT_PIPELINE`; a host assigns its own
:class:`~velocity_domain.crm.lifecycle.Pipeline`), and every move writes a
``crm_stage_history`` row in the same transaction, so the time spent in each
stage can be read back with :meth:`OpportunityService.time_in_stages`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import check_person_for_new_record, default_assignee
from velocity_domain.crm.entities import Opportunity, OpportunityStage, StagedEntity, StageHistory
from velocity_domain.crm.lifecycle import DEFAULT_PIPELINE, Pipeline
from velocity_domain.errors import ValidationFailed
from velocity_domain.governance.change import ProposedChange
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import GovernedUpdate, Service, creator, serves
from velocity_domain.kernel.arguments import UNCHANGED, Unchanged, Version, changes, enum_arg
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, asc, desc, equal
from velocity_domain.services.inventory.catalogue import check_places
from velocity_domain.uow import UnitOfWork

__all__ = ["OpportunityService", "StageSpan"]

READ = "crm.opportunities.read"
WRITE = "crm.opportunities.write"
CREATE = register("crm.opportunities.create", WRITE, "create an opportunity")
UPDATE = register("crm.opportunities.update", WRITE, "change an opportunity's details")
MOVE_STAGE = register("crm.opportunities.move_stage", WRITE, "move an opportunity's stage")
GET = register("crm.opportunities.get", READ, "read one opportunity")
LIST = register("crm.opportunities.list", READ, "list opportunities by stage/assignee/project")
TIME_IN_STAGES = register(
    "crm.opportunities.time_in_stages", READ, "how long an opportunity spent in each stage"
)


#: The fields :meth:`OpportunityService.update` may change.
DETAILS = (
    "account_id",
    "project_id",
    "unit_id",
    "value",
    "currency",
    "probability",
    "expected_close_date",
    "next_action",
    "assigned_user_id",
)


class StageSpan(NamedTuple):
    """One stay of an opportunity in a stage; ``left_at`` is ``None`` for the current one."""

    stage: OpportunityStage
    entered_at: datetime
    left_at: datetime | None
    duration: timedelta


def check_references(
    uow: UnitOfWork,
    *,
    account_id: UUID | None = None,
    project_id: UUID | None = None,
    unit_id: UUID | None = None,
    assigned_user_id: UUID | None = None,
) -> None:
    """Refuse references to rows that do not exist (or a unit of another project)."""
    if account_id is not None and uow.crm.accounts.find(account_id) is None:
        raise ValidationFailed("account_id", "no such account", value=account_id)
    check_places(uow, project_id, unit_id)
    if assigned_user_id is not None and uow.identity.users.find(assigned_user_id) is None:
        raise ValidationFailed("assigned_user_id", "no such user", value=assigned_user_id)


def record_entry(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    opportunity: Opportunity,
    from_stage: OpportunityStage | None,
    *,
    reason: str | None = None,
) -> StageHistory:
    """Write the ``crm_stage_history`` row of ``opportunity`` entering its stage."""
    return uow.crm.stage_history.add(
        StageHistory(
            entity_type=StagedEntity.OPPORTUNITY,
            entity_id=opportunity.key,
            from_stage=None if from_stage is None else from_stage.value,
            to_stage=opportunity.stage.value,
            changed_at=clock.now(),
            changed_by_user_id=principal.user_id,
            reason=reason,
        )
    )


_UPDATE = GovernedUpdate(UPDATE, Opportunity, "crm")
_MOVE_STAGE = GovernedUpdate(MOVE_STAGE, Opportunity, "crm")


class OpportunityService(Service):
    """The opportunities route family (``/api/crm/opportunities``): the deal pipeline."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        #: The stage pipeline moves are checked against; a host may assign its own.
        self.pipeline: Pipeline = DEFAULT_PIPELINE

    def _visible(
        self, uow: UnitOfWork, principal: Principal, opportunity_id: object
    ) -> Opportunity:
        return self._visibility(uow, principal).get(Opportunity, opportunity_id, "opportunity_id")

    @serves(CREATE)
    def create(
        self,
        principal: Principal,
        *,
        person_id: UUID,
        lead_id: UUID | None = None,
        account_id: UUID | None = None,
        project_id: UUID | None = None,
        unit_id: UUID | None = None,
        value: Decimal | None = None,
        currency: str = "INR",
        probability: Decimal | None = None,
        expected_close_date: date | None = None,
        next_action: str | None = None,
        assigned_user_id: UUID | None = None,
        source_system: str | None = None,
        source_ref: str | None = None,
    ) -> Opportunity:
        """Open a deal at the pipeline's first stage (``new``), with its first history row.

        A principal who sees only their own clients is the assignee unless
        they name one. The write passes the writeback policy first.
        """
        now = self.clock.now()

        def build(uow: UnitOfWork) -> Opportunity:
            opportunity = Opportunity(
                person_id=person_id,
                lead_id=lead_id,
                account_id=account_id,
                project_id=project_id,
                unit_id=unit_id,
                stage=self.pipeline.initial,
                value=value,
                currency=currency,
                probability=probability,
                expected_close_date=expected_close_date,
                next_action=next_action,
                assigned_user_id=default_assignee(principal, assigned_user_id),
                source_system=source_system,
                source_ref=source_ref,
                created_at=now,
                updated_at=now,
            )
            check_person_for_new_record(uow, principal, opportunity.person_id)
            return opportunity

        return self._governed_create(principal, CREATE, build, insert=self._insert)

    def _insert(
        self, uow: UnitOfWork, principal: Principal, opportunity: Opportunity
    ) -> Opportunity:
        if opportunity.stage is not self.pipeline.initial:
            raise ValidationFailed(
                "stage",
                f"a new deal starts at {self.pipeline.initial.value}",
                value=opportunity.stage,
            )
        if uow.crm.people.find(opportunity.person_id) is None:
            raise ValidationFailed("person_id", "no such person", value=opportunity.person_id)
        if opportunity.lead_id is not None:
            lead = uow.crm.leads.find(opportunity.lead_id)
            if lead is None or lead.person_id != opportunity.person_id:
                raise ValidationFailed(
                    "lead_id", "no such lead of this person", value=opportunity.lead_id
                )
        check_references(
            uow,
            account_id=opportunity.account_id,
            project_id=opportunity.project_id,
            unit_id=opportunity.unit_id,
            assigned_user_id=opportunity.assigned_user_id,
        )
        uow.crm.opportunities.add(opportunity)
        record_entry(uow, self.clock, principal, opportunity, None)
        self._audit(
            uow,
            principal,
            CREATE.name,
            target_domain="crm",
            target_ref=opportunity.key,
            after=opportunity,
        )
        return opportunity

    _apply_create = creator(Opportunity, _insert)

    @serves(UPDATE)
    def update(
        self,
        principal: Principal,
        opportunity_id: UUID,
        *,
        expected_version: Version,
        account_id: UUID | Unchanged | None = UNCHANGED,
        project_id: UUID | Unchanged | None = UNCHANGED,
        unit_id: UUID | Unchanged | None = UNCHANGED,
        value: Decimal | Unchanged | None = UNCHANGED,
        currency: str | Unchanged = UNCHANGED,
        probability: Decimal | Unchanged | None = UNCHANGED,
        expected_close_date: date | Unchanged | None = UNCHANGED,
        next_action: str | Unchanged | None = UNCHANGED,
        assigned_user_id: UUID | Unchanged | None = UNCHANGED,
    ) -> Opportunity:
        """Change the details of a deal (not its stage: see :meth:`move_stage`).

        Only the fields named change; ``None`` clears an optional field, and
        an update naming no field is refused. A change of value or of
        assignee is high-risk by default: it is stored for approval and
        ``ApprovalRequired`` is raised.
        """
        named = changes(
            account_id=account_id,
            project_id=project_id,
            unit_id=unit_id,
            value=value,
            currency=currency,
            probability=probability,
            expected_close_date=expected_close_date,
            next_action=next_action,
            assigned_user_id=assigned_user_id,
        )
        return self._governed_update(
            principal, _UPDATE, opportunity_id, expected_version, named, apply=self._apply_update
        )

    def _apply_update(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Opportunity:
        changed = set(change.fields)
        placed = bool(changed & {"project_id", "unit_id"})

        def check(uow: UnitOfWork, _before: Opportunity, wanted: Opportunity) -> None:
            check_references(
                uow,
                account_id=wanted.account_id if "account_id" in changed else None,
                project_id=wanted.project_id if placed else None,
                unit_id=wanted.unit_id if placed else None,
                assigned_user_id=wanted.assigned_user_id if "assigned_user_id" in changed else None,
            )

        return self._write_proposed(uow, principal, change, _UPDATE, check=check)

    @serves(GET)
    def get(self, principal: Principal, opportunity_id: UUID) -> Opportunity:
        """Read one deal; one of a client the principal may not see is ``NotFound``."""
        with self._begin(principal, GET) as uow:
            return self._visible(uow, principal, opportunity_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        stage: OpportunityStage | str | None = None,
        assigned_user_id: UUID | None = None,
        project_id: UUID | None = None,
        person_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Opportunity]:
        """List the deals the principal may see, newest first, by stage/assignee/project/person."""
        where = equal(
            stage=stage,
            assigned_user_id=assigned_user_id,
            project_id=project_id,
            person_id=person_id,
        )
        with self._reading(principal, LIST) as uow:
            where = self._seen_only(uow, principal, where)
            order = (desc("created_at"), desc("opportunity_id"))
            page = uow.crm.opportunities.list(Query(where, order, limit, cursor))
            if person_id is not None and not page.items and cursor is None:
                self._visibility(uow, principal).refuse_merged_id(person_id)
            return page

    @serves(MOVE_STAGE)
    def move_stage(
        self,
        principal: Principal,
        opportunity_id: UUID,
        to_stage: OpportunityStage | str,
        *,
        expected_version: Version,
        reason: str | None = None,
        lost_reason: str | None = None,
    ) -> Opportunity:
        """Move a deal along the pipeline, recording the move in ``crm_stage_history``.

        A move the pipeline lacks raises ``InvalidTransition``; ``lost`` needs
        a ``lost_reason`` (and only ``lost`` takes one); ``won`` and ``lost``
        set ``closed_at``. Moves to ``won`` or ``lost`` are high-risk by
        default: they are stored for approval and ``ApprovalRequired`` is raised.
        """
        target = OpportunityStage(to_stage)
        return self._governed_update(
            principal,
            _MOVE_STAGE,
            opportunity_id,
            expected_version,
            {"stage": target, "lost_reason": lost_reason},
            context={"reason": reason},
            check=lambda _uow, before, _moved: self._check_move(before, target, lost_reason),
            apply=self._apply_move,
        )

    def _check_move(
        self, before: Opportunity, target: OpportunityStage, lost_reason: str | None
    ) -> None:
        if target is OpportunityStage.LOST and lost_reason is None:
            raise ValidationFailed("lost_reason", "is required when a deal is lost")
        if target is not OpportunityStage.LOST and lost_reason is not None:
            raise ValidationFailed("lost_reason", "is given only when a deal is lost")
        self.pipeline.transition(before.stage, target)

    def _apply_move(
        self, uow: UnitOfWork, principal: Principal, change: ProposedChange
    ) -> Opportunity:
        assert change.target_ref is not None
        before = uow.crm.opportunities.get(change.target_ref)
        target = enum_arg(OpportunityStage, change.fields.get("stage"), "stage")
        lost_reason = change.fields.get("lost_reason")
        reason = change.context.get("reason")
        self._check_move(before, target, lost_reason)
        closed_at = None if self.pipeline.is_open(target) else self.clock.now()
        candidate = attrs.evolve(before, stage=target, lost_reason=lost_reason, closed_at=closed_at)
        why = reason if lost_reason is None else lost_reason
        after = self._write_update(
            uow, principal, change, before, candidate, domain="crm", reason=why
        )
        record_entry(uow, self.clock, principal, after, before.stage, reason=reason)
        return after

    @serves(TIME_IN_STAGES)
    def time_in_stages(
        self, principal: Principal, opportunity_id: UUID
    ) -> builtins.list[StageSpan]:
        """Each stay of a deal in a stage, oldest first, from its stage history.

        The current stage has ``left_at`` ``None`` and runs to now, except a
        closed deal's ``won`` or ``lost``, whose duration is zero.
        """
        now = self.clock.now()
        with self._begin(principal, TIME_IN_STAGES) as uow:
            opportunity = self._visible(uow, principal, opportunity_id)
            query = Query(
                (
                    Eq("entity_type", StagedEntity.OPPORTUNITY),
                    Eq("entity_id", opportunity.key),
                ),
                (asc("changed_at"), asc("stage_history_id")),
                MAX_PAGE_SIZE,
            )
            rows = list(uow.crm.stage_history.list(query))
        spans: builtins.list[StageSpan] = []
        for row, following in zip(rows, [*rows[1:], None], strict=True):
            stage = OpportunityStage(row.to_stage)
            left = following.changed_at if following is not None else None
            if left is not None:
                duration = left - row.changed_at
            elif self.pipeline.is_open(stage):
                duration = max(now - row.changed_at, timedelta(0))
            else:
                duration = timedelta(0)
            spans.append(StageSpan(stage, row.changed_at, left, duration))
        return spans
