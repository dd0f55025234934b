"""Column mapping: which column of an import file feeds which canonical field.

:func:`suggest_mapping` reads the headers and a sample of rows and proposes a
:class:`ColumnMapping`, each rule with a reason a reviewer can read; the
reviewer edits it (:meth:`ColumnMapping.with_column`,
:meth:`ColumnMapping.with_options`); it is stored as JSON
(:meth:`ColumnMapping.to_json`); and :meth:`ColumnMapping.apply` turns every
row into canonical values plus the problems that make the row invalid. A bad
cell never raises: it becomes a ``(field, reason)`` problem of its row.

>>> headers = ["Name", "Mobile", "Email ID", "Budget"]
>>> rows = [{"Name": "Rao, Asha", "Mobile": "98300 12345", "Email ID": "asha@example.com",
...          "Budget": "1-1.5 Cr"}]
>>> mapping = suggest_mapping(headers, rows)
>>> [str(rule.target) for rule in mapping.rules]
['full_name', 'mobile', 'email', 'budget']
>>> row = mapping.apply(rows[0])
>>> row.ok, row.values["full_name"], row.values["primary_phone"], row.values["budget_max"]
(True, 'Asha Rao', '+919830012345', '15000000')
"""

from __future__ import annotations

import enum
import itertools
import math
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs
import phonenumbers

from velocity_domain.crm.entities import LeadStatus, OpportunityStage
from velocity_domain.errors import ValidationFailed
from velocity_domain.imports import _vocabulary
from velocity_domain.imports._applying import Plan
from velocity_domain.imports.transforms import vocabulary_key

__all__ = [
    "DEFAULT_STAGE_VOCABULARY",
    "DEFAULT_STATUS_VOCABULARY",
    "MONTH_FIRST_REGIONS",
    "MULTI_COLUMN_TARGETS",
    "ColumnMapping",
    "ColumnRule",
    "MappedRow",
    "Target",
    "suggest_mapping",
]


class Target(enum.StrEnum):
    """What a column of an import file can feed."""

    FULL_NAME = "full_name"
    FIRST_NAME = "first_name"
    MIDDLE_NAME = "middle_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    MOBILE = "mobile"
    COMPANY = "company"
    SOURCE_REF = "source_ref"
    LEAD_SOURCE = "lead_source"
    LEAD_STATUS = "lead_status"
    STAGE = "stage"
    OWNER = "owner"
    CREATED_AT = "created_at"
    BUDGET = "budget"
    BUDGET_MIN = "budget_min"
    BUDGET_MAX = "budget_max"
    INTEREST = "interest"
    CONFIGURATION = "configuration"
    NOTES = "notes"
    CITY = "city"


#: Targets several columns may feed: extra emails and phones become ``other_emails`` /
#: ``other_phones``; several notes columns are joined, each under its column's name.
MULTI_COLUMN_TARGETS: Final = frozenset({Target.EMAIL, Target.PHONE, Target.MOBILE, Target.NOTES})

#: Regions whose numeric dates are written month first (``03/05/2024`` is 5 March);
#: everywhere else, India included, the day comes first.
MONTH_FIRST_REGIONS: Final = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "PH", "FM", "MH"})

#: Default lead-status words (keys are :func:`vocabulary_key` forms): HubSpot Lead Status,
#: Salesforce Lead Status and what Indian sales teams type.
DEFAULT_STATUS_VOCABULARY: Final[Mapping[str, str]] = types.MappingProxyType(
    _vocabulary.status_words()
)
#: Default stage words: HubSpot Lifecycle Stage, Salesforce opportunity stages and the
#: real-estate pipeline words.
DEFAULT_STAGE_VOCABULARY: Final[Mapping[str, str]] = types.MappingProxyType(
    _vocabulary.stage_words()
)


def _as_target(value: object) -> Target | None:
    if value is None or isinstance(value, Target):
        return value
    if isinstance(value, str):
        try:
            return Target(value)
        except ValueError:
            pass
    known = ", ".join(t.value for t in Target)
    raise ValidationFailed("target", f"is not a target (known: {known})", value=value)


def _check_confidence(_: object, __: object, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise ValidationFailed("confidence", "must be a number from 0 to 1", value=value)


def _check_text(field: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, str):
            raise ValidationFailed(field, "must be a string", value=value)

    return check


@attrs.frozen
class ColumnRule:
    """Where one column goes (``target``; None means ignored), and why it was suggested."""

    column: str = attrs.field(validator=_check_text("column"))
    target: Target | None = attrs.field(converter=_as_target)
    reason: str = attrs.field(default="", validator=_check_text("reason"))
    confidence: float = attrs.field(default=1.0, validator=_check_confidence)


@attrs.frozen
class MappedRow:
    """One row in canonical form: JSON-safe ``values`` and the ``problems`` that invalidate it.

    ``values`` holds only the fields that have a value (see
    :meth:`ColumnMapping.apply` for the keys); each problem is ``(field, reason)``
    where the reason quotes the column and the cell.
    """

    values: dict[str, Any]
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when the row has no problem and can be proposed."""
        return not self.problems


def _region(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _checked_vocabulary(
    value: object, enum_type: type[enum.StrEnum], field: str
) -> Mapping[str, str]:
    """Normalise the keys of a vocabulary and check its values; a read-only mapping."""
    allowed = {member.value for member in enum_type}
    if not isinstance(value, Mapping):
        raise ValidationFailed(field, "must be a mapping of text to a value", value=value)
    result: dict[str, str] = {}
    for text, meaning in value.items():
        if not isinstance(text, str) or not vocabulary_key(text):
            raise ValidationFailed(field, "has a key that is empty or not text", value=text)
        if meaning not in allowed:
            raise ValidationFailed(
                field,
                f"maps {text!r} to {meaning!r}, which is not one of: " + ", ".join(sorted(allowed)),
                value=meaning,
            )
        key = vocabulary_key(text)
        if result.setdefault(key, str(meaning)) != meaning:
            raise ValidationFailed(
                field, f"maps {key!r} to both {result[key]!r} and {meaning!r}", value=text
            )
    return types.MappingProxyType(result)


def _status_vocabulary(value: object) -> Mapping[str, str]:
    return _checked_vocabulary(value, LeadStatus, "status_vocabulary")


def _stage_vocabulary(value: object) -> Mapping[str, str]:
    return _checked_vocabulary(value, OpportunityStage, "stage_vocabulary")


def _rules(value: Iterable[ColumnRule]) -> tuple[ColumnRule, ...]:
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        raise ValidationFailed("rules", "must be a sequence of column rules", value=value)
    return tuple(value)


_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_JSON_KEYS: Final = frozenset(
    {"version", "columns", "default_region", "currency", "status_vocabulary", "stage_vocabulary"}
)
_JSON_VERSION = 1


@attrs.frozen
class ColumnMapping:
    """The reviewed mapping of an import file's columns, and the options to read its cells.

    ``rules`` has one rule per column, in file order. ``default_region`` is
    the ISO region of phone numbers written without a country code (it also
    decides whether ``05/03/2024`` is day first: month first only in
    :data:`MONTH_FIRST_REGIONS`); ``currency`` is the currency of budgets
    written without one. The vocabularies map a status or stage text (as
    :func:`~velocity_domain.imports.transforms.vocabulary_key` normalises
    it) to a :class:`LeadStatus` or :class:`OpportunityStage` value.
    Constructing one checks all of it and raises ``ValidationFailed`` naming
    the field at fault.
    """

    rules: tuple[ColumnRule, ...] = attrs.field(converter=_rules)
    default_region: str = attrs.field(default="IN", converter=_region)
    currency: str = "INR"
    status_vocabulary: Mapping[str, str] = attrs.field(
        default=DEFAULT_STATUS_VOCABULARY,
        converter=_status_vocabulary,
        hash=False,
    )
    stage_vocabulary: Mapping[str, str] = attrs.field(
        default=DEFAULT_STAGE_VOCABULARY,
        converter=_stage_vocabulary,
        hash=False,
    )
    _plan: Plan = attrs.field(init=False, repr=False, eq=False, hash=False)

    @_plan.default
    def _compile(self) -> Plan:
        self._check()
        return Plan.compile(
            [(rule.column, rule.target) for rule in self.rules],
            region=self.default_region,
            currency=self.currency,
            day_first=self.default_region not in MONTH_FIRST_REGIONS,
            status_vocabulary=self.status_vocabulary,
            stage_vocabulary=self.stage_vocabulary,
        )

    def _check(self) -> None:
        if not isinstance(self.default_region, str) or (
            self.default_region not in phonenumbers.SUPPORTED_REGIONS
        ):
            raise ValidationFailed(
                "default_region",
                "is not a region phonenumbers knows (an ISO 3166 code such as IN or AE)",
                value=self.default_region,
            )
        if not isinstance(self.currency, str) or not _CURRENCY_CODE.fullmatch(self.currency):
            raise ValidationFailed(
                "currency",
                "must be three capital letters (ISO 4217, such as INR)",
                value=self.currency,
            )
        owners: dict[Target, str] = {}
        seen: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, ColumnRule):
                raise ValidationFailed("rules", "must hold only ColumnRule values", value=rule)
            if rule.column in seen:
                raise ValidationFailed(
                    "column", f"{rule.column!r} appears twice", value=rule.column
                )
            seen.add(rule.column)
            target = rule.target
            if target is None or target in MULTI_COLUMN_TARGETS:
                continue
            if target in owners:
                raise ValidationFailed(
                    "target",
                    f"{target.value} is fed by both {owners[target]!r} and {rule.column!r};"
                    " a column may feed it only once",
                    value=target.value,
                )
            owners[target] = rule.column

    def target_of(self, column: str) -> Target | None:
        """The target ``column`` feeds (None when it is ignored)."""
        targets = self._plan.targets
        if column not in targets:
            raise ValidationFailed("column", "is not a column of the file", value=column)
        return _as_target(targets[column])

    def with_column(self, column: str, target: Target | str | None) -> ColumnMapping:
        """This mapping with ``column`` sent to ``target`` (None: ignored) by the reviewer.

        Emails, phones, mobiles and notes may come from several columns; any
        other target from one only, so moving a second column onto it is
        refused (ignore or move the first one before).
        """
        new_target = _as_target(target)
        self.target_of(column)
        if new_target is not None and new_target not in MULTI_COLUMN_TARGETS:
            for rule in self.rules:
                if rule.target is new_target and rule.column != column:
                    raise ValidationFailed(
                        "target",
                        f"column {rule.column!r} already feeds {new_target.value};"
                        " ignore it or move it to another target first",
                        value=new_target.value,
                    )
        rules = tuple(
            ColumnRule(column, new_target, "set by reviewer", 1.0)
            if rule.column == column
            else rule
            for rule in self.rules
        )
        return attrs.evolve(self, rules=rules)

    def with_options(
        self,
        *,
        default_region: str | None = None,
        currency: str | None = None,
        status_vocabulary: Mapping[str, str] | None = None,
        stage_vocabulary: Mapping[str, str] | None = None,
    ) -> ColumnMapping:
        """This mapping with the given options replaced (the others kept), checked.

        A vocabulary given here replaces the whole vocabulary; to extend it,
        pass ``{**mapping.status_vocabulary, "call later": "open"}``.
        """
        changes: dict[str, Any] = {
            "default_region": default_region,
            "currency": currency,
            "status_vocabulary": status_vocabulary,
            "stage_vocabulary": stage_vocabulary,
        }
        return attrs.evolve(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> dict[str, Any]:
        """The mapping as JSON-safe data (stored in ``crm_import_batches.mapping_json``)."""
        return {
            "version": _JSON_VERSION,
            "columns": [
                {
                    "column": rule.column,
                    "target": None if rule.target is None else rule.target.value,
                    "reason": rule.reason,
                    "confidence": rule.confidence,
                }
                for rule in self.rules
            ],
            "default_region": self.default_region,
            "currency": self.currency,
            "status_vocabulary": dict(self.status_vocabulary),
            "stage_vocabulary": dict(self.stage_vocabulary),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ColumnMapping:
        """Read a mapping written by :meth:`to_json`; a bad document names the key at fault."""
        if not isinstance(doc, Mapping):
            raise ValidationFailed("mapping", "must be a JSON object", value=doc)
        unknown = sorted(str(key) for key in doc if key not in _JSON_KEYS)
        if unknown:
            raise ValidationFailed(unknown[0], "is not a key of a column mapping", value=unknown)
        if doc.get("version", _JSON_VERSION) != _JSON_VERSION:
            raise ValidationFailed("version", f"must be {_JSON_VERSION}", value=doc.get("version"))
        columns = doc.get("columns")
        if not isinstance(columns, list):
            raise ValidationFailed("columns", "must be a list of column rules", value=columns)
        rules = []
        for index, item in enumerate(columns):
            where = f"columns[{index}]"
            if not isinstance(item, Mapping):
                raise ValidationFailed(where, "must be an object", value=item)
            extra = sorted(str(key) for key in item if key not in _RULE_KEYS)
            if extra:
                raise ValidationFailed(f"{where}.{extra[0]}", "is not a key of a column rule")
            if "column" not in item:
                raise ValidationFailed(f"{where}.column", "is missing")
            try:
                rules.append(
                    ColumnRule(
                        item["column"],
                        item.get("target"),
                        item.get("reason", ""),
                        item.get("confidence", 1.0),
                    )
                )
            except ValidationFailed as err:
                raise ValidationFailed(
                    f"{where}.{err.field}", err.reason, value=err.value
                ) from None
        options = {key: doc[key] for key in _OPTION_KEYS if key in doc}
        return cls(rules, **options)

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle through the JSON form, so a mapping can be sent to worker processes."""
        return ColumnMapping.from_json, (self.to_json(),)

    def apply(self, row: Mapping[str, str]) -> MappedRow:
        """Map one row (header -> cell text) to canonical values and problems; never raises.

        Keys of ``values`` (present only when there is a value): ``full_name``
        (the name column, ``Last, First`` turned round, else first, middle and
        last joined), ``primary_email`` and ``other_emails``, ``primary_phone``
        and ``other_phones`` (E.164; mobile columns before phone columns; a
        cell may hold several numbers), ``company``, ``source_ref``,
        ``lead_source``, ``lead_status`` (a :class:`LeadStatus` value),
        ``stage`` (an :class:`OpportunityStage` value), ``owner``,
        ``source_created_at`` (ISO 8601, UTC), ``budget_min``, ``budget_max``
        (decimal strings), ``currency`` and ``budget_text`` (when a budget is
        present), ``interest``, ``configuration`` (``3 BHK``; from its column
        or else found in the interest text), ``notes`` and ``city``.

        Problems: a cell that cannot be read (email, phone, status, stage,
        budget, date, a name with nothing left but titles), a row without a
        name (``("full_name", "is empty")``) and a row with neither an email
        nor a phone. Other empty cells are simply absent. A status never
        implies a stage: each comes from its own column.
        """
        values, problems = self._plan.apply(row)
        return MappedRow(values, problems)


_RULE_KEYS: Final = frozenset({"column", "target", "reason", "confidence"})
_OPTION_KEYS: Final = ("default_region", "currency", "status_vocabulary", "stage_vocabulary")


# --------------------------------------------------------------------------- suggestion

_SAMPLE_ROWS: Final = 200
_SHARE: Final = 0.8  # the part of a column's sample values that must have a shape
_EXACT_HEADER: Final = 0.9
_KEYWORD_HEADER: Final = 0.6
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
_MOBILE_WORDS: Final = frozenset({"mobile", "whatsapp", "cell", "mob"})
_BUDGET_TARGETS: Final = (None, Target.BUDGET, Target.BUDGET_MIN, Target.BUDGET_MAX)


def _header_words(header: str) -> frozenset[str]:
    """The words of a header, camelCase split: ``MobilePhone`` -> {"mobile", "phone"}."""
    return frozenset(w for w in _WORD_SPLIT.split(_CAMEL.sub(" ", header).casefold()) if w)


def _header_guess(header: str, words: frozenset[str]) -> tuple[Target | None, float, str]:
    """What the header alone suggests: (target, confidence, reason)."""
    known = _vocabulary.HEADER_SYNONYMS.get(_vocabulary.compact(header))
    if known is not None:
        return Target(known), _EXACT_HEADER, f"header {header!r}"
    for any_of, needs, unless, target in _vocabulary.KEYWORD_RULES:
        hit = any_of & words
        if hit and (not needs or needs & words) and not unless & words:
            if not target:
                break
            return Target(target), _KEYWORD_HEADER, f"header {header!r} mentions {min(hit)!r}"
    return None, 0.0, "not recognised"


def _by_values(
    header: str,
    *,
    guess: tuple[Target | None, float, str],
    shaped: Target,
    count: int,
    total: int,
    what: str,
) -> ColumnRule:
    """The rule for a column whose values have a shape, weighed against its header."""
    target, confidence, reason = guess
    share = count / total
    finding = f"{count} of {total} sample values are {what}"
    if target is shaped:
        return ColumnRule(
            header, shaped, f"{reason}; {finding}", round(max(confidence, 0.9 + share / 10), 2)
        )
    if target is None:
        return ColumnRule(header, shaped, finding, round(share, 2))
    return ColumnRule(
        header, shaped, f"{finding} (the header suggested {target.value})", round(share, 2)
    )


def _suggest_rule(
    header: str, values: list[str], region: str, currency: str, day_first: bool
) -> ColumnRule:
    words = _header_words(header)
    guess = target, confidence, reason = _header_guess(header, words)
    total = len(values)
    if not total:
        if target is None:
            return ColumnRule(header, None, "not recognised (no values in the sample)", 0.0)
        return ColumnRule(
            header, target, f"{reason} (no values in the sample)", round(confidence / 2, 2)
        )
    emails = sum(1 for v in values if _vocabulary.is_email(v))
    if emails >= _SHARE * total:
        return _by_values(
            header,
            guess=guess,
            shaped=Target.EMAIL,
            count=emails,
            total=total,
            what="email addresses",
        )
    phones = sum(1 for v in values if _vocabulary.is_phone(v, region))
    if phones >= _SHARE * total and target is not Target.SOURCE_REF:
        says_mobile = target is Target.MOBILE or bool(words & _MOBILE_WORDS)
        kind = Target.MOBILE if says_mobile and target is not Target.PHONE else Target.PHONE
        return _by_values(
            header, guess=guess, shaped=kind, count=phones, total=total, what="phone numbers"
        )
    if target in _BUDGET_TARGETS:
        budgets = sum(1 for v in values if _vocabulary.is_budget(v, currency))
        if budgets >= _SHARE * total:
            kind = target or Target.BUDGET
            return _by_values(
                header, guess=guess, shaped=kind, count=budgets, total=total, what="budgets"
            )
    if target is Target.CREATED_AT:
        dates = sum(1 for v in values if _vocabulary.is_date(v, day_first))
        if dates >= _SHARE * total:
            return _by_values(
                header, guess=guess, shaped=target, count=dates, total=total, what="dates"
            )
        return ColumnRule(
            header,
            target,
            f"{reason}; but only {dates} of {total} sample values read as dates",
            round(confidence / 2, 2),
        )
    if target is None:
        return ColumnRule(header, None, "not recognised", 0.0)
    return ColumnRule(header, target, reason, confidence)


def suggest_mapping(
    headers: Sequence[str],
    sample: Sequence[Mapping[str, str]],
    *,
    default_region: str = "IN",
    currency: str = "INR",
) -> ColumnMapping:
    """Propose a mapping for a file from its headers and its first rows (up to 200 are read).

    Headers are matched against the synonyms of HubSpot, Salesforce, Zoho,
    Odoo and hand-made sheets (case, spacing, punctuation and camelCase do
    not matter), then by the words they contain. The values decide when they
    have a shape: a column where at least 80% of the non-empty sample values
    are email addresses is an email column, and one of valid phone numbers
    (for ``default_region``) a phone column -- a mobile column when its header
    says mobile, WhatsApp or cell -- whatever its header says, except a
    record-id column. Budget-shaped values make a column with an unknown
    header a budget; a date header whose values are not dates is kept with
    a lower confidence. Email, phone, mobile and notes may come from several
    columns; each other target goes to its most confident column only.
    Every rule says why it was chosen.
    """
    if isinstance(headers, str) or not all(isinstance(h, str) for h in headers):
        raise ValidationFailed("headers", "must be a sequence of column names", value=headers)
    region = default_region.upper() if isinstance(default_region, str) else default_region
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(
            "default_region", "is not a region phonenumbers knows", value=default_region
        )
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise ValidationFailed(
                "headers", f"{header!r} appears more than once; each column needs its own name"
            )
        seen.add(header)
    rows = list(itertools.islice(sample, _SAMPLE_ROWS))
    day_first = region not in MONTH_FIRST_REGIONS
    rules = []
    for header in headers:
        values = [
            text.strip()
            for row in rows
            if isinstance(text := row.get(header), str) and text.strip()
        ]
        rules.append(_suggest_rule(header, values, region, currency, day_first))
    return ColumnMapping(_one_column_each(rules), default_region=region, currency=currency)


def _one_column_each(rules: list[ColumnRule]) -> list[ColumnRule]:
    """Keep each single-column target on its most confident column; ignore the others."""
    best: dict[Target, ColumnRule] = {}
    for rule in rules:
        target = rule.target
        if target is None or target in MULTI_COLUMN_TARGETS:
            continue
        if target not in best or rule.confidence > best[target].confidence:
            best[target] = rule
    result = []
    for rule in rules:
        winner = best.get(rule.target) if rule.target is not None else None
        if winner is None or winner is rule:
            result.append(rule)
            continue
        reason = f"another column ({winner.column!r}) already feeds {winner.target}"
        result.append(ColumnRule(rule.column, None, reason, rule.confidence))
    return result
