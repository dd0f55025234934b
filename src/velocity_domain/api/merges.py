"""``/api/crm/merges``: merging duplicate people into a survivor (domain: crm).

The routes serve ``velocity.merges``. ``POST /preview`` shows what a merge
would do without writing; ``POST`` files it as a proposal (a high-risk
writeback, by default for two approvers) and answers 201 with the merge
record, whose ``writeback_id`` is followed under ``/api/workflow/writebacks``
to approve and execute it. ``GET`` reads one merge or a person's merges
(who was merged into them); ``POST /{merge_id}/undo`` proposes undoing an
executed merge, again as a reviewed writeback (``undo_writeback_id``).
A merge is seen by whoever sees its survivor; any other is 404.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import REQUIRED, Call, Created, Family, Param, Route, page_params
from velocity_domain.crm.entities import PersonMerge
from velocity_domain.errors import (
    InvalidTransition,
    MergedRecord,
    NotFound,
    PolicyDenied,
    UndoBlocked,
)
from velocity_domain.services.crm.merges import MergePreview

__all__ = ["FAMILY", "MergeDraft", "MergeQuestion", "UndoRequest"]

PREFIX = "/api/crm/merges"


@attrs.frozen
class MergeQuestion:
    """The people to merge: ``survivor_id`` (default: the first of ``person_ids``) keeps.

    ``winners`` maps a field (``primary_email``, ``full_name``, ...) to the
    person whose value it keeps; other fields keep the most recent
    non-empty value.
    """

    person_ids: tuple[UUID, ...]
    survivor_id: UUID | None = None
    winners: dict[str, UUID] | None = None


@attrs.frozen
class MergeDraft:
    """A merge to file for review: the people, the survivor, the winners, and why.

    ``evidence`` (any JSON object) is kept with the proposal, e.g. the
    duplicate rules that matched.
    """

    person_ids: tuple[UUID, ...]
    reason: str
    survivor_id: UUID | None = None
    winners: dict[str, UUID] | None = None
    evidence: dict[str, Any] | None = None


@attrs.frozen
class UndoRequest:
    """Why an executed merge should be undone (required)."""

    reason: str


def _preview(call: Call) -> MergePreview:
    body: MergeQuestion = call.body
    return call.velocity.merges.preview(
        call.principal, body.person_ids, survivor_id=body.survivor_id, winners=body.winners
    )


def _propose(call: Call) -> Created:
    body: MergeDraft = call.body
    merge = call.velocity.merges.propose(
        call.principal,
        body.person_ids,
        survivor_id=body.survivor_id,
        winners=body.winners,
        reason=body.reason,
        evidence=body.evidence,
    )
    return Created(merge, f"{PREFIX}/{merge.merge_id}")


def _get(call: Call) -> PersonMerge:
    return call.velocity.merges.get(call.principal, call["merge_id"])


def _list(call: Call) -> Any:
    return call.velocity.merges.list(
        call.principal, call["person_id"], **call.query("limit", "cursor")
    )


def _undo(call: Call) -> PersonMerge:
    return call.velocity.merges.undo(call.principal, call["merge_id"], reason=call.body.reason)


_ID = Param("merge_id", UUID, where="path", description="the merge's merge_id")

FAMILY = Family(
    name="crm.merges",
    domain="crm",
    prefix=PREFIX,
    summary="Merges: duplicate people previewed, proposed for review, read and undone.",
    routes=(
        Route(
            "GET",
            "",
            "crm.merges.list",
            "List the merges into a person (who was merged into them), newest first.",
            _list,
            params=(
                Param(
                    "person_id",
                    UUID,
                    default=REQUIRED,
                    description="the survivor whose merges to list",
                ),
                *page_params(),
            ),
            returns=PersonMerge,
            many=True,
            errors=(NotFound,),
        ),
        Route(
            "POST",
            "",
            "crm.merges.merge",
            "Propose merging people into a survivor; approve and execute it as a writeback.",
            _propose,
            body=MergeDraft,
            returns=PersonMerge,
            status=201,
            errors=(MergedRecord, PolicyDenied),
        ),
        Route(
            "POST",
            "/preview",
            "crm.merges.preview",
            "Show what merging people would do, without writing anything.",
            _preview,
            body=MergeQuestion,
            returns=MergePreview,
            errors=(MergedRecord,),
        ),
        Route(
            "GET",
            "/{merge_id}",
            "crm.merges.get",
            "Read one merge: proposed, executed or undone.",
            _get,
            params=(_ID,),
            returns=PersonMerge,
        ),
        Route(
            "POST",
            "/{merge_id}/undo",
            "crm.merges.undo",
            "Propose undoing an executed merge (refused when later changes block it).",
            _undo,
            params=(_ID,),
            body=UndoRequest,
            returns=PersonMerge,
            errors=(InvalidTransition, UndoBlocked, PolicyDenied),
        ),
    ),
)
