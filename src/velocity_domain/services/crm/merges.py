"""Merging duplicate people into one survivor (``/api/crm/merges``): preview, propose, undo.

A merge is a high-risk writeback (spec section 9): :meth:`MergeService.propose`
files it for review (by default two approvers, policy rule ``merge``), an
approver approves it through ``velocity.writebacks``, and executing it
(``velocity.writebacks.execute``) applies it exactly once. Its effect:

- the survivor takes, field by field, the winning value (by default the most
  recent non-empty one; ``winners`` names whose value wins a field);
- every row that names a merged person names the survivor instead: leads,
  opportunities, interactions (their detail rows follow them), WhatsApp
  threads, visits, reminders and tasks, relationships, household heads,
  property interests, QD points and scores, unit holds, perception, vehicle
  and CCTV evidence, and the import rows' lineage; audit events keep naming
  what they named;
- a relationship that would relate the survivor to itself, or repeat one,
  is removed; a QD score of a type the survivor already holds stays with
  its merged record;
- each merged person is kept, marked merged into the survivor
  (``merged_into_person_id``), and changes no more: reading it through
  ``velocity.contacts.get`` answers with the survivor, and a write naming it
  is refused with ``MergedRecord``, which names the survivor.

:meth:`~MergeService.preview` shows all of this without writing. The record
of what an executed merge changed is kept (``PersonMerge.changes_json``);
:meth:`~MergeService.undo` proposes restoring it exactly, again as a reviewed
writeback, and refuses with ``UndoBlocked`` naming every later change that
makes an exact undo impossible. A merge through which some user would come
to see a client they could not see before is never approved by the policy
alone, whatever its rules say: it waits for a reviewer.

Conflict safety: executing a merge checks that every person is still at the
version the proposal saw and writes the people first, in id order; two merges
of the same person, or a merge and an update of one of its people, cannot
both succeed: the loser fails with a typed conflict (its writeback
``failed``) and can be proposed again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import register
from velocity_domain.access.principal import Principal
from velocity_domain.crm.entities import MergeStatus, Person, PersonMerge
from velocity_domain.errors import (
    ConcurrencyConflict,
    InvalidTransition,
    NotFound,
    PolicyDenied,
    UndoBlocked,
    ValidationFailed,
)
from velocity_domain.governance import engine
from velocity_domain.governance.change import ProposedChange, plain_values
from velocity_domain.governance.policy import Verdict
from velocity_domain.governance.service import Service, serves
from velocity_domain.kernel.arguments import uuid_arg
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, desc
from velocity_domain.services.crm import merging
from velocity_domain.services.crm.merging import MERGEABLE, FieldChoice, Move, SetAside
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import ChangeKind, PolicyOutcome

__all__ = ["MAX_MERGE", "MergePreview", "MergeService"]

_PERMISSION = "crm.merges.propose"
PREVIEW = register("crm.merges.preview", _PERMISSION, "preview a merge of people")
#: Proposing a merge; the same operation is applied when its writeback executes.
MERGE = register("crm.merges.merge", _PERMISSION, "merge people into a survivor")
UNDO = register("crm.merges.undo", _PERMISSION, "undo a merge of people")
GET = register("crm.merges.get", "crm.contacts.read", "read a merge of people")
LIST = register("crm.merges.list", "crm.contacts.read", "list the merges into a person")

#: The most people one merge takes.
MAX_MERGE = 500


@attrs.frozen
class MergePreview:
    """What a merge would do, worked out from the rows as stored now; nothing is written."""

    survivor_id: UUID
    merged_ids: tuple[UUID, ...]
    #: The survivor as it would be.
    result: Person
    #: Every mergeable field: the value kept, whose it is, and every member's value.
    fields: tuple[FieldChoice, ...]
    #: Every row that would name the survivor instead of a merged person.
    moves: tuple[Move, ...]
    #: Rows removed (a self or repeated relationship) or left with their merged record.
    set_aside: tuple[SetAside, ...]
    #: Users who would come to see the survivor through a merged person's records.
    grants_sight_to: tuple[UUID, ...]

    def moving(self) -> dict[str, int]:
        """How many rows move, by table."""
        counts: dict[str, int] = {}
        for move in self.moves:
            counts[move.table] = counts.get(move.table, 0) + 1
        return counts


def _people_arg(person_ids: object, survivor_id: object) -> tuple[UUID, list[UUID]]:
    """The survivor and the people merged into it, refusing what is not a set of 2+ people."""
    if isinstance(person_ids, str | bytes | Mapping) or not isinstance(person_ids, Iterable):
        raise ValidationFailed("person_ids", "must be a list of person ids")
    ids = list(dict.fromkeys(uuid_arg(p, "person_ids") for p in person_ids))
    if len(ids) < 2:
        raise ValidationFailed("person_ids", "a merge needs at least two different people")
    if len(ids) > MAX_MERGE:
        raise ValidationFailed("person_ids", f"a merge takes at most {MAX_MERGE} people")
    survivor = ids[0] if survivor_id is None else uuid_arg(survivor_id, "survivor_id")
    if survivor not in ids:
        raise ValidationFailed("survivor_id", "must be one of person_ids", value=survivor)
    return survivor, [i for i in ids if i != survivor]


def _winners_arg(winners: object) -> dict[str, UUID]:
    if winners is None:
        return {}
    if not isinstance(winners, Mapping):
        raise ValidationFailed("winners", "must map a field to the person whose value wins")
    return {str(f): uuid_arg(p, "winners") for f, p in winners.items()}


def _reason_arg(reason: object, field: str = "reason") -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed(field, "must say why")
    return reason.strip()


class MergeService(Service):
    """Merges of duplicate people: previewed, proposed, executed once, and undone."""

    # -- preview and proposal ---------------------------------------------------

    def _members(
        self, uow: UnitOfWork, principal: Principal, survivor_id: UUID, merged_ids: Sequence[UUID]
    ) -> tuple[Person, list[Person]]:
        """The people named, each visible to ``principal`` (others alike: "names no person")."""
        seen = self._visibility(uow, principal)
        survivor = seen.referenced(Person, survivor_id, "survivor_id")
        merged = [seen.referenced(Person, key, "person_ids") for key in merged_ids]
        return survivor, merged

    def _plan(
        self,
        uow: UnitOfWork,
        principal: Principal,
        person_ids: object,
        survivor_id: object,
        winners: object,
    ) -> merging.Plan:
        survivor_key, merged_ids = _people_arg(person_ids, survivor_id)
        chosen = _winners_arg(winners)
        survivor, merged = self._members(uow, principal, survivor_key, merged_ids)
        return merging.plan(uow, survivor, merged, chosen)

    @serves(PREVIEW)
    def preview(
        self,
        principal: Principal,
        person_ids: Sequence[UUID],
        *,
        survivor_id: UUID | None = None,
        winners: Mapping[str, UUID] | None = None,
    ) -> MergePreview:
        """Show what merging ``person_ids`` into ``survivor_id`` (default: the first) would do.

        ``winners`` maps a field (one of :data:`~velocity_domain.services.crm.merging.MERGEABLE`)
        to the person whose value it keeps; other fields keep the most recent
        non-empty value. A merged or invisible person is refused.
        """
        with self._reading(principal, PREVIEW) as uow:
            plan = self._plan(uow, principal, person_ids, survivor_id, winners)
        return MergePreview(
            plan.survivor.key,
            tuple(p.key for p in plan.merged),
            plan.result,
            plan.fields,
            plan.moves,
            plan.set_aside,
            plan.grants_sight_to,
        )

    @serves(MERGE)
    def propose(
        self,
        principal: Principal,
        person_ids: Sequence[UUID],
        *,
        survivor_id: UUID | None = None,
        winners: Mapping[str, UUID] | None = None,
        reason: str,
        evidence: Mapping[str, Any] | None = None,
    ) -> PersonMerge:
        """File the merge of ``person_ids`` into ``survivor_id`` for review; return its record.

        The proposal (``PersonMerge.writeback_id``) is approved and executed
        through ``velocity.writebacks``. ``evidence`` (JSON-safe) is kept
        with it, e.g. the duplicate rules that matched.
        """
        why = _reason_arg(reason)
        with self._begin(principal, MERGE) as uow:
            plan = self._plan(uow, principal, person_ids, survivor_id, winners)
            merge = self._file(
                uow, principal, plan, reason=why, evidence=dict(evidence or {}), origin="manual"
            )
            uow.commit()
        return merge

    def _file(
        self,
        uow: UnitOfWork,
        principal: Principal,
        plan: merging.Plan,
        *,
        reason: str | None,
        evidence: dict[str, Any],
        origin: str,
    ) -> PersonMerge:
        """Store the proposal of ``plan`` and its merge record inside ``uow`` (not committed).

        The duplicate scan files its clusters through here, many per unit of work.
        """
        survivor = plan.survivor
        merge_id = new_id()
        change = ProposedChange(
            operation=MERGE.name,
            target_table=Person.table_name,
            change_kind=ChangeKind.MERGE,
            target_ref=survivor.key,
            base_version=survivor.version,
            fields=plain_values({c.field: c.value for c in plan.fields}),
            current=plain_values({c.field: getattr(survivor, c.field) for c in plan.fields}),
            context={
                "merge_id": str(merge_id),
                "merged": {str(p.key): p.version for p in plan.merged},
                "winners": {c.field: str(c.person_id) for c in plan.fields},
                "grants_sight_to": [str(u) for u in plan.grants_sight_to],
                "reason": reason,
            },
        )
        verdict = self.governance.verdict(change, principal)
        if verdict.outcome is PolicyOutcome.AUTO_APPROVE and plan.grants_sight_to:
            verdict = Verdict(
                PolicyOutcome.REVIEW_REQUIRED,
                verdict.risk,
                "merge_grants_sight",
                "the merge would show the client to users who cannot see them now",
                max(1, verdict.required_approvals),
            )
        if verdict.outcome is PolicyOutcome.DENY:
            raise PolicyDenied(verdict.rule, verdict.reason)
        draft = engine.store(uow, self.clock, principal, change, proposal_ref=f"merge:{merge_id}")
        proposal = engine.classify(uow, self.clock, principal, draft, verdict)
        now = self.clock.now()
        merge = PersonMerge(
            merge_id=merge_id,
            survivor_person_id=survivor.key,
            merged_person_ids=tuple(str(p.key) for p in plan.merged),
            cluster_key=PersonMerge.cluster_of([survivor.key, *(p.key for p in plan.merged)]),
            writeback_id=proposal.key,
            origin=origin,
            evidence_json=evidence,
            proposed_by_user_id=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        self._add_audited(uow, principal, "crm.merges.propose", merge, domain="crm", reason=reason)
        return merge

    def _apply_merge(self, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> Person:
        """Execute an approved merge (the applier of ``crm.merges.merge``)."""
        merge = self._record(uow, change)
        if merge.status is not MergeStatus.PROPOSED:
            raise InvalidTransition("person_merge", merge.status.value, "executed", ("proposed",))
        assert change.target_ref is not None
        assert change.base_version is not None
        survivor = uow.crm.people.get(change.target_ref)
        if survivor.version != change.base_version:
            raise ConcurrencyConflict(
                Person.table_name, survivor.key, change.base_version, survivor.version
            )
        expected = {UUID(k): int(v) for k, v in change.context["merged"].items()}
        found = uow.crm.people.get_many(expected)
        merged: list[Person] = []
        for key, version in expected.items():
            person = found.get(key)
            if person is None:
                raise NotFound(Person.table_name, key)
            if person.version != version:
                raise ConcurrencyConflict(Person.table_name, key, version, person.version)
            merged.append(person)
        winners = {f: UUID(p) for f, p in change.context["winners"].items() if f in MERGEABLE}
        plan = merging.plan(uow, survivor, merged, winners)
        approved = set(change.context.get("grants_sight_to", []))
        newly = [str(u) for u in plan.grants_sight_to if str(u) not in approved]
        if newly:
            raise PolicyDenied(
                "merge_grants_sight",
                f"since the proposal the merge would also show the client to {', '.join(newly)}",
            )
        now = self.clock.now()
        written, record = merging.execute(uow, plan, now)
        done = attrs.evolve(
            merge, status=MergeStatus.EXECUTED, executed_at=now, changes_json=record
        )
        uow.mutable(PersonMerge).update(done, expected_version=merge.version)
        details = {
            "merge_id": str(merge.key),
            "merged": [str(p.key) for p in merged],
            "moved": len(plan.moves),
            "set_aside": len(plan.set_aside),
        }
        self._audit(
            uow,
            principal,
            MERGE.name,
            target_domain="crm",
            target_ref=written.key,
            before=survivor,
            after=written,
            reason=change.context.get("reason"),
            details=details,
        )
        return written

    # -- undo -------------------------------------------------------------------

    @serves(UNDO)
    def undo(self, principal: Principal, merge_id: UUID, *, reason: str) -> PersonMerge:
        """Propose undoing an executed merge; it is applied once approved and executed.

        Refused at once with ``UndoBlocked`` when later changes (the
        survivor's merged fields edited, a moved row moved again, a removed
        relationship made again) make an exact undo impossible; the same
        check runs again when the undo is executed.
        """
        why = _reason_arg(reason)
        with self._begin(principal, UNDO) as uow:
            merge = self._visible(uow, principal, merge_id)
            if merge.status is not MergeStatus.EXECUTED:
                raise InvalidTransition("person_merge", merge.status.value, "undone", ("executed",))
            found, survivor, _ = merging.blockers(uow, merge)
            if found:
                raise UndoBlocked(f"merge {merge.key}", found)
            change = ProposedChange(
                operation=UNDO.name,
                target_table=Person.table_name,
                change_kind=ChangeKind.MERGE,
                target_ref=survivor.key,
                base_version=survivor.version,
                context={"merge_id": str(merge.key), "reason": why, "undo": True},
            )
            verdict = self.governance.verdict(change, principal)
            if verdict.outcome is PolicyOutcome.DENY:
                raise PolicyDenied(verdict.rule, verdict.reason)
            draft = engine.store(
                uow, self.clock, principal, change, proposal_ref=f"merge:{merge.key}:undo"
            )
            proposal = engine.classify(uow, self.clock, principal, draft, verdict)
            after = attrs.evolve(merge, undo_writeback_id=proposal.key)
            merge = self._update_audited(
                uow, principal, UNDO.name, merge, after, domain="crm", reason=why
            )
            uow.commit()
        return merge

    def _apply_undo(self, uow: UnitOfWork, principal: Principal, change: ProposedChange) -> Person:
        """Undo an executed merge exactly (the applier of ``crm.merges.undo``)."""
        merge = self._record(uow, change)
        if merge.status is not MergeStatus.EXECUTED:
            raise InvalidTransition("person_merge", merge.status.value, "undone", ("executed",))
        found, survivor, merged = merging.blockers(uow, merge)
        if found:
            raise UndoBlocked(f"merge {merge.key}", found)
        written = merging.restore(uow, merge, survivor, merged)
        now = self.clock.now()
        done = attrs.evolve(merge, status=MergeStatus.UNDONE, undone_at=now)
        uow.mutable(PersonMerge).update(done, expected_version=merge.version)
        self._audit(
            uow,
            principal,
            "crm.merges.undone",
            target_domain="crm",
            target_ref=written.key,
            before=survivor,
            after=written,
            reason=change.context.get("reason"),
            details={"merge_id": str(merge.key), "restored": list(merge.merged_person_ids)},
        )
        return written

    # -- reads ------------------------------------------------------------------

    @serves(GET)
    def get(self, principal: Principal, merge_id: UUID) -> PersonMerge:
        """Read one merge (proposed, executed or undone) whose survivor the principal sees."""
        with self._reading(principal, GET) as uow:
            return self._visible(uow, principal, merge_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        person_id: UUID,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[PersonMerge]:
        """The merges into ``person_id`` (its lineage: who was merged into it), newest first."""
        with self._reading(principal, LIST) as uow:
            self._visibility(uow, principal).get(Person, person_id, "person_id")
            where = (Eq("survivor_person_id", person_id),)
            query = Query(where, (desc("created_at"), desc("merge_id")), limit, cursor)
            return uow.table(PersonMerge).list(query)

    # -- helpers ----------------------------------------------------------------

    def _visible(self, uow: UnitOfWork, principal: Principal, merge_id: UUID) -> PersonMerge:
        merge = uow.table(PersonMerge).find(uuid_arg(merge_id, "merge_id"))
        if merge is None or not self._visibility(uow, principal).can_see(merge.survivor_person_id):
            raise NotFound(PersonMerge.table_name, merge_id)
        return merge

    @staticmethod
    def _record(uow: UnitOfWork, change: ProposedChange) -> PersonMerge:
        key = change.context.get("merge_id")
        merge = None if key is None else uow.table(PersonMerge).find(UUID(str(key)))
        if merge is None:
            raise ValidationFailed(
                "change_kind", "a merge is proposed with velocity.merges.propose", value="merge"
            )
        return merge
