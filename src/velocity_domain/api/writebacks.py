"""``/api/workflow/writebacks``: proposals for review, approval and execution (domain: workflow).

A write the policy holds (a deal marked won, a merge, an agent's change)
answers 202 with ``Location`` here. The routes serve ``velocity.writebacks``:
list proposals, an operator's inbox, one proposal with its policy decisions
and approvals, and the three moves of the release flow: approve, reject and
execute (exactly once). A caller who sees only their own clients sees only
their own proposals; any other is 404. The four-eyes rules answer 403
``approval_refused``; a move the writeback's state does not allow (approving
an approved proposal, executing one under review) is 409
``invalid_transition``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Family, Param, Route, page_params
from velocity_domain.errors import (
    ApprovalRefused,
    InvalidTransition,
    NotFound,
    SerializationFailure,
    WritebackFailed,
)
from velocity_domain.governance.inbox import InboxItem
from velocity_domain.governance.writebacks import WritebackReview
from velocity_domain.workflow.entities import Writeback, WritebackStatus

__all__ = ["FAMILY", "ApprovalNote", "Rejection", "WritebackExecution"]

PREFIX = "/api/workflow/writebacks"


@attrs.frozen
class ApprovalNote:
    """An approval, with an optional comment for the audit trail (send ``{}`` for none)."""

    comment: str | None = None


@attrs.frozen
class Rejection:
    """A rejection: ``comment`` says why (required)."""

    comment: str


@attrs.frozen
class WritebackExecution:
    """What executing a writeback did.

    ``applied`` is ``true`` for the one call that applied the change and
    ``false`` for every later call, which finds it already executed. The
    row written is named by the writeback's ``target_entity_ref`` (and its
    ``executed_result_json``); read it through its own route.
    """

    writeback: Writeback
    applied: bool


def _list(call: Call) -> Any:
    return call.velocity.writebacks.list(
        call.principal,
        **call.query(
            "status", "target_table", "agent_run_id", "proposer_user_id", "limit", "cursor"
        ),
    )


def _inbox(call: Call) -> Any:
    return call.velocity.writebacks.inbox(
        call.principal, **call.query("operator_id", "limit", "cursor")
    )


def _get(call: Call) -> WritebackReview:
    return call.velocity.writebacks.get(call.principal, call["writeback_id"])


def _approve(call: Call) -> Writeback:
    return call.velocity.writebacks.approve(
        call.principal, call["writeback_id"], comment=call.body.comment
    )


def _reject(call: Call) -> Writeback:
    return call.velocity.writebacks.reject(
        call.principal, call["writeback_id"], comment=call.body.comment
    )


def _execute(call: Call) -> WritebackExecution:
    done = call.velocity.writebacks.execute(call.principal, call["writeback_id"])
    return WritebackExecution(done.writeback, done.applied)


_ID = Param("writeback_id", UUID, where="path", description="the proposal's writeback_id")

FAMILY = Family(
    name="workflow.writebacks",
    domain="workflow",
    prefix=PREFIX,
    summary="Writebacks: proposed changes, the operator's inbox, approval and execution.",
    routes=(
        Route(
            "GET",
            "",
            "workflow.writebacks.list",
            "List proposals, newest first (only one's own without crm.contacts.read_all).",
            _list,
            params=(
                Param("status", WritebackStatus | None),
                Param("target_table", str | None, description="e.g. crm_opportunities"),
                Param("agent_run_id", UUID | None),
                Param("proposer_user_id", UUID | None),
                *page_params(),
            ),
            returns=Writeback,
            many=True,
        ),
        Route(
            "GET",
            "/inbox",
            "workflow.writebacks.inbox",
            "An operator's inbox, oldest first: proposals under review and reminders due.",
            _inbox,
            params=(
                Param(
                    "operator_id",
                    UUID | None,
                    description="another operator's inbox (needs crm.contacts.read_all)",
                ),
                *page_params(),
            ),
            returns=InboxItem,
            many=True,
            errors=(NotFound,),
        ),
        Route(
            "GET",
            "/{writeback_id}",
            "workflow.writebacks.get",
            "Read a proposal with its policy decisions and approvals.",
            _get,
            params=(_ID,),
            returns=WritebackReview,
        ),
        Route(
            "POST",
            "/{writeback_id}/approve",
            "workflow.writebacks.approve",
            "Approve a proposal under review (never one's own; agents never decide).",
            _approve,
            params=(_ID,),
            body=ApprovalNote,
            returns=Writeback,
            errors=(ApprovalRefused, InvalidTransition),
        ),
        Route(
            "POST",
            "/{writeback_id}/reject",
            "workflow.writebacks.reject",
            "Reject a proposal under review, or withdraw an approved one, saying why.",
            _reject,
            params=(_ID,),
            body=Rejection,
            returns=Writeback,
            errors=(ApprovalRefused, InvalidTransition),
        ),
        Route(
            "POST",
            "/{writeback_id}/execute",
            "workflow.writebacks.execute",
            "Apply an approved proposal exactly once (a later call answers applied: false).",
            _execute,
            params=(_ID,),
            returns=WritebackExecution,
            errors=(InvalidTransition, WritebackFailed, SerializationFailure),
        ),
    ),
)
