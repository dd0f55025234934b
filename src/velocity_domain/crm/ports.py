"""The CRM core repository: its tables inside a unit of work, and the CRM reads of spec section 10.

The repository is written once against the storage ports of
:mod:`velocity_domain.kernel.repository`, so every store (in memory,
PostgreSQL, a host's own) answers these reads the same way, each with a
bounded number of statements.
"""

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from velocity_domain.crm.duplicates import Block
from velocity_domain.crm.entities import (
    Account,
    AccountType,
    Household,
    ImportBatch,
    ImportOutcome,
    ImportRow,
    Lead,
    Opportunity,
    Person,
    PropertyInterest,
    PropertyInterestStatus,
    Relationship,
    StageHistory,
)
from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.normalize import normalize_name
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import (
    Contains,
    Eq,
    Filter,
    HasLabel,
    In,
    IsNull,
    Query,
    Range,
    asc,
    desc,
)
from velocity_domain.kernel.repository import AppendTable, MutableTable, StoreTransaction

__all__ = [
    "BlockMember",
    "CrmRepository",
    "DuplicateBlocks",
    "ImportMatcher",
    "ImportWriter",
    "Namesake",
    "search_text",
]

_PHONE_LIKE = re.compile(r"^[\d\s()+.-]+$")


def search_text(text: str) -> str:
    """Return the form of a search text that matches the normalised columns.

    Phone-like input keeps only its digits (``98300 12345`` finds
    ``+919830012345``); anything else is folded like a name (``Ásha`` finds
    ``asha``); an address keeps its ``@`` and dots.
    """
    stripped = text.strip()
    if _PHONE_LIKE.match(stripped) and any(c.isdigit() for c in stripped):
        return re.sub(r"\D", "", stripped)
    if "@" in stripped:
        return stripped.casefold()
    try:
        return normalize_name(stripped, field="search")
    except ValidationFailed:
        return stripped.casefold()


def _time_range(field: str, start: datetime | None, end: datetime | None) -> list[Filter]:
    return [] if start is None and end is None else [Range(field, gte=start, lt=end)]


class ImportWriter(Protocol):
    """A store's set-based commit of an import batch's new people (see the import pipeline).

    For every row of the batch with ``outcome`` still ``proposed``, write a
    person, a lead and (when the row brings a budget, a configuration or an
    interest) a property interest from the row's mapped values exactly as
    the generic path builds them, and mark the row committed with the person
    as its target; a row whose source reference a person already has (in
    the store, or an earlier row of the same call) is marked ``skipped``
    with the ``conflict`` the generic path records. Returns how many people
    were written and how many rows were skipped.
    """

    def create_people(
        self,
        batch_id: UUID,
        outcome: ImportOutcome,
        *,
        source_system: str,
        owner_user_id: UUID | None,
        now: datetime,
        conflict: str,
    ) -> tuple[int, int]:
        """Write the people of ``outcome``'s proposed rows; return (written, skipped)."""
        ...

    def apply_updates(self, batch_id: UUID, now: datetime) -> tuple[int, int]:
        """Apply the batch's proposed updates exactly as the generic path does.

        Returns how many people were updated and how many rows were set aside.
        """
        ...

    def link_unchanged(self, batch_id: UUID, now: datetime) -> int:
        """Mark the batch's proposed unchanged rows committed, each naming its person."""
        ...


class Namesake(NamedTuple):
    """What matching needs of a person who shares a name with an import row."""

    person_id: UUID
    full_name: str
    normalized_name: str
    primary_email: str | None
    primary_phone: str | None
    version: int

    @property
    def key(self) -> UUID:
        """The person's id, as an entity's ``key``."""
        return self.person_id

    @classmethod
    def of(cls, person: Person) -> Self:
        """The namesake view of a person."""
        return cls(
            person.key,
            person.full_name,
            person.normalized_name,
            person.primary_email,
            person.primary_phone,
            person.version,
        )


class ImportMatcher(Protocol):
    """A store's set-based matching of an import batch: what no duplicate rule can change.

    Decide, for every ``valid`` row of the batch, the same record by source
    reference (among people not merged) and an earlier row of the file with
    the same email or phone, exactly as ``decide`` records them (outcome,
    person, changes, evidence, the proposal of ``proposals`` for the
    outcome), and move those rows to ``proposed``. Rows these do not decide
    stay ``valid``: the pipeline compares them with the people sharing their
    email, phone or name under the governance's duplicate rules. Returns the
    count of rows decided per outcome.
    """

    def match_exact(
        self,
        batch_id: UUID,
        source_system: str,
        proposals: Mapping[ImportOutcome, UUID],
        now: datetime,
    ) -> dict[str, int]:
        """Decide the rows the exact rules decide; return their count per outcome."""
        ...

    def namesakes(self, names: Collection[str]) -> list[Namesake]:
        """Everyone whose normalised name is one of ``names``, as :class:`Namesake`."""
        ...


class BlockMember(NamedTuple):
    """One live person in one block of the duplicate scan, with what the rules compare.

    ``block`` and ``key`` name the block (a :class:`~velocity_domain.crm.duplicates.Block`
    and its key); ``size`` is how many live people share it; ``account_ids``
    are the accounts of the person's leads and deals.
    """

    block: Block
    key: str
    size: int
    person_id: UUID
    full_name: str
    normalized_name: str
    primary_email: str | None
    primary_phone: str | None
    household_id: UUID | None
    source_ref: str | None
    created_at: datetime
    account_ids: tuple[UUID, ...]


class DuplicateBlocks(Protocol):
    """A store's set-based grouping of the live people by blocking keys (the duplicate scan).

    Live people are those not merged into another (``merged_into_person_id``
    is null). The name key is :func:`~velocity_domain.crm.duplicates.name_key`
    of the normalised name; emails and phones are compared as stored.
    """

    def members(self, blocks: Collection[Block], *, chunk: int) -> Iterator[BlockMember]:
        """Every member of every block of two or more live people, of the kinds ``blocks``.

        Ordered by block kind, key (in code point order) and person id, read
        from the store ``chunk`` rows at a time; consumed inside the unit of
        work that asked for it.
        """
        ...


class CrmRepository:
    """The ``crm_*`` tables inside one unit of work, plus the CRM list and lookup reads."""

    def __init__(self, tx: StoreTransaction) -> None:
        self.people: MutableTable[Person] = tx.mutable(Person)
        self.accounts: MutableTable[Account] = tx.mutable(Account)
        self.households: MutableTable[Household] = tx.mutable(Household)
        self.relationships: MutableTable[Relationship] = tx.mutable(Relationship)
        self.leads: MutableTable[Lead] = tx.mutable(Lead)
        self.opportunities: MutableTable[Opportunity] = tx.mutable(Opportunity)
        self.property_interests: MutableTable[PropertyInterest] = tx.mutable(PropertyInterest)
        self.stage_history: AppendTable[StageHistory] = tx.table(StageHistory)
        self.import_batches: MutableTable[ImportBatch] = tx.mutable(ImportBatch)
        self.import_rows: MutableTable[ImportRow] = tx.mutable(ImportRow)

    def contact_list(
        self,
        *,
        search: str | None = None,
        persona_label: str | None = None,
        source_system: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        person_ids: Iterable[UUID] | None = None,
        rules: Iterable[Filter] = (),
        newest_first: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Person]:
        """Fetch the contact list: people by name (or newest first), filtered, one page.

        ``search`` looks in the normalised name, the email and the phone;
        ``person_ids`` restricts the list to those people, and ``rules`` adds
        filters on people (record visibility, assignment: see
        :mod:`velocity_domain.access.visibility`). Time ranges are half-open:
        ``from`` inclusive, ``to`` exclusive.
        """
        where: list[Filter] = [IsNull("merged_into_person_id")]
        if search is not None and search.strip():
            where.append(
                Contains(("normalized_name", "primary_email", "primary_phone"), search_text(search))
            )
        if persona_label is not None:
            where.append(HasLabel("persona_labels", persona_label))
        if source_system is not None:
            where.append(Eq("source_system", source_system))
        where += _time_range("created_at", created_from, created_to)
        where += _time_range("updated_at", updated_from, updated_to)
        if person_ids is not None:
            where.append(In("person_id", tuple(person_ids)))
        where += rules
        order = (desc("created_at"),) if newest_first else (asc("normalized_name"),)
        return self.people.list(Query(where, order, limit, cursor))

    def account_list(
        self,
        *,
        search: str | None = None,
        account_type: AccountType | str | None = None,
        parent_account_id: UUID | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Account]:
        """Fetch the account list by name, optionally filtered, one page.

        ``search`` matches anywhere in the account name, ignoring ASCII case.
        """
        where: list[Filter] = []
        if search is not None and search.strip():
            where.append(Contains(("account_name",), search.strip()))
        if account_type is not None:
            where.append(Eq("account_type", AccountType(account_type)))
        if parent_account_id is not None:
            where.append(Eq("parent_account_id", parent_account_id))
        return self.accounts.list(Query(where, (asc("account_name"),), limit, cursor))

    def property_interests_of(
        self, person_id: UUID, *, status: PropertyInterestStatus | str | None = None
    ) -> list[PropertyInterest]:
        """Fetch a client's property interests, newest first, with one read.

        A person holds at most a few hundred interests; past
        ``MAX_PAGE_SIZE`` use ``property_interests.list`` with a cursor.
        """
        where: list[Filter] = [Eq("person_id", person_id)]
        if status is not None:
            where.append(Eq("status", PropertyInterestStatus(status)))
        query = Query(where, (desc("created_at"),), MAX_PAGE_SIZE)
        return list(self.property_interests.list(query).items)
