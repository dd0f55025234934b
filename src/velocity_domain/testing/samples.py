"""A small, connected, valid world: one or more rows in every canonical table.

Tests and examples use it to exercise every table and every reference at
once. Rows come in an order that satisfies every foreign key.

>>> world = SampleWorld.build()
>>> len({type(row).table_name for row in world.rows})
50
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs

from velocity_domain.crm import entities as crm
from velocity_domain.identity import entities as identity
from velocity_domain.intel import entities as intel
from velocity_domain.inventory import entities as inventory
from velocity_domain.kernel.model import Entity
from velocity_domain.oracle import entities as oracle
from velocity_domain.workflow import entities as workflow

__all__ = ["SampleWorld"]

R = TypeVar("R", bound=Entity)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.frozen
class SampleWorld:
    """The rows of the sample world, in foreign-key order, and the main ones by name."""

    rows: tuple[Entity, ...]
    agent: identity.User
    manager: identity.User
    client: crm.Person
    spouse: crm.Person
    account: crm.Account
    project: inventory.Project
    unit: inventory.Unit
    lead: crm.Lead
    opportunity: crm.Opportunity
    interaction: intel.Interaction

    @classmethod
    def build(cls) -> SampleWorld:  # noqa: PLR0915 - one line per row reads best
        """Make a fresh world (new ids each time)."""
        rows: list[Entity] = []

        def add(row: R) -> R:
            rows.append(row)
            return row

        # identity and access
        agent = identity.User(email="agent@velocity.example", display_name="Asha Agent")
        manager = identity.User(email="manager@velocity.example", display_name="Meera Manager")
        oracle_user = identity.User(
            email="oracle@velocity.example",
            display_name="Oracle",
            user_kind=identity.UserKind.AGENT,
        )
        for user in (agent, manager, oracle_user):
            add(user)
        add(identity.Permission(route_family="samples.notes", action="read"))
        role = add(
            identity.Role(role_name="sample_reader", permission_names=("samples.notes.read",))
        )
        add(
            identity.RoleAssignment(
                user_id=agent.key, role_id=role.key, granted_by_user_id=manager.key
            )
        )
        add(
            identity.Session(
                user_id=agent.key,
                token_sha256=_sha("token"),
                issued_at=T0,
                expires_at=T0 + timedelta(hours=8),
            )
        )
        # CRM core, first part
        account = add(
            crm.Account(account_name="Skyline Developers", account_type=crm.AccountType.DEVELOPER)
        )
        add(crm.Account(account_name="Skyline Homes", parent_account_id=account.key))
        household = add(crm.Household(household_name="Rao family"))
        client = add(
            crm.Person(
                full_name="Asha Rao",
                primary_email="asha@example.com",
                primary_phone="+919830012345",
                persona_labels=("buyer",),
                household_id=household.key,
                source_system="legacy_leads",
                source_ref="L-1",
            )
        )
        spouse = add(crm.Person(full_name="Ravi Rao", household_id=household.key))
        add(
            crm.Relationship(
                from_person_id=client.key, to_person_id=spouse.key, kind=crm.RelationshipKind.SPOUSE
            )
        )
        # inventory
        project = add(
            inventory.Project(
                project_name="Skyline Residency",
                developer_name="Skyline Developers",
                developer_account_id=account.key,
                city="Kolkata",
                micro_market="New Town",
            )
        )
        unit = add(
            inventory.Unit(
                project_id=project.key,
                unit_label="T1-1204",
                configuration="3BHK",
                area_sqft=Decimal("1450"),
                price_current=Decimal("12500000.00"),
                floor=12,
            )
        )
        job = add(inventory.ImportJob(source_system="developer_feed"))
        add(
            inventory.PricingHistory(
                unit_id=unit.key,
                price=Decimal("12500000.00"),
                effective_from=T0,
                import_job_id=job.key,
            )
        )
        add(
            inventory.Availability(
                unit_id=unit.key, status=inventory.UnitStatus.AVAILABLE, valid_from=T0
            )
        )
        blob = add(
            intel.StoredBlob(
                content_sha256=_sha("floor plan"),
                size_bytes=204800,
                media_type="image/png",
                storage_uri="s3://velocity-media/plans/t1-1204.png",
            )
        )
        add(
            inventory.Media(
                unit_id=unit.key,
                media_type=inventory.MediaType.FLOOR_PLAN,
                storage_uri="s3://velocity-media/plans/t1-1204.png",
                blob_id=blob.key,
            )
        )
        add(
            inventory.LocationIndex(
                project_id=project.key, latitude=Decimal("22.5750"), longitude=Decimal("88.4790")
            )
        )
        # CRM core, second part
        lead = add(
            crm.Lead(
                person_id=client.key,
                account_id=account.key,
                source_system="whatsapp",
                assigned_user_id=agent.key,
                budget_band="1-1.5 Cr",
            )
        )
        opportunity = add(
            crm.Opportunity(
                person_id=client.key,
                lead_id=lead.key,
                project_id=project.key,
                unit_id=unit.key,
                value=Decimal("12500000.00"),
                probability=Decimal("0.4"),
                assigned_user_id=agent.key,
            )
        )
        add(
            crm.PropertyInterest(
                person_id=client.key,
                project_id=project.key,
                configuration="3BHK",
                budget_min=Decimal("10000000"),
                budget_max=Decimal("15000000"),
            )
        )
        add(
            crm.StageHistory(
                entity_type=crm.StagedEntity.OPPORTUNITY,
                entity_id=opportunity.key,
                to_stage="new",
                changed_by_user_id=agent.key,
            )
        )
        batch = add(crm.ImportBatch(source_system="legacy_leads", file_name="leads.csv"))
        add(
            crm.ImportRow(
                import_batch_id=batch.key,
                row_number=1,
                source_fingerprint=_sha("row 1"),
                raw_json={"name": "Asha Rao"},
            )
        )
        # interactions and evidence
        interaction = add(
            intel.Interaction(
                person_id=client.key,
                lead_id=lead.key,
                channel=intel.Channel.WHATSAPP,
                happened_at=T0,
                summary="Asked about 3BHK units in New Town",
            )
        )
        thread = add(
            intel.WhatsAppThread(
                person_id=client.key,
                wa_phone="+919830012345",
                source_system="whatsapp",
                source_ref="wa-1",
            )
        )
        add(
            intel.Message(
                interaction_id=interaction.key,
                sender_role=intel.SenderRole.CLIENT,
                message_text="Is T1-1204 still available?",
                sent_at=T0,
                whatsapp_thread_id=thread.key,
            )
        )
        call_interaction = add(
            intel.Interaction(
                person_id=client.key,
                channel=intel.Channel.CALL,
                happened_at=T0 + timedelta(hours=2),
            )
        )
        call = add(
            intel.Call(
                interaction_id=call_interaction.key,
                call_direction=intel.Direction.OUTBOUND,
                started_at=T0 + timedelta(hours=2),
                duration_seconds=240,
            )
        )
        recording_blob = add(
            intel.StoredBlob(
                content_sha256=_sha("call audio"),
                size_bytes=3_000_000,
                media_type="audio/mpeg",
                storage_uri="s3://velocity-media/calls/1.mp3",
            )
        )
        recording = add(
            intel.CallRecording(
                call_id=call.key, blob_id=recording_blob.key, format=intel.RecordingFormat.MP3
            )
        )
        add(
            intel.Transcript(call_id=call.key, recording_id=recording.key, full_text="Hello, Asha.")
        )
        email_interaction = add(
            intel.Interaction(
                person_id=client.key,
                channel=intel.Channel.EMAIL,
                happened_at=T0 + timedelta(days=1),
            )
        )
        add(
            intel.Email(
                interaction_id=email_interaction.key,
                from_address="agent@velocity.example",
                subject="Brochure",
                sent_at=T0 + timedelta(days=1),
            )
        )
        visit = add(
            intel.Visit(
                person_id=client.key,
                opportunity_id=opportunity.key,
                project_id=project.key,
                unit_id=unit.key,
                visited_at=T0 + timedelta(days=2),
                host_user_id=agent.key,
            )
        )
        add(
            intel.Reminder(
                title="Call back after the site visit",
                person_id=client.key,
                opportunity_id=opportunity.key,
                assigned_user_id=agent.key,
                due_at=T0 + timedelta(days=3),
            )
        )
        add(
            intel.QdScore(
                person_id=client.key,
                score_type=intel.QdScoreType.INTENT,
                current_value=Decimal("0.72"),
            )
        )
        add(
            intel.QdTimeseriesPoint(
                person_id=client.key,
                signal_source=intel.SignalSource.CALL,
                timestamp=T0,
                value=Decimal("0.7"),
            )
        )
        vehicle = add(
            intel.VehicleEvent(
                observed_at=T0 + timedelta(days=2), camera_ref="gate-1", project_id=project.key
            )
        )
        perception = add(
            intel.PerceptionEvent(
                observed_at=T0 + timedelta(days=2),
                event_type=next(iter(intel.PerceptionEventType)),
                location_ref="sales-lounge",
                person_id=client.key,
            )
        )
        add(
            intel.CctvLink(
                camera_ref="gate-1",
                clip_start=T0 + timedelta(days=2),
                clip_end=T0 + timedelta(days=2, minutes=1),
                vehicle_event_id=vehicle.key,
                perception_event_id=perception.key,
                visit_id=visit.key,
            )
        )
        # Oracle templates
        family = add(oracle.ComponentFamily(family_key="client-cards", name="Client cards"))
        chapter = add(
            oracle.ComponentChapter(family_id=family.key, chapter_key="summary", title="Summary")
        )
        template = add(
            oracle.ComponentTemplate(
                family_id=family.key,
                chapter_id=chapter.key,
                template_key="client-360-card",
                name="360 card",
            )
        )
        child = add(
            oracle.ComponentTemplate(
                family_id=family.key,
                template_key="client-360-card-compact",
                name="Compact 360 card",
            )
        )
        add(oracle.ComponentExample(template_id=template.key, title="Asha's card"))
        add(oracle.ComponentTag(template_id=template.key, tag="crm"))
        add(
            oracle.ComponentLineage(
                parent_template_id=template.key,
                child_template_id=child.key,
                relation=oracle.LineageRelation.DERIVED_FROM,
            )
        )
        # AI workflow and governance
        run = add(workflow.AgentRun(agent_name="oracle", started_by_user_id=oracle_user.key))
        branch = add(workflow.Branch(agent_run_id=run.key, label="call-first"))
        writeback = add(
            workflow.Writeback(
                target_domain=workflow.TargetDomain.CRM,
                target_table="crm_people",
                target_entity_ref=client.key,
                base_version=1,
                change_kind=workflow.ChangeKind.UPDATE,
                change_json={"primary_email": "asha.rao@example.com"},
                agent_run_id=run.key,
                proposal_ref="oracle:suggest-email",
            )
        )
        add(
            workflow.WorkflowAction(
                agent_run_id=run.key,
                branch_id=branch.key,
                sequence=1,
                action_type="propose_update",
                writeback_id=writeback.key,
            )
        )
        add(
            workflow.PolicyDecision(
                writeback_id=writeback.key,
                risk_level=workflow.RiskLevel.HIGH,
                rule_name="agent_touches_contact_details",
                reason="an agent proposed a change to contact details",
                decision=workflow.PolicyOutcome.REVIEW_REQUIRED,
            )
        )
        add(
            workflow.Approval(
                writeback_id=writeback.key,
                approver_user_id=manager.key,
                decision=workflow.ApprovalDecision.APPROVED,
            )
        )
        add(
            identity.AuditEvent(
                actor_kind=identity.ActorKind.HUMAN,
                actor_user_id=agent.key,
                action="crm.contacts.create",
                target_domain="crm",
                target_ref=str(client.key),
            )
        )
        return cls(
            rows=tuple(rows),
            agent=agent,
            manager=manager,
            client=client,
            spouse=spouse,
            account=account,
            project=project,
            unit=unit,
            lead=lead,
            opportunity=opportunity,
            interaction=interaction,
        )
