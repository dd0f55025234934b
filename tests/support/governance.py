"""Test helpers for writes the policy sends to review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.errors import ApprovalRequired


def reviewed(call: Callable[[], Any]) -> UUID:
    """Run ``call``, which must be sent to review, and return the proposal's id."""
    with pytest.raises(ApprovalRequired) as caught:
        call()
    proposal_id = caught.value.proposal_id
    assert isinstance(proposal_id, UUID)
    return proposal_id


def release(velocity: Velocity, approver: Principal, call: Callable[[], Any]) -> Any:
    """Run a write the policy sends to review, approve it as ``approver``, execute it.

    Returns the row the execution wrote.
    """
    proposal_id = reviewed(call)
    velocity.writebacks.approve(approver, proposal_id, comment="checked")
    execution = velocity.writebacks.execute(approver, proposal_id)
    assert execution.applied
    return execution.row
