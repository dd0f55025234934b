"""Enforce in the database the column CHECKs revision 0001 left out; writebacks can fail.

Revision 0001 was generated from table-level constraints only, so the CHECKs
declared on single columns (the allowed values of every status, stage and
kind column, positive versions, non-negative amounts, currency codes, ratios
between 0 and 1) were checked by the entities but not by PostgreSQL. This
revision adds each of them, written out here as they stood on the day it was
written.

It also gives ``workflow_writebacks.status`` its sixth value, ``failed``: an
approved writeback whose execution met a conflict ends there, with
``failure_reason`` set exactly then (the rule ``no_failure_once_executed``
becomes ``failure_reason_iff_failed``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint name, condition)
COLUMN_CHECKS = [
    ("core_permissions", "ck_core_permissions_version_positive", "version >= 1"),
    ("core_roles", "ck_core_roles_version_positive", "version >= 1"),
    ("core_users", "ck_core_users_user_kind_allowed", "user_kind IN ('human', 'agent')"),
    ("core_users", "ck_core_users_status_allowed", "status IN ('active', 'deactivated')"),
    ("core_users", "ck_core_users_version_positive", "version >= 1"),
    (
        "crm_accounts",
        "ck_crm_accounts_account_type_allowed",
        "account_type IN ('developer', 'brokerage', 'client_organisation', 'company')",
    ),
    ("crm_accounts", "ck_crm_accounts_version_positive", "version >= 1"),
    ("crm_households", "ck_crm_households_version_positive", "version >= 1"),
    (
        "intel_blob_store_index",
        "ck_intel_blob_store_index_size_bytes_non_negative",
        "size_bytes >= 0",
    ),
    (
        "oracle_component_families",
        "ck_oracle_component_families_status_allowed",
        "status IN ('draft', 'active', 'deprecated')",
    ),
    ("oracle_component_families", "ck_oracle_component_families_version_positive", "version >= 1"),
    (
        "core_audit_events",
        "ck_core_audit_events_actor_kind_allowed",
        "actor_kind IN ('human', 'agent', 'system')",
    ),
    (
        "core_role_assignments",
        "ck_core_role_assignments_scope_type_allowed",
        "scope_type IN ('global', 'account', 'project')",
    ),
    ("core_role_assignments", "ck_core_role_assignments_version_positive", "version >= 1"),
    ("core_sessions", "ck_core_sessions_version_positive", "version >= 1"),
    (
        "crm_import_batches",
        "ck_crm_import_batches_status_allowed",
        "status IN ('uploaded', 'parsed', 'mapped', 'proposed', 'approved', 'committed', 'failed')",
    ),
    ("crm_import_batches", "ck_crm_import_batches_version_positive", "version >= 1"),
    (
        "crm_people",
        "ck_crm_people_source_confidence_between_0_and_1",
        "source_confidence BETWEEN 0 AND 1",
    ),
    ("crm_people", "ck_crm_people_version_positive", "version >= 1"),
    (
        "crm_stage_history",
        "ck_crm_stage_history_entity_type_allowed",
        "entity_type IN ('lead', 'opportunity')",
    ),
    (
        "inventory_import_jobs",
        "ck_inventory_import_jobs_status_allowed",
        "status IN ('queued', 'running', 'succeeded', 'failed')",
    ),
    ("inventory_import_jobs", "ck_inventory_import_jobs_version_positive", "version >= 1"),
    (
        "inventory_projects",
        "ck_inventory_projects_status_allowed",
        "status IN ('pre_launch', 'launched', 'under_construction', 'ready', 'completed')",
    ),
    ("inventory_projects", "ck_inventory_projects_version_positive", "version >= 1"),
    ("oracle_component_chapters", "ck_oracle_component_chapters_version_positive", "version >= 1"),
    (
        "workflow_agent_runs",
        "ck_workflow_agent_runs_status_allowed",
        "status IN ('running', 'succeeded', 'failed', 'cancelled')",
    ),
    ("workflow_agent_runs", "ck_workflow_agent_runs_version_positive", "version >= 1"),
    (
        "crm_import_rows",
        "ck_crm_import_rows_status_allowed",
        "status IN ('pending', 'valid', 'invalid', 'proposed', 'committed', 'skipped')",
    ),
    ("crm_import_rows", "ck_crm_import_rows_version_positive", "version >= 1"),
    (
        "crm_leads",
        "ck_crm_leads_status_allowed",
        "status IN ('open', 'qualified', 'disqualified', 'converted')",
    ),
    (
        "crm_leads",
        "ck_crm_leads_stage_allowed",
        "stage IN ('new', 'contacted', 'site_visit_scheduled', 'site_visit_done', 'negotiation', 'booking', 'won', 'lost')",
    ),
    (
        "crm_leads",
        "ck_crm_leads_urgency_allowed",
        "urgency IN ('low', 'medium', 'high', 'immediate')",
    ),
    ("crm_leads", "ck_crm_leads_version_positive", "version >= 1"),
    (
        "crm_relationships",
        "ck_crm_relationships_kind_allowed",
        "kind IN ('spouse', 'parent', 'child', 'sibling', 'employer', 'employee', 'referred_by', 'referrer', 'colleague', 'other')",
    ),
    ("crm_relationships", "ck_crm_relationships_version_positive", "version >= 1"),
    (
        "intel_perception_events",
        "ck_intel_perception_events_event_type_allowed",
        "event_type IN ('presence', 'face_match', 'entry', 'exit', 'dwell', 'engagement', 'emotion', 'scene', 'other')",
    ),
    (
        "intel_perception_events",
        "ck_intel_perception_events_confidence_between_0_and_1",
        "confidence BETWEEN 0 AND 1",
    ),
    (
        "intel_vehicle_events",
        "ck_intel_vehicle_events_movement_allowed",
        "movement IN ('entry', 'exit', 'passing')",
    ),
    (
        "intel_vehicle_events",
        "ck_intel_vehicle_events_confidence_between_0_and_1",
        "confidence BETWEEN 0 AND 1",
    ),
    (
        "intel_whatsapp_threads",
        "ck_intel_whatsapp_threads_message_count_non_negative",
        "message_count >= 0",
    ),
    ("intel_whatsapp_threads", "ck_intel_whatsapp_threads_version_positive", "version >= 1"),
    (
        "inventory_location_index",
        "ck_inventory_location_index_latitude_range",
        "latitude BETWEEN -90 AND 90",
    ),
    (
        "inventory_location_index",
        "ck_inventory_location_index_longitude_range",
        "longitude BETWEEN -180 AND 180",
    ),
    ("inventory_location_index", "ck_inventory_location_index_version_positive", "version >= 1"),
    ("inventory_units", "ck_inventory_units_area_sqft_range", "area_sqft BETWEEN 1 AND 10000000"),
    ("inventory_units", "ck_inventory_units_price_current_non_negative", "price_current >= 0"),
    ("inventory_units", "ck_inventory_units_currency_iso4217", "currency ~ '^[A-Z]{3}$'"),
    (
        "inventory_units",
        "ck_inventory_units_status_allowed",
        "status IN ('available', 'held', 'booked', 'sold', 'blocked')",
    ),
    (
        "inventory_units",
        "ck_inventory_units_facing_allowed",
        "facing IN ('north', 'north_east', 'east', 'south_east', 'south', 'south_west', 'west', 'north_west')",
    ),
    ("inventory_units", "ck_inventory_units_floor_range", "floor BETWEEN -10 AND 250"),
    ("inventory_units", "ck_inventory_units_version_positive", "version >= 1"),
    (
        "oracle_component_templates",
        "ck_oracle_component_templates_status_allowed",
        "status IN ('draft', 'active', 'deprecated')",
    ),
    (
        "oracle_component_templates",
        "ck_oracle_component_templates_version_positive",
        "version >= 1",
    ),
    (
        "workflow_branches",
        "ck_workflow_branches_status_allowed",
        "status IN ('open', 'chosen', 'rejected')",
    ),
    ("workflow_branches", "ck_workflow_branches_version_positive", "version >= 1"),
    (
        "workflow_writebacks",
        "ck_workflow_writebacks_target_domain_allowed",
        "target_domain IN ('crm', 'intel', 'inventory', 'oracle', 'identity')",
    ),
    (
        "workflow_writebacks",
        "ck_workflow_writebacks_change_kind_allowed",
        "change_kind IN ('create', 'update', 'merge', 'delete')",
    ),
    (
        "workflow_writebacks",
        "ck_workflow_writebacks_status_allowed",
        "status IN ('draft', 'review_required', 'approved', 'executed', 'rejected', 'failed')",
    ),
    (
        "workflow_writebacks",
        "ck_workflow_writebacks_risk_level_allowed",
        "risk_level IN ('low', 'medium', 'high')",
    ),
    ("workflow_writebacks", "ck_workflow_writebacks_version_positive", "version >= 1"),
    (
        "crm_opportunities",
        "ck_crm_opportunities_stage_allowed",
        "stage IN ('new', 'contacted', 'site_visit_scheduled', 'site_visit_done', 'negotiation', 'booking', 'won', 'lost')",
    ),
    ("crm_opportunities", "ck_crm_opportunities_value_non_negative", "value >= 0"),
    ("crm_opportunities", "ck_crm_opportunities_currency_iso4217", "currency ~ '^[A-Z]{3}$'"),
    (
        "crm_opportunities",
        "ck_crm_opportunities_probability_between_0_and_1",
        "probability BETWEEN 0 AND 1",
    ),
    ("crm_opportunities", "ck_crm_opportunities_version_positive", "version >= 1"),
    (
        "crm_property_interests",
        "ck_crm_property_interests_budget_min_non_negative",
        "budget_min >= 0",
    ),
    (
        "crm_property_interests",
        "ck_crm_property_interests_budget_max_non_negative",
        "budget_max >= 0",
    ),
    (
        "crm_property_interests",
        "ck_crm_property_interests_currency_iso4217",
        "currency ~ '^[A-Z]{3}$'",
    ),
    (
        "crm_property_interests",
        "ck_crm_property_interests_priority_allowed",
        "priority IN ('low', 'medium', 'high')",
    ),
    (
        "crm_property_interests",
        "ck_crm_property_interests_status_allowed",
        "status IN ('active', 'converted', 'closed')",
    ),
    ("crm_property_interests", "ck_crm_property_interests_version_positive", "version >= 1"),
    (
        "inventory_availability",
        "ck_inventory_availability_status_allowed",
        "status IN ('available', 'held', 'booked', 'sold', 'blocked')",
    ),
    (
        "inventory_media",
        "ck_inventory_media_media_type_allowed",
        "media_type IN ('image', 'floor_plan', 'brochure', 'video', 'walkthrough', 'other')",
    ),
    ("inventory_media", "ck_inventory_media_sort_order_non_negative", "sort_order >= 0"),
    ("inventory_media", "ck_inventory_media_version_positive", "version >= 1"),
    ("inventory_pricing_history", "ck_inventory_pricing_history_price_non_negative", "price >= 0"),
    (
        "inventory_pricing_history",
        "ck_inventory_pricing_history_currency_iso4217",
        "currency ~ '^[A-Z]{3}$'",
    ),
    (
        "oracle_component_examples",
        "ck_oracle_component_examples_quality_between_0_and_1",
        "quality BETWEEN 0 AND 1",
    ),
    ("oracle_component_examples", "ck_oracle_component_examples_version_positive", "version >= 1"),
    (
        "oracle_component_lineage",
        "ck_oracle_component_lineage_relation_allowed",
        "relation IN ('derived_from', 'replaces', 'forked_from')",
    ),
    (
        "workflow_actions",
        "ck_workflow_actions_status_allowed",
        "status IN ('proposed', 'accepted', 'rejected', 'executed')",
    ),
    ("workflow_actions", "ck_workflow_actions_version_positive", "version >= 1"),
    (
        "workflow_approvals",
        "ck_workflow_approvals_decision_allowed",
        "decision IN ('approved', 'rejected')",
    ),
    (
        "workflow_policy_decisions",
        "ck_workflow_policy_decisions_risk_level_allowed",
        "risk_level IN ('low', 'medium', 'high')",
    ),
    (
        "workflow_policy_decisions",
        "ck_workflow_policy_decisions_decision_allowed",
        "decision IN ('auto_approve', 'review_required', 'deny')",
    ),
    (
        "intel_interactions",
        "ck_intel_interactions_channel_allowed",
        "channel IN ('message', 'call', 'email', 'whatsapp', 'visit', 'meeting', 'other')",
    ),
    (
        "intel_interactions",
        "ck_intel_interactions_interaction_type_allowed",
        "interaction_type IN ('enquiry', 'follow_up', 'site_visit', 'negotiation', 'booking', 'after_sales', 'broadcast', 'note', 'other')",
    ),
    (
        "intel_interactions",
        "ck_intel_interactions_direction_allowed",
        "direction IN ('inbound', 'outbound', 'internal')",
    ),
    (
        "intel_calls",
        "ck_intel_calls_call_direction_allowed",
        "call_direction IN ('inbound', 'outbound', 'internal')",
    ),
    (
        "intel_calls",
        "ck_intel_calls_outcome_allowed",
        "outcome IN ('answered', 'no_answer', 'busy', 'voicemail', 'failed')",
    ),
    ("intel_calls", "ck_intel_calls_duration_seconds_non_negative", "duration_seconds >= 0"),
    (
        "intel_messages",
        "ck_intel_messages_sender_role_allowed",
        "sender_role IN ('client', 'agent', 'assistant', 'system', 'other')",
    ),
    (
        "intel_qd_scores",
        "ck_intel_qd_scores_score_type_allowed",
        "score_type IN ('overall', 'intent', 'urgency', 'affordability', 'engagement', 'sentiment')",
    ),
    ("intel_qd_scores", "ck_intel_qd_scores_version_positive", "version >= 1"),
    (
        "intel_qd_timeseries",
        "ck_intel_qd_timeseries_score_type_allowed",
        "score_type IN ('overall', 'intent', 'urgency', 'affordability', 'engagement', 'sentiment')",
    ),
    (
        "intel_qd_timeseries",
        "ck_intel_qd_timeseries_signal_source_allowed",
        "signal_source IN ('message', 'call', 'transcript', 'email', 'whatsapp', 'visit', 'perception', 'vehicle', 'manual', 'model')",
    ),
    (
        "intel_reminders",
        "ck_intel_reminders_reminder_type_allowed",
        "reminder_type IN ('follow_up', 'call_back', 'site_visit', 'documents', 'payment', 'other')",
    ),
    (
        "intel_reminders",
        "ck_intel_reminders_priority_allowed",
        "priority IN ('low', 'medium', 'high', 'urgent')",
    ),
    (
        "intel_reminders",
        "ck_intel_reminders_status_allowed",
        "status IN ('open', 'completed', 'cancelled')",
    ),
    ("intel_reminders", "ck_intel_reminders_version_positive", "version >= 1"),
    (
        "intel_visits",
        "ck_intel_visits_visit_type_allowed",
        "visit_type IN ('site_visit', 'meeting', 'virtual')",
    ),
    (
        "intel_visits",
        "ck_intel_visits_status_allowed",
        "status IN ('scheduled', 'done', 'cancelled', 'no_show')",
    ),
    ("intel_visits", "ck_intel_visits_version_positive", "version >= 1"),
    (
        "intel_call_recordings",
        "ck_intel_call_recordings_format_allowed",
        "format IN ('mp3', 'wav', 'ogg', 'opus', 'm4a', 'webm', 'amr', 'other')",
    ),
    (
        "intel_call_recordings",
        "ck_intel_call_recordings_duration_seconds_non_negative",
        "duration_seconds >= 0",
    ),
    (
        "intel_transcripts",
        "ck_intel_transcripts_confidence_between_0_and_1",
        "confidence BETWEEN 0 AND 1",
    ),
]


def upgrade() -> None:
    """Apply this revision."""
    op.drop_constraint(
        op.f("ck_workflow_writebacks_no_failure_once_executed"),
        "workflow_writebacks",
        type_="check",
    )
    op.create_check_constraint(
        op.f("ck_workflow_writebacks_failure_reason_iff_failed"),
        "workflow_writebacks",
        "(status = 'failed') = (failure_reason IS NOT NULL)",
    )
    for table, name, condition in COLUMN_CHECKS:
        op.create_check_constraint(op.f(name), table, condition)


def downgrade() -> None:
    """Revert this revision (a failed writeback must be gone first: its status is refused)."""
    for table, name, _ in reversed(COLUMN_CHECKS):
        op.drop_constraint(op.f(name), table, type_="check")
    op.drop_constraint(
        op.f("ck_workflow_writebacks_failure_reason_iff_failed"),
        "workflow_writebacks",
        type_="check",
    )
    op.create_check_constraint(
        op.f("ck_workflow_writebacks_no_failure_once_executed"),
        "workflow_writebacks",
        "status <> 'executed' OR failure_reason IS NULL",
    )
