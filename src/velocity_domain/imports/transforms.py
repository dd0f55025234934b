"""Value transforms for import cells: budgets, phones, names, dates, configurations.

Each function reads the text of one cell (as a spreadsheet or CRM export
wrote it) and returns a canonical value, or raises
:class:`~velocity_domain.errors.ValidationFailed` naming the field and saying
what is wrong, so a caller can record the problem against the row instead of
failing the file. They run once per cell on files of a million rows, so every
pattern is compiled once and the common cases take the shortest path.

>>> parse_budget("1-1.5 Cr")
(Decimal('10000000'), Decimal('15000000'), 'INR')
>>> fast_phone("098300 12345", "IN")
'+919830012345'
>>> configuration_of("Looking for a 3bhk near the metro")
'3 BHK'
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import attrs
import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.normalize import normalize_phone

__all__ = [
    "configuration_of",
    "display_name",
    "fast_phone",
    "join_name",
    "parse_budget",
    "parse_when",
    "split_phones",
    "undo_excel_number",
    "vocabulary_key",
]

# --------------------------------------------------------------------------- vocabulary keys

_KEY_GAPS = re.compile(r"[\s_\-\u2010-\u2015]+")


def vocabulary_key(text: str) -> str:
    """The form a status or stage text is looked up in: case-folded, gaps made single spaces.

    Spaces, underscores and dashes (of any kind) all count as one gap, so
    Salesforce's ``Closed - Converted`` and a hand-typed ``closed_converted``
    meet at the same key.

    >>> vocabulary_key("  Open - Not Contacted ")
    'open not contacted'
    >>> vocabulary_key("SITE_VISIT_DONE")
    'site visit done'
    """
    return _KEY_GAPS.sub(" ", text.casefold()).strip()


# --------------------------------------------------------------------------- budgets

_CURRENCY_CODES: Final = {
    mark: code
    for code, marks in (
        ("INR", "₹ rs inr rupee rupees"),
        ("USD", "$ us$ usd"),
        ("EUR", "€ eur euro euros"),
        ("GBP", "£ gbp"),
        ("AED", "aed dhs dirham dirhams"),
        *((c, c.lower()) for c in ("SGD", "AUD", "CAD", "SAR", "QAR", "OMR", "KWD", "BHD")),
    )
    for mark in marks.split()
}
_WORD_CODES = "|".join(sorted((k for k in _CURRENCY_CODES if k.isalpha()), key=len, reverse=True))
_CURRENCY_RE = re.compile(rf"us\$|[₹$€£]|(?<![a-z])(?:{_WORD_CODES})(?![a-z])\.?")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d)")
_UNITS: Final = {
    unit: 10**power
    for power, units in (
        (7, "cr crs crore crores"),
        (5, "l lac lacs lakh lakhs lk lks"),
        (3, "k thousand"),
        (6, "m mn million millions"),
        (9, "bn billion billions"),
    )
    for unit in units.split()
}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_BUDGET_RE = re.compile(
    rf"""
    (?:(?P<below>under|up\s*to|upto|below|less\s+than|max(?:imum)?|within|<=?)
      |(?P<above>above|over|more\s+than|min(?:imum)?|starting\s+(?:at|from)|>=?)
      |from|between)?\s*
    (?P<a>{_NUMBER})\s*(?:(?P<ua>{_UNIT})(?![a-z])\.?)?
    (?:\s*(?:-|\u2013|\u2014|to|and|&)\s*(?P<b>{_NUMBER})\s*(?:(?P<ub>{_UNIT})(?![a-z])\.?)?)?
    \s*(?P<plus>\+|plus|onwards|and\s+above|or\s+more|&\s+above)?
    """,
    re.VERBOSE,
)
_NEGATIVE_RE = re.compile("^\\s*[-\u2212]\\s*\\d")
_CENT = Decimal("0.01")
_ONE = Decimal(1)
_BUDGET_CEILING = Decimal("9999999999999999.99")  # what numeric(18, 2) holds
_SMALLEST_BARE_BUDGET = 1000
_BUDGET_HINT = "write e.g. '1.2 Cr', '80 L', '50L - 60L', 'under 1 Cr' or '₹ 95,00,000'"


def _amount(number: str, unit: str | None) -> Decimal:
    value = Decimal(number) * (_UNITS[unit] if unit else 1)
    value = value.quantize(_CENT)
    return value.quantize(_ONE) if value == value.to_integral_value() else value


def parse_budget(text: str, *, currency: str = "INR") -> tuple[Decimal | None, Decimal | None, str]:
    """Read a budget cell as ``(minimum, maximum, currency)``; amounts in whole units.

    Indian units (``Cr``/crore, ``L``/lakh/lac) and ``k``/``M``/million are
    understood, as are Indian digit grouping (``95,00,000``), a trailing
    ``/-`` and a currency symbol or code (``₹``, ``Rs.``, ``INR``, ``$``,
    ``€``, ``£``, ``AED`` ...); without one the amount is in ``currency``.
    A range (``1-1.5 Cr``, ``50L - 60L``, ``80 L to 1 Cr``) gives both ends;
    ``under``/``upto``/``below`` give only the maximum, ``above``/``2 Cr+``
    only the minimum. A single amount is read as a ceiling ("a budget of
    1.2 Cr" means up to 1.2 Cr), so it is the maximum and the minimum is
    ``None``. Zero, negative amounts, text without an amount (``TBD``,
    ``ask``, ``-``) and bare numbers below 1,000 (most likely a lost unit:
    ``1.2`` meant ``1.2 Cr``) are refused with ``ValidationFailed("budget", ...)``.

    >>> parse_budget("₹ 95,00,000/-")
    (None, Decimal('9500000'), 'INR')
    >>> parse_budget("above 2 Cr")
    (Decimal('20000000'), None, 'INR')
    >>> parse_budget("AED 1.2M")
    (None, Decimal('1200000'), 'AED')
    >>> parse_budget("TBD")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: budget: has no amount (write e.g. ...)
    """
    lowered = text.strip().casefold()
    if not any(ch.isdigit() for ch in lowered):
        raise ValidationFailed("budget", f"has no amount ({_BUDGET_HINT})", value=text)
    if _NEGATIVE_RE.match(lowered):
        raise ValidationFailed("budget", "is negative", value=text)
    found = {_CURRENCY_CODES[m.rstrip(".")] for m in _CURRENCY_RE.findall(lowered)}
    if len(found) > 1:
        raise ValidationFailed(
            "budget", f"names more than one currency ({', '.join(sorted(found))})", value=text
        )
    cleaned = _THOUSANDS_COMMA.sub("", _CURRENCY_RE.sub(" ", lowered))
    cleaned = cleaned.replace("/-", " ").strip()
    match = _BUDGET_RE.fullmatch(cleaned)
    if match is None:
        raise ValidationFailed("budget", f"is not a budget ({_BUDGET_HINT})", value=text)
    first_unit, second_unit = match["ua"], match["ub"]
    low = _amount(match["a"], first_unit)
    high: Decimal | None = None
    if match["b"] is not None:
        high = _amount(match["b"], second_unit)
        if first_unit is None and second_unit is not None:
            scaled = _amount(match["a"], second_unit)
            if scaled <= high:  # "1-1.5 Cr": the unit written once covers both ends
                low, first_unit = scaled, second_unit
    for amount in (low, high):
        if amount is None:
            continue
        if amount <= 0:
            raise ValidationFailed("budget", "must be more than zero", value=text)
        if amount > _BUDGET_CEILING:
            raise ValidationFailed("budget", "is too large to be a budget", value=text)
    if first_unit is None and second_unit is None and not found and low < _SMALLEST_BARE_BUDGET:
        raise ValidationFailed(
            "budget",
            f"is too small to be a property budget without a unit ({_BUDGET_HINT})",
            value=text,
        )
    code = found.pop() if found else currency
    if high is not None:
        if low > high:
            raise ValidationFailed("budget", "has its lower end above its upper end", value=text)
        return low, high, code
    if match["above"] is not None or match["plus"] is not None:
        return low, None, code
    return None, low, code


# --------------------------------------------------------------------------- phones

_PHONE_SEPARATORS = re.compile(r"\s*(?:[/,;|\n]|(?<![a-z])or(?![a-z]))\s*", re.IGNORECASE)
_PHONE_ONLY_DIGITS = re.compile(r"[+\d \-.()]*")
_EXCEL_WHOLE = re.compile(r"(\d+)\.0+")
_EXCEL_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+")


def split_phones(text: str) -> list[str]:
    """Split a cell holding several phone numbers into the raw text of each.

    Numbers may be separated by ``/``, ``,``, ``;``, ``|``, a line break or the
    word ``or``; dashes and spaces stay inside a number.

    >>> split_phones("98300-12345 / 98310-54321")
    ['98300-12345', '98310-54321']
    >>> split_phones("022 2345 6789 or +91 98300 12345;")
    ['022 2345 6789', '+91 98300 12345']
    """
    stripped = text.strip()
    if _PHONE_ONLY_DIGITS.fullmatch(stripped):
        return [stripped] if stripped else []
    return [piece for piece in _PHONE_SEPARATORS.split(stripped) if piece]


def undo_excel_number(text: str, field: str = "phone") -> str:
    """Undo what Excel does to a long number stored as a number: ``9830012345.0`` -> digits.

    A value in scientific notation (``9.83E+09``) has lost digits that cannot
    be recovered, so it is refused with advice to format the column as text.
    Any other text is returned unchanged.

    >>> undo_excel_number("9830012345.0")
    '9830012345'
    >>> undo_excel_number("9.83E+09")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: phone: looks like a number Excel rounded (9.83E+09); format the column as text
    """  # noqa: E501
    if text.isdigit():  # the common case: nothing Excel did
        return text
    whole = _EXCEL_WHOLE.fullmatch(text)
    if whole is not None:
        return whole[1]
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        raise ValidationFailed(
            field,
            f"looks like a number Excel rounded ({text}); format the column as text",
            value=text,
        )
    return text


@attrs.frozen
class _PhonePlan:
    """What the fast path needs to know of one region, read from phonenumbers' metadata."""

    code: str  # the country calling code, "91"
    code_first: bool  # no shorter prefix of ``code`` is itself a calling code
    idd: re.Pattern[str] | None  # the international dialling prefix ("00")
    national_prefix: re.Pattern[str] | None  # the trunk prefix read when parsing ("0")
    general: re.Pattern[str]  # every number of the region matches this
    lengths: tuple[int, ...]  # possible lengths of a national number, ascending
    local_lengths: frozenset[int]  # lengths dialable only locally
    valid_by_length: dict[int, re.Pattern[str]]  # a number of this length is valid if it matches


_LENGTH_FITS, _TOO_LONG, _TOO_SHORT, _LOCAL_ONLY, _BAD_LENGTH = range(5)


@functools.lru_cache(maxsize=512)
def _phone_plan(region: str) -> _PhonePlan | None:
    """Build the fast path of ``region``, or None where it would not be exact.

    Left to phonenumbers: regions sharing their calling code (+1, +44, +7),
    and trunk prefixes with a transform rule (Argentina, Brazil).
    """
    meta = PhoneMetadata.metadata_for_region(region, None)
    if meta is None or meta.national_prefix_transform_rule or meta.country_code is None:
        return None
    if phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code) != (region,):
        return None
    general = meta.general_desc
    if general is None or not general.national_number_pattern or not general.possible_length:
        return None
    kinds = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
    ]
    if not meta.same_mobile_and_fixed_line_pattern:
        kinds.append(meta.mobile)
    valid_by_length: dict[int, re.Pattern[str]] = {}
    for length in general.possible_length:
        patterns = [
            f"(?:{desc.national_number_pattern})"
            for desc in kinds
            if desc is not None
            and desc.national_number_pattern
            and (not desc.possible_length or length in desc.possible_length)
        ]
        if patterns:
            valid_by_length[length] = re.compile("|".join(patterns))
    code = str(meta.country_code)
    known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    return _PhonePlan(
        code=code,
        code_first=not any(int(code[:i]) in known for i in range(1, len(code))),
        idd=re.compile(meta.international_prefix) if meta.international_prefix else None,
        national_prefix=(
            re.compile(meta.national_prefix_for_parsing)
            if meta.national_prefix_for_parsing
            else None
        ),
        general=re.compile(general.national_number_pattern),
        lengths=tuple(sorted(general.possible_length)),
        local_lengths=frozenset(general.possible_length_local_only or ()),
        valid_by_length=valid_by_length,
    )


def _length_verdict(plan: _PhonePlan, number: str) -> int:
    size = len(number)
    if size in plan.local_lengths:
        return _LOCAL_ONLY
    if size == plan.lengths[0]:
        return _LENGTH_FITS
    if size < plan.lengths[0]:
        return _TOO_SHORT
    if size > plan.lengths[-1]:
        return _TOO_LONG
    return _LENGTH_FITS if size in plan.lengths else _BAD_LENGTH


def _strip_trunk(plan: _PhonePlan, number: str) -> str:
    """Drop a leading trunk prefix unless that turns a number of the region into a non-number."""
    if not number or plan.national_prefix is None:
        return number
    found = plan.national_prefix.match(number)
    if found is None:
        return number
    rest = number[found.end() :]
    if plan.general.fullmatch(number) and not plan.general.fullmatch(rest):
        return number
    return rest


_PHONE_PUNCTUATION = (" ", "-", ".", "(", ")")
_PLAIN_NUMBER = re.compile(r"\+?[0-9]{3,}")
_LONGEST_INPUT = 250
_LONGEST_NATIONAL = 17


def _fast_e164(text: str, region: str) -> str | None:
    """The E.164 form when ``text`` is a plain, valid number of ``region``; otherwise None.

    This retraces phonenumbers' parse and validity check for text made only
    of ASCII digits, spaces, dashes, dots, parentheses and one leading ``+``,
    and answers only when the number carries the region's own calling code
    (or none) and is valid. Anything else -- other countries, letters,
    extensions, invalid numbers -- is left to phonenumbers itself.
    """
    plan = _phone_plan(region)
    stripped = text.strip()
    if plan is None or len(stripped) > _LONGEST_INPUT:
        return None
    digits = stripped
    if not digits.isdigit():  # str.translate is slower than a few replaces on short text
        for mark in _PHONE_PUNCTUATION:
            digits = digits.replace(mark, "")
    if not _PLAIN_NUMBER.fullmatch(digits):
        return None
    code = plan.code
    if digits[0] == "+":
        international: str | None = digits[1:]
    else:
        international = None
        idd = plan.idd.match(digits) if plan.idd is not None else None
        if idd is not None:
            after = digits[idd.end() :]
            if not after.startswith("0"):
                international = after
    if international is not None:
        if not (plan.code_first and international.startswith(code)):
            return None  # another country, or too short after the prefix
        national = international[len(code) :]
    elif digits.startswith(code):
        candidate = _strip_trunk(plan, digits[len(code) :])
        general = plan.general
        if (not general.fullmatch(digits) and general.fullmatch(candidate)) or _length_verdict(
            plan, digits
        ) == _TOO_LONG:
            national = candidate
        else:
            national = digits
    else:
        national = digits
    if len(national) < 2:
        return None
    candidate = _strip_trunk(plan, national)
    if _length_verdict(plan, candidate) in (_LENGTH_FITS, _TOO_LONG):
        national = candidate
    if len(national) > _LONGEST_NATIONAL or national.startswith("0"):
        return None
    valid = plan.valid_by_length.get(len(national))
    if valid is None or not plan.general.fullmatch(national) or not valid.fullmatch(national):
        return None
    return f"+{code}{national}"


def fast_phone(text: str, region: str, field: str = "phone") -> str:
    """Exactly :func:`~velocity_domain.kernel.normalize.normalize_phone`, faster on plain numbers.

    Returns the E.164 form or raises the same ``ValidationFailed`` as the
    kernel normaliser, for every input. Plain digit strings of the region
    (``98300 12345``, ``+91-98300-12345``, ``0091 9830012345``) are checked
    against the region's own phonenumbers metadata without a full parse;
    everything else goes through the normaliser.

    >>> fast_phone("+91 (983) 001-2345", "IN")
    '+919830012345'
    >>> fast_phone("(022) 2345 6789", "in")
    '+912223456789'
    """
    if isinstance(text, str) and isinstance(region, str):
        found = _fast_e164(text, region.upper())
        if found is not None:
            return found
    return normalize_phone(text, region, field)


# --------------------------------------------------------------------------- names

_HAS_COMMA = re.compile(r"^([^,]+),([^,]+)$")


def join_name(first: str, middle: str, last: str) -> str:
    """Join name parts into one display name, dropping empty parts and extra spaces.

    >>> join_name(" Asha ", "", "Rao  Kumar")
    'Asha Rao Kumar'
    """
    return " ".join(" ".join(part.split()) for part in (first, middle, last) if part.strip())


def display_name(text: str) -> str:
    """Tidy a full-name cell: collapse whitespace and turn ``Last, First`` round.

    Only a name with exactly one comma is turned round; the comma is taken
    to separate the family name from the given names, as exports write it.

    >>> display_name(" Rao,  Asha ")
    'Asha Rao'
    >>> display_name("Asha   Rao")
    'Asha Rao'
    """
    swapped = _HAS_COMMA.match(text)
    if swapped is not None and swapped[1].strip() and swapped[2].strip():
        text = f"{swapped[2]} {swapped[1]}"
    return " ".join(text.split())


# --------------------------------------------------------------------------- dates

_ISO_START = re.compile(r"\d{4}-\d\d-\d\d")
_CLOCK = r"(?:[ T,]+(?P<h>\d{1,2}):(?P<mi>\d\d)(?::(?P<s>\d\d)(?:\.\d+)?)?\s*(?P<ap>[ap]\.?m\.?)?)?"
_NUMERIC_DATE = re.compile(
    rf"(?P<a>\d{{1,4}})(?P<sep>[/.\-])(?P<b>\d{{1,2}})(?P=sep)(?P<c>\d{{2,4}}){_CLOCK}",
    re.IGNORECASE,
)
_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ),
        start=1,
    )
    for name in names.split()
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(
    rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[ \-/]*(?P<m>{_MONTH})\.?[ \-/,]*(?P<y>\d{{2,4}}){_CLOCK}",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?P<m>{_MONTH})\.?[ \-]*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[ \-]*(?P<y>\d{{4}}){_CLOCK}",
    re.IGNORECASE,
)
_DATE_HINT = "expected e.g. 2024-03-05, 2024-03-05 10:22, 05/03/2024 or 5 Mar 2024"
_NOON = 12


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) == 2 else year


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    if match["h"] is None:
        return 0, 0, 0
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    meridiem = (match["ap"] or "").casefold()
    if meridiem and not 1 <= hour <= _NOON:
        raise ValueError("a 12-hour clock reads 1 to 12")
    if meridiem.startswith("p") and hour != _NOON:
        hour += _NOON
    elif meridiem.startswith("a") and hour == _NOON:
        hour = 0
    return hour, minute, second


def _read_date(text: str, day_first: bool) -> datetime:
    if _ISO_START.match(text):
        return datetime.fromisoformat(text)
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric is not None:
        a, b, c = numeric["a"], numeric["b"], numeric["c"]
        if len(a) == 4:  # 2024/03/05
            year, month, day = int(a), int(b), int(c)
        elif len(a) > 2 or len(c) == 3:
            raise ValueError("not a date")
        elif day_first:
            day, month, year = int(a), int(b), _year(c)
        else:
            month, day, year = int(a), int(b), _year(c)
        return datetime(year, month, day, *_clock(numeric))
    named = _DAY_MONTH_YEAR.fullmatch(text) or _MONTH_DAY_YEAR.fullmatch(text)
    if named is not None and len(named["y"]) != 3:
        month = _MONTHS[named["m"].casefold()]
        return datetime(_year(named["y"]), month, int(named["d"]), *_clock(named))
    raise ValueError("not a date")


_EARLIEST_YEAR, _LATEST_YEAR = 1900, 2100


def parse_when(text: str, *, day_first: bool) -> datetime:
    """Read a date or date-time cell as a timezone-aware UTC datetime.

    Accepts ISO 8601 (``2024-03-05``, HubSpot's ``2024-03-05 10:22``,
    Salesforce's ``2024-03-05T10:22:00.000Z``, any offset), numeric dates
    with ``/``, ``-`` or ``.`` (``05/03/2024``, two-digit years are 20xx) read
    day first when ``day_first`` (India, most of the world) and month first
    otherwise (the United States), year-first ``2024/03/05``, and named
    months (``5 Mar 2024``, ``05-Mar-24``, ``March 5, 2024``); each may carry
    a time, with ``am``/``pm``. A time without an offset is taken as UTC.

    >>> parse_when("05/03/2024 4:05 pm", day_first=True).isoformat()
    '2024-03-05T16:05:00+00:00'
    >>> parse_when("2024-03-05T10:22:00+05:30", day_first=True).isoformat()
    '2024-03-05T04:52:00+00:00'
    """
    stripped = text.strip()
    try:
        moment = _read_date(stripped, day_first)
    except ValueError:
        raise ValidationFailed(
            "source_created_at", f"is not a date or time ({_DATE_HINT})", value=text
        ) from None
    if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
        raise ValidationFailed(
            "source_created_at",
            f"is outside the years {_EARLIEST_YEAR} to {_LATEST_YEAR}",
            value=text,
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --------------------------------------------------------------------------- configurations

_ROOMS = r"\d{1,2}(?:\.5)?"
_CONFIGURATION_RE = re.compile(
    rf"(?<![\d.])(?P<n>{_ROOMS}(?:\s*(?:/|&|or|and)\s*{_ROOMS})*)\s*-?\s*"
    r"(?P<u>b\.?\s?h\.?\s?k\.?|br|rk|bed(?:room)?s?)(?![a-z])"
    r"|(?<![a-z])(?P<studio>studio)(?![a-z])",
    re.IGNORECASE,
)
_ROOMS_RE = re.compile(_ROOMS)
_UNIT_NAMES: Final = {"rk": "RK", "br": "BR"}


def configuration_of(text: str) -> str | None:
    """The flat configuration a text asks for (``3 BHK``, ``2/3 BHK``, ``1 RK``, ``Studio``).

    Finds the first of ``2bhk``, ``3 B.H.K``, ``2.5 BHK``, ``4BR``,
    ``3 bedrooms`` (written as ``BR``), ``1 RK`` or ``studio`` in free text;
    ``2 or 3 BHK`` becomes ``2/3 BHK``. None when there is none.

    >>> configuration_of("2 & 3 bhk in Whitefield")
    '2/3 BHK'
    >>> configuration_of("4BR villa"), configuration_of("any"), configuration_of("Studio apt")
    ('4 BR', None, 'Studio')
    """
    found = _CONFIGURATION_RE.search(text)
    if found is None:
        return None
    if found["studio"] is not None:
        return "Studio"
    unit = found["u"].casefold()
    name = _UNIT_NAMES.get(unit, "BR" if unit.startswith("bed") else "BHK")
    rooms = list(dict.fromkeys(_ROOMS_RE.findall(found["n"])))
    return f"{'/'.join(rooms)} {name}"
