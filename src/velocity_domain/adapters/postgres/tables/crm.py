"""The ``crm_*`` tables (spec section 4, CRM core domain; columns of section 5)."""

from __future__ import annotations

import sqlalchemy as sa

from velocity_domain.adapters.postgres.tables._columns import (
    choice,
    created_at,
    currency,
    fk,
    jsonb,
    labels,
    metadata,
    money,
    pk,
    ratio,
    source_key,
    text,
    trigram_index,
    versioned,
)
from velocity_domain.crm.entities import (
    AccountType,
    ImportBatchStatus,
    ImportRowStatus,
    LeadStatus,
    OpportunityStage,
    Priority,
    PropertyInterestStatus,
    RelationshipKind,
    StagedEntity,
    Urgency,
)

__all__ = [
    "crm_accounts",
    "crm_households",
    "crm_import_batches",
    "crm_import_rows",
    "crm_leads",
    "crm_opportunities",
    "crm_people",
    "crm_property_interests",
    "crm_relationships",
    "crm_stage_history",
]

crm_accounts = sa.Table(
    "crm_accounts",
    metadata,
    pk("account_id"),
    text("account_name", 200, nullable=False),
    fk("parent_account_id", "crm_accounts.account_id"),
    choice("account_type", AccountType),
    text("industry", 100),
    text("location_ref", 200),
    jsonb("metadata_json"),
    *source_key(),
    *versioned(),
    sa.CheckConstraint("parent_account_id <> account_id", name="not_own_parent"),
    sa.Index(None, "parent_account_id"),
    sa.Index(None, "account_name", "account_id"),
)
trigram_index(crm_accounts, "account_name")

crm_households = sa.Table(
    "crm_households",
    metadata,
    pk("household_id"),
    text("household_name", 200, nullable=False),
    # One edge of the people <-> households cycle, added once both tables exist.
    fk("head_person_id", "crm_people.person_id", ondelete="SET NULL", use_alter=True),
    text("notes", None),
    *versioned(),
)

crm_people = sa.Table(
    "crm_people",
    metadata,
    pk("person_id"),
    text("full_name", 200, nullable=False),
    text("normalized_name", 200, nullable=False),
    text("primary_email", 254),
    text("primary_phone", 16),
    text("linkedin_url", 2048),
    labels("persona_labels"),
    ratio("source_confidence"),
    fk("household_id", "crm_households.household_id", ondelete="SET NULL"),
    *source_key(),
    fk("owner_user_id", "core_users.user_id"),
    *versioned(),
    sa.Index(None, "primary_email"),
    sa.Index(None, "primary_phone"),
    sa.Index(None, "normalized_name", "person_id"),
    sa.Index(None, "household_id"),
    sa.Index(None, "created_at", "person_id"),
    sa.Index(None, "owner_user_id", "person_id"),
    sa.Index("ix_crm_people_persona_labels", "persona_labels", postgresql_using="gin"),
)
for _searched in ("normalized_name", "primary_email", "primary_phone"):
    trigram_index(crm_people, _searched)

crm_relationships = sa.Table(
    "crm_relationships",
    metadata,
    pk("relationship_id"),
    fk("from_person_id", "crm_people.person_id", nullable=False),
    fk("to_person_id", "crm_people.person_id", nullable=False),
    choice("kind", RelationshipKind),
    sa.Column("since", sa.Date, nullable=True),
    text("notes", None),
    *versioned(),
    sa.UniqueConstraint("from_person_id", "to_person_id", "kind"),
    sa.CheckConstraint("from_person_id <> to_person_id", name="not_self"),
    sa.Index(None, "to_person_id"),
)

crm_leads = sa.Table(
    "crm_leads",
    metadata,
    pk("lead_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("account_id", "crm_accounts.account_id"),
    *source_key(required_system=True),
    choice("status", LeadStatus, default=LeadStatus.OPEN),
    choice("stage", OpportunityStage, default=OpportunityStage.NEW),
    text("budget_band", 64),
    choice("urgency", Urgency, nullable=True),
    fk("assigned_user_id", "core_users.user_id"),
    # One edge of the leads <-> opportunities cycle, added once both tables exist.
    fk("converted_opportunity_id", "crm_opportunities.opportunity_id", use_alter=True),
    sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
    *versioned(),
    sa.CheckConstraint(
        "(status = 'converted') = (converted_opportunity_id IS NOT NULL)",
        name="converted_has_opportunity",
    ),
    sa.Index(None, "person_id"),
    sa.Index(None, "assigned_user_id", "status"),
    sa.Index(None, "assigned_user_id", "person_id"),
    sa.Index(None, "account_id"),
    sa.Index(None, "created_at", "lead_id"),
)

crm_opportunities = sa.Table(
    "crm_opportunities",
    metadata,
    pk("opportunity_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("lead_id", "crm_leads.lead_id"),
    fk("account_id", "crm_accounts.account_id"),
    fk("project_id", "inventory_projects.project_id"),
    fk("unit_id", "inventory_units.unit_id"),
    choice("stage", OpportunityStage, default=OpportunityStage.NEW),
    money("value"),
    currency(),
    ratio("probability"),
    sa.Column("expected_close_date", sa.Date, nullable=True),
    text("next_action", 500),
    fk("assigned_user_id", "core_users.user_id"),
    text("lost_reason", 500),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    *source_key(),
    *versioned(),
    sa.CheckConstraint("(stage = 'lost') = (lost_reason IS NOT NULL)", name="lost_reason_iff_lost"),
    sa.Index(None, "stage", "opportunity_id"),
    sa.Index(None, "person_id"),
    sa.Index(None, "lead_id"),
    sa.Index(None, "assigned_user_id", "stage"),
    sa.Index(None, "assigned_user_id", "person_id"),
    sa.Index(None, "created_at", "opportunity_id"),
    sa.Index(None, "project_id", "stage"),
    sa.Index(None, "unit_id"),
)

crm_property_interests = sa.Table(
    "crm_property_interests",
    metadata,
    pk("property_interest_id"),
    fk("person_id", "crm_people.person_id", nullable=False),
    fk("project_id", "inventory_projects.project_id"),
    fk("unit_id", "inventory_units.unit_id"),
    text("configuration", 64),
    money("budget_min"),
    money("budget_max"),
    currency(),
    choice("priority", Priority, default=Priority.MEDIUM),
    choice("status", PropertyInterestStatus, default=PropertyInterestStatus.ACTIVE),
    text("notes", None),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    *versioned(),
    sa.CheckConstraint("budget_min <= budget_max", name="budget_range"),
    sa.Index(None, "person_id", "status"),
    sa.Index(None, "project_id"),
    sa.Index(None, "unit_id"),
)

crm_stage_history = sa.Table(
    "crm_stage_history",
    metadata,
    pk("stage_history_id"),
    choice("entity_type", StagedEntity),
    sa.Column("entity_id", sa.Uuid, nullable=False),
    text("from_stage", 64),
    text("to_stage", 64, nullable=False),
    created_at("changed_at"),
    fk("changed_by_user_id", "core_users.user_id"),
    text("reason", 500),
    sa.Index(None, "entity_type", "entity_id", "changed_at"),
)

crm_import_batches = sa.Table(
    "crm_import_batches",
    metadata,
    pk("import_batch_id"),
    text("source_system", 64, nullable=False),
    text("file_name", 255),
    text("content_sha256", 64),
    choice("status", ImportBatchStatus, default=ImportBatchStatus.UPLOADED),
    fk("submitted_by_user_id", "core_users.user_id"),
    sa.Column("row_count", sa.Integer, nullable=False, server_default="0"),
    jsonb("mapping_json"),
    jsonb("stats_json"),
    text("failure_reason", 2000),
    *versioned(),
    sa.CheckConstraint("row_count >= 0", name="row_count_non_negative"),
    sa.Index(None, "status", "created_at"),
)

crm_import_rows = sa.Table(
    "crm_import_rows",
    metadata,
    pk("import_row_id"),
    fk("import_batch_id", "crm_import_batches.import_batch_id", nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    text("source_fingerprint", 64, nullable=False),
    jsonb("raw_json"),
    jsonb("mapped_json"),
    choice("status", ImportRowStatus, default=ImportRowStatus.PENDING),
    text("error_reason", 2000),
    text("target_domain", 32),
    sa.Column("target_entity_ref", sa.Uuid, nullable=True),
    *versioned(),
    sa.UniqueConstraint("import_batch_id", "row_number"),
    sa.CheckConstraint("row_number >= 1", name="row_number_positive"),
    sa.Index(None, "source_fingerprint"),
    sa.Index(None, "import_batch_id", "status"),
)
