"""Quickstart: the canonical CRM model in a few lines, in memory or on PostgreSQL.

    python3 tasks.py quickstart                          # the in-memory store
    python3 tasks.py quickstart --url postgresql://...   # PostgreSQL (migrated first)

It records a few people, an account, a lead and an opportunity, logs some
interactions, then prints the contact list and one client's timeline.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO

import attrs

from velocity_domain import Velocity
from velocity_domain.crm.entities import Account, AccountType, Lead, Opportunity, Person, Urgency
from velocity_domain.errors import ConcurrencyConflict, ValidationFailed
from velocity_domain.intel.entities import Channel, Interaction, InteractionType

START = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)


def open_store(url: str | None) -> Velocity:
    """Return a Velocity in memory, or on the PostgreSQL at ``url`` after migrating it."""
    if url is None:
        return Velocity.in_memory()
    from velocity_domain.adapters.postgres import migrate  # noqa: PLC0415 - needs the extra

    migrate.upgrade(url)
    return Velocity.from_url(url)


def run(velocity: Velocity, out: TextIO) -> None:
    """Tell the quickstart story on ``velocity``, printing to ``out``."""
    asha = Person(
        full_name="Smt. Asha Rao",
        primary_email=" Asha.Rao@Example.com ",
        primary_phone="098300 12345",
        persona_labels=("buyer", "nri"),
    )
    ravi = Person(full_name="Ravi Sen", primary_phone="+91 98765 43210")
    meera = Person(full_name="Meera Iyer", primary_email="meera@example.com")
    skyline = Account(account_name="Skyline Developers", account_type=AccountType.DEVELOPER)
    lead = Lead(
        person_id=asha.key,
        account_id=skyline.key,
        source_system="whatsapp",
        budget_band="1-1.5 Cr",
        urgency=Urgency.HIGH,
    )
    deal = Opportunity(
        person_id=asha.key,
        lead_id=lead.key,
        account_id=skyline.key,
        value=Decimal("12500000"),
        probability=Decimal("0.35"),
        next_action="Schedule a site visit",
    )
    touches = [
        Interaction(
            person_id=asha.key,
            lead_id=lead.key,
            channel=Channel.WHATSAPP,
            interaction_type=InteractionType.ENQUIRY,
            happened_at=START,
            summary="Asked for 3BHK options in New Town",
        ),
        Interaction(
            person_id=asha.key,
            channel=Channel.CALL,
            interaction_type=InteractionType.FOLLOW_UP,
            happened_at=START + timedelta(days=1, hours=2),
            summary="Shared the brochure and price sheet",
        ),
        Interaction(
            person_id=asha.key,
            channel=Channel.EMAIL,
            interaction_type=InteractionType.FOLLOW_UP,
            happened_at=START + timedelta(days=2),
            summary="Sent the floor plans",
        ),
    ]

    with velocity.unit_of_work() as uow:
        uow.crm.people.add_many([asha, ravi, meera])
        uow.crm.accounts.add(skyline)
        uow.crm.leads.add(lead)
        uow.crm.opportunities.add(deal)
        uow.intel.interactions.add_many(touches)
        uow.commit()
    print("Stored 3 people, 1 account, 1 lead, 1 opportunity and 3 interactions.", file=out)
    print(
        f"Asha's email and phone were normalised: {asha.primary_email}, {asha.primary_phone}",
        file=out,
    )

    with velocity.unit_of_work() as uow:
        print("\nContact list (by name):", file=out)
        for person in uow.crm.contact_list():
            contact = person.primary_email or person.primary_phone or "-"
            print(f"  {person.full_name:<16} {contact}", file=out)
        found = uow.crm.contact_list(search="98300 12345")
        print(f"Search '98300 12345' finds: {[p.full_name for p in found]}", file=out)

        print("\nAsha's timeline (newest first):", file=out)
        for touch in uow.intel.timeline(asha.key):
            when = touch.happened_at.strftime("%d %b %H:%M")
            print(f"  {when}  {touch.channel.value:<9} {touch.summary}", file=out)

        stored = uow.crm.opportunities.get(deal.key)
        print(
            f"\nOpportunity value {stored.currency} {stored.value}, stage {stored.stage.value}",
            file=out,
        )

    # Optimistic concurrency: two edits based on the same version; the second loses.
    with velocity.unit_of_work() as uow:
        uow.crm.opportunities.update(attrs.evolve(stored, probability=Decimal("0.5")))
        uow.commit()
    with velocity.unit_of_work() as uow:
        try:
            uow.crm.opportunities.update(stored)
        except ConcurrencyConflict as err:
            print(f"A stale edit is refused: {err}", file=out)

    try:
        Opportunity(person_id=asha.key, probability=Decimal("1.4"))
    except ValidationFailed as err:
        print(f"Bad input is refused: {err}", file=out)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Parse the command line and run the story."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL URL; without it the store is in memory")
    args = parser.parse_args(argv)
    where = "PostgreSQL" if args.url else "the in-memory store"
    print(f"velocity_domain quickstart on {where}\n", file=out)
    with open_store(args.url) as velocity:
        run(velocity, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
