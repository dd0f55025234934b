"""Time-ordered UUIDv7 identifiers and the typed id of each canonical entity.

Ids made by :func:`new_id` sort by creation time, so primary-key indexes stay
append-mostly and keyset pagination by id follows insertion order. Within one
process every id is strictly greater than the one before, even for many ids in
the same millisecond or when the wall clock steps back.

>>> a, b = new_id(), new_id()
>>> a < b and a.version == 7
True
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from typing import NewType

__all__ = [
    "AccountId",
    "AgentRunId",
    "ApprovalId",
    "AuditEventId",
    "AvailabilityId",
    "BlobId",
    "BranchId",
    "CallId",
    "CallRecordingId",
    "CctvLinkId",
    "ComponentChapterId",
    "ComponentExampleId",
    "ComponentFamilyId",
    "ComponentLineageId",
    "ComponentTagId",
    "ComponentTemplateId",
    "EmailId",
    "HouseholdId",
    "ImportBatchId",
    "ImportJobId",
    "ImportRowId",
    "InteractionId",
    "LeadId",
    "LocationIndexId",
    "MediaId",
    "MessageId",
    "OpportunityId",
    "PerceptionEventId",
    "PermissionId",
    "PersonId",
    "PolicyDecisionId",
    "PricingHistoryId",
    "ProjectId",
    "PropertyInterestId",
    "QdScoreId",
    "QdTimeseriesId",
    "RelationshipId",
    "ReminderId",
    "RoleAssignmentId",
    "RoleId",
    "SessionId",
    "StageHistoryId",
    "TranscriptId",
    "UnitId",
    "UserId",
    "VehicleEventId",
    "VisitId",
    "WhatsappThreadId",
    "WorkflowActionId",
    "WritebackId",
    "new_id",
    "uuid7_time_ms",
]

_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_TAIL_BITS = 74  # 12 bits of rand_a + 62 bits of rand_b
_MAX_STEP = 1 << 32


class _Uuid7Source:
    """Monotonic UUIDv7 source (RFC 9562 section 6.2, method 2: a random-step counter).

    The 74 bits after the millisecond timestamp act as a counter that grows by
    a random step inside a millisecond; on overflow the timestamp borrows one
    millisecond from the future, so order is never broken.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_tail = 0

    def next(self) -> uuid.UUID:
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            if now_ms > self._last_ms:
                ms = now_ms
                # Start in the lower half so the counter has room to grow.
                tail = secrets.randbits(_TAIL_BITS - 1)
            else:
                ms = self._last_ms
                tail = self._last_tail + 1 + secrets.randbelow(_MAX_STEP)
                if tail >> _TAIL_BITS:
                    ms += 1
                    tail = secrets.randbits(_TAIL_BITS - 1)
            self._last_ms, self._last_tail = ms, tail
        rand_a = tail >> 62
        rand_b = tail & ((1 << 62) - 1)
        return uuid.UUID(int=(ms << 80) | _VERSION_AND_VARIANT | (rand_a << 64) | rand_b)


_SOURCE = _Uuid7Source()


def new_id() -> uuid.UUID:
    """Return a new UUIDv7, strictly greater than every id this process made before."""
    return _SOURCE.next()


def uuid7_time_ms(value: uuid.UUID) -> int:
    """Return the Unix time in milliseconds embedded in a UUIDv7.

    >>> u = new_id()
    >>> abs(uuid7_time_ms(u) - time.time() * 1000) < 60_000
    True
    """
    if value.version != 7:
        raise ValueError(f"{value} is a version {value.version} UUID, not version 7")
    return value.int >> 80


# CRM core
PersonId = NewType("PersonId", uuid.UUID)
AccountId = NewType("AccountId", uuid.UUID)
HouseholdId = NewType("HouseholdId", uuid.UUID)
RelationshipId = NewType("RelationshipId", uuid.UUID)
LeadId = NewType("LeadId", uuid.UUID)
OpportunityId = NewType("OpportunityId", uuid.UUID)
PropertyInterestId = NewType("PropertyInterestId", uuid.UUID)
StageHistoryId = NewType("StageHistoryId", uuid.UUID)
ImportBatchId = NewType("ImportBatchId", uuid.UUID)
ImportRowId = NewType("ImportRowId", uuid.UUID)
# interaction and evidence graph
InteractionId = NewType("InteractionId", uuid.UUID)
MessageId = NewType("MessageId", uuid.UUID)
CallId = NewType("CallId", uuid.UUID)
CallRecordingId = NewType("CallRecordingId", uuid.UUID)
TranscriptId = NewType("TranscriptId", uuid.UUID)
EmailId = NewType("EmailId", uuid.UUID)
WhatsappThreadId = NewType("WhatsappThreadId", uuid.UUID)
VisitId = NewType("VisitId", uuid.UUID)
ReminderId = NewType("ReminderId", uuid.UUID)
QdScoreId = NewType("QdScoreId", uuid.UUID)
QdTimeseriesId = NewType("QdTimeseriesId", uuid.UUID)
VehicleEventId = NewType("VehicleEventId", uuid.UUID)
PerceptionEventId = NewType("PerceptionEventId", uuid.UUID)
CctvLinkId = NewType("CctvLinkId", uuid.UUID)
BlobId = NewType("BlobId", uuid.UUID)
# inventory
ProjectId = NewType("ProjectId", uuid.UUID)
UnitId = NewType("UnitId", uuid.UUID)
PricingHistoryId = NewType("PricingHistoryId", uuid.UUID)
AvailabilityId = NewType("AvailabilityId", uuid.UUID)
MediaId = NewType("MediaId", uuid.UUID)
LocationIndexId = NewType("LocationIndexId", uuid.UUID)
ImportJobId = NewType("ImportJobId", uuid.UUID)
# Oracle component/template
ComponentFamilyId = NewType("ComponentFamilyId", uuid.UUID)
ComponentChapterId = NewType("ComponentChapterId", uuid.UUID)
ComponentTemplateId = NewType("ComponentTemplateId", uuid.UUID)
ComponentExampleId = NewType("ComponentExampleId", uuid.UUID)
ComponentTagId = NewType("ComponentTagId", uuid.UUID)
ComponentLineageId = NewType("ComponentLineageId", uuid.UUID)
# identity and access
UserId = NewType("UserId", uuid.UUID)
RoleId = NewType("RoleId", uuid.UUID)
PermissionId = NewType("PermissionId", uuid.UUID)
RoleAssignmentId = NewType("RoleAssignmentId", uuid.UUID)
SessionId = NewType("SessionId", uuid.UUID)
AuditEventId = NewType("AuditEventId", uuid.UUID)
# AI workflow and governance
WorkflowActionId = NewType("WorkflowActionId", uuid.UUID)
BranchId = NewType("BranchId", uuid.UUID)
ApprovalId = NewType("ApprovalId", uuid.UUID)
WritebackId = NewType("WritebackId", uuid.UUID)
AgentRunId = NewType("AgentRunId", uuid.UUID)
PolicyDecisionId = NewType("PolicyDecisionId", uuid.UUID)
