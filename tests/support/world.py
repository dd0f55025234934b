"""The world most tests start from: a store, one user per default role, two agents with clients.

Tests take it as the ``world`` fixture (``tests/conftest.py``), built on each
store in turn; ``build(velocity)`` makes one on a store a test set up itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from velocity_domain import Velocity
from velocity_domain.access import Principal
from velocity_domain.access.catalogue import DEFAULT_ROLES
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.identity.entities import UserKind
from velocity_domain.intel.entities import (
    Call,
    Channel,
    Direction,
    Email,
    Interaction,
    Message,
    SenderRole,
    Transcript,
)
from velocity_domain.kernel.clock import Clock
from velocity_domain.testing import unit_of_work

T0 = datetime(2026, 5, 4, 11, 0, tzinfo=UTC)


@attrs.frozen
class World:
    """A staffed store: its ``velocity`` and ``clock``, who works in it, and their first clients.

    ``agent_a`` holds a lead of ``client_a`` (with a WhatsApp ``chat`` and a
    ``call``), ``agent_b`` a deal of ``client_b``; ``by_role`` has one
    principal per default role (``by_role["sales_agent"]`` is ``agent_a``).
    """

    velocity: Velocity
    clock: Clock
    admin: Principal
    by_role: dict[str, Principal]
    agent_a: Principal
    agent_b: Principal
    client_a: Person
    client_b: Person
    chat: Interaction
    call: Interaction


def build(velocity: Velocity) -> World:
    """Staff ``velocity`` (a fresh store) and give two agents a client each."""
    _, admin = velocity.users.create_first_admin(
        email="admin@velocity.example", display_name="Admin"
    )
    by_role: dict[str, Principal] = {}
    for role in DEFAULT_ROLES:
        kind = UserKind.AGENT if role == "oracle_agent" else UserKind.HUMAN
        user = velocity.users.create(
            admin, email=f"{role}.user@velocity.example", display_name=role, kind=kind, roles=[role]
        )
        by_role[role] = velocity.users.principal_for(admin, user.key)
    second = velocity.users.create(
        admin, email="agent.b@velocity.example", display_name="Agent B", roles=["sales_agent"]
    )
    agent_a = by_role["sales_agent"]
    agent_b = velocity.users.principal_for(admin, second.key)
    client_a = Person(full_name="Asha Rao", primary_phone="+919830012345")
    client_b = Person(full_name="Ravi Sen")
    chat = Interaction(person_id=client_a.key, channel=Channel.WHATSAPP, happened_at=T0)
    call = Interaction(person_id=client_a.key, channel=Channel.CALL, happened_at=T0)
    the_call = Call(interaction_id=call.key, call_direction=Direction.OUTBOUND, started_at=T0)
    with unit_of_work(velocity) as uow:
        uow.crm.people.add_many([client_a, client_b])
        uow.crm.leads.add(
            Lead(person_id=client_a.key, source_system="web", assigned_user_id=agent_a.user_id)
        )
        uow.crm.opportunities.add(
            Opportunity(person_id=client_b.key, assigned_user_id=agent_b.user_id)
        )
        uow.intel.interactions.add_many([chat, call])
        uow.intel.messages.add(
            Message(
                interaction_id=chat.key,
                sender_role=SenderRole.CLIENT,
                message_text="My budget is 1.2 Cr",
                sent_at=T0,
            )
        )
        uow.intel.calls.add(the_call)
        uow.intel.transcripts.add(
            Transcript(call_id=the_call.key, full_text="We can stretch to 1.3 Cr")
        )
        email_touch = Interaction(person_id=client_a.key, channel=Channel.EMAIL, happened_at=T0)
        uow.intel.interactions.add(email_touch)
        uow.intel.emails.add(
            Email(
                interaction_id=email_touch.key,
                from_address="asha@example.com",
                body="Please call me",
                sent_at=T0,
            )
        )
        uow.commit()
    return World(
        velocity, velocity.clock, admin, by_role, agent_a, agent_b, client_a, client_b, chat, call
    )
