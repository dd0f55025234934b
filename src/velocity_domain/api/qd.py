"""``/api/crm/qd/{client_id}``: a client's QD summary and timeline, and new signal points.

The family is owned by the intel domain (QD scores and their time series
are intel tables). ``GET`` serves ``velocity.qd.qd``: per score type the
current and previous value, the 7- and 30-day changes, the trend, the
evidence and, when ``series`` asks, the points or their daily or weekly
buckets. ``POST .../points`` serves ``velocity.qd.record_point``: one point,
and the client's summary of that score type recomputed in the same write.
A client the caller may not see is 404; a merged one is 409 naming the
survivor.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import attrs

from velocity_domain.api.routing import Call, Created, Family, Param, Route
from velocity_domain.errors import MergedRecord
from velocity_domain.intel.entities import QdScoreType, SignalSource
from velocity_domain.intel.qd import QdSeries
from velocity_domain.services.intel.qd import QdRecorded, QdView

__all__ = ["FAMILY", "QdPointDraft"]

PREFIX = "/api/crm/qd"


@attrs.frozen
class QdPointDraft:
    """A QD signal point: its score type, what it comes from, and its value (0 to 100).

    ``value`` is a number or a decimal string. ``timestamp`` (default: now)
    may not be in the future; ``interaction_id`` names an interaction of the
    same client; ``evidence_ref`` points at the evidence.
    """

    score_type: QdScoreType
    signal_source: SignalSource
    value: Decimal
    timestamp: datetime | None = None
    interaction_id: UUID | None = None
    evidence_ref: str | None = None


def _read(call: Call) -> QdView:
    return call.velocity.qd.qd(call.principal, call["client_id"], **call.query("series", "since"))


def _record(call: Call) -> Created:
    client_id = call["client_id"]
    recorded: QdRecorded = call.velocity.qd.record_point(
        call.principal, client_id, **call.arguments()
    )
    return Created(recorded, f"{PREFIX}/{client_id}")


_ID = Param("client_id", UUID, where="path", description="the client's person_id")

FAMILY = Family(
    name="crm.qd",
    domain="intel",
    prefix=PREFIX,
    summary="QD: a client's qualification scores, their history, and new signal points.",
    routes=(
        Route(
            "GET",
            "/{client_id}",
            "crm.qd.read",
            "Read a client's QD: per score type the value, changes, trend and series.",
            _read,
            params=(
                _ID,
                Param(
                    "series",
                    QdSeries | None,
                    description="add the points (raw) or their day or week buckets",
                ),
                Param("since", datetime | None, description="the series from this time on"),
            ),
            returns=QdView,
            errors=(MergedRecord,),
        ),
        Route(
            "POST",
            "/{client_id}/points",
            "crm.qd.record",
            "Record a QD signal point of a client and update their summary of its score type.",
            _record,
            params=(_ID,),
            body=QdPointDraft,
            returns=QdRecorded,
            status=201,
            errors=(MergedRecord,),
        ),
    ),
)
