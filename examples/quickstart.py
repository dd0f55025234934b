"""Quickstart: a day in the CRM, told through the services, in memory or on PostgreSQL.

    python3 tasks.py quickstart                          # the in-memory store
    python3 tasks.py quickstart --url postgresql://...   # PostgreSQL
    python3 tasks.py quickstart --url ... --keep         # and keep what it made

An agent logs a lead from a WhatsApp enquiry, converts it into an
opportunity for a unit, books and holds a site visit, moves the deal along
the pipeline; a manager then looks at the pipeline and the audit trail.
High-risk changes (a price, closing the deal, an AI agent's correction of a
contact's email) wait in an operator's inbox until he approves them. On
PostgreSQL the story runs in a new schema of its own (``quickstart_<hex>``),
so it never touches existing data and can be run again; the schema is dropped
at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO
from uuid import UUID

from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.crm.entities import OpportunityStage
from velocity_domain.errors import (
    ApprovalRequired,
    DuplicateSuspected,
    InvalidTransition,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.kernel.clock import FixedClock

MONDAY = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)


def new_schema(url: str, out: TextIO) -> str:
    """Migrate a new schema ``quickstart_<hex>`` of the PostgreSQL at ``url``; return its name."""
    from velocity_domain.adapters.postgres import migrate  # noqa: PLC0415 - needs the extra

    schema = f"quickstart_{secrets.token_hex(4)}"
    migrate.upgrade(url, schema=schema)
    print(f"(migrated a new schema {schema} for this run)", file=out)
    return schema


def open_store(url: str | None, schema: str | None, clock: FixedClock) -> Velocity:
    """Return a Velocity in memory, or on ``schema`` of the PostgreSQL at ``url``."""
    if url is None:
        return Velocity.in_memory(clock=clock)
    # A host passes its own secret (the same in every process) or sets VELOCITY_CURSOR_KEY;
    # this story's cursors need not outlive it, so a random key will do.
    return Velocity.from_url(url, schema=schema, clock=clock, cursor_key=secrets.token_bytes(32))


def clean_up(url: str, schema: str, keep: bool, out: TextIO) -> None:
    """Drop the story's schema, or say how to when asked to keep it."""
    from velocity_domain.adapters.postgres import migrate  # noqa: PLC0415 - needs the extra

    if keep:
        print(f"(kept the schema {schema}; DROP SCHEMA {schema} CASCADE removes it)", file=out)
        return
    migrate.drop_schema(url, schema)
    print(f"(dropped the schema {schema}; --keep keeps it)", file=out)


def run(velocity: Velocity, clock: FixedClock, out: TextIO) -> None:  # noqa: PLR0915 - a story
    """Tell the story on ``velocity``, printing to ``out``."""

    def say(text: str = "") -> None:
        print(text, file=out)

    _, admin = velocity.users.create_first_admin(
        email="admin@skyline.example", display_name="Admin"
    )
    agent_user = velocity.users.create(
        admin, email="priya@skyline.example", display_name="Priya (agent)", roles=["sales_agent"]
    )
    manager_user = velocity.users.create(
        admin,
        email="meera@skyline.example",
        display_name="Meera (manager)",
        roles=["sales_manager"],
    )
    operator_user = velocity.users.create(
        admin, email="omar@skyline.example", display_name="Omar (operator)", roles=["operator"]
    )
    oracle_user = velocity.users.create(
        admin,
        email="oracle@skyline.example",
        display_name="Oracle",
        kind="agent",
        roles=["oracle_agent"],
    )
    agent = velocity.users.principal_for(admin, agent_user.key)
    manager = velocity.users.principal_for(admin, manager_user.key)
    operator = velocity.users.principal_for(admin, operator_user.key)
    oracle = velocity.users.principal_for(admin, oracle_user.key)
    project = velocity.inventory.create_project(
        admin, project_name="Skyline Residency", city="Kolkata", micro_market="New Town"
    )
    unit = velocity.inventory.add_unit(
        admin, project.key, unit_label="T1-1204", configuration="3BHK", area_sqft=Decimal("1450")
    )
    try:
        velocity.inventory.change_price(
            admin, unit.key, price=Decimal("12500000"), effective_from=clock.now()
        )
    except ApprovalRequired as held:
        velocity.writebacks.approve(operator, held.proposal_id, comment="list price confirmed")
        velocity.writebacks.execute(operator, held.proposal_id)
    say(
        "Set-up: an admin, Priya (sales agent), Meera (sales manager), Omar (operator), the "
        "Oracle agent,\n        one project and one unit, whose list price Omar approved."
    )

    # 1. A WhatsApp enquiry arrives; Priya records the person, the lead and the message.
    clock.advance(minutes=5)
    asha = velocity.contacts.create(
        agent, full_name="Smt. Asha Rao", primary_phone="098300 12345", persona_labels=["buyer"]
    )
    lead = velocity.leads.create(
        agent, person_id=asha.key, source_system="whatsapp", budget_band="1-1.5 Cr"
    )
    velocity.interactions.log(
        agent,
        person_id=asha.key,
        lead_id=lead.key,
        channel="whatsapp",
        interaction_type="enquiry",
        happened_at=clock.now(),
        summary="Asked about 3BHK units in New Town",
        message={
            "sender_role": "client",
            "message_text": "Is a 3BHK available?",
            "sent_at": clock.now(),
        },
    )
    say(f"\n1. Priya logged Asha ({asha.primary_phone}) and a lead from a WhatsApp enquiry.")
    try:
        velocity.contacts.create(agent, full_name="Asha R.", primary_phone="+91 98300 12345")
    except DuplicateSuspected as err:
        matches = len(err.existing_ids)
        say(f"   Entering her again is caught: {err.matched_on} matches {matches} person")

    # 2. The lead becomes an opportunity for the unit.
    clock.advance(hours=1)
    lead, deal = velocity.leads.convert(
        agent,
        lead.key,
        expected_version=lead.version,
        project_id=project.key,
        unit_id=unit.key,
        value=Decimal("12500000"),
    )
    say(f"2. The lead was converted into an opportunity at stage {deal.stage.value}.")

    # 3. She calls, then books a site visit, and the deal moves along the pipeline.
    for stage in (OpportunityStage.CONTACTED, OpportunityStage.SITE_VISIT_SCHEDULED):
        clock.advance(hours=3)
        deal = velocity.opportunities.move_stage(
            agent, deal.key, stage, expected_version=deal.version
        )
    visit_task = velocity.tasks.create(
        agent,
        title="Site visit with Asha",
        due_at=clock.now() + timedelta(days=2),
        person_id=asha.key,
    )
    say(f"   Priya booked the site visit as a task due {visit_task.due_at:%d %b %H:%M}.")
    clock.advance(days=2)
    velocity.interactions.log(
        agent,
        person_id=asha.key,
        opportunity_id=deal.key,
        channel="visit",
        interaction_type="site_visit",
        happened_at=clock.now(),
        summary="Site visit at Skyline Residency",
        visit={
            "project_id": project.key,
            "unit_id": unit.key,
            "visited_at": clock.now(),
            "host_user_id": agent_user.key,
            "visit_notes": "Liked the east-facing balcony",
        },
    )
    deal = velocity.opportunities.move_stage(
        agent, deal.key, OpportunityStage.SITE_VISIT_DONE, expected_version=deal.version
    )
    velocity.tasks.complete(agent, visit_task.key, expected_version=visit_task.version)
    say(f"3. After a call and the site visit the deal is at {deal.stage.value}.")
    try:
        velocity.opportunities.move_stage(
            agent, deal.key, OpportunityStage.WON, expected_version=deal.version
        )
    except InvalidTransition as err:
        say(f"   Jumping straight to won is refused: {err}")
    timeline = velocity.interactions.timeline(agent, asha.key)
    say("   Asha's timeline, newest first:")
    for touch in timeline:
        say(f"     {touch.happened_at:%d %b %H:%M}  {touch.channel.value:<9} {touch.summary}")

    # 4. The manager looks at the pipeline.
    say("\n4. Meera's view of the pipeline:")
    for opportunity in velocity.opportunities.list(manager):
        say(
            f"   {opportunity.stage.value:<16} {opportunity.currency} {opportunity.value}  next: "
            f"{opportunity.next_action or '-'}"
        )
    for step in velocity.opportunities.time_in_stages(manager, deal.key):
        say(f"   spent {step.duration} in {step.stage.value}")
    events = velocity.audit.list(admin, limit=100)
    latest = events.items[0].action
    say(f"   The audit trail holds {len(events)} events for this story; the latest: {latest}")

    release(velocity, clock, out, agent, operator, oracle, deal.key, asha.key)

    try:
        velocity.contacts.create(agent, full_name="Ravi Sen", primary_email="not an email")
    except ValidationFailed as err:
        say(f"\nBad input is refused with the field named: {err}")


def release(  # noqa: PLR0917 - the cast of the story
    velocity: Velocity,
    clock: FixedClock,
    out: TextIO,
    agent: Principal,
    operator: Principal,
    oracle: Principal,
    deal_id: UUID,
    asha_id: UUID,
) -> None:
    """Part 5: high-risk changes wait for the operator, who approves and executes them."""

    def say(text: str = "") -> None:
        print(text, file=out)

    say("\n5. High-risk changes wait for an operator.")
    asha = velocity.contacts.get(agent, asha_id)
    correction = velocity.writebacks.propose(
        oracle,
        target_table="crm_people",
        change_kind="update",
        target_ref=asha.key,
        base_version=asha.version,
        fields={"primary_email": "Asha.Rao@Example.COM"},
        proposal_ref="oracle:email-heard-on-call",
    )
    say(f"   The Oracle heard Asha's email on a call and proposed it: {correction.status.value}.")
    deal = velocity.opportunities.get(agent, deal_id)
    for stage in (OpportunityStage.NEGOTIATION, OpportunityStage.BOOKING):
        clock.advance(days=1)
        deal = velocity.opportunities.move_stage(
            agent, deal.key, stage, expected_version=deal.version
        )
    try:
        velocity.opportunities.move_stage(
            agent, deal.key, OpportunityStage.WON, expected_version=deal.version
        )
    except ApprovalRequired as held:
        say(f"   Priya marked the deal won; it waits for approval ({held.reason}).")
    say("   Omar's inbox, oldest first:")
    inbox = velocity.writebacks.inbox(operator)
    for item in inbox:
        say(f"     {item.kind.value:<8} {item.risk.value if item.risk else '-':<6} {item.title}")
    for item in inbox:
        velocity.writebacks.approve(operator, item.item_id, comment="checked with Priya")
        velocity.writebacks.execute(operator, item.item_id)
    again = velocity.writebacks.execute(operator, correction.key)
    say(f"   Omar approved and executed both; running one again applies nothing: {again.applied}.")
    asha = velocity.contacts.get(agent, asha_id)
    deal = velocity.opportunities.get(agent, deal_id)
    say(f"   Asha's email is now {asha.primary_email}; the deal is {deal.stage.value}.")


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Parse the command line and run the story; a setup mistake is one line on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL URL; without it the store is in memory")
    parser.add_argument(
        "--keep", action="store_true", help="keep the quickstart_<hex> schema (with --url)"
    )
    args = parser.parse_args(argv)
    where = "PostgreSQL" if args.url else "the in-memory store"
    print(f"velocity_domain quickstart on {where}", file=out)
    clock = FixedClock(MONDAY)
    schema = None
    try:
        if args.url:
            schema = new_schema(args.url, out)
        velocity = open_store(args.url, schema, clock)
    except ImportError as exc:
        print(
            f"quickstart: the PostgreSQL store is not installed ({exc});"
            ' pip install "velocity-domain[postgres]"',
            file=sys.stderr,
        )
        return 2
    except VelocityError as err:  # a wrong URL, host, user or password
        print(f"quickstart: {err}", file=sys.stderr)
        if schema is not None:
            clean_up(args.url, schema, args.keep, out)
        return 1
    try:
        with velocity:
            run(velocity, clock, out)
    finally:
        if schema is not None:
            clean_up(args.url, schema, args.keep, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
