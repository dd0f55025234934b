"""The operator inbox query (spec section 11): proposals to review and reminders due.

Two sources, each paged by the store's own keyset cursor, are merged by time,
oldest first; the inbox cursor carries where each source stands, so pages
neither repeat nor skip an item while the sources change underneath.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import attrs

from velocity_domain.errors import InvalidCursor, ValidationFailed
from velocity_domain.intel.entities import Reminder, ReminderStatus
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, Query, Range, asc
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import RiskLevel, Writeback, WritebackStatus

__all__ = ["InboxItem", "InboxKind", "operator_inbox"]


class InboxKind(enum.StrEnum):
    """What an inbox item asks of the operator."""

    PROPOSAL = "proposal"
    REMINDER = "reminder"


@attrs.frozen
class InboxItem:
    """One thing waiting for an operator: a proposal to review or a reminder that is due.

    ``since`` is when a proposal was made or when a reminder fell due; the
    inbox is ordered by it, oldest first. ``own`` marks a proposal the
    operator made themself, which someone else has to approve.
    """

    kind: InboxKind
    since: datetime
    item_id: UUID
    title: str
    risk: RiskLevel | None = None
    own: bool = False
    writeback: Writeback | None = None
    reminder: Reminder | None = None

    def sort_key(self) -> tuple[datetime, str, str]:
        """Oldest first; a proposal before a reminder of the same instant."""
        return (self.since, self.kind.value, str(self.item_id))


def operator_inbox(
    uow: UnitOfWork,
    operator_id: UUID | None,
    now: datetime,
    *,
    limit: int,
    cursor: str | None,
) -> Page[InboxItem]:
    """One page of the inbox of the user ``operator_id`` as of ``now``, read in ``uow``.

    Later pages keep the first page's ``now``, so a reminder falling due or
    a proposal made while the operator pages does not shift the listing.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed("limit", f"must be an integer between 1 and {MAX_PAGE_SIZE}")
    state = _InboxCursor.decode(cursor, now)
    sources: dict[str, Callable[[str | None, int], Page[InboxItem]]] = {
        "p": lambda at, n: _proposals(uow, operator_id, state.now, at, n),
        "r": lambda at, n: _reminders(uow, operator_id, state.now, at, n),
    }
    pages = {
        name: fetch(state.at[name], limit)
        for name, fetch in sources.items()
        if not state.done[name]
    }
    merged = sorted(
        ((item, name) for name, page in pages.items() for item in page.items),
        key=lambda pair: pair[0].sort_key(),
    )[:limit]
    for name, page in pages.items():
        used = sum(1 for _, source in merged if source == name)
        if used == len(page.items):
            state.at[name] = page.next_cursor
            state.done[name] = page.next_cursor is None
        elif used:
            # Part of this page was shown: continue right after the last item shown.
            state.at[name] = sources[name](state.at[name], used).next_cursor
    more = not all(state.done.values())
    return Page(tuple(item for item, _ in merged), state.encode() if more else None)


def _proposals(
    uow: UnitOfWork, user_id: UUID | None, now: datetime, at: str | None, limit: int
) -> Page[InboxItem]:
    where = (Eq("status", WritebackStatus.REVIEW_REQUIRED), Range("created_at", lte=now))
    order = (asc("created_at"), asc("writeback_id"))
    page = uow.workflow.writebacks.list(Query(where, order, limit, at))
    items = [
        InboxItem(
            InboxKind.PROPOSAL,
            w.created_at,
            w.key,
            f"{w.change_kind.value} {w.target_table}",
            risk=w.risk_level,
            own=user_id is not None and w.proposer_user_id == user_id,
            writeback=w,
        )
        for w in page.items
    ]
    return Page(tuple(items), page.next_cursor)


def _reminders(
    uow: UnitOfWork, user_id: UUID | None, now: datetime, at: str | None, limit: int
) -> Page[InboxItem]:
    where = (
        Eq("assigned_user_id", user_id),
        Eq("status", ReminderStatus.OPEN),
        Range("due_at", lte=now),
    )
    page = uow.intel.reminders.list(Query(where, (asc("due_at"), asc("reminder_id")), limit, at))
    items = [
        InboxItem(InboxKind.REMINDER, r.due_at, r.key, r.title, reminder=r) for r in page.items
    ]
    return Page(tuple(items), page.next_cursor)


@attrs.define
class _InboxCursor:
    """Where each source stands, and the moment the listing is taken at."""

    at: dict[str, str | None]
    done: dict[str, bool]
    now: datetime

    @classmethod
    def decode(cls, token: str | None, now: datetime) -> _InboxCursor:
        if token is None:
            return cls({"p": None, "r": None}, {"p": False, "r": False}, now)
        if not isinstance(token, str):
            raise InvalidCursor("not an inbox cursor")
        try:
            raw = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
            at = {name: raw[name]["at"] for name in ("p", "r")}
            done = {name: bool(raw[name]["done"]) for name in ("p", "r")}
            taken = datetime.fromisoformat(raw["now"])
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
            raise InvalidCursor("not an inbox cursor") from None
        if taken.tzinfo is None or not all(v is None or isinstance(v, str) for v in at.values()):
            raise InvalidCursor("not an inbox cursor")
        return cls(at, done, taken)

    def encode(self) -> str:
        doc: dict[str, object] = {
            name: {"at": self.at[name], "done": self.done[name]} for name in ("p", "r")
        }
        doc["now"] = self.now.isoformat()
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode("ascii")
