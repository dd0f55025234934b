r"""Reading a developer's price sheet: which column is which, and what each row says.

:func:`plan_columns` picks the sheet's columns by their headers (the
synonyms below, compared after dropping case, punctuation, units in brackets
and words like "sq ft" or "in"), or as the caller names them;
:func:`read_row` turns one :class:`~velocity_domain.imports.sources.RawRow`
into a :class:`SheetRow`, or the list of ``(field, reason)`` problems that
make it invalid. :class:`UnitIndex` finds the unit a row names,
:func:`status_move` and :func:`unit_details` say what would make the unit
what the row says. Nothing here reads or writes a store.

>>> plan = plan_columns(("Tower", "Unit No.", "Type", "Carpet Area (sq m)", "Price (₹)"), None)
>>> plan.columns["unit"], plan.columns["carpet_area"], sorted(plan.metric)
('Unit No.', 'Carpet Area (sq m)', ['carpet_area'])
>>> row, problems = read_row(
...     RawRow(1, {"Tower": "Tower A", "Unit No.": "1203", "Type": "3bhk",
...                "Carpet Area (sq m)": "116.13", "Price (₹)": "1.35 Cr"}),
...     plan, "INR")
>>> (row.label, row.configuration, row.carpet_area, row.price, problems)
('A-1203', '3 BHK', Decimal('1250.01'), Decimal('13500000'), [])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs

from velocity_domain.errors import UnreadableImport, ValidationFailed
from velocity_domain.imports.sources import RawRow
from velocity_domain.imports.transforms import configuration_of, parse_budget, vocabulary_key
from velocity_domain.inventory.entities import AREA_SQFT_MAX, AREA_SQFT_MIN, Unit, UnitStatus

__all__ = [
    "FIELDS",
    "ColumnPlan",
    "SheetRow",
    "UnitIndex",
    "configuration_key",
    "header_key",
    "parse_area",
    "parse_price",
    "parse_status",
    "plan_columns",
    "read_row",
    "status_move",
    "unit_details",
    "unit_key",
    "unit_label",
]

#: The fields a price sheet may give, as ``columns`` names them.
FIELDS: Final = ("tower", "unit", "configuration", "carpet_area", "super_area", "price", "status")
_AREAS: Final = ("carpet_area", "super_area")
_IGNORE: Final = frozenset({"", "ignore"})
#: The longest text a unit's label, tower or configuration holds.
_TEXT_MAX = 64

# Each field: header texts by preference (a lower rank wins when two columns mean it).
_HEADER_TEXTS: Final = {
    "tower": [
        "tower|tower name|tower no|block|block name|block no|wing|wing name|building"
        "|building name|bldg|tower block|tower wing|block wing"
    ],
    "unit": [
        "unit|unit no|unit name|unit code|flat|flat no|apartment|apartment no|apt no|shop no"
        "|plot no|villa no|property no|inventory no|door no|unit flat no|flat unit no"
    ],
    "configuration": [
        "configuration|config|bhk|typology|bedrooms",
        "type|unit type|flat type|apartment type",
    ],
    "carpet_area": [
        "carpet area|carpet|rera carpet|rera carpet area|carpet area rera|carpet size",
        "area|unit area|size|unit size",
    ],
    "super_area": [
        "super area|super built up area|super builtup area|super built up|super builtup"
        "|saleable area|salable area|sale area|sba|sbua"
    ],
    "price": [
        "total price|all in price|all inclusive price|all inclusive cost|total cost"
        "|total amount|total consideration|total sale price|total value|gross price",
        "price|amount|cost|consideration|sale price|agreement value|unit price|unit cost"
        "|value|price total",
        "basic price|base price|basic cost|bsp|basic sale price|base sale price",
    ],
    "status": [
        "status|availability|unit status|inventory status|sales status|availability status"
        "|available"
    ],
}

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_NOISE: Final = frozenset(
    {"sq", "ft", "feet", "sqft", "sft", "ft2", "sqm", "m", "m2", "mt", "mtr", "mtrs"}
    | {"rs", "inr", "in", "of", "the"}
)
_NUMBER_WORDS: Final = frozenset({"number", "num", "nos"})
_METRIC_HEADER = re.compile(r"sq\.?\s*m(?:t|tr|trs|eters?|etres?)?\b|\bsqm\b|\bm2\b|m²")


def header_key(header: str) -> str:
    """The form a header is looked up in: lower case, no brackets, units or punctuation.

    >>> header_key("Carpet Area (sq ft)"), header_key("Unit No."), header_key("Flat #")
    ('carpet area', 'unit no', 'flat no')
    """
    text = _BRACKETS.sub(" ", header.casefold().replace("#", " no "))
    words = (w for w in _NON_WORD.split(text) if w and w not in _NOISE)
    return " ".join("no" if w in _NUMBER_WORDS else w for w in words)


_SYNONYMS: Final = {
    header_key(text): (field, rank)
    for field, ranks in _HEADER_TEXTS.items()
    for rank, texts in enumerate(ranks)
    for text in texts.split("|")
}


@attrs.frozen
class ColumnPlan:
    """Which header holds each field; the area columns given in square metres; the rest.

    ``columns`` maps a field of :data:`FIELDS` to its header; ``metric``
    names the area fields whose header says square metres (their bare
    numbers are converted to square feet); ``ignored`` lists the headers no
    field took.
    """

    columns: dict[str, str]
    metric: frozenset[str]
    ignored: tuple[str, ...]


def _explicit(headers: tuple[str, ...], given: Mapping[str, str]) -> dict[str, str]:
    """The caller's ``{header: field}``, checked ('' or 'ignore' leaves a column out)."""
    chosen: dict[str, str] = {}
    known = set(headers)
    for header, field in given.items():
        if header not in known:
            shown = ", ".join(repr(h) for h in headers[:20])
            raise ValidationFailed(
                "columns", f"names {header!r}, which the sheet has no column for ({shown})"
            )
        name = field.strip().casefold()
        if name not in FIELDS and name not in _IGNORE:
            raise ValidationFailed(
                "columns",
                f"maps {header!r} to {field!r}; a column is one of {', '.join(FIELDS)}"
                " (or 'ignore')",
                value=field,
            )
        if name in chosen.values() and name not in _IGNORE:
            raise ValidationFailed("columns", f"maps more than one column to {name!r}")
        chosen[header] = name
    return chosen


def plan_columns(headers: tuple[str, ...], given: Mapping[str, str] | None) -> ColumnPlan:
    """Choose the sheet's columns: the caller's ``given`` first, then the header synonyms.

    When two headers mean the same field the preferred one wins (a total or
    all-in price over a plain price over a basic price; otherwise the first
    column). ``given`` naming a column the sheet lacks or an unknown field is
    ``ValidationFailed`` on ``columns``; a sheet without a unit column, or
    with nothing besides the unit to import, is ``UnreadableImport`` on
    ``columns``.
    """
    explicit = _explicit(headers, given or {})
    chosen = {field: header for header, field in explicit.items() if field in FIELDS}
    ranks: dict[str, int] = {}
    for header in headers:
        if header in explicit:
            continue
        hit = _SYNONYMS.get(header_key(header))
        if hit is None:
            continue
        field, rank = hit
        if field in chosen and (field not in ranks or ranks[field] <= rank):
            continue
        chosen[field] = header
        ranks[field] = rank
    if "unit" not in chosen:
        raise UnreadableImport(
            "the sheet has no unit number column (headers like 'Unit No', 'Flat No' or"
            " 'Unit'); name it with columns={header: 'unit'}",
            field="columns",
            value=list(headers[:50]),
        )
    if not set(chosen) - {"unit", "tower"}:
        raise UnreadableImport(
            "the sheet has nothing to import besides the unit: no configuration, area,"
            " price or status column was recognised; name them with columns={header: field}",
            field="columns",
            value=list(headers[:50]),
        )
    taken = set(chosen.values())
    metric = frozenset(
        f for f in _AREAS if f in chosen and _METRIC_HEADER.search(chosen[f].casefold())
    )
    return ColumnPlan(
        {f: chosen[f] for f in FIELDS if f in chosen},
        metric,
        tuple(h for h in headers if h not in taken),
    )


# --------------------------------------------------------------------------- values

_PRICE_HINT = "write e.g. '1,25,00,000', '1.35 Cr', '95 L' or '₹ 95,00,000'"


def parse_price(text: str, currency: str) -> tuple[Decimal, str]:
    """Read a price cell as ``(amount, currency)``: Indian grouping, lakh and crore understood.

    One amount only: a range or a bound ("under 1 Cr") is refused, as is
    anything :func:`~velocity_domain.imports.transforms.parse_budget` refuses,
    with ``ValidationFailed`` on ``price``.

    >>> parse_price("1,25,00,000", "INR"), parse_price("1.35 Cr", "INR")
    ((Decimal('12500000'), 'INR'), (Decimal('13500000'), 'INR'))
    >>> parse_price("80L - 90L", "INR")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: price: '80L - 90L' is a range or a bound, not one price
    """
    try:
        low, high, code = parse_budget(text, currency=currency)
    except ValidationFailed as exc:
        why = exc.reason.partition(" (")[0]
        raise ValidationFailed(
            "price", f"{text!r} is not a price: {why} ({_PRICE_HINT})", value=text
        ) from None
    if low is not None or high is None:
        raise ValidationFailed(
            "price", f"{text!r} is a range or a bound, not one price", value=text
        )
    return high, code


_AREA = re.compile(
    r"(?P<n>\d[\d,]*(?:\.\d+)?|\.\d+)\s*"
    r"(?P<u>sq\.?\s*(?:ft|feet)\.?|sqft|sft|ft2|ft²|sq\.?\s*m(?:trs?|t|eters?|etres?)?\.?"
    r"|sqm|m2|m²)?"
)
_FEET: Final = frozenset({"sqft", "sqfeet", "sft", "ft2", "ft²"})
_SQFT_PER_SQM = Decimal("10.7639104")
_CENT = Decimal("0.01")


def parse_area(text: str, field: str, *, metric: bool = False) -> Decimal:
    """Read an area cell in square feet: ``1250``, ``1,250 sq ft``, or square metres converted.

    ``metric`` says the column's bare numbers are square metres (its header
    said so). Refused with ``ValidationFailed`` on ``field`` when it is not
    an area or lies outside what a unit's area may be.

    >>> parse_area("1,250 sq ft", "carpet_area"), parse_area("100 sq.m", "carpet_area")
    (Decimal('1250'), Decimal('1076.39'))
    """
    found = _AREA.fullmatch(text.casefold())
    if found is None:
        raise ValidationFailed(
            field,
            f"{text!r} is not an area (write e.g. '1250', '1,250 sq ft' or '116 sq m')",
            value=text,
        )
    number = Decimal(found["n"].replace(",", ""))
    unit = found["u"]
    if (metric and unit is None) or (
        unit is not None and unit.replace(" ", "").replace(".", "") not in _FEET
    ):
        number = (number * _SQFT_PER_SQM).quantize(_CENT)
    if not AREA_SQFT_MIN <= number <= AREA_SQFT_MAX:
        raise ValidationFailed(
            field,
            f"{text!r} is outside what a unit measures ({AREA_SQFT_MIN} to"
            f" {AREA_SQFT_MAX:,} sq ft)",
            value=text,
        )
    return number


# What developers write in a status column, by the unit status it stands for.
_STATUS_TEXTS: Final = {
    UnitStatus.AVAILABLE: "available|avl|avail|open|unsold|vacant|for sale|free|yes|y|active"
    "|ready|ready to sell",
    UnitStatus.HELD: "hold|on hold|held|reserved|reserve|tentative|soft block|soft blocked",
    UnitStatus.BLOCKED: "blocked|block|not available|na|n/a|unavailable|not for sale|no|n"
    "|withheld|frozen|freeze|management quota|landowner share|owner share|refuge",
    UnitStatus.BOOKED: "booked|booking|booking done|token|token received|allotted|alloted"
    "|agreement done|under agreement",
    UnitStatus.SOLD: "sold|sold out|registered|registration done|sale deed done",
}
_STATUSES: Final = {
    vocabulary_key(text): status
    for status, texts in _STATUS_TEXTS.items()
    for text in texts.split("|")
}


def parse_status(text: str) -> UnitStatus:
    """The unit status a sheet's status cell stands for ("Hold", "Booked", "Not available").

    >>> parse_status("On Hold"), parse_status("SOLD OUT")
    (<UnitStatus.HELD: 'held'>, <UnitStatus.SOLD: 'sold'>)
    """
    status = _STATUSES.get(vocabulary_key(text))
    if status is None:
        raise ValidationFailed(
            "status",
            f"{text!r} is not a status the sheet reader knows"
            " (write Available, Hold, Blocked, Booked or Sold)",
            value=text,
        )
    return status


def configuration_key(text: str) -> str:
    """The form configurations are compared in: ``3BHK`` and ``3 bhk`` meet, as do ``Shop``s.

    >>> configuration_key("3BHK") == configuration_key("3 B.H.K"), configuration_key(" Shop ")
    (True, 'shop')
    """
    return configuration_of(text) or vocabulary_key(text)


_TOWER_WORD = re.compile(r"^(?:tower|block|wing|building|bldg)\b\.?\s*[-:#]?\s*", re.IGNORECASE)


def unit_label(tower: str | None, unit: str) -> str:
    """The label a unit goes by in its project: the tower's short name before the number.

    A unit number that already starts with its tower is kept as it is.

    >>> unit_label("Tower A", "1203"), unit_label("A", "A-1203"), unit_label("B", "B1203")
    ('A-1203', 'A-1203', 'B1203')
    >>> unit_label(None, "1203"), unit_label("2", "201")
    ('1203', '2-201')
    """
    if not tower:
        return unit
    short = _TOWER_WORD.sub("", tower) or tower
    lowered = unit.casefold()
    for prefix in {short.casefold(), tower.casefold()}:
        if not lowered.startswith(prefix) or len(lowered) == len(prefix):
            continue
        following = lowered[len(prefix)]
        if not following.isalnum() or (prefix.isalpha() and following.isdigit()):
            return unit
    return f"{short}-{unit}"


# --------------------------------------------------------------------------- rows


@attrs.frozen
class SheetRow:
    """One good row of a price sheet: which unit, and what the sheet says about it.

    ``label`` is the unit's label in its project (:func:`unit_label`); a
    field the sheet leaves empty (or has no column for) is None and leaves
    the unit's value alone. ``status_text`` is the status as written.
    """

    number: int
    unit: str
    tower: str | None
    label: str
    configuration: str | None = None
    carpet_area: Decimal | None = None
    super_area: Decimal | None = None
    price: Decimal | None = None
    currency: str | None = None
    status: UnitStatus | None = None
    status_text: str | None = None


def _text(value: str) -> str:
    return " ".join(value.split())


def _short(field: str, text: str, problems: list[tuple[str, str]]) -> None:
    if len(text) > _TEXT_MAX:
        problems.append((field, f"has {len(text)} characters (at most {_TEXT_MAX})"))


def read_row(
    raw: RawRow, plan: ColumnPlan, currency: str
) -> tuple[SheetRow | None, list[tuple[str, str]]]:
    """Read one row: ``(SheetRow, [])``, or ``(None, problems)`` naming each bad field.

    A row the file reader could not parse is one problem on ``row``; a row
    without a unit number, or with a price, area or status that cannot be
    read, lists every such field with its reason. Amounts without a currency
    are in ``currency``.
    """
    if raw.error is not None:
        return None, [("row", raw.error)]
    cells = {field: _text(raw.values.get(header, "")) for field, header in plan.columns.items()}
    problems: list[tuple[str, str]] = []
    unit = cells.get("unit", "")
    tower = cells.get("tower") or None
    if not unit:
        problems.append(("unit", f"is empty (column {plan.columns['unit']!r}): name the unit"))
    else:
        _short("unit", unit_label(tower, unit), problems)
    if tower:
        _short("tower", tower, problems)
    found: dict[str, object] = {}
    if text := cells.get("configuration"):
        found["configuration"] = configuration_of(text) or text
        _short("configuration", text, problems)
    for field in _AREAS:
        if text := cells.get(field):
            try:
                found[field] = parse_area(text, field, metric=field in plan.metric)
            except ValidationFailed as exc:
                problems.append((field, exc.reason))
    if text := cells.get("price"):
        try:
            found["price"], found["currency"] = parse_price(text, currency)
        except ValidationFailed as exc:
            problems.append(("price", exc.reason))
    if text := cells.get("status"):
        try:
            found["status"] = parse_status(text)
            found["status_text"] = text
        except ValidationFailed as exc:
            problems.append(("status", exc.reason))
    if problems:
        return None, problems
    label = unit_label(tower, unit)
    return SheetRow(raw.number, unit, tower, label, **found), []  # type: ignore[arg-type]


# --------------------------------------------------------------------------- units


def unit_key(text: str) -> str:
    """The form unit labels and towers are compared in: case-folded, single spaces."""
    return " ".join(text.casefold().split())


class UnitIndex:
    """A project's units by label, and by tower and label, as a sheet names them.

    A row finds its unit by its tower and unit number (a unit labelled
    "1203" in tower "A"), else by the label it would get (``A-1203``).
    """

    """The project's units by label, and by tower and label, as the sheet names them."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self._by_label: dict[str, Unit] = {}
        self._by_pair: dict[tuple[str, str], Unit] = {}
        for unit in units:
            self.put(unit)

    def put(self, unit: Unit) -> None:
        """Index ``unit`` (again, after a write: the newest version wins)."""
        self._by_label[unit_key(unit.unit_label)] = unit
        if unit.tower:
            self._by_pair[(unit_key(unit.tower), unit_key(unit.unit_label))] = unit

    def find(self, row: SheetRow) -> Unit | None:
        """The unit ``row`` names, or None when the project has none such yet."""
        if row.tower:
            found = self._by_pair.get((unit_key(row.tower), unit_key(row.unit)))
            if found is not None:
                return found
        return self._by_label.get(unit_key(row.label))


def status_move(current: UnitStatus, wanted: UnitStatus | None) -> tuple[str | None, str | None]:
    """The status move making ``current`` what a sheet says: ``(move, None)``, or why not.

    A sheet knows only whether the developer still sells a unit: anything
    but "available" takes an available unit off sale (``block``); a booked
    unit marked sold is sold. It never undoes what the CRM did for a buyer
    (a hold, a booking, a sale): that is ``(None, reason)``. ``(None, None)``
    means nothing to do.

    >>> status_move(UnitStatus.AVAILABLE, UnitStatus.BOOKED), status_move(UnitStatus.BLOCKED, None)
    (('block', None), (None, None))
    """
    if wanted is None or wanted is current:
        return None, None
    if wanted is UnitStatus.AVAILABLE:
        if current is UnitStatus.BLOCKED:
            return "unblock", None
        return None, f"the sheet says available, but the unit is {current.value} here: left as is"
    if current is UnitStatus.AVAILABLE:
        return "block", None
    if current is UnitStatus.BOOKED and wanted is UnitStatus.SOLD:
        return "mark_sold", None
    if current is UnitStatus.HELD and wanted in (UnitStatus.BOOKED, UnitStatus.SOLD):
        return None, (
            f"the sheet says {wanted.value}, but the unit is held here for a buyer:"
            " book it for them or release it"
        )
    return None, None  # off sale already, as the sheet says


def _super_area(unit: Unit) -> Decimal | None:
    value = unit.attributes_json.get("super_area_sqft")
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def unit_details(unit: Unit, row: SheetRow) -> dict[str, Any]:
    """The descriptive fields ``row`` changes on ``unit``, as ``update_unit`` takes them.

    An empty cell changes nothing; configurations are compared in their
    :func:`configuration_key` form; the super area lives in
    ``attributes_json["super_area_sqft"]`` (as text), beside what is there.
    """
    diffs: dict[str, Any] = {}
    if row.configuration and (
        unit.configuration is None
        or configuration_key(unit.configuration) != configuration_key(row.configuration)
    ):
        diffs["configuration"] = row.configuration
    if row.carpet_area is not None and unit.area_sqft != row.carpet_area:
        diffs["area_sqft"] = row.carpet_area
    if row.super_area is not None and _super_area(unit) != row.super_area:
        diffs["attributes_json"] = {**unit.attributes_json, "super_area_sqft": str(row.super_area)}
    return diffs
