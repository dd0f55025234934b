"""The duplicate rules: their properties, and one set serving contacts, imports and accounts.

The properties hold for any profiles; the service tests run on both stores
(``world``) and show that a host editing ``velocity.governance.person_rules``
or ``account_rules`` changes what warns at create time and what an import
decides, and that a person merged into another is never a candidate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from tests.support.world import World
from velocity_domain.crm.duplicates import (
    DEFAULT_PERSON_RULES,
    PROPOSE_AT,
    SAME_AT,
    WARN_AT,
    Block,
    DuplicateRule,
    PersonProfile,
    name_key,
    names_agree,
    swapped_name,
)
from velocity_domain.crm.entities import ImportBatchStatus, ImportOutcome, ImportRow, Person
from velocity_domain.errors import DuplicateSuspected, ValidationFailed
from velocity_domain.testing import unit_of_work

WORDS = ["asha", "a", "rao", "ravi", "ravy", "anita", "anitha", "sen", "k", "priya", "r"]
names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
emails = st.sampled_from([None, "asha@example.in", "ashaa@example.in", "ravi@example.in"])
phones = st.sampled_from([None, "+919830012345", "+919830012346", "+919831112345"])
ids = st.sampled_from([None, UUID(int=7), UUID(int=8)])


@st.composite
def profiles(draw: st.DrawFn) -> PersonProfile:
    return PersonProfile(
        UUID(int=draw(st.integers(1, 10**6))),
        draw(names),
        draw(emails),
        draw(phones),
        draw(ids),
        draw(st.sampled_from([None, "ref-1", "ref-2"])),
        draw(st.sets(st.sampled_from([UUID(int=21), UUID(int=22)]))),
    )


@given(profiles(), profiles())
def test_whether_two_profiles_match_does_not_depend_on_their_order(
    a: PersonProfile, b: PersonProfile
) -> None:
    one, other = DEFAULT_PERSON_RULES.compare(a, b), DEFAULT_PERSON_RULES.compare(b, a)
    assert (one is None) == (other is None)
    if one is not None and other is not None:
        assert (one.rule, one.confidence) == (other.rule, other.confidence)


@given(names, names)
def test_names_agree_whichever_comes_first(a: str, b: str) -> None:
    assert names_agree(a, b) == names_agree(b, a)


@given(names)
def test_a_name_agrees_with_itself_swapped(name: str) -> None:
    assert names_agree(name, name)
    assert names_agree(name, swapped_name(name) or name)


letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=7)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(letters, letters, st.sampled_from(["rao", "sharma", "iyer", "menon"]))
def test_different_first_names_do_not_agree(first: str, other: str, last: str) -> None:
    """First names of four to seven letters two or more letters apart are two people.

    (Eight letters and more allow two typos: "mohammed" and "muhammad".)
    """
    assume(Levenshtein.distance(first, other) >= 2)
    assume(not names_agree(first, last) and not names_agree(other, last))
    assert not names_agree(f"{first} {last}", f"{other} {last}")


def test_a_family_phone_matches_weakly_and_the_same_name_strongly() -> None:
    asha = PersonProfile(UUID(int=1), "Asha Rao", primary_phone="+919830012345")
    ravi = PersonProfile(UUID(int=2), "Ravi Rao", primary_phone="+919830012345")
    again = PersonProfile(UUID(int=3), "RAO Asha", primary_phone="+919830012345")
    weak, strong = (
        DEFAULT_PERSON_RULES.compare(asha, ravi),
        DEFAULT_PERSON_RULES.compare(asha, again),
    )
    assert weak is not None
    assert strong is not None
    assert (weak.rule, strong.rule) == ("phone", "phone")
    assert WARN_AT <= weak.confidence < PROPOSE_AT <= SAME_AT <= strong.confidence
    evidence = weak.to_json()
    assert evidence["values"] == {"primary_phone": ["+919830012345", "+919830012345"]}
    assert evidence["names"] == ["Asha Rao", "Ravi Rao"]


def test_a_corroborated_name_keeps_its_evidence_apart_from_the_values() -> None:
    a = PersonProfile(UUID(int=1), "Anita Rao", primary_phone="+919830012345")
    b = PersonProfile(UUID(int=2), "Anitha Rao", primary_phone="+919830012399")
    match = DEFAULT_PERSON_RULES.compare(a, b)
    assert match is not None
    assert match.rule == "similar_name"
    evidence = match.to_json()
    assert evidence["values"] == {"full_name": ["Anita Rao", "Anitha Rao"]}
    assert evidence["signal"] == "phone"
    assert evidence["signal_values"] == ["+919830012345", "+919830012399"]


def test_rules_are_edited_by_name() -> None:
    rules = DEFAULT_PERSON_RULES.without("phone")
    assert rules.names == ("email", "similar_name")
    assert Block.PHONE not in rules.blocks
    with pytest.raises(ValidationFailed) as err:
        rules.without("phone")
    assert err.value.field == "name"
    never = DuplicateRule("email", ("primary_email",), (Block.EMAIL,), lambda a, b: None)
    replaced = DEFAULT_PERSON_RULES.with_rule(never)
    assert replaced.names == DEFAULT_PERSON_RULES.names
    a = PersonProfile(UUID(int=1), "Asha Rao", "asha@example.in")
    b = PersonProfile(UUID(int=2), "Ravi Sen", "asha@example.in")
    assert DEFAULT_PERSON_RULES.compare(a, b) is not None
    assert replaced.compare(a, b) is None


# -- one set of rules in the services, on both stores ----------------------------------


def _same_name_rule(confidence: float) -> DuplicateRule:
    """A host's rule: the same name words (in any order) are enough, with no corroboration."""

    def test(a: Any, b: Any) -> tuple[float, str, dict[str, Any]] | None:
        if name_key(a.normalized_name) != name_key(b.normalized_name):
            return None
        return confidence, "the very same name", {}

    return DuplicateRule("same_name", ("full_name",), (Block.NAME,), test)


def _propose(world: World, rows: list[dict[str, str]]) -> dict[int, ImportRow]:
    manager = world.by_role["sales_manager"]
    imports = world.velocity.imports
    batch = imports.submit(manager, rows, source_system="expo")
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    assert batch.status in (ImportBatchStatus.PROPOSED, ImportBatchStatus.APPROVED)
    page = imports.rows(world.admin, batch.key, limit=500)
    return {r.row_number: r for r in page.items}


def test_a_family_phone_warns_at_create_and_is_a_duplicate_in_an_import(world: World) -> None:
    v, w = world.velocity, world  # client_a is Asha Rao, +919830012345
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.admin, full_name="Ravi Rao", primary_phone="98300 12345")
    assert (err.value.matched_on, err.value.rule) == ("primary_phone", "phone")
    assert err.value.confidence == pytest.approx(0.4)
    assert err.value.details()["rule"] == "phone"
    event = v.audit.list(w.admin, action="crm.contacts.duplicate_suspected").items[0]
    [match] = event.details_json["matches"]
    assert (match["rule"], match["person_id"]) == ("phone", str(w.client_a.key))
    assert match["confidence"] == pytest.approx(0.4)
    family = _propose(world, [{"Name": "Ravi Rao", "Mobile": "9830012345"}])[1]
    asha = _propose(
        world, [{"Name": "Asha Rao", "Mobile": "9830012345", "Email": "asha.rao@example.in"}]
    )[1]
    assert family.outcome is ImportOutcome.DUPLICATE
    assert family.matched_person_id == w.client_a.key
    assert (family.evidence_json["rule"], family.evidence_json["confidence"]) == ("phone", 0.4)
    assert family.changes_json == {}
    assert asha.outcome is ImportOutcome.UPDATE
    assert asha.matched_person_id == w.client_a.key
    assert asha.evidence_json["rule"] == "phone"
    assert asha.evidence_json["confidence"] >= SAME_AT
    assert asha.changes_json == {"primary_email": [None, "asha.rao@example.in"]}


def test_removing_the_phone_rule_stops_phone_warnings_and_matches(world: World) -> None:
    v, w = world.velocity, world
    v.governance.person_rules = v.governance.person_rules.without("phone")
    ravi = v.contacts.create(w.admin, full_name="Ravi Rao", primary_phone="98300 12345")
    assert ravi.primary_phone == w.client_a.primary_phone
    stranger = _propose(world, [{"Name": "Kiran Rao", "Mobile": "9830012345"}])[1]
    asha = _propose(world, [{"Name": "Asha Rao", "Mobile": "9830012345"}])[1]
    # Nobody matches the stranger now; Asha's name and phone still corroborate, for review.
    assert stranger.outcome is ImportOutcome.NEW
    assert asha.outcome is ImportOutcome.DUPLICATE
    assert asha.evidence_json["rule"] == "similar_name"
    assert asha.matched_person_id == w.client_a.key


def test_a_host_rule_changes_create_time_warnings_and_imports(world: World) -> None:
    v, w = world.velocity, world
    v.contacts.create(w.admin, full_name="Latha Menon")  # no rule matches a bare name
    v.governance.person_rules = v.governance.person_rules.with_rule(_same_name_rule(0.35))
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.admin, full_name="Menon Latha")
    assert err.value.matched_on == "full_name"
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.admin, full_name="Latha  MENON")
    assert (err.value.rule, err.value.confidence) == ("same_name", 0.35)
    result = v.contacts.create_many(w.admin, [{"full_name": "Latha Menon"}, {"full_name": "Uma"}])
    assert [(r.index, r.field) for r in result.refused] == [(0, "full_name")]
    assert "rule same_name" in result.refused[0].reason
    rows = _propose(world, [{"Name": "Latha Menon", "Email": "latha@example.in"}])
    assert rows[1].outcome is ImportOutcome.DUPLICATE
    assert rows[1].evidence_json["rule"] == "same_name"


def test_a_shared_contact_point_in_a_bulk_create_names_its_rule(world: World) -> None:
    v, w = world.velocity, world
    result = v.contacts.create_many(
        w.admin,
        [
            {"full_name": "Ravi Rao", "primary_phone": "+919830012345"},  # Asha's family phone
            {"full_name": "Uma Das", "primary_email": "uma@example.in"},
            {"full_name": "Uma  Das", "primary_email": "UMA@example.in"},  # the row before
        ],
    )
    assert [(r.index, r.field) for r in result.refused] == [
        (0, "primary_phone"),
        (2, "primary_email"),
    ]
    assert "rule phone" in result.refused[0].reason
    assert "rule email" in result.refused[1].reason
    v.governance.person_rules = v.governance.person_rules.without("phone")
    again = v.contacts.create_many(
        w.admin, [{"full_name": "Ravi Rao", "primary_phone": "+919830012345"}]
    )
    assert len(again.created) == 1


def _merged(world: World) -> tuple[Person, Person]:
    """Seed a survivor and a person merged into it (the merge itself is another service's)."""
    survivor = Person(full_name="Meera Iyer", primary_email="meera@example.in")
    merged = Person(
        full_name="Meera Iyer",
        primary_email="meera.old@example.in",
        primary_phone="+919845000111",
        merged_into_person_id=survivor.key,
        merged_at=survivor.created_at + timedelta(minutes=1),
    )
    with unit_of_work(world.velocity) as uow:
        uow.crm.people.add_many([survivor, merged])
        uow.commit()
    return survivor, merged


def test_a_merged_person_is_never_a_candidate(world: World) -> None:
    v, w = world.velocity, world
    survivor, merged = _merged(world)
    kept = v.contacts.create(w.admin, full_name="Kavya Nair", primary_email="meera.old@example.in")
    assert kept.primary_email == merged.primary_email
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.create(w.admin, full_name="M Iyer", primary_email="meera@example.in")
    assert err.value.existing_ids == (survivor.key,)
    rows = _propose(
        world,
        [
            {"Name": "Meera Iyer", "Mobile": "9845000111"},  # only the merged one has it
            {"Name": "Meera Iyer", "Mobile": "9845000112"},  # a namesake a digit away
        ],
    )
    assert rows[1].outcome is ImportOutcome.NEW
    assert rows[2].outcome is ImportOutcome.NEW
    assert {r.matched_person_id for r in rows.values()} == {None}


def test_accounts_warn_by_name_and_domain_and_the_host_edits_the_rules(world: World) -> None:
    v, w = world.velocity, world
    first = v.accounts.create(
        w.admin, account_name="Prestige Estates Pvt. Ltd.", metadata_json={"domain": "prestige.in"}
    )
    with pytest.raises(DuplicateSuspected) as err:
        v.accounts.create(w.admin, account_name="PRESTIGE ESTATES")
    assert (err.value.existing_ids, err.value.rule) == ((first.key,), "account_name")
    with pytest.raises(DuplicateSuspected) as err:
        v.accounts.create(
            w.admin,
            account_name="Prestige",
            metadata_json={"website": "https://www.prestige.in/about"},
        )
    assert (err.value.matched_on, err.value.rule) == ("domain", "domain")
    twin = v.accounts.create(
        w.admin, account_name="Prestige Estates", allow_duplicate=True, reason="two branches"
    )
    event = v.audit.list(w.admin, action="crm.accounts.create").items[0]
    assert event.target_ref == str(twin.key)
    assert event.reason == "two branches"
    assert event.details_json["matches"][0]["rule"] == "account_name"
    other = v.accounts.create(w.admin, account_name="Sobha Ltd")
    with pytest.raises(DuplicateSuspected):
        v.accounts.update(w.admin, other.key, expected_version=1, account_name="Prestige Estates")
    v.governance.account_rules = v.governance.account_rules.without("account_name")
    renamed = v.accounts.update(
        w.admin, other.key, expected_version=1, account_name="Prestige Estates"
    )
    assert renamed.version == 2


def test_a_change_is_refused_only_for_a_duplicate_it_makes(world: World) -> None:
    v, w = world.velocity, world  # client_a is Asha Rao, +919830012345
    twin = v.contacts.create(
        w.admin, full_name="Asha Rao", primary_phone="+919830012346", allow_duplicate=True
    )
    fixed = v.contacts.update(w.admin, twin.key, expected_version=1, primary_email="asha@x.in")
    assert fixed.version == 2
    with pytest.raises(DuplicateSuspected) as err:
        v.contacts.update(w.admin, w.client_b.key, expected_version=1, primary_email="ASHA@x.in")
    assert (err.value.existing_ids, err.value.rule) == ((twin.key,), "email")
