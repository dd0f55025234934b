"""The import gateway end to end, on both stores: real export styles, outcomes, review, undo."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from tests.support.world import World
from velocity_domain.access import Principal
from velocity_domain.crm.entities import ImportBatch, ImportBatchStatus, ImportOutcome, ImportRow
from velocity_domain.errors import (
    ApprovalRefused,
    InvalidTransition,
    PermissionDenied,
    UnreadableImport,
    ValidationFailed,
)
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.query import Eq, Query
from velocity_domain.testing import unit_of_work
from velocity_domain.workflow.entities import WritebackStatus

B = ImportBatchStatus

HUBSPOT = (
    "\ufeff"
    '"Record ID","First Name","Last Name","Email","Phone Number","Mobile Phone Number",'
    '"Lifecycle Stage","Lead Status","Contact owner","Create Date"\r\n'
    '"101","Anita","Rao","anita.rao@example.in","+91 98400 12345","","lead","NEW",'
    '"Omar Khan","2024-03-05 10:22"\r\n'
    '"102","Vikram","Mehta","VIKRAM@Example.com","","098310-54321","opportunity",'
    '"IN_PROGRESS","Omar Khan","2024-03-06 11:00"\r\n'
    '"103","Neha","","not-an-email","","","lead","NEW","","2024-03-07 09:00"\r\n'
)

SALESFORCE = (
    "Id,FirstName,LastName,Email,Phone,MobilePhone,Company,LeadSource,Status,OwnerId\n"
    "00Q1,Ravi,Iyer,ravi.iyer@example.in,(022) 2345 6789,+91-98201-11111,Iyer & Co,Web,"
    "Open - Not Contacted,005A\n"
    '00Q2,Meera,"D\'Souza",meera@example.in,,9820122222,,Referral,Working - Contacted,005A\n'
)

HAND_TYPED = (
    "Name;Mobile;Email ID;Budget;Interested In;Remarks\r\n"
    "Jos\xe9 D'Souza;98300 99999;jose@example.in;1.2 Cr;3 BHK in Whitefield;call after 6\r\n"
    'Priya Nair;+91 98450 88888;;80 L;2bhk;"wants ""sea view""\r\nand parking"\r\n'
    "Kiran Rao;0091 9845077777;kiran@example.in;90 lakhs;;\r\n"
).encode("cp1252")


def _people(world: World) -> list[Any]:
    with unit_of_work(world.velocity) as uow:
        return list(uow.crm.people.list().items)


def _run(
    world: World, data: Any, *, submitter: Principal | None = None, **options: Any
) -> ImportBatch:
    """Submit, accept the mapping, propose, approve (as the operator) and commit ``data``."""
    imports = world.velocity.imports
    manager = submitter or world.by_role["sales_manager"]
    batch = imports.submit(manager, data, source_system="test", **options)
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    if batch.status is B.PROPOSED:
        batch = imports.approve(world.by_role["operator"], batch.key)
    return imports.commit(manager, batch.key)


def _rows(world: World, batch: ImportBatch) -> list[ImportRow]:
    page = world.velocity.imports.rows(world.admin, batch.key, limit=500)
    return list(page.items)


def test_a_hubspot_export_imports_without_edits(world: World) -> None:
    batch = _run(world, HUBSPOT.encode("utf-8"), file_name="hubspot-contacts.csv")
    assert batch.status is B.COMMITTED
    assert (batch.file_name, batch.row_count) == ("hubspot-contacts.csv", 3)
    rows = _rows(world, batch)
    outcomes = [(r.row_number, r.outcome) for r in rows]
    assert outcomes == [
        (1, ImportOutcome.NEW),
        (2, ImportOutcome.NEW),
        (3, ImportOutcome.INVALID),
    ]
    assert "primary_email" in (rows[2].error_reason or "")
    by_email = {p.primary_email: p for p in _people(world)}
    asha = by_email["anita.rao@example.in"]
    assert (asha.full_name, asha.primary_phone) == ("Anita Rao", "+919840012345")
    assert (asha.source_system, asha.source_ref) == ("test", "101")
    vikram = by_email["vikram@example.com"]
    assert vikram.primary_phone == "+919831054321"
    assert rows[0].target_entity_ref == asha.key
    with unit_of_work(world.velocity) as uow:
        lead = uow.crm.leads.list().items
        mine = [le for le in lead if le.person_id == asha.key]
        assert [le.source_ref for le in mine] == ["101"]
        assert mine[0].assigned_user_id == world.by_role["sales_manager"].user_id


def test_a_salesforce_lead_export_imports_without_edits(world: World) -> None:
    batch = _run(world, SALESFORCE.encode("utf-8"), file_name="leads.csv")
    rows = _rows(world, batch)
    assert [r.outcome for r in rows] == [ImportOutcome.NEW, ImportOutcome.NEW]
    values = rows[0].mapped_json
    assert values["primary_phone"] == "+919820111111"  # mobile first
    assert values["company"] == "Iyer & Co"
    assert values["lead_status"] == "open"
    by_email = {p.primary_email: p for p in _people(world)}
    assert by_email["meera@example.in"].full_name == "Meera D'Souza"
    assert by_email["ravi.iyer@example.in"].source_ref == "00Q1"


def test_a_hand_typed_windows_sheet_imports_without_edits(world: World) -> None:
    batch = _run(world, HAND_TYPED, file_name="leads from expo.csv")
    assert batch.stats_json["encoding"] in ("cp1252", "windows-1252")
    assert batch.stats_json["delimiter"] == ";"
    rows = _rows(world, batch)
    assert [r.outcome for r in rows] == [ImportOutcome.NEW] * 3
    first = rows[0].mapped_json
    assert first["full_name"] == "José D'Souza"
    assert first["budget_max"] == "12000000"
    assert rows[1].mapped_json["primary_phone"] == "+919845088888"
    assert "sea view" in rows[1].mapped_json["notes"]
    with unit_of_work(world.velocity) as uow:
        interests = uow.crm.property_interests.list().items
    budgets = sorted(i.budget_max for i in interests if i.budget_max is not None)
    assert budgets == [Decimal("8000000"), Decimal("9000000"), Decimal("12000000")]


def test_reimporting_the_same_file_creates_and_changes_nothing(world: World) -> None:
    first = _run(world, HUBSPOT.encode("utf-8"))
    before = {p.key: p for p in _people(world)}
    again = _run(world, HUBSPOT.encode("utf-8"))
    assert again.stats_json["outcomes"]["unchanged"] == 2
    assert again.stats_json["outcomes"]["new"] == 0
    assert {p.key: p for p in _people(world)} == before
    assert first.content_sha256 == again.content_sha256


def test_matching_decides_update_unchanged_and_possible_duplicates(world: World) -> None:
    manager = world.by_role["sales_manager"]
    contacts = world.velocity.contacts
    asha = contacts.create(manager, full_name="Asha Iyer", primary_email="asha@example.in")
    ravi = contacts.create(
        manager,
        full_name="Ravi Kumar",
        primary_email="ravi@example.in",
        primary_phone="+919830011111",
    )
    rows = [
        {"Name": "Asha Iyer", "Email": "asha@example.in", "Mobile": "98400 12345"},  # update
        {"Name": "Ravi Kumar", "Email": "ravi@example.in", "Mobile": "9830011111"},  # unchanged
        {"Name": "Kumar Ravi", "Email": "ravi.k@example.org", "Mobile": "9830011112"},  # dup
        {"Name": "New Person", "Email": "new@example.in", "Mobile": "9830022222"},  # new
        {"Name": "New Again", "Email": "new@example.in", "Mobile": "9830033333"},  # same file
    ]
    imports = world.velocity.imports
    batch = imports.submit(manager, rows, source_system="expo")
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    found = {r.row_number: r for r in _rows(world, batch)}
    assert [found[n].outcome for n in range(1, 6)] == [
        ImportOutcome.UPDATE,
        ImportOutcome.UNCHANGED,
        ImportOutcome.DUPLICATE,
        ImportOutcome.NEW,
        ImportOutcome.DUPLICATE,
    ]
    assert found[1].changes_json == {"primary_phone": [None, "+919840012345"]}
    assert found[1].matched_person_id == asha.key
    assert found[3].evidence_json["rule"] == "similar_name"
    assert found[3].evidence_json["signal"] == "phone"
    assert found[3].matched_person_id == ravi.key
    assert found[5].evidence_json == {
        "rule": "same_file",
        "field": "primary_email",
        "row": 4,
        "value": "new@example.in",
        "matches": [],
    }
    # New people pass at once; the update and the duplicates wait for review.
    proposals = batch.stats_json["proposals"]
    with unit_of_work(world.velocity) as uow:
        status = {
            o: uow.workflow.writebacks.get(__import__("uuid").UUID(k)).status
            for o, k in proposals.items()
        }
    assert status == {
        "new": WritebackStatus.APPROVED,
        "update": WritebackStatus.REVIEW_REQUIRED,
        "duplicate": WritebackStatus.REVIEW_REQUIRED,
    }
    inbox = world.velocity.writebacks.inbox(world.by_role["operator"]).items
    assert {str(i.item_id) for i in inbox} >= {proposals["update"], proposals["duplicate"]}
    # The submitter may not approve; the operator sets row 5 aside and approves the rest.
    with pytest.raises(PermissionDenied):
        imports.approve(manager, batch.key)
    operator = world.by_role["operator"]
    assert imports.review_rows(operator, batch.key, reject=[5]) == 1
    batch = imports.approve(operator, batch.key)
    assert batch.status is B.APPROVED
    batch = imports.commit(manager, batch.key)
    people = {p.primary_email: p for p in _people(world)}
    assert people["asha@example.in"].primary_phone == "+919840012345"
    assert people["asha@example.in"].version == 2
    assert people["ravi@example.in"].version == 1
    assert "ravi.k@example.org" in people  # the approved possible duplicate was created
    assert "new@example.in" in people
    emails = [p.primary_email for p in _people(world) if p.primary_email]
    assert len(emails) == len(set(emails))  # nobody was created twice
    skipped = {r.row_number: r.status.value for r in _rows(world, batch)}
    assert (skipped[5], skipped[2]) == ("skipped", "committed")


def test_undo_restores_the_state_before_the_batch(world: World) -> None:
    manager = world.by_role["sales_manager"]
    operator = world.by_role["operator"]
    world.velocity.contacts.create(manager, full_name="Asha Iyer", primary_email="asha@example.in")

    def snapshot() -> dict[str, Any]:
        with unit_of_work(world.velocity) as uow:
            return {
                "people": {
                    p.key: (p.full_name, p.primary_email, p.primary_phone)
                    for p in uow.crm.people.list(Query(limit=500)).items
                },
                "leads": {le.key for le in uow.crm.leads.list(Query(limit=500)).items},
                "interests": {
                    i.key for i in uow.crm.property_interests.list(Query(limit=500)).items
                },
            }

    before = snapshot()
    rows = [
        {"Name": "Asha Iyer", "Email": "asha@example.in", "Mobile": "98400 12345"},
        {
            "Name": "Kiran Shah",
            "Email": "kiran@example.in",
            "Mobile": "98300 54321",
            "Budget": "80 L",
        },
        {"Name": "Latha Menon", "Email": "latha@example.in"},
    ]
    batch = _run(world, rows)
    assert snapshot() != before
    # Someone edits Latha after the import: undo must leave her alone and say so.
    latha = next(p for p in _people(world) if p.primary_email == "latha@example.in")
    world.velocity.contacts.update(
        manager, latha.key, expected_version=latha.version, full_name="Latha Menon Iyer"
    )
    proposal = world.velocity.imports.undo(manager, batch.key, reason="wrong file")
    assert proposal.status is WritebackStatus.REVIEW_REQUIRED
    world.velocity.writebacks.approve(operator, proposal.key)
    world.velocity.writebacks.execute(manager, proposal.key)
    after = snapshot()
    kept = world.velocity.imports.get(manager, batch.key).stats_json["undo"]["kept"]
    assert [k["person"] for k in kept] == ["Latha Menon Iyer"]
    expected = dict(before["people"])
    expected[latha.key] = ("Latha Menon Iyer", "latha@example.in", None)
    assert after["people"] == expected
    assert after["interests"] == before["interests"]
    latha_leads = after["leads"] - before["leads"]
    assert len(latha_leads) == 1  # Latha's lead stays with her


def test_an_unreadable_file_is_refused_and_nothing_is_stored(world: World) -> None:
    manager = world.by_role["sales_manager"]
    for data in (b"", b"PK\x03\x04" + bytes(range(256)) * 8):  # empty; a zip
        with pytest.raises(UnreadableImport):
            world.velocity.imports.submit(manager, data, source_system="test")
    with unit_of_work(world.velocity) as uow:
        assert uow.crm.import_batches.count() == 0


def test_bad_rows_are_kept_with_reasons_and_good_rows_still_land(world: World) -> None:
    text = (
        "Name,Email,Mobile\n"
        "Asha Iyer,asha@example.in,9840012345\n"
        "Bad Phone,bad@example.in,12345\n"
        ",,\n"
        "Too,many,fields,here\n"
        "Nul\x00Name,nul@example.in,9830012346\n"
        "Ravi Rao,ravi@example.in,9830012347\n"
    )
    batch = _run(world, text.encode("utf-8"))
    reasons = {r.raw_json["Name"]: r.error_reason for r in _rows(world, batch) if r.error_reason}
    assert "primary_phone" in reasons["Bad Phone"]
    assert "NUL" in next(v for k, v in reasons.items() if k.startswith("Nul"))
    assert "4 fields" in reasons["Too"]
    assert len(reasons) == 3  # the empty line is no row
    emails = {p.primary_email for p in _people(world)}
    assert {"asha@example.in", "ravi@example.in"} <= emails
    assert "bad@example.in" not in emails


def test_the_batch_lifecycle_is_enforced(world: World) -> None:
    manager = world.by_role["sales_manager"]
    imports = world.velocity.imports
    batch = imports.submit(
        manager, [{"Name": "Dev Rao", "Mobile": "9840099999"}], source_system="t"
    )
    with pytest.raises(InvalidTransition):
        imports.commit(manager, batch.key)
    with pytest.raises(InvalidTransition):
        imports.propose(manager, batch.key, expected_version=batch.version)
    failed = imports.fail(manager, batch.key, reason="wrong file", expected_version=batch.version)
    retried = imports.retry(manager, failed.key, expected_version=failed.version)
    assert retried.status is B.UPLOADED
    mapped = imports.map(manager, batch.key, expected_version=retried.version)
    proposed = imports.propose(manager, batch.key, expected_version=mapped.version)
    committed = imports.commit(manager, proposed.key)
    assert committed.status is B.COMMITTED
    with unit_of_work(world.velocity) as uow:
        assert uow.crm.people.count(Eq("primary_phone", "+919840099999")) == 1


def test_nobody_approves_a_batch_they_submitted(world: World) -> None:
    operator = world.by_role["operator"]
    world.velocity.contacts.create(
        world.by_role["sales_manager"], full_name="Asha Iyer", primary_email="asha@example.in"
    )
    imports = world.velocity.imports
    rows = [{"Name": "Asha Iyer", "Email": "asha@example.in", "Mobile": "9840012345"}]
    batch = imports.submit(operator, rows, source_system="t")
    batch = imports.map(operator, batch.key, expected_version=batch.version)
    batch = imports.propose(operator, batch.key, expected_version=batch.version)
    assert batch.status is B.PROPOSED
    with pytest.raises(ApprovalRefused):
        imports.approve(operator, batch.key)
    assert imports.approve(world.admin, batch.key).status is B.APPROVED


def test_a_partial_commit_then_the_reviewed_rest_with_replay_and_progress(world: World) -> None:
    manager, operator = world.by_role["sales_manager"], world.by_role["operator"]
    world.velocity.contacts.create(manager, full_name="Asha Iyer", primary_email="asha@example.in")
    rows = [
        {"Name": "Asha Iyer", "Email": "asha@example.in", "Mobile": "9840012345"},
        {"Name": "Kiran Shah", "Email": "kiran@example.in", "Mobile": "9840054321"},
    ]
    imports = world.velocity.imports
    seen: list[tuple[str, int]] = []
    batch = imports.submit(
        manager, rows, source_system="expo", progress=lambda p: seen.append((p.stage, p.rows))
    )
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    unresolved = imports.unresolved(operator).items
    assert [w.key for w in unresolved] == [UUID(batch.stats_json["proposals"]["update"])]
    batch = imports.commit(manager, batch.key)  # the new person now; the update waits
    assert batch.status is B.PROPOSED
    assert {r.status.value for r in _rows(world, batch)} == {"committed", "proposed"}
    batch = imports.approve(operator, batch.key)
    batch = imports.commit(manager, batch.key, progress=lambda p: seen.append((p.stage, p.rows)))
    assert batch.status is B.COMMITTED
    assert ("parsed", 2) in seen
    assert ("committed", 1) in seen
    assert imports.unresolved(operator).items == ()
    replay = imports.replay(operator, batch.key)
    moves = [e.action for e in replay.events if e.action.startswith("crm.imports.")]
    assert moves[:4] == [
        "crm.imports.submit",
        "crm.imports.parsed",
        "crm.imports.mapped",
        "crm.imports.proposed",
    ]
    assert moves[-1] == "crm.imports.committed"
    assert {e.actor_user_id for e in replay.events if e.action == "crm.imports.approved"} == {
        operator.user_id
    }
    decided = {
        p.change_json["context"]["outcome"]: (p.status, len(v)) for p, _, v in replay.proposals
    }
    assert decided == {
        "new": (WritebackStatus.EXECUTED, 0),
        "update": (WritebackStatus.EXECUTED, 1),
    }
    assert replay.rows == {("new", "committed"): 1, ("update", "committed"): 1}


def test_reimporting_a_file_whose_duplicate_was_approved_commits_cleanly(world: World) -> None:
    rows = [
        {"Name": "Nina Shah", "Email": "nina@example.in", "Mobile": "9840010101"},
        {"Name": "Nina S", "Email": "nina@example.in", "Mobile": "9840020202"},
    ]
    first = _run(world, rows)
    assert first.stats_json["outcomes"]["duplicate"] == 1  # approved: created as its own person
    again = _run(world, rows)
    assert again.status is B.COMMITTED
    assert again.stats_json["outcomes"]["unchanged"] == 2
    with unit_of_work(world.velocity) as uow:
        assert uow.crm.people.count(Eq("source_system", "test")) == 2


def test_people_imported_for_an_agent_are_theirs_to_see(world: World) -> None:
    agent = world.by_role["sales_agent"]
    rows = [{"Name": "Tara Bose", "Email": "tara@example.in", "Mobile": "9840030303"}]
    before = {p.key for p in world.velocity.contacts.list(agent, limit=200).items}
    batch = _run(world, rows, assign_to=agent.user_id)
    mine = {p.key for p in world.velocity.contacts.list(agent, limit=200).items} - before
    person = world.velocity.contacts.get(agent, _rows(world, batch)[0].target_entity_ref)
    assert mine == {person.key}
    assert (person.full_name, person.owner_user_id) == ("Tara Bose", agent.user_id)
    other = world.agent_b
    assert person.key not in {p.key for p in world.velocity.contacts.list(other, limit=200).items}


def test_an_update_whose_person_changed_meanwhile_is_set_aside(world: World) -> None:
    manager, operator = world.by_role["sales_manager"], world.by_role["operator"]
    asha = world.velocity.contacts.create(
        manager, full_name="Asha Iyer", primary_email="asha@example.in"
    )
    rows = [{"Name": "Asha Iyer", "Email": "asha@example.in", "Mobile": "9840012345"}]
    imports = world.velocity.imports
    batch = imports.submit(manager, rows, source_system="expo")
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    world.velocity.contacts.update(
        manager, asha.key, expected_version=asha.version, primary_phone="+919840099999"
    )
    batch = imports.commit(manager, imports.approve(operator, batch.key).key)
    assert batch.stats_json["committed"]["update"] == {"updated": 0, "conflicts": 1}
    row = _rows(world, batch)[0]
    assert row.status.value == "skipped"
    assert row.evidence_json["conflict"] == "changed since: ['primary_phone']"
    assert world.velocity.contacts.get(manager, asha.key).primary_phone == "+919840099999"


def test_an_unknown_assignee_and_a_non_stream_are_refused_naming_them(world: World) -> None:
    manager = world.by_role["sales_manager"]
    rows = [{"Name": "Tara Bose", "Email": "tara@example.in"}]
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.imports.submit(manager, rows, source_system="t", assign_to=new_id())
    assert refused.value.field == "assign_to"
    with unit_of_work(world.velocity) as uow:
        assert uow.crm.import_batches.count() == 0
    batch = world.velocity.imports.submit(manager, rows, source_system="t")
    with pytest.raises(ValidationFailed) as refused:
        world.velocity.imports.write_errors(manager, batch.key, None)
    assert refused.value.field == "out"
