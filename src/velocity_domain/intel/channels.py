"""Which detail rows an interaction's channel takes.

An interaction is the umbrella row; what happened on its channel is kept in
detail rows: a ``message`` for a message or WhatsApp, a ``call`` (and the
``transcript`` of that call) for a call, an ``email`` for an email, a
``visit`` for a visit or meeting. A channel takes no other detail, and a
transcript needs the call it transcribes.

>>> sorted(c.value for c in DETAIL_CHANNELS["message"])
['message', 'whatsapp']
>>> check_details(Channel.EMAIL, ["call"])
Traceback (most recent call last):
...
velocity_domain.errors.ValidationFailed: call: does not fit channel email; it fits call
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from velocity_domain.errors import ValidationFailed
from velocity_domain.intel.entities import Channel, VisitType

__all__ = ["DETAIL_CHANNELS", "check_details", "visit_type"]

#: The channels each detail row fits.
DETAIL_CHANNELS: Mapping[str, frozenset[Channel]] = {
    "message": frozenset({Channel.MESSAGE, Channel.WHATSAPP}),
    "call": frozenset({Channel.CALL}),
    "transcript": frozenset({Channel.CALL}),
    "email": frozenset({Channel.EMAIL}),
    "visit": frozenset({Channel.VISIT, Channel.MEETING}),
}


def check_details(channel: Channel, details: Iterable[str]) -> None:
    """Refuse detail rows (by name) that ``channel`` does not take, naming the detail.

    An unknown detail name, one that does not fit the channel, or a
    transcript without its call is ``ValidationFailed``.
    """
    names = set(details)
    for name in sorted(names):
        fits = DETAIL_CHANNELS.get(name)
        if fits is None:
            known = ", ".join(sorted(DETAIL_CHANNELS))
            raise ValidationFailed(name, f"is not a detail of an interaction (one of: {known})")
        if channel not in fits:
            allowed = ", ".join(sorted(c.value for c in fits))
            raise ValidationFailed(name, f"does not fit channel {channel.value}; it fits {allowed}")
    if "transcript" in names and "call" not in names:
        raise ValidationFailed("transcript", "needs the call detail it transcribes")


def visit_type(channel: Channel) -> VisitType:
    """The kind of visit a ``visit`` detail of ``channel`` records (a meeting or a site visit)."""
    return VisitType.MEETING if channel is Channel.MEETING else VisitType.SITE_VISIT
