"""The summary list's model and store port: what a line is, how pages are asked for.

The types a store needs to answer pages of the client summary list
(:mod:`velocity_domain.client_graph.summaries`) in its own way: the line
(:class:`ClientSummary`), the filter, the sorts, the QD bands, and the
extension port :class:`SummaryPages`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

import attrs

from velocity_domain.crm.entities import OpportunityStage
from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.entities import Channel
from velocity_domain.kernel.pagination import CursorValue

__all__ = [
    "EVERYONE",
    "NO_ACTIVITY",
    "NO_SCORE",
    "ClientSummary",
    "QdBand",
    "SummaryFilter",
    "SummaryPages",
    "SummarySort",
]

#: The slice of a principal who sees every client (a user id no user has).
EVERYONE = UUID(int=0)
#: The sort key of a client with no interaction: before any real time.
NO_ACTIVITY = datetime(1, 1, 1, tzinfo=UTC)
#: The sort key of a client with no QD score: below the lowest score.
NO_SCORE = Decimal(-1)


class QdBand(enum.StrEnum):
    """A band of the ``overall`` QD score (0 to 100), for filtering the summary list."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    #: No ``overall`` score yet.
    UNSCORED = "unscored"

    @property
    def bounds(self) -> tuple[Decimal, Decimal]:
        """The scores in this band: from the first value (inclusive) to the second (exclusive).

        >>> QdBand.WARM.bounds
        (Decimal('40'), Decimal('70'))
        """
        return _BANDS[self]

    @classmethod
    def of(cls, score: Decimal | None) -> QdBand:
        """The band ``score`` falls in (``None``: unscored).

        >>> QdBand.of(Decimal("70")), QdBand.of(Decimal("39.99")), QdBand.of(None)
        (<QdBand.HOT: 'hot'>, <QdBand.COLD: 'cold'>, <QdBand.UNSCORED: 'unscored'>)
        """
        key = NO_SCORE if score is None else score
        return next(band for band, (low, high) in _BANDS.items() if low <= key < high)


_BANDS = {
    QdBand.HOT: (Decimal(70), Decimal(1000)),
    QdBand.WARM: (Decimal(40), Decimal(70)),
    QdBand.COLD: (Decimal(0), Decimal(40)),
    QdBand.UNSCORED: (NO_SCORE, Decimal(0)),
}


class SummarySort(enum.StrEnum):
    """The orders of the summary list."""

    #: Latest activity first; clients with none last.
    LAST_ACTIVITY = "last_activity"
    #: Highest ``overall`` QD score first; unscored clients last.
    QD = "qd"
    #: By normalised name, by code point.
    NAME = "name"

    @property
    def descending(self) -> bool:
        """Whether the listing runs from the highest key down (all but the name sort)."""
        return self is not SummarySort.NAME


@attrs.frozen
class ClientSummary:
    """One client's line in the summary list."""

    person_id: UUID
    full_name: str
    #: The contact's owner.
    assigned_user_id: UUID | None
    #: When the latest interaction happened, and on which channel (``None``: none yet).
    last_activity_at: datetime | None
    last_channel: Channel | None
    #: Deals not won or lost, and their value by currency.
    open_deals: int | None
    pipeline_value: dict[str, Decimal] | None
    #: The ``overall`` QD score and its band.
    qd: Decimal | None
    qd_band: QdBand | None
    #: The parts left empty (``None``) because the principal lacks their read permission.
    omitted: tuple[str, ...] = ()

    def without(self, parts: Iterable[str]) -> ClientSummary:
        """This summary with ``parts`` (``activity``, ``deals``, ``qd``) emptied and named."""
        gone = tuple(parts)
        if not gone:
            return self
        blank: dict[str, object] = {"omitted": gone}
        for part in gone:
            blank.update(dict.fromkeys(_PART_FIELDS[part]))
        return attrs.evolve(self, **blank)  # type: ignore[arg-type]


#: The fields of each part of a summary.
_PART_FIELDS = {
    "activity": ("last_activity_at", "last_channel"),
    "deals": ("open_deals", "pipeline_value"),
    "qd": ("qd", "qd_band"),
}


@attrs.frozen
class SummaryFilter:
    """What a summary page keeps; every part given must hold."""

    #: Keep the clients in this user's slice (owned, or with a lead or deal assigned).
    assigned_user_id: UUID | None = None
    #: Keep the clients with a deal in this stage.
    stage: OpportunityStage | None = None
    #: Keep the clients with an active interest naming this project.
    project_id: UUID | None = None
    #: Keep the clients whose latest activity is at or after ``active_from``, before ``active_to``
    #: (either bound leaves out the clients with no activity).
    active_from: datetime | None = None
    active_to: datetime | None = None
    qd_band: QdBand | None = None

    def __attrs_post_init__(self) -> None:
        low, high = self.active_from, self.active_to
        if low is not None and high is not None and low >= high:
            raise ValidationFailed("active_to", "must be later than active_from")

    @property
    def scope(self) -> str:
        """The filter as text, for the scope a page's cursor is signed for."""
        parts = (
            self.assigned_user_id,
            self.stage,
            self.project_id,
            None if self.active_from is None else self.active_from.astimezone(UTC).isoformat(),
            None if self.active_to is None else self.active_to.astimezone(UTC).isoformat(),
            self.qd_band,
        )
        return "|".join("" if p is None else str(p) for p in parts)


class SummaryPages(Protocol):
    """A store's way of reading pages of the summary list (an extension port)."""

    def page(
        self,
        viewer: UUID,
        where: SummaryFilter,
        sort: SummarySort,
        after: tuple[CursorValue, UUID] | None,
        limit: int,
    ) -> Sequence[tuple[ClientSummary, tuple[CursorValue, UUID]]]:
        """Up to ``limit`` lines of ``viewer``'s slice passing ``where``, after ``after``.

        Each line comes with its sort key (for the next cursor). ``viewer`` is
        :data:`EVERYONE` for a principal who sees every client.
        """
        ...
