"""Which detail rows each interaction channel takes: the rule of the interaction model."""

from __future__ import annotations

import itertools

import pytest

from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.channels import DETAIL_CHANNELS, check_details, visit_type
from velocity_domain.intel.entities import Channel, VisitType

#: Written out by hand from the spec, not read from DETAIL_CHANNELS.
TAKES: dict[str, set[str]] = {
    "message": {"message"},
    "whatsapp": {"message"},
    "call": {"call", "transcript"},
    "email": {"email"},
    "visit": {"visit"},
    "meeting": {"visit"},
    "other": set(),
}


def test_every_channel_is_described() -> None:
    assert set(TAKES) == {c.value for c in Channel}
    assert set(DETAIL_CHANNELS) == {"message", "call", "transcript", "email", "visit"}


@pytest.mark.parametrize(
    ("channel", "detail"), list(itertools.product(list(Channel), sorted(DETAIL_CHANNELS)))
)
def test_a_detail_fits_exactly_the_channels_of_the_table(channel: Channel, detail: str) -> None:
    given = [detail, "call"] if detail == "transcript" else [detail]
    if detail in TAKES[channel.value]:
        check_details(channel, given)
        return
    with pytest.raises(ValidationFailed) as err:
        check_details(channel, given)
    # A transcript comes with its call, and the call (named first) fits no better.
    assert err.value.field == ("call" if detail == "transcript" else detail)
    assert f"does not fit channel {channel.value}" in err.value.reason


def test_a_transcript_needs_its_call_and_unknown_details_are_named() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_details(Channel.CALL, ["transcript"])
    assert (err.value.field, err.value.reason) == (
        "transcript",
        "needs the call detail it transcribes",
    )
    with pytest.raises(ValidationFailed) as err:
        check_details(Channel.CALL, ["fax"])
    assert err.value.field == "fax"
    check_details(Channel.OTHER, [])


def test_a_visit_detail_records_a_meeting_or_a_site_visit() -> None:
    assert visit_type(Channel.MEETING) is VisitType.MEETING
    assert visit_type(Channel.VISIT) is VisitType.SITE_VISIT
