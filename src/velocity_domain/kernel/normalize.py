"""Normalisers for matching and de-duplication: email, phone (E.164), person names.

Each one is idempotent (normalising its own output changes nothing) and raises
:class:`~velocity_domain.errors.ValidationFailed` naming the field when the
input cannot be a value of its kind.

>>> normalize_email("  Asha.Rao@Example.COM ")
'asha.rao@example.com'
>>> normalize_phone("098300 12345") == normalize_phone("+91 98300 12345") == "+919830012345"
True
>>> normalize_name("Smt. Ánjali  D'Souza-Rao")
'anjali dsouza rao'
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

from velocity_domain.errors import ValidationFailed

__all__ = [
    "DEFAULT_PHONE_REGION",
    "HONORIFICS",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
]

DEFAULT_PHONE_REGION = "IN"

#: Titles dropped from the start of a name before matching.
HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "shri", "shree", "sri", "smt", "kumari", "km"}
)

_EMAIL_MAX = 254
_LOCAL_MAX = 64
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_APOSTROPHES = {"'", "\u2019", "\u2018", "`", "\u00b4"}


def normalize_email(value: str, field: str = "email") -> str:
    """Trim, case-fold and syntax-check an email address; return its canonical form.

    Internationalised domains are stored in their ASCII (IDNA) form so that the
    same mailbox always compares equal.
    """
    if not isinstance(value, str):
        raise ValidationFailed(field, f"must be a string, not {type(value).__name__}")
    text = value.strip().casefold()
    if not text:
        raise ValidationFailed(field, "must not be empty", value=value)
    if len(text) > _EMAIL_MAX:
        raise ValidationFailed(field, f"is longer than {_EMAIL_MAX} characters", value=value)
    if text.count("@") != 1:
        raise ValidationFailed(field, "is not an email address (needs exactly one @)", value=value)
    local, domain = text.split("@")
    if not local or len(local) > _LOCAL_MAX or not _LOCAL_RE.match(local):
        raise ValidationFailed(field, f"has an invalid part before the @: {local!r}", value=value)
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationFailed(field, f"has an invalid domain: {domain!r}", value=value) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValidationFailed(field, f"has an invalid domain: {domain!r}", value=value)
    if not _TLD_RE.match(labels[-1]):
        raise ValidationFailed(
            field, f"has an invalid top-level domain: {labels[-1]!r}", value=value
        )
    return f"{local}@{ascii_domain}"


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION, field: str = "phone") -> str:
    """Parse a phone number and return it in E.164 (``+919830012345``).

    Numbers without a country code are read in ``region`` (ISO 3166 alpha-2,
    default ``IN``), so ``098300 12345`` and ``9830012345`` are the same number
    as ``+91 98300 12345``. Results are remembered (the function is pure), so
    a number seen before is not parsed again.
    """
    if not isinstance(value, str):
        raise ValidationFailed(field, f"must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValidationFailed(field, "must not be empty", value=value)
    found = _e164(text, region.upper())
    if isinstance(found, str):
        return found
    raise ValidationFailed(field, found[0], value=value)


@functools.lru_cache(maxsize=65536)
def _e164(text: str, region: str) -> str | tuple[str]:
    """The E.164 form of ``text``, or (the reason it is not a phone number,)."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return (f"is not a phone number ({exc})",)
    if not phonenumbers.is_valid_number(parsed):
        return (f"is not a valid phone number (read with default region {region})",)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_name(value: str, field: str = "full_name") -> str:
    """Return the matching key of a person's name.

    Unicode case-folded, accents removed, apostrophes dropped, other punctuation
    turned into spaces, leading honorifics (Mr, Mrs, Dr, Shri, Smt, ...) removed
    and whitespace collapsed. A name that is nothing but a title is refused.
    """
    if not isinstance(value, str):
        raise ValidationFailed(field, f"must be a string, not {type(value).__name__}")
    words = _name_words(value)
    if not words:
        raise ValidationFailed(field, "has no name left once titles and punctuation are removed")
    return words


@functools.lru_cache(maxsize=65_536)
def _name_words(value: str) -> str:
    """The matching key of ``value`` ('' when nothing is left); names repeat, so it is cached."""
    text = _strip_marks(_strip_marks(value).casefold())
    chars: list[str] = []
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        category = unicodedata.category(ch)
        chars.append(" " if category[0] in "PSZC" else ch)
    words = "".join(chars).split()
    while words and words[0] in HONORIFICS:
        words.pop(0)
    return " ".join(words)
