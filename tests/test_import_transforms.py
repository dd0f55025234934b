"""Value transforms of the import gateway: budgets, phones, names, dates, configurations."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.transforms import (
    _fast_e164,
    configuration_of,
    display_name,
    fast_phone,
    join_name,
    parse_budget,
    parse_when,
    split_phones,
    undo_excel_number,
    vocabulary_key,
)
from velocity_domain.kernel.normalize import normalize_phone

D = Decimal

# --------------------------------------------------------------------------- budgets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2 Cr", (None, D(12000000), "INR")),
        ("1.2cr", (None, D(12000000), "INR")),
        ("1.2 crore", (None, D(12000000), "INR")),
        ("1.2 Crores", (None, D(12000000), "INR")),
        ("1.2 Cr.", (None, D(12000000), "INR")),
        ("80 L", (None, D(8000000), "INR")),
        ("80L", (None, D(8000000), "INR")),
        ("80 lakh", (None, D(8000000), "INR")),
        ("80 Lakhs", (None, D(8000000), "INR")),
        ("80 lac", (None, D(8000000), "INR")),
        ("80 lacs", (None, D(8000000), "INR")),
        ("₹ 95,00,000", (None, D(9500000), "INR")),
        ("Rs. 95,00,000", (None, D(9500000), "INR")),
        ("Rs95,00,000", (None, D(9500000), "INR")),
        ("INR 9500000", (None, D(9500000), "INR")),
        ("95,00,000/-", (None, D(9500000), "INR")),
        ("9500000", (None, D(9500000), "INR")),
        ("9500000.0", (None, D(9500000), "INR")),
        ("1-1.5 Cr", (D(10000000), D(15000000), "INR")),
        ("1 - 1.5 Cr", (D(10000000), D(15000000), "INR")),
        ("50L - 60L", (D(5000000), D(6000000), "INR")),
        ("50\u201360 lakhs", (D(5000000), D(6000000), "INR")),
        ("80 L to 1 Cr", (D(8000000), D(10000000), "INR")),
        ("90 lakh - 1.2 Cr", (D(9000000), D(12000000), "INR")),
        ("95,00,000 - 1 Cr", (D(9500000), D(10000000), "INR")),
        ("between 80L and 1Cr", (D(8000000), D(10000000), "INR")),
        ("under 1 Cr", (None, D(10000000), "INR")),
        ("upto 1 Cr", (None, D(10000000), "INR")),
        ("up to 1 Cr", (None, D(10000000), "INR")),
        ("below 1 cr", (None, D(10000000), "INR")),
        ("above 2 Cr", (D(20000000), None, "INR")),
        ("1.5 cr+", (D(15000000), None, "INR")),
        ("2 Cr onwards", (D(20000000), None, "INR")),
        ("2 million", (None, D(2000000), "INR")),
        ("2M", (None, D(2000000), "INR")),
        ("200k", (None, D(200000), "INR")),
        ("$ 250,000", (None, D(250000), "USD")),
        ("US$ 300k", (None, D(300000), "USD")),
        ("€ 400,000", (None, D(400000), "EUR")),
        ("EUR 1.5M", (None, D(1500000), "EUR")),
        ("£ 350,000", (None, D(350000), "GBP")),
        ("AED 1.2M", (None, D(1200000), "AED")),
        ("1.25 Cr", (None, D(12500000), "INR")),
        ("12,34,567.89", (None, D("1234567.89"), "INR")),
    ],
)
def test_budgets_are_read_in_whole_currency_units(
    text: str, expected: tuple[Decimal | None, Decimal | None, str]
) -> None:
    assert parse_budget(text) == expected


def test_budget_without_a_symbol_is_in_the_given_currency() -> None:
    assert parse_budget("2M", currency="AED") == (None, D(2000000), "AED")
    assert parse_budget("₹ 2M", currency="AED") == (None, D(2000000), "INR")


def test_budget_amounts_print_as_plain_decimal_strings() -> None:
    low, high, _ = parse_budget("1-1.5 Cr")
    assert (str(low), str(high)) == ("10000000", "15000000")


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("TBD", "no amount"),
        ("ask", "no amount"),
        ("-", "no amount"),
        ("", "no amount"),
        ("0", "more than zero"),
        ("0 Cr", "more than zero"),
        ("-5 L", "negative"),
        ("\u22125 L", "negative"),
        ("2 Cr - 1 Cr", "lower end above its upper end"),
        ("1.2", "too small"),
        ("500", "too small"),
        ("$ 5 and € 6", "more than one currency"),
        ("about 3 flats", "is not a budget"),
        ("1.2 Cr approx", "is not a budget"),
        ("9.5E+06", "is not a budget"),
        ("99999999999 Cr", "too large"),
    ],
)
def test_bad_budgets_are_refused_with_a_reason(text: str, reason_part: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_budget(text)
    assert caught.value.field == "budget"
    assert reason_part in caught.value.reason
    assert caught.value.value == text


# --------------------------------------------------------------------------- phones

INDIAN_WAYS = [
    "98300 12345",
    "+91-98300-12345",
    "098300 12345",
    "0091 9830012345",
    "91 9830012345",
    "919830012345",
    "+91 (983) 001-2345",
    "+919830012345",
    "9830012345",
    "98300.12345",
    " 9830 012 345 ",
]


@pytest.mark.parametrize("text", INDIAN_WAYS)
def test_every_way_indians_write_a_mobile_gives_one_e164(text: str) -> None:
    assert fast_phone(text, "IN") == "+919830012345"
    assert _fast_e164(text, "IN") == "+919830012345"  # answered without a full parse


def test_excel_float_mobile_becomes_digits_before_the_phone_is_read() -> None:
    assert fast_phone(undo_excel_number("9830012345.0"), "IN") == "+919830012345"


def test_excel_scientific_notation_is_refused_with_advice() -> None:
    with pytest.raises(ValidationFailed) as caught:
        undo_excel_number("9.83E+09")
    assert caught.value.reason == (
        "looks like a number Excel rounded (9.83E+09); format the column as text"
    )
    assert undo_excel_number("022 2345 6789") == "022 2345 6789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(022) 2345 6789", "+912223456789"),
        ("080 4123 4567", "+918041234567"),
        ("011-4155-6677", "+911141556677"),
        ("1800 209 7777", "+9118002097777"),
    ],
)
def test_indian_landlines_and_toll_free_numbers(text: str, expected: str) -> None:
    assert fast_phone(text, "IN") == expected


def test_a_cell_with_several_numbers_splits_on_every_usual_separator() -> None:
    assert split_phones("98300-12345 / 98310-54321") == ["98300-12345", "98310-54321"]
    assert split_phones("98300 12345, 98310 54321; 022 2345 6789") == [
        "98300 12345",
        "98310 54321",
        "022 2345 6789",
    ]
    assert split_phones("98300 12345 or 98310 54321") == ["98300 12345", "98310 54321"]
    assert split_phones("98300 12345\n98310 54321") == ["98300 12345", "98310 54321"]
    assert split_phones("+91 98300 12345") == ["+91 98300 12345"]
    assert split_phones("  ") == []


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("12345", "IN"),
        ("5555555555", "IN"),
        ("0000000000", "IN"),
        ("98300123456789", "IN"),
        ("not a phone", "IN"),
        ("", "IN"),
        ("+999 1234 5678", "IN"),
        ("9830012345", "XX"),
    ],
)
def test_impossible_numbers_raise_exactly_what_the_kernel_raises(text: str, region: str) -> None:
    with pytest.raises(ValidationFailed) as ours:
        fast_phone(text, region)
    with pytest.raises(ValidationFailed) as kernel:
        normalize_phone(text, region)
    assert (ours.value.field, ours.value.reason, ours.value.value) == (
        kernel.value.field,
        kernel.value.reason,
        kernel.value.value,
    )


def _outcome(function: object, text: str, region: str) -> tuple[object, ...]:
    try:
        return ("ok", function(text, region))  # type: ignore[operator]
    except ValidationFailed as err:
        return ("refused", err.field, err.reason, err.value)


REGIONS = ["IN", "in", "AE", "SG", "GB", "US", "DE", "AU", "CN", "NP", "BD", "LK", "AR", "BR", "IT"]
PREFIXES = [
    "",
    "+91",
    "+91 ",
    "+91-",
    "0091",
    "0091 ",
    "91",
    "91 ",
    "0",
    "0 ",
    "+",
    "00",
    "+910",
    "910",
    "00910",
    "(+91) ",
    "+ 91 ",
    "+1 ",
    "+44 ",
    "+971 ",
    "+65",
    "011",
    "0011",
]


@st.composite
def indian_style(draw: st.DrawFn) -> str:
    """Numbers as Indians type them: a prefix, 4-13 digits, punctuation anywhere."""
    first = draw(st.sampled_from("9876543210"))
    rest = draw(st.text(alphabet="0123456789", min_size=3, max_size=12))
    text = draw(st.sampled_from(PREFIXES)) + first + rest
    marks = draw(st.lists(st.sampled_from(["", " ", "-", ".", "(", ")"]), min_size=len(text)))
    return "".join(ch + mark for ch, mark in zip(text, marks, strict=False))


@st.composite
def formatted_real_number(draw: st.DrawFn) -> tuple[str, str]:
    """A real example number of some region, formatted some way, maybe with a digit changed."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(st.sampled_from(list(range(11))))
    number = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    if number is None:
        return "12345", region
    style = draw(st.sampled_from([0, 1, 2]))  # E164, INTERNATIONAL, NATIONAL
    text = phonenumbers.format_number(number, style)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if digits and draw(st.booleans()):
        at = draw(st.sampled_from(digits))
        text = text[:at] + draw(st.sampled_from("0123456789")) + text[at + 1 :]
    dialled_from = draw(st.sampled_from([region, region, "IN", "US", "AE"]))
    return text, dialled_from


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        indian_style(),
        st.text(alphabet="0123456789 +-.()", max_size=24),
        st.from_regex(r"\+?[0-9]{0,18}", fullmatch=True),
        st.text(max_size=16),
    ),
    region=st.sampled_from(REGIONS),
)
@example(text="098300 12345", region="IN")
@example(text="0091 0983 0012345", region="IN")
@example(text="91 022 2345 6789", region="IN")
@example(text="910", region="IN")
@example(text="+91", region="IN")
@example(text="00", region="IN")
@example(text="0091", region="IN")
@example(text="00919", region="IN")
@example(text="9118004662", region="IN")  # starts with 91 yet is a national number
@example(text="91 1800 209 7777", region="IN")
@example(text="0091 1800 209 7777", region="IN")
@example(text="9" * 20, region="IN")
@example(text="1" + "0" * 300, region="IN")
def test_fast_phone_is_exactly_normalize_phone(text: str, region: str) -> None:
    assert _outcome(fast_phone, text, region) == _outcome(normalize_phone, text, region)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formatted_real_number())
def test_fast_phone_is_exactly_normalize_phone_for_real_numbers_of_every_region(
    case: tuple[str, str],
) -> None:
    text, region = case
    assert _outcome(fast_phone, text, region) == _outcome(normalize_phone, text, region)


def test_the_fast_path_answers_for_plain_indian_numbers_and_leaves_the_rest() -> None:
    assert _fast_e164("(022) 2345 6789", "IN") == "+912223456789"
    assert _fast_e164("0091 9830012345", "IN") == "+919830012345"
    assert _fast_e164("+971 50 123 4567", "IN") is None  # another country: phonenumbers decides
    assert _fast_e164("+1 650 253 0000", "US") is None  # +1 is shared by many regions
    assert _fast_e164("98300 12345 ext. 12", "IN") is None
    assert _fast_e164("5555555555", "IN") is None  # invalid: phonenumbers gives the reason


# --------------------------------------------------------------------------- names


def test_name_parts_join_without_empty_parts_or_extra_spaces() -> None:
    assert join_name("Asha", "", "Rao") == "Asha Rao"
    assert join_name(" Asha ", " Devi ", " Rao ") == "Asha Devi Rao"
    assert join_name("", "", "Rao") == "Rao"
    assert join_name("", " ", "") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rao, Asha", "Asha Rao"),
        ("  Asha   Rao ", "Asha Rao"),
        ("D'Souza, Anjali Maria", "Anjali Maria D'Souza"),
        ("Asha Rao, MBA, PhD", "Asha Rao, MBA, PhD"),
        (",Asha", ",Asha"),
    ],
)
def test_display_names(text: str, expected: str) -> None:
    assert display_name(text) == expected


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2024-03-05", True, datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05 10:22", True, datetime(2024, 3, 5, 10, 22, tzinfo=UTC)),  # HubSpot
        ("2024-03-05T10:22:00.000Z", True, datetime(2024, 3, 5, 10, 22, tzinfo=UTC)),  # SF
        ("2024-03-05T10:22:00+05:30", True, datetime(2024, 3, 5, 4, 52, tzinfo=UTC)),
        ("05/03/2024", True, datetime(2024, 3, 5, tzinfo=UTC)),
        ("05/03/2024", False, datetime(2024, 5, 3, tzinfo=UTC)),
        ("5-3-24", True, datetime(2024, 3, 5, tzinfo=UTC)),
        ("05.03.2024 10:22", True, datetime(2024, 3, 5, 10, 22, tzinfo=UTC)),
        ("05/03/2024 4:05 PM", True, datetime(2024, 3, 5, 16, 5, tzinfo=UTC)),
        ("05/03/2024 12:30 am", True, datetime(2024, 3, 5, 0, 30, tzinfo=UTC)),
        ("2024/03/05", False, datetime(2024, 3, 5, tzinfo=UTC)),
        ("5 Mar 2024", True, datetime(2024, 3, 5, tzinfo=UTC)),
        ("05-Mar-24", True, datetime(2024, 3, 5, tzinfo=UTC)),
        ("March 5, 2024", False, datetime(2024, 3, 5, tzinfo=UTC)),
        ("5th March 2024 10:22", True, datetime(2024, 3, 5, 10, 22, tzinfo=UTC)),
    ],
)
def test_dates_in_the_shapes_exports_write(text: str, day_first: bool, expected: datetime) -> None:
    assert parse_when(text, day_first=day_first) == expected


@pytest.mark.parametrize(
    ("text", "day_first"),
    [
        ("yesterday", True),
        ("", True),
        ("13/25/2024", True),
        ("25/03/2024", False),  # month first: there is no 25th month
        ("31/02/2024", True),
        ("05/03/2024 25:00", True),
        ("05/03/2024 13:00 pm", True),
        ("2024-13-01", True),
        ("05/03/1850", True),
        ("123/03/2024", True),
        ("05/03/202", True),
    ],
)
def test_non_dates_are_refused(text: str, day_first: bool) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_when(text, day_first=day_first)
    assert caught.value.field == "source_created_at"


# --------------------------------------------------------------------------- configurations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2bhk", "2 BHK"),
        ("3 BHK", "3 BHK"),
        ("Looking for 3bhk in Whitefield", "3 BHK"),
        ("2.5 BHK", "2.5 BHK"),
        ("3 B.H.K.", "3 BHK"),
        ("3-bhk flat", "3 BHK"),
        ("4BR", "4 BR"),
        ("3 bedrooms", "3 BR"),
        ("1 RK", "1 RK"),
        ("1rk near station", "1 RK"),
        ("Studio apartment", "Studio"),
        ("2/3 BHK", "2/3 BHK"),
        ("2 or 3 bhk", "2/3 BHK"),
        ("2 & 3 BHK", "2/3 BHK"),
        ("Tower 2, 3bhk", "3 BHK"),
        ("Villa", None),
        ("Prestige Lakeside", None),
        ("12345 bhkx", None),
        ("", None),
    ],
)
def test_configurations_found_in_text(text: str, expected: str | None) -> None:
    assert configuration_of(text) == expected


# --------------------------------------------------------------------------- vocabulary keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Open - Not Contacted", "open not contacted"),
        ("  WORKING_-_CONTACTED ", "working contacted"),
        ("site_visit_done", "site visit done"),
        ("Closed \u2013 Converted", "closed converted"),
        ("marketingqualifiedlead", "marketingqualifiedlead"),
        ("Hot\tLead", "hot lead"),
    ],
)
def test_vocabulary_keys(text: str, expected: str) -> None:
    assert vocabulary_key(text) == expected


# --------------------------------------------------------------------------- robustness

_noise = st.lists(
    st.sampled_from([*"0123456789 .,-/+:₹$ckKmMTZ", "Cr", "lakh", " to ", "E+", "/2024", "pm"]),
    max_size=12,
).map("".join) | st.text(max_size=20)


@settings(max_examples=400, deadline=None)
@given(_noise)
def test_transforms_are_robust_and_refuse_only_with_validation_failed(text: str) -> None:
    for read in (
        parse_budget,
        lambda t: parse_when(t, day_first=True),
        lambda t: parse_when(t, day_first=False),
        undo_excel_number,
        lambda t: fast_phone(t, "IN"),
    ):
        try:
            read(text)
        except ValidationFailed as err:
            assert err.reason
    assert isinstance(split_phones(text), list)
    assert configuration_of(text) is None or isinstance(configuration_of(text), str)
    assert vocabulary_key(vocabulary_key(text)) == vocabulary_key(text)
