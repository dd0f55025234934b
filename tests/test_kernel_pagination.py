from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velocity_domain.errors import InvalidCursor, NotConfigured, ValidationFailed
from velocity_domain.kernel import MAX_PAGE_SIZE, CursorCodec, Page, PageRequest
from velocity_domain.kernel.pagination import CURSOR_KEY_ENV

codec = CursorCodec(b"test-key-0123456789")

cursor_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
)


@given(st.text(min_size=1, max_size=40), st.lists(cursor_values, max_size=4))
def test_cursors_round_trip(scope: str, values: list[object]) -> None:
    token = codec.encode(scope, values)  # type: ignore[arg-type]
    assert codec.decode(token, scope) == tuple(values)


def test_a_cursor_for_another_listing_is_refused() -> None:
    token = codec.encode("crm_people:full_name", ["asha", uuid.uuid4()])
    with pytest.raises(InvalidCursor, match="another listing"):
        codec.decode(token, "crm_accounts:account_name")


def test_a_cursor_signed_with_another_key_is_refused() -> None:
    token = CursorCodec(b"another-key-987654321").encode("s", [1])
    with pytest.raises(InvalidCursor, match="altered or signed with another key"):
        codec.decode(token, "s")


@given(st.data())
def test_any_single_character_edit_is_detected(data: st.DataObject) -> None:
    token = codec.encode("scope", [datetime(2026, 1, 1, tzinfo=UTC), Decimal("1.5")])
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    )
    edited = token[:index] + replacement + token[index + 1 :]
    if edited == token:
        return
    try:
        decoded = codec.decode(edited, "scope")
    except InvalidCursor as err:
        assert err.field == "cursor"
        return
    # Base64 padding bits can absorb an edit without changing the bytes; then
    # the decoded page position must be exactly the original one.
    assert decoded == codec.decode(token, "scope")


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "!!!.???", "e30.AAAA"])
def test_malformed_cursors_are_refused(junk: str) -> None:
    with pytest.raises(InvalidCursor):
        codec.decode(junk, "scope")


def test_forged_payload_with_valid_signature_but_odd_values_is_refused() -> None:
    payload = b'{"s":"scope","v":[{"q":"x"}]}'
    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(codec._sign(payload)).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor, match="did not write"):
        codec.decode(f"{body}.{sig}", "scope")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        CursorCodec(b"short")


def test_the_in_memory_key_is_random_and_lives_as_long_as_its_process() -> None:
    probe = "from velocity_domain.kernel import CursorCodec as C; print(C.for_this_process()._key)"
    keys = {
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(keys) == 2
    token = CursorCodec.for_this_process().encode("s", [1])
    assert CursorCodec.for_this_process().decode(token, "s") == (1,)


def test_a_hosts_key_comes_from_the_call_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CURSOR_KEY_ENV, "from the environment, 32 bytes..")
    token = CursorCodec.from_host(None).encode("s", [1])
    assert CursorCodec.from_host(b"from the environment, 32 bytes..").decode(token, "s") == (1,)
    with pytest.raises(InvalidCursor):
        CursorCodec.from_host("the call's own key wins over it").decode(token, "s")
    monkeypatch.delenv(CURSOR_KEY_ENV)
    with pytest.raises(NotConfigured, match=CURSOR_KEY_ENV):
        CursorCodec.from_host(None)


def test_values_keep_their_types() -> None:
    values = [uuid.uuid4(), datetime(2026, 5, 1, 12, tzinfo=UTC), date(2026, 5, 1), Decimal("9.99")]
    decoded = codec.decode(codec.encode("s", values), "s")
    assert [type(v) for v in decoded] == [type(v) for v in values]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, True, 2.5, "10"])
def test_page_size_is_bounded(limit: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        PageRequest(limit=limit)  # type: ignore[arg-type]
    assert err.value.field == "limit"


def test_page_is_iterable_and_sized() -> None:
    page = Page(items=(1, 2, 3), next_cursor="c")
    assert list(page) == [1, 2, 3]
    assert len(page) == 3
    assert PageRequest().limit == 50
