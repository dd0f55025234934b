"""Column mapping of the import gateway: suggestion, reviewer edits, JSON, applying rows."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocity_domain.crm.entities import LeadStatus, OpportunityStage
from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.mapping import (
    DEFAULT_STAGE_VOCABULARY,
    DEFAULT_STATUS_VOCABULARY,
    MULTI_COLUMN_TARGETS,
    ColumnMapping,
    ColumnRule,
    MappedRow,
    Target,
    suggest_mapping,
)

T = Target

MOBILES = ["98300 12345", "+91 98310 54321", "9812345678", "070123 45678", "6301234567"]
LANDLINES = ["(022) 2345 6789", "080 4123 4567", "044 2434 5678", "020 2612 3456", "011-4155-6677"]


def targets_of(mapping: ColumnMapping) -> dict[str, Target | None]:
    return {rule.column: rule.target for rule in mapping.rules}


def mapping_of(columns: dict[str, Target | None], **options: Any) -> ColumnMapping:
    return ColumnMapping(
        [ColumnRule(column, target, "test", 1.0) for column, target in columns.items()],
        **options,
    )


# --------------------------------------------------------------------------- suggestion

HUBSPOT_HEADERS = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Mobile Phone Number",
    "Lifecycle Stage",
    "Lead Status",
    "Contact owner",
    "Create Date",
    "Company Name",
    "City",
]


def hubspot_rows() -> list[dict[str, str]]:
    return [
        {
            "Record ID": str(51234 + i),
            "First Name": first,
            "Last Name": last,
            "Email": f"{first.lower()}.{last.lower()}@example.in",
            "Phone Number": LANDLINES[i],
            "Mobile Phone Number": MOBILES[i],
            "Lifecycle Stage": [
                "lead",
                "marketingqualifiedlead",
                "opportunity",
                "customer",
                "lead",
            ][i],
            "Lead Status": ["NEW", "IN_PROGRESS", "OPEN_DEAL", "CONNECTED", "UNQUALIFIED"][i],
            "Contact owner": "Priya Sharma",
            "Create Date": f"2024-03-0{i + 1} 10:22",
            "Company Name": "Infosys" if i % 2 else "",
            "City": "Bengaluru",
        }
        for i, (first, last) in enumerate(
            [
                ("Asha", "Rao"),
                ("Vikram", "Iyer"),
                ("Meera", "Nair"),
                ("Rahul", "Gupta"),
                ("Anjali", "Das"),
            ]
        )
    ]


def test_hubspot_export_maps_with_no_edits() -> None:
    mapping = suggest_mapping(HUBSPOT_HEADERS, hubspot_rows())
    assert targets_of(mapping) == {
        "Record ID": T.SOURCE_REF,
        "First Name": T.FIRST_NAME,
        "Last Name": T.LAST_NAME,
        "Email": T.EMAIL,
        "Phone Number": T.PHONE,
        "Mobile Phone Number": T.MOBILE,
        "Lifecycle Stage": T.STAGE,
        "Lead Status": T.LEAD_STATUS,
        "Contact owner": T.OWNER,
        "Create Date": T.CREATED_AT,
        "Company Name": T.COMPANY,
        "City": T.CITY,
    }
    rows = [mapping.apply(row) for row in hubspot_rows()]
    assert all(row.ok for row in rows), [row.problems for row in rows]
    first = rows[0].values
    assert first["full_name"] == "Asha Rao"
    assert first["primary_phone"] == "+919830012345"  # the mobile, not the landline
    assert first["other_phones"] == ["+912223456789"]
    assert first["stage"] == "new"
    assert [row.values["lead_status"] for row in rows] == [
        "open",
        "open",
        "qualified",
        "open",
        "disqualified",
    ]
    assert first["source_created_at"] == "2024-03-01T10:22:00+00:00"


SALESFORCE_HEADERS = [
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Company",
    "LeadSource",
    "Status",
    "OwnerId",
    "CreatedDate",
    "City",
    "Description",
]


def salesforce_rows() -> list[dict[str, str]]:
    statuses = [
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
        "Working - Contacted",
    ]
    return [
        {
            "Id": f"00Q5g00000AbCd{i}EAZ",
            "FirstName": "Asha",
            "LastName": f"Rao {i}",
            "Email": f"asha{i}@example.com",
            "Phone": LANDLINES[i],
            "MobilePhone": MOBILES[i],
            "Company": "Tata Consultancy Services",
            "LeadSource": "Web",
            "Status": statuses[i],
            "OwnerId": "0055g000004XyZAAAY",
            "CreatedDate": f"2024-03-0{i + 1}T10:22:00.000Z",
            "City": "Pune",
            "Description": "Wants a 3BHK near Hinjewadi",
        }
        for i in range(5)
    ]


def test_salesforce_export_maps_with_no_edits() -> None:
    mapping = suggest_mapping(SALESFORCE_HEADERS, salesforce_rows())
    assert targets_of(mapping) == {
        "Id": T.SOURCE_REF,
        "FirstName": T.FIRST_NAME,
        "LastName": T.LAST_NAME,
        "Email": T.EMAIL,
        "Phone": T.PHONE,
        "MobilePhone": T.MOBILE,
        "Company": T.COMPANY,
        "LeadSource": T.LEAD_SOURCE,
        "Status": T.LEAD_STATUS,
        "OwnerId": T.OWNER,
        "CreatedDate": T.CREATED_AT,
        "City": T.CITY,
        "Description": T.NOTES,
    }
    rows = [mapping.apply(row) for row in salesforce_rows()]
    assert all(row.ok for row in rows), [row.problems for row in rows]
    assert [row.values["lead_status"] for row in rows] == [
        "open",
        "open",
        "converted",
        "disqualified",
        "open",
    ]
    assert "stage" not in rows[1].values  # a status does not invent a stage
    assert rows[0].values["source_created_at"] == "2024-03-01T10:22:00+00:00"
    assert rows[0].values["source_ref"] == "00Q5g00000AbCd0EAZ"


HAND_TYPED_HEADERS = ["Name", "Mobile", "Email ID", "Budget", "Interested In", "Remarks"]


def hand_typed_rows() -> list[dict[str, str]]:
    return [
        {
            "Name": "Rao, Asha",
            "Mobile": "98300-12345 / 98310-54321",
            "Email ID": "Asha.Rao@Gmail.com",
            "Budget": "1-1.5 Cr",
            "Interested In": "Prestige Lakeside 3bhk",
            "Remarks": "Call after 6 pm",
        },
        {
            "Name": "Vikram Iyer",
            "Mobile": "9812345678.0",
            "Email ID": "",
            "Budget": "80 L",
            "Interested In": "Sobha City",
            "Remarks": "",
        },
        {
            "Name": "Meera Nair",
            "Mobile": "0091 70123 45678",
            "Email ID": "meera@nair.in",
            "Budget": "₹ 95,00,000/-",
            "Interested In": "2 or 3 BHK villa",
            "Remarks": "Site visit Sunday",
        },
    ]


def test_hand_typed_sheet_maps_with_no_edits() -> None:
    mapping = suggest_mapping(HAND_TYPED_HEADERS, hand_typed_rows())
    assert targets_of(mapping) == {
        "Name": T.FULL_NAME,
        "Mobile": T.MOBILE,
        "Email ID": T.EMAIL,
        "Budget": T.BUDGET,
        "Interested In": T.INTEREST,
        "Remarks": T.NOTES,
    }
    first, second, third = (mapping.apply(row) for row in hand_typed_rows())
    assert [first.problems, second.problems, third.problems] == [(), (), ()]
    assert first.values == {
        "full_name": "Asha Rao",
        "primary_email": "asha.rao@gmail.com",
        "primary_phone": "+919830012345",
        "other_phones": ["+919831054321"],
        "budget_min": "10000000",
        "budget_max": "15000000",
        "currency": "INR",
        "budget_text": "1-1.5 Cr",
        "interest": "Prestige Lakeside 3bhk",
        "configuration": "3 BHK",
        "notes": "Call after 6 pm",
    }
    assert second.values["primary_phone"] == "+919812345678"
    assert second.values["budget_max"] == "8000000"
    assert "budget_min" not in second.values  # a single amount is a ceiling
    assert "primary_email" not in second.values
    assert third.values["configuration"] == "2/3 BHK"


def test_every_suggested_rule_has_a_reason_and_a_confidence() -> None:
    for headers, rows in [
        (HUBSPOT_HEADERS, hubspot_rows()),
        (SALESFORCE_HEADERS, salesforce_rows()),
        (HAND_TYPED_HEADERS, hand_typed_rows()),
    ]:
        for rule in suggest_mapping(headers, rows).rules:
            assert rule.reason
            assert 0 <= rule.confidence <= 1


def test_a_notes_column_full_of_phone_numbers_is_a_phone() -> None:
    rows = [{"Name": f"Lead {i}", "Notes": number} for i, number in enumerate(MOBILES)]
    rows.append({"Name": "Lead x", "Notes": "call back"})
    mapping = suggest_mapping(["Name", "Notes"], rows)
    notes = mapping.rules[1]
    assert notes.target is T.PHONE
    assert notes.reason.startswith("5 of 6 sample values are phone numbers")
    assert "notes" in notes.reason  # says what the header suggested


def test_values_decide_email_and_phone_whatever_the_header() -> None:
    rows = [
        {"Contact": number, "Phone": f"user{i}@example.com", "WhatsApp": number}
        for i, number in enumerate(MOBILES)
    ]
    targets = targets_of(suggest_mapping(["Contact", "Phone", "WhatsApp"], rows))
    assert targets == {"Contact": T.PHONE, "Phone": T.EMAIL, "WhatsApp": T.MOBILE}


def test_a_record_id_column_of_numbers_stays_a_record_id() -> None:
    rows = [{"Lead ID": number.replace(" ", "")} for number in MOBILES]
    assert suggest_mapping(["Lead ID"], rows).rules[0].target is T.SOURCE_REF


def test_camel_case_and_punctuated_headers_are_found() -> None:
    headers = ["MobilePhone", "E-mail", "Mobile No.", "CustomerName", "Lead_Status", "BHK"]
    targets = targets_of(suggest_mapping(headers, []))
    assert targets == {
        "MobilePhone": T.MOBILE,
        "E-mail": T.EMAIL,
        "Mobile No.": T.MOBILE,
        "CustomerName": T.FULL_NAME,
        "Lead_Status": T.LEAD_STATUS,
        "BHK": T.CONFIGURATION,
    }


def test_headers_found_by_their_words() -> None:
    headers = [
        "Client Alternate Mobile",
        "Site Visit Date",
        "Preferred Project",
        "Sales Owner Name",
    ]
    mapping = suggest_mapping(headers, [])
    assert targets_of(mapping) == {
        "Client Alternate Mobile": T.MOBILE,
        "Site Visit Date": None,
        "Preferred Project": T.INTEREST,
        "Sales Owner Name": T.OWNER,
    }
    assert "mentions 'mobile'" in mapping.rules[0].reason


def test_unknown_columns_are_ignored_with_a_reason() -> None:
    rows = [{"Favourite Colour": "blue", "Age": str(30 + i)} for i in range(10)]
    mapping = suggest_mapping(["Favourite Colour", "Age"], rows)
    assert [(rule.target, rule.reason) for rule in mapping.rules] == [
        (None, "not recognised"),
        (None, "not recognised"),  # small numbers are not budgets
    ]


def test_budget_shaped_values_make_an_unknown_column_a_budget() -> None:
    rows = [
        {"Range": text} for text in ["1-1.5 Cr", "80 L", "50L - 60L", "above 2 Cr", "95,00,000"]
    ]
    rule = suggest_mapping(["Range"], rows).rules[0]
    assert (rule.target, rule.reason) == (T.BUDGET, "5 of 5 sample values are budgets")


def test_an_empty_column_keeps_its_header_with_lower_confidence() -> None:
    rows = [{"Email": "", "City": "Pune"}] * 3
    email, city = suggest_mapping(["Email", "City"], rows).rules
    assert email.target is T.EMAIL
    assert email.confidence < city.confidence
    assert "no values in the sample" in email.reason


def test_a_date_header_without_dates_is_kept_with_lower_confidence() -> None:
    rows = [{"Created On": "last week"}, {"Created On": "05/03/2024"}]
    rule = suggest_mapping(["Created On"], rows).rules[0]
    assert rule.target is T.CREATED_AT
    assert "only 1 of 2 sample values read as dates" in rule.reason
    assert rule.confidence < 0.9


def test_single_valued_targets_go_to_one_column_only() -> None:
    rows = [{"Name": "Asha Rao", "Customer Name": "Asha", "Email": "a@b.in", "Mail": "c@d.in"}]
    mapping = suggest_mapping(["Name", "Customer Name", "Email", "Mail"], rows)
    assert targets_of(mapping) == {
        "Name": T.FULL_NAME,
        "Customer Name": None,
        "Email": T.EMAIL,
        "Mail": T.EMAIL,
    }
    assert mapping.rules[1].reason == "another column ('Name') already feeds full_name"
    assert mapping.apply(rows[0]).values["other_emails"] == ["c@d.in"]


def test_suggestion_refuses_bad_arguments() -> None:
    with pytest.raises(ValidationFailed) as caught:
        suggest_mapping(["Phone", "Phone"], [])
    assert caught.value.field == "headers"
    with pytest.raises(ValidationFailed) as caught:
        suggest_mapping(["Phone"], [], default_region="XX")
    assert caught.value.field == "default_region"
    with pytest.raises(ValidationFailed) as caught:
        suggest_mapping(["Phone"], [], currency="rupees")
    assert caught.value.field == "currency"


def test_only_the_first_200_sample_rows_are_read() -> None:
    rows = [{"Contact": "98300 12345"}] * 200 + [{"Contact": "call me"}] * 1000
    assert suggest_mapping(["Contact"], rows).rules[0].target is T.PHONE


# --------------------------------------------------------------------------- editing


def test_reviewer_edits_a_column() -> None:
    mapping = suggest_mapping(HAND_TYPED_HEADERS, hand_typed_rows())
    edited = mapping.with_column("Remarks", "city").with_column("Interested In", None)
    assert edited.target_of("Remarks") is T.CITY
    assert edited.rules[5] == ColumnRule("Remarks", T.CITY, "set by reviewer", 1.0)
    assert edited.target_of("Interested In") is None
    assert mapping.target_of("Remarks") is T.NOTES  # the original is unchanged
    row = edited.apply(hand_typed_rows()[0])
    assert row.values["city"] == "Call after 6 pm"
    assert "interest" not in row.values


def test_emails_phones_and_notes_may_come_from_several_columns() -> None:
    mapping = mapping_of({"Mobile": T.MOBILE, "Email": T.EMAIL, "Other": None})
    for target in MULTI_COLUMN_TARGETS:
        assert mapping.with_column("Other", target).target_of("Other") is target


@pytest.mark.parametrize(
    ("column", "target", "field"),
    [
        ("Nope", T.CITY, "column"),
        ("Other", "town", "target"),
        ("Other", 3, "target"),
        ("Other", T.FULL_NAME, "target"),  # "Name" already feeds it
    ],
)
def test_bad_edits_are_refused_naming_the_field(column: str, target: Any, field: str) -> None:
    mapping = mapping_of({"Name": T.FULL_NAME, "Other": None})
    with pytest.raises(ValidationFailed) as caught:
        mapping.with_column(column, target)
    assert caught.value.field == field


def test_moving_a_single_valued_target_needs_the_first_column_freed() -> None:
    mapping = mapping_of({"Name": T.FULL_NAME, "Client": None})
    moved = mapping.with_column("Name", None).with_column("Client", T.FULL_NAME)
    assert moved.target_of("Client") is T.FULL_NAME


def test_target_of_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        mapping_of({"Name": T.FULL_NAME}).target_of("Phone")
    assert caught.value.field == "column"


def test_options_are_checked() -> None:
    mapping = mapping_of({"Name": T.FULL_NAME})
    assert mapping.with_options(default_region="ae").default_region == "AE"
    assert mapping.with_options(currency="USD").currency == "USD"
    for options, field in [
        ({"default_region": "XX"}, "default_region"),
        ({"default_region": "India"}, "default_region"),
        ({"currency": "inr"}, "currency"),
        ({"currency": "RUPEES"}, "currency"),
        ({"status_vocabulary": {"hot": "warm"}}, "status_vocabulary"),
        ({"status_vocabulary": {"": "open"}}, "status_vocabulary"),
        ({"status_vocabulary": {"Hot": "open", "hot": "qualified"}}, "status_vocabulary"),
        ({"stage_vocabulary": {"visit": "site_visit"}}, "stage_vocabulary"),
        ({"stage_vocabulary": ["new"]}, "stage_vocabulary"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            mapping.with_options(**options)
        assert caught.value.field == field, options


def test_a_reviewer_extends_the_status_vocabulary() -> None:
    mapping = mapping_of({"Name": T.FULL_NAME, "Phone": T.PHONE, "Status": T.LEAD_STATUS})
    row = {"Name": "Asha Rao", "Phone": "9830012345", "Status": "Call Later Next Month"}
    before = mapping.apply(row)
    assert before.problems[0][0] == "lead_status"
    assert "may add it to the status vocabulary" in before.problems[0][1]
    extended = mapping.with_options(
        status_vocabulary={**mapping.status_vocabulary, "Call_Later next-month": "open"}
    )
    assert extended.status_vocabulary["call later next month"] == "open"
    assert extended.apply(row).values["lead_status"] == "open"


def test_default_vocabularies_speak_only_known_values() -> None:
    assert set(DEFAULT_STATUS_VOCABULARY.values()) == {s.value for s in LeadStatus}
    assert set(DEFAULT_STAGE_VOCABULARY.values()) == {s.value for s in OpportunityStage}
    for phrase, status in [
        ("open not contacted", "open"),
        ("working contacted", "open"),
        ("closed converted", "converted"),
        ("closed not converted", "disqualified"),
        ("attempted to contact", "open"),
        ("open deal", "qualified"),
        ("unqualified", "disqualified"),
        ("not interested", "disqualified"),
    ]:
        assert DEFAULT_STATUS_VOCABULARY[phrase] == status
    for phrase, stage in [
        ("marketingqualifiedlead", "contacted"),
        ("marketing qualified lead", "contacted"),
        ("customer", "won"),
        ("site visit scheduled", "site_visit_scheduled"),
        ("booking done", "booking"),
    ]:
        assert DEFAULT_STAGE_VOCABULARY[phrase] == stage


def test_construction_refuses_a_single_valued_target_twice() -> None:
    with pytest.raises(ValidationFailed) as caught:
        mapping_of({"Name": T.FULL_NAME, "Client": T.FULL_NAME})
    assert caught.value.field == "target"
    with pytest.raises(ValidationFailed) as caught:
        ColumnMapping([ColumnRule("A", None), ColumnRule("A", None)])
    assert caught.value.field == "column"
    with pytest.raises(ValidationFailed) as caught:
        ColumnRule("A", None, "x", 1.5)
    assert caught.value.field == "confidence"


# --------------------------------------------------------------------------- JSON

_column_names = st.text(min_size=0, max_size=12)
_region = st.sampled_from(["IN", "AE", "SG", "US", "GB"])
_currency = st.sampled_from(["INR", "AED", "USD", "SGD"])
_words = st.text(
    alphabet=st.characters(categories=["L", "Nd", "Zs", "Pd"]), min_size=1, max_size=12
)


@st.composite
def mappings(draw: st.DrawFn) -> ColumnMapping:
    columns = draw(st.lists(_column_names, unique=True, max_size=8))
    taken: set[Target] = set()
    rules = []
    for column in columns:
        target = draw(st.none() | st.sampled_from(list(Target)))
        if target is not None and target not in MULTI_COLUMN_TARGETS:
            if target in taken:
                target = None
            else:
                taken.add(target)
        reason = draw(st.text(max_size=20))
        confidence = draw(st.floats(min_value=0, max_value=1))
        rules.append(ColumnRule(column, target, reason, confidence))
    extra_status = draw(st.dictionaries(_words, st.sampled_from(list(LeadStatus)), max_size=3))
    extra_stage = draw(st.dictionaries(_words, st.sampled_from(list(OpportunityStage)), max_size=3))
    status = {**DEFAULT_STATUS_VOCABULARY}
    stage = {**DEFAULT_STAGE_VOCABULARY}
    status.update({k: v.value for k, v in extra_status.items() if k.strip(" -") and k.strip()})
    stage.update({k: v.value for k, v in extra_stage.items() if k.strip(" -") and k.strip()})
    try:
        return ColumnMapping(
            rules,
            default_region=draw(_region),
            currency=draw(_currency),
            status_vocabulary=status,
            stage_vocabulary=stage,
        )
    except ValidationFailed:  # two drawn words meet at one key with different meanings
        return ColumnMapping(rules)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mappings())
def test_json_round_trip(mapping: ColumnMapping) -> None:
    doc = mapping.to_json()
    stored = json.loads(json.dumps(doc))
    again = ColumnMapping.from_json(stored)
    assert again == mapping
    assert again.to_json() == doc


def test_a_mapping_pickles_for_worker_processes() -> None:
    mapping = suggest_mapping(HAND_TYPED_HEADERS, hand_typed_rows()).with_options(currency="AED")
    again = pickle.loads(pickle.dumps(mapping))
    assert again == mapping
    assert again.apply(hand_typed_rows()[0]) == mapping.apply(hand_typed_rows()[0])


def test_json_document_shape() -> None:
    doc = mapping_of({"Name": T.FULL_NAME, "Junk": None}).to_json()
    assert doc["version"] == 1
    assert doc["columns"] == [
        {"column": "Name", "target": "full_name", "reason": "test", "confidence": 1.0},
        {"column": "Junk", "target": None, "reason": "test", "confidence": 1.0},
    ]
    assert (doc["default_region"], doc["currency"]) == ("IN", "INR")
    assert doc["status_vocabulary"]["closed converted"] == "converted"


def _good_doc() -> dict[str, Any]:
    return mapping_of({"Name": T.FULL_NAME, "Mobile": T.MOBILE}).to_json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("columns"), "columns"),
        (lambda d: d.update(columns="Name"), "columns"),
        (lambda d: d.update(columns=["Name"]), "columns[0]"),
        (lambda d: d["columns"][1].update(target="cell"), "columns[1].target"),
        (lambda d: d["columns"][1].update(confidence="high"), "columns[1].confidence"),
        (lambda d: d["columns"][1].update(confidence=float("nan")), "columns[1].confidence"),
        (lambda d: d["columns"][0].pop("column"), "columns[0].column"),
        (lambda d: d["columns"][0].update(column=7), "columns[0].column"),
        (lambda d: d["columns"][0].update(reason=None), "columns[0].reason"),
        (lambda d: d["columns"][0].update(colour="red"), "columns[0].colour"),
        (lambda d: d["columns"][1].update(target="full_name"), "target"),
        (lambda d: d.update(default_region="ZZZ"), "default_region"),
        (lambda d: d.update(currency=None), "currency"),
        (lambda d: d.update(status_vocabulary={"hot": "boiling"}), "status_vocabulary"),
        (lambda d: d.update(stage_vocabulary="new"), "stage_vocabulary"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_bad_json_documents_name_the_key(change: Any, field: str) -> None:
    doc = _good_doc()
    change(doc)
    with pytest.raises(ValidationFailed) as caught:
        ColumnMapping.from_json(doc)
    assert caught.value.field == field


def test_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        ColumnMapping.from_json(["columns"])  # type: ignore[arg-type]
    assert caught.value.field == "mapping"


def test_json_without_options_takes_the_defaults() -> None:
    mapping = ColumnMapping.from_json({"columns": [{"column": "Mobile", "target": "mobile"}]})
    assert mapping.default_region == "IN"
    assert mapping.currency == "INR"
    assert mapping.status_vocabulary == DEFAULT_STATUS_VOCABULARY
    assert mapping.rules[0] == ColumnRule("Mobile", T.MOBILE, "", 1.0)


# --------------------------------------------------------------------------- applying

FULL = {
    "Name": T.FULL_NAME,
    "First": T.FIRST_NAME,
    "Middle": T.MIDDLE_NAME,
    "Last": T.LAST_NAME,
    "Email": T.EMAIL,
    "Email 2": T.EMAIL,
    "Phone": T.PHONE,
    "Mobile": T.MOBILE,
    "Company": T.COMPANY,
    "Ref": T.SOURCE_REF,
    "Source": T.LEAD_SOURCE,
    "Status": T.LEAD_STATUS,
    "Stage": T.STAGE,
    "Owner": T.OWNER,
    "Created": T.CREATED_AT,
    "Budget": T.BUDGET,
    "Min": T.BUDGET_MIN,
    "Max": T.BUDGET_MAX,
    "Project": T.INTEREST,
    "BHK": T.CONFIGURATION,
    "Remarks": T.NOTES,
    "Comments": T.NOTES,
    "City": T.CITY,
    "Ignored": None,
}


def apply(row: dict[str, str], **options: Any) -> MappedRow:
    return mapping_of(FULL, **options).apply(row)


def test_a_full_row_gives_every_canonical_value() -> None:
    row = apply(
        {
            "Name": "  Asha   Rao ",
            "Email": " ASHA@Example.in ",
            "Email 2": "asha.rao@work.in; asha@example.in",
            "Phone": "(022) 2345 6789",
            "Mobile": "98300 12345",
            "Company": " Infosys ",
            "Ref": "12345.0",
            "Source": " 99acres ",
            "Status": "Hot",
            "Stage": "Site Visit Scheduled",
            "Owner": "Priya",
            "Created": "05/03/2024 10:22",
            "Budget": "80 L to 1 Cr",
            "Project": "Prestige Lakeside",
            "BHK": "3bhk",
            "Remarks": "Call after 6",
            "Comments": "Prefers east facing",
            "City": "Bengaluru",
            "Ignored": "whatever",
        }
    )
    assert row.ok, row.problems
    assert row.values == {
        "full_name": "Asha Rao",
        "primary_email": "asha@example.in",
        "other_emails": ["asha.rao@work.in"],
        "primary_phone": "+919830012345",
        "other_phones": ["+912223456789"],
        "company": "Infosys",
        "source_ref": "12345",
        "lead_source": "99acres",
        "lead_status": "qualified",
        "stage": "site_visit_scheduled",
        "owner": "Priya",
        "source_created_at": "2024-03-05T10:22:00+00:00",
        "budget_min": "8000000",
        "budget_max": "10000000",
        "currency": "INR",
        "budget_text": "80 L to 1 Cr",
        "interest": "Prestige Lakeside",
        "configuration": "3 BHK",
        "notes": "Remarks: Call after 6\nComments: Prefers east facing",
        "city": "Bengaluru",
    }
    json.dumps(row.values)


def test_name_parts_join_when_there_is_no_full_name() -> None:
    row = apply({"First": "Asha", "Middle": "", "Last": "Rao", "Mobile": "9830012345"})
    assert row.values["full_name"] == "Asha Rao"
    assert apply({"Name": "Rao, Asha", "Mobile": "9830012345"}).values["full_name"] == "Asha Rao"


def test_minimum_and_maximum_budget_columns() -> None:
    row = apply({"Name": "A B", "Mobile": "9830012345", "Min": "80 L", "Max": "$ 1.2M"})
    assert row.problems == (
        ("currency", "the budget columns name different currencies: ['INR', 'USD']"),
    )
    row = apply({"Name": "A B", "Mobile": "9830012345", "Min": "80 L", "Max": "1.2 Cr"})
    assert row.ok
    assert (row.values["budget_min"], row.values["budget_max"]) == ("8000000", "12000000")
    assert row.values["budget_text"] == "80 L - 1.2 Cr"
    row = apply({"Name": "A B", "Mobile": "9830012345", "Min": "2 Cr", "Max": "1 Cr"})
    assert row.problems[0][0] == "budget_max"


def test_budget_currency_follows_the_mapping() -> None:
    row = apply(
        {"Name": "A B", "Mobile": "050 123 4567", "Budget": "2M"},
        default_region="AE",
        currency="AED",
    )
    assert row.ok, row.problems
    assert (row.values["primary_phone"], row.values["currency"]) == ("+971501234567", "AED")


def test_dates_are_month_first_in_the_united_states() -> None:
    row = {"Name": "A B", "Email": "a@b.com", "Created": "03/05/2024"}
    assert apply(row).values["source_created_at"].startswith("2024-05-03")
    assert apply(row, default_region="US").values["source_created_at"].startswith("2024-03-05")


def test_configuration_comes_from_its_column_before_the_interest_text() -> None:
    row = apply({"Name": "A B", "Mobile": "9830012345", "Project": "2bhk in Sobha", "BHK": ""})
    assert row.values["configuration"] == "2 BHK"
    row = apply({"Name": "A B", "Mobile": "9830012345", "Project": "2bhk", "BHK": "Penthouse"})
    assert row.values["configuration"] == "Penthouse"


def test_duplicate_numbers_are_kept_once() -> None:
    row = apply({"Name": "A B", "Mobile": "98300 12345", "Phone": "+91 98300 12345 / 098300-12345"})
    assert row.values["primary_phone"] == "+919830012345"
    assert "other_phones" not in row.values


def test_a_missing_column_or_a_non_text_cell_does_not_break_a_row() -> None:
    row = mapping_of({"Name": T.FULL_NAME, "Mobile": T.MOBILE}).apply(
        {"Name": "Asha Rao", "Mobile": 9830012345}  # type: ignore[dict-item]
    )
    assert row.values["primary_phone"] == "+919830012345"
    row = mapping_of({"Name": T.FULL_NAME, "Mobile": T.MOBILE}).apply({"Name": "Asha Rao"})
    assert row.problems == (
        ("primary_phone", "the row has neither an email nor a phone to match on"),
    )


BASE = {"Name": "Asha Rao", "Mobile": "9830012345"}


@pytest.mark.parametrize(
    ("cells", "field", "reason_part"),
    [
        (
            {"Email": "asha@"},
            "primary_email",
            "column 'Email' value 'asha@' is not an email address: ",
        ),
        (
            {"Email": "asha@example.in", "Email 2": "asha at home"},
            "other_emails",
            "column 'Email 2' value 'asha' is not an email address",
        ),
        (
            {"Mobile": "12345"},
            "primary_phone",
            "column 'Mobile' value '12345' is not a valid phone number",
        ),
        (
            {"Phone": "98300 12345 / 55555"},
            "other_phones",
            "column 'Phone' value '55555' is not a valid phone number",
        ),
        (
            {"Mobile": "9.83E+09"},
            "primary_phone",
            "column 'Mobile' value '9.83E+09' looks like a number Excel rounded (9.83E+09);"
            " format the column as text",
        ),
        ({"Status": "Maybe"}, "lead_status", "column 'Status' value 'Maybe' is not a known lead"),
        ({"Status": "Maybe"}, "lead_status", "may add it to the status vocabulary"),
        ({"Stage": "Thinking"}, "stage", "may add it to the stage vocabulary"),
        ({"Budget": "TBD"}, "budget_text", "column 'Budget' value 'TBD' has no amount"),
        ({"Min": "lots"}, "budget_min", "column 'Min' value 'lots'"),
        (
            {"Created": "yesterday"},
            "source_created_at",
            "column 'Created' value 'yesterday' is not",
        ),
        ({"Ref": "1.23E+11"}, "source_ref", "Excel rounded"),
        ({"Name": "Mr."}, "full_name", "column 'Name' value 'Mr.' has no name left"),
        ({"Name": "", "First": "Dr", "Last": "."}, "full_name", "'First' + 'Last' value 'Dr .'"),
        ({"Name": "  "}, "full_name", "is empty"),
        ({"Mobile": ""}, "primary_phone", "the row has neither an email nor a phone to match on"),
    ],
)
def test_each_problem_kind_names_its_field(
    cells: dict[str, str], field: str, reason_part: str
) -> None:
    row = apply({**BASE, **cells})
    assert not row.ok
    assert any(f == field and reason_part in r for f, r in row.problems), row.problems


def test_empty_cells_are_absent_not_problems() -> None:
    row = apply({**BASE, **{column: "" for column in FULL if column not in BASE}})
    assert row.ok
    assert row.values == {"full_name": "Asha Rao", "primary_phone": "+919830012345"}


def test_a_bad_email_with_a_good_phone_is_still_a_problem_but_not_a_missing_contact() -> None:
    row = apply({"Name": "Asha Rao", "Email": "nope", "Mobile": ""})
    assert [field for field, _ in row.problems] == ["primary_email"]


_cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(list(FULL)),
        _cells
        | st.sampled_from(
            [
                "9830012345",
                "asha@example.in",
                "1-1.5 Cr",
                "05/03/2024",
                "Hot",
                "Mr",
                "9.8E+09",
                "3bhk",
            ]
        ),
    )
)
def test_applying_never_raises_and_gives_json_safe_values(row: dict[str, str]) -> None:
    mapped = apply(row)
    json.dumps(mapped.values)
    assert all(isinstance(f, str) and isinstance(r, str) for f, r in mapped.problems)
    assert mapped.ok == (not mapped.problems)
    if mapped.ok:
        assert "full_name" in mapped.values
        assert "primary_email" in mapped.values or "primary_phone" in mapped.values
