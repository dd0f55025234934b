"""CRM core entities: one attrs class per ``crm_*`` table.

People are who we know; accounts the organisations they belong to; leads the
commercial contexts a person arrives in; opportunities the deals in the
pipeline. Households and relationships link people; property interests say
what a person wants; stage history records every pipeline move. The import
batch and row tables are additions to the spec: the import lifecycle of spec
section 8 needs somewhere to keep a batch and each of its rows.

>>> p = Person(full_name="Smt. Asha  Rao", primary_phone="098300 12345")
>>> (p.normalized_name, p.primary_phone, p.version)
('asha rao', '+919830012345', 1)
"""

import enum
import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import attrs

from velocity_domain.kernel.constraints import Unique
from velocity_domain.kernel.fields import (
    choice,
    count,
    currency,
    day,
    email,
    id_field,
    invalid,
    json_field,
    labels,
    long_text,
    money,
    phone,
    ratio,
    ref,
    sha256_hex,
    text,
    timestamp,
    url,
)
from velocity_domain.kernel.model import (
    Entity,
    VersionedEntity,
    check_set_exactly_when,
    check_source_pair,
)
from velocity_domain.kernel.normalize import normalize_name

__all__ = [
    "Account",
    "AccountType",
    "Household",
    "ImportBatch",
    "ImportBatchStatus",
    "ImportOutcome",
    "ImportRow",
    "ImportRowStatus",
    "Lead",
    "LeadStatus",
    "MergeStatus",
    "Opportunity",
    "OpportunityStage",
    "Person",
    "PersonMerge",
    "Priority",
    "PropertyInterest",
    "PropertyInterestStatus",
    "Relationship",
    "RelationshipKind",
    "StageHistory",
    "StagedEntity",
    "Urgency",
]


class AccountType(enum.StrEnum):
    """What kind of organisation an account is."""

    DEVELOPER = "developer"
    BROKERAGE = "brokerage"
    CLIENT_ORGANISATION = "client_organisation"
    COMPANY = "company"


class RelationshipKind(enum.StrEnum):
    """The kind of a directed link between two people, read "from is KIND of to"."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    EMPLOYER = "employer"
    EMPLOYEE = "employee"
    REFERRED_BY = "referred_by"
    REFERRER = "referrer"
    COLLEAGUE = "colleague"
    OTHER = "other"


class LeadStatus(enum.StrEnum):
    """Where a lead stands in qualification."""

    OPEN = "open"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


class Urgency(enum.StrEnum):
    """How soon the buyer means to act."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    IMMEDIATE = "immediate"


class Priority(enum.StrEnum):
    """How much a property interest matters to the person."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class OpportunityStage(enum.StrEnum):
    """The default real-estate sales pipeline (``won`` and ``lost`` close a deal)."""

    NEW = "new"
    CONTACTED = "contacted"
    SITE_VISIT_SCHEDULED = "site_visit_scheduled"
    SITE_VISIT_DONE = "site_visit_done"
    NEGOTIATION = "negotiation"
    BOOKING = "booking"
    WON = "won"
    LOST = "lost"


class PropertyInterestStatus(enum.StrEnum):
    """Whether an interest is still live."""

    ACTIVE = "active"
    CONVERTED = "converted"
    CLOSED = "closed"


class StagedEntity(enum.StrEnum):
    """Which kind of row a stage-history entry is about."""

    LEAD = "lead"
    OPPORTUNITY = "opportunity"


class ImportBatchStatus(enum.StrEnum):
    """The import lifecycle of spec section 8."""

    UPLOADED = "uploaded"
    PARSED = "parsed"
    MAPPED = "mapped"
    PROPOSED = "proposed"
    APPROVED = "approved"
    COMMITTED = "committed"
    FAILED = "failed"


class ImportOutcome(enum.StrEnum):
    """What matching decided for one row of an import batch."""

    NEW = "new"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


class MergeStatus(enum.StrEnum):
    """Where a merge of people stands (its writeback carries the approvals)."""

    PROPOSED = "proposed"
    EXECUTED = "executed"
    UNDONE = "undone"


class ImportRowStatus(enum.StrEnum):
    """Where one row of an import batch stands: read, mapped, proposed, written or set aside."""

    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"
    PROPOSED = "proposed"
    COMMITTED = "committed"
    SKIPPED = "skipped"


@attrs.frozen(kw_only=True)
class Person(VersionedEntity):
    """A person we know: the canonical contact identity (``crm_people``).

    ``normalized_name`` is derived from ``full_name`` and kept for matching.
    """

    table_name: ClassVar[str] = "crm_people"
    key_field: ClassVar[str] = "person_id"

    person_id: UUID = id_field()
    full_name: str = text(max_length=200)
    normalized_name: str = attrs.field(init=False)
    primary_email: str | None = email()
    primary_phone: str | None = phone()
    linkedin_url: str | None = url()
    persona_labels: tuple[str, ...] = labels()
    source_confidence: Decimal | None = ratio()
    household_id: UUID | None = ref("crm_households.household_id", optional=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)
    #: The user who owns the contact (its creator, when they see only their own clients).
    owner_user_id: UUID | None = ref("core_users.user_id", optional=True)
    #: The survivor this record was merged into (a merged record is kept, never deleted).
    merged_into_person_id: UUID | None = ref("crm_people.person_id", optional=True)
    #: When the merge was executed.
    merged_at: datetime | None = timestamp(optional=True)

    @normalized_name.default
    def _normalized_name(self) -> str:
        full_name = self.full_name
        if not isinstance(full_name, str):
            return ""
        try:
            return normalize_name(full_name)
        except Exception:
            return ""

    def check(self) -> None:  # noqa: D102
        super().check()
        if not self.normalized_name:
            raise invalid(self, "full_name", "has no name left once titles and punctuation go")
        check_source_pair(self)
        if self.merged_into_person_id == self.person_id:
            raise invalid(self, "merged_into_person_id", "a person cannot be merged into itself")
        merged = self.merged_into_person_id is not None
        check_set_exactly_when(self, "merged_at", merged, "the person is merged into another")


@attrs.frozen(kw_only=True)
class Account(VersionedEntity):
    """A developer, brokerage, client organisation or company (``crm_accounts``)."""

    table_name: ClassVar[str] = "crm_accounts"
    key_field: ClassVar[str] = "account_id"

    account_id: UUID = id_field()
    account_name: str = text(max_length=200)
    parent_account_id: UUID | None = ref("crm_accounts.account_id", optional=True)
    account_type: AccountType = choice(AccountType, default=AccountType.COMPANY)
    industry: str | None = text(max_length=100, optional=True)
    location_ref: str | None = text(max_length=200, optional=True)
    metadata_json: dict[str, Any] = json_field()
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.parent_account_id == self.account_id:
            raise invalid(self, "parent_account_id", "an account cannot be its own parent")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class Household(VersionedEntity):
    """A family or household; members point at it through ``crm_people.household_id``."""

    table_name: ClassVar[str] = "crm_households"
    key_field: ClassVar[str] = "household_id"

    household_id: UUID = id_field()
    household_name: str = text(max_length=200)
    head_person_id: UUID | None = ref("crm_people.person_id", optional=True)
    notes: str | None = long_text(max_length=10_000)


@attrs.frozen(kw_only=True)
class Relationship(VersionedEntity):
    """A typed link between two people: ``from_person`` is ``kind`` of ``to_person``."""

    table_name: ClassVar[str] = "crm_relationships"
    key_field: ClassVar[str] = "relationship_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (
        Unique(["from_person_id", "to_person_id", "kind"]),
    )
    deletable: ClassVar[bool] = True

    relationship_id: UUID = id_field()
    from_person_id: UUID = ref("crm_people.person_id")
    to_person_id: UUID = ref("crm_people.person_id")
    kind: RelationshipKind = choice(RelationshipKind)
    since: date | None = day()
    notes: str | None = long_text(max_length=10_000)

    def check(self) -> None:  # noqa: D102
        super().check()
        if self.from_person_id == self.to_person_id:
            raise invalid(self, "to_person_id", "a person cannot be related to themselves")


@attrs.frozen(kw_only=True)
class Lead(VersionedEntity):
    """A commercial context a person arrived in (``crm_leads``)."""

    table_name: ClassVar[str] = "crm_leads"
    key_field: ClassVar[str] = "lead_id"

    lead_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    account_id: UUID | None = ref("crm_accounts.account_id", optional=True)
    source_system: str = text(max_length=64)
    source_ref: str | None = text(max_length=200, optional=True)
    status: LeadStatus = choice(LeadStatus, default=LeadStatus.OPEN)
    stage: OpportunityStage = choice(OpportunityStage, default=OpportunityStage.NEW)
    budget_band: str | None = text(max_length=64, optional=True)
    urgency: Urgency | None = choice(Urgency, optional=True)
    assigned_user_id: UUID | None = ref("core_users.user_id", optional=True)
    converted_opportunity_id: UUID | None = ref("crm_opportunities.opportunity_id", optional=True)
    converted_at: datetime | None = timestamp(optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        converted = self.status is LeadStatus.CONVERTED
        when = "the lead's status is converted"
        check_set_exactly_when(self, "converted_opportunity_id", converted, when)
        check_set_exactly_when(self, "converted_at", converted, when)


@attrs.frozen(kw_only=True)
class Opportunity(VersionedEntity):
    """A deal in the pipeline (``crm_opportunities``)."""

    table_name: ClassVar[str] = "crm_opportunities"
    key_field: ClassVar[str] = "opportunity_id"

    opportunity_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    lead_id: UUID | None = ref("crm_leads.lead_id", optional=True)
    account_id: UUID | None = ref("crm_accounts.account_id", optional=True)
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    unit_id: UUID | None = ref("inventory_units.unit_id", optional=True)
    stage: OpportunityStage = choice(OpportunityStage, default=OpportunityStage.NEW)
    value: Decimal | None = money()
    currency: str = currency()
    probability: Decimal | None = ratio()
    expected_close_date: date | None = day()
    next_action: str | None = text(max_length=500, optional=True)
    assigned_user_id: UUID | None = ref("core_users.user_id", optional=True)
    lost_reason: str | None = text(max_length=500, optional=True)
    closed_at: datetime | None = timestamp(optional=True)
    source_system: str | None = text(max_length=64, optional=True)
    source_ref: str | None = text(max_length=200, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        lost = self.stage is OpportunityStage.LOST
        check_set_exactly_when(self, "lost_reason", lost, "the stage is lost")
        check_source_pair(self)


@attrs.frozen(kw_only=True)
class PropertyInterest(VersionedEntity):
    """What a person is looking for: a project or unit, configuration and budget."""

    table_name: ClassVar[str] = "crm_property_interests"
    key_field: ClassVar[str] = "property_interest_id"

    property_interest_id: UUID = id_field()
    person_id: UUID = ref("crm_people.person_id")
    project_id: UUID | None = ref("inventory_projects.project_id", optional=True)
    unit_id: UUID | None = ref("inventory_units.unit_id", optional=True)
    configuration: str | None = text(max_length=64, optional=True)
    budget_min: Decimal | None = money()
    budget_max: Decimal | None = money()
    currency: str = currency()
    priority: Priority = choice(Priority, default=Priority.MEDIUM)
    status: PropertyInterestStatus = choice(
        PropertyInterestStatus, default=PropertyInterestStatus.ACTIVE
    )
    notes: str | None = long_text(max_length=10_000)
    closed_at: datetime | None = timestamp(optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        if (
            self.budget_min is not None
            and self.budget_max is not None
            and self.budget_min > self.budget_max
        ):
            raise invalid(self, "budget_max", "must not be below budget_min", self.budget_max)


@attrs.frozen(kw_only=True)
class StageHistory(Entity):
    """One pipeline move of a lead or opportunity; append-only (``crm_stage_history``)."""

    table_name: ClassVar[str] = "crm_stage_history"
    key_field: ClassVar[str] = "stage_history_id"

    stage_history_id: UUID = id_field()
    entity_type: StagedEntity = choice(StagedEntity)
    entity_id: UUID = ref()
    from_stage: str | None = text(max_length=64, optional=True)
    to_stage: str = text(max_length=64)
    changed_at: datetime = timestamp(now=True)
    changed_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    reason: str | None = text(max_length=500, optional=True)


@attrs.frozen(kw_only=True)
class ImportBatch(VersionedEntity):
    """One uploaded import file and where it is in the import lifecycle (an addition)."""

    table_name: ClassVar[str] = "crm_import_batches"
    key_field: ClassVar[str] = "import_batch_id"

    import_batch_id: UUID = id_field()
    source_system: str = text(max_length=64)
    file_name: str | None = text(max_length=255, optional=True)
    content_sha256: str | None = sha256_hex(optional=True)
    status: ImportBatchStatus = choice(ImportBatchStatus, default=ImportBatchStatus.UPLOADED)
    submitted_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    row_count: int = count(default=0)
    mapping_json: dict[str, Any] = json_field()
    stats_json: dict[str, Any] = json_field()
    failure_reason: str | None = text(max_length=2000, optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        failed = self.status is ImportBatchStatus.FAILED
        check_set_exactly_when(self, "failure_reason", failed, "the batch has failed")


@attrs.frozen(kw_only=True)
class ImportRow(VersionedEntity):
    """One row of an import batch, with its fingerprint, mapping and outcome (an addition)."""

    table_name: ClassVar[str] = "crm_import_rows"
    key_field: ClassVar[str] = "import_row_id"
    unique_keys: ClassVar[tuple[Unique, ...]] = (Unique(["import_batch_id", "row_number"]),)

    import_row_id: UUID = id_field()
    import_batch_id: UUID = ref("crm_import_batches.import_batch_id")
    row_number: int = count(minimum=1)
    source_fingerprint: str = text(max_length=64)
    raw_json: dict[str, Any] = json_field()
    mapped_json: dict[str, Any] = json_field()
    status: ImportRowStatus = choice(ImportRowStatus, default=ImportRowStatus.PENDING)
    error_reason: str | None = text(max_length=2000, optional=True)
    target_domain: str | None = text(max_length=32, optional=True)
    target_entity_ref: UUID | None = ref(optional=True)
    #: The matching keys of the mapped row: normalised email, E.164 phone, normalised name.
    match_email: str | None = text(max_length=254, optional=True)
    match_phone: str | None = text(max_length=32, optional=True)
    match_name: str | None = text(max_length=200, optional=True)
    #: The row's source reference: the file's own id, or ``fp:`` and its fingerprint.
    source_key: str | None = text(max_length=200, optional=True)
    outcome: ImportOutcome | None = choice(ImportOutcome, optional=True)
    #: The person the row matched (an update, an unchanged row, a possible duplicate).
    matched_person_id: UUID | None = ref(optional=True)
    #: Field -> ``[before, after]`` for an update; what undo restores.
    changes_json: dict[str, Any] = json_field()
    #: Why matching decided as it did: the rule, the fields, the values, the scores.
    evidence_json: dict[str, Any] = json_field()
    #: The writeback (proposal) that carries the row to the canonical tables.
    writeback_id: UUID | None = ref(optional=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        invalid_row = self.status is ImportRowStatus.INVALID
        check_set_exactly_when(self, "error_reason", invalid_row, "the row is invalid")


@attrs.frozen(kw_only=True)
class PersonMerge(VersionedEntity):
    """One merge of people into a survivor: proposed, executed, maybe undone (an addition).

    ``cluster_key`` names the set of people (survivor included) so that a
    scan does not propose the same cluster twice. ``changes_json`` records,
    at execution, exactly what the merge changed: the survivor's fields, the
    merged records, every moved reference and every row it set aside; undo
    reads it back.
    """

    table_name: ClassVar[str] = "crm_person_merges"
    key_field: ClassVar[str] = "merge_id"

    merge_id: UUID = id_field()
    survivor_person_id: UUID = ref("crm_people.person_id")
    #: The people merged into the survivor, in the order given.
    merged_person_ids: tuple[str, ...] = labels(
        max_length=36, pattern=r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", pattern_hint="UUIDs"
    )
    cluster_key: str = sha256_hex()
    status: MergeStatus = choice(MergeStatus, default=MergeStatus.PROPOSED)
    #: The proposal (``crm.merges.merge``) and, once asked for, the undo proposal.
    writeback_id: UUID | None = ref("workflow_writebacks.writeback_id", optional=True)
    undo_writeback_id: UUID | None = ref("workflow_writebacks.writeback_id", optional=True)
    #: ``scan`` or ``manual``; the rule matches that found the cluster.
    origin: str = text(max_length=32, default="manual")
    evidence_json: dict[str, Any] = json_field()
    changes_json: dict[str, Any] = json_field()
    proposed_by_user_id: UUID | None = ref("core_users.user_id", optional=True)
    executed_at: datetime | None = timestamp(optional=True)
    undone_at: datetime | None = timestamp(optional=True)

    @staticmethod
    def cluster_of(person_ids: Iterable[UUID]) -> str:
        """The key of a set of people: the SHA-256 of their sorted ids (order does not matter).

        >>> PersonMerge.cluster_of([UUID(int=2), UUID(int=1)]) == PersonMerge.cluster_of(
        ...     [UUID(int=1), UUID(int=2)])
        True
        """
        text = ",".join(sorted({str(i) for i in person_ids}))
        return hashlib.sha256(text.encode()).hexdigest()

    def check(self) -> None:  # noqa: D102
        super().check()
        if not self.merged_person_ids:
            raise invalid(self, "merged_person_ids", "names nobody to merge")
        if str(self.survivor_person_id) in self.merged_person_ids:
            raise invalid(self, "merged_person_ids", "holds the survivor")
        executed = self.status is not MergeStatus.PROPOSED
        check_set_exactly_when(self, "executed_at", executed, "the merge was executed")
        undone = self.status is MergeStatus.UNDONE
        check_set_exactly_when(self, "undone_at", undone, "the merge was undone")
