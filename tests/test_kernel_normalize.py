from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel import normalize_email, normalize_name, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Asha.Rao@Example.COM ", "asha.rao@example.com"),
        ("o'brien+crm@mail.co.in", "o'brien+crm@mail.co.in"),
        ("user@bücher.de", "user@xn--bcher-kva.de"),
        ("USER@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"),
    ],
)
def test_email_is_trimmed_and_folded(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("no-at-sign.example.com", "exactly one @"),
        ("two@@example.com", "exactly one @"),
        ("@example.com", "before the @"),
        ("a..b@example.com", "before the @"),
        (".a@example.com", "before the @"),
        ("a b@example.com", "before the @"),
        ("user@localhost", "invalid domain"),
        ("user@-bad.com", "invalid domain"),
        ("user@example.c", "top-level domain"),
        ("user@example.123", "top-level domain"),
        ("x" * 65 + "@example.com", "before the @"),
        ("a@" + "b" * 250 + ".com", "longer than 254"),
    ],
)
def test_bad_emails_are_refused_with_the_field_and_reason(raw: str, reason_part: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalize_email(raw, field="primary_email")
    assert err.value.field == "primary_email"
    assert reason_part in err.value.reason


def test_non_strings_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="must be a string"):
        normalize_email(42)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="must be a string"):
        normalize_phone(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="must be a string"):
        normalize_name(b"asha")  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["+91 98300 12345", "098300 12345", "9830012345", "+919830012345"])
def test_indian_numbers_in_every_common_form_are_one_number(raw: str) -> None:
    assert normalize_phone(raw) == "+919830012345"


def test_default_region_is_configurable() -> None:
    assert normalize_phone("(415) 555-2671", region="US") == "+14155552671"
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize("raw", ["", "hello", "12", "+91 12345", "0000000000"])
def test_impossible_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalize_phone(raw, field="primary_phone")
    assert err.value.field == "primary_phone"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mr. Rahul   SHARMA", "rahul sharma"),
        ("Dr Mrs Priya Sen", "priya sen"),
        ("Shri Ravi Kumar", "ravi kumar"),
        ("Smt. Ánjali D'Souza-Rao", "anjali dsouza rao"),
        ("José Müller", "jose muller"),
        ("STRAßE", "strasse"),
        ("  Mr.Ajay ", "ajay"),
        ("Drake Bell", "drake bell"),
    ],
)
def test_names_are_folded_and_titles_dropped(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "Mr.", "Dr. Mrs.", "!!!"])
def test_a_name_with_nothing_left_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalize_name(raw)
    assert err.value.field == "full_name"


@given(st.text(max_size=60))
def test_name_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalize_name(raw)
    except ValidationFailed:
        return
    assert normalize_name(once) == once


@given(
    st.from_regex(r"[A-Za-z0-9._%+-]{1,20}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{1,15}\.[A-Za-z]{2,6}", fullmatch=True),
    st.sampled_from(["", " ", "\t"]),
)
def test_email_normalisation_is_idempotent(local: str, domain: str, pad: str) -> None:
    try:
        once = normalize_email(f"{pad}{local}@{domain}{pad}")
    except ValidationFailed:
        return
    assert normalize_email(once) == once
    assert once == once.strip().casefold()


@given(st.integers(min_value=6_000_000_000, max_value=9_999_999_999))
def test_phone_normalisation_is_idempotent_and_form_independent(national: int) -> None:
    try:
        once = normalize_phone(str(national))
    except ValidationFailed:
        assume(False)
        return
    assert normalize_phone(once) == once
    assert normalize_phone("0" + str(national)) == once
    assert normalize_phone("+91 " + str(national)) == once
