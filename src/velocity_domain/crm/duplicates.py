"""Duplicate rules: when two people, or two accounts, are probably one.

A rule compares two profiles and, when it holds, answers with a
:class:`RuleMatch`: the rule's name, a confidence between 0 and 1, an
explanation in words and the evidence (which fields, which values on each
side). :class:`DuplicateRules` is an ordered set of rules that a host edits
(:meth:`~DuplicateRules.with_rule` adds or replaces a rule by name,
:meth:`~DuplicateRules.without` removes one); :meth:`~DuplicateRules.compare`
returns the strongest match. The same set serves the create-time warning
(``DuplicateSuspected``), the import gateway's matching and the duplicate scan;
each uses its own threshold (:data:`WARN_AT`, :data:`SAME_AT`,
:data:`PROPOSE_AT`).

The default rules for people (:data:`DEFAULT_PERSON_RULES`):

- ``email``: the same normalised email address;
- ``phone``: the same E.164 phone number;
- ``similar_name``: names that agree word for word (in any order, allowing an
  initial, a missing middle name or a typo of a letter or two) together with
  one corroborating signal: phone numbers a digit or two apart (or ending in
  the same seven digits), the same employer account, the same household, the
  same source reference, or the same mailbox written another way
  (``asha.rao@`` and ``asharao@`` at one domain; see :func:`mailbox`).

An exact email or phone shared by people whose names do not agree (a family
phone, an office address) still matches, with a low confidence: enough to
warn when a contact is created, not enough for the scan to propose a merge.

>>> rules = DEFAULT_PERSON_RULES
>>> a = PersonProfile(UUID(int=1), "Asha Rao", primary_phone="+919830012345")
>>> b = PersonProfile(UUID(int=2), "Rao, Asha", primary_phone="+919830012345")
>>> match = rules.compare(a, b)
>>> (match.rule, match.confidence)
('phone', 0.9)
>>> c = PersonProfile(UUID(int=3), "Ravi Rao", primary_phone="+919830012345")
>>> rules.compare(a, c).confidence < PROPOSE_AT <= rules.compare(a, b).confidence
True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from uuid import UUID

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.normalize import normalize_name

__all__ = [
    "DEFAULT_ACCOUNT_RULES",
    "DEFAULT_PERSON_RULES",
    "PROPOSE_AT",
    "SAME_AT",
    "WARN_AT",
    "AccountProfile",
    "Block",
    "DuplicateRule",
    "DuplicateRules",
    "PersonProfile",
    "RuleMatch",
    "account_name_key",
    "mailbox",
    "name_key",
    "names_agree",
    "swapped_name",
]

#: The confidence from which a new contact is refused as ``DuplicateSuspected``.
WARN_AT = 0.3
#: The confidence from which an import row is the same person (an update, not a review).
SAME_AT = 0.85
#: The confidence from which the duplicate scan proposes a merge.
PROPOSE_AT = 0.6
#: How many digits two phone numbers may differ by and still corroborate a name.
PHONE_EDITS = 2
#: How many trailing digits two phone numbers share to corroborate a name.
PHONE_SUFFIX = 7


class Block(enum.StrEnum):
    """A blocking key: the scan compares only people who share one.

    ``name`` is the normalised name's words in sorted order, so a swapped
    name shares it; see :func:`name_key`.
    """

    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"


def _ids(value: Iterable[UUID]) -> frozenset[UUID]:
    return frozenset(value)


@attrs.frozen
class PersonProfile:
    """One person as the rules see them: contact points, name, and what links them.

    Built from a stored person (:meth:`of`) or from a row a caller has in
    hand; ``normalized_name`` is derived from ``full_name`` when not given.
    ``account_ids`` are the accounts the person is linked to (their leads'
    and deals' accounts: an employer, a client organisation).
    """

    person_id: UUID
    full_name: str
    primary_email: str | None = None
    primary_phone: str | None = None
    household_id: UUID | None = None
    source_ref: str | None = None
    account_ids: frozenset[UUID] = attrs.field(default=frozenset(), converter=_ids)
    normalized_name: str = attrs.field(kw_only=True)

    @normalized_name.default
    def _normalized(self) -> str:
        return normalize_name(self.full_name)

    @classmethod
    def of(cls, person: Any, account_ids: Iterable[UUID] = ()) -> PersonProfile:
        """The profile of a stored person (anything with a person's fields)."""
        return cls(
            person.person_id,
            person.full_name,
            person.primary_email,
            person.primary_phone,
            getattr(person, "household_id", None),
            getattr(person, "source_ref", None),
            _ids(account_ids),
            normalized_name=person.normalized_name,
        )

    def blocks(self) -> dict[Block, str]:
        """This person's blocking keys (those it has)."""
        keys = {Block.NAME: name_key(self.normalized_name)}
        if self.primary_email:
            keys[Block.EMAIL] = self.primary_email
        if self.primary_phone:
            keys[Block.PHONE] = self.primary_phone
        return keys


@attrs.frozen
class RuleMatch:
    """Why two records look like one: the rule, how sure it is, and the evidence.

    ``values`` maps each field the rule compared to the two records' values,
    in the order the records were compared.
    """

    rule: str
    confidence: float
    explanation: str
    fields: tuple[str, ...]
    values: dict[str, list[Any]] = attrs.field(factory=dict)
    details: dict[str, Any] = attrs.field(factory=dict)

    @property
    def field(self) -> str:
        """The first field the rule compared (what a warning says the records share)."""
        return self.fields[0]

    def to_json(self) -> dict[str, Any]:
        """The match as JSON-safe evidence (stored with proposals and import rows).

        The rule's details sit beside the common keys, which they never replace.
        """
        return {
            **self.details,
            "rule": self.rule,
            "confidence": self.confidence,
            "explanation": self.explanation,
            "fields": list(self.fields),
            "values": {
                name: [str(v) if v is not None else None for v in pair]
                for name, pair in self.values.items()
            },
        }


#: What a rule's test answers: ``None`` (no match), or the confidence, the
#: explanation, and evidence details (the values are filled in by the rule).
Outcome = tuple[float, str, dict[str, Any]] | None


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _blocks(value: Iterable[Block | str]) -> tuple[Block, ...]:
    return tuple(Block(b) for b in value)


def _rules(value: Iterable[DuplicateRule]) -> tuple[DuplicateRule, ...]:
    return tuple(value)


@attrs.frozen
class DuplicateRule:
    """One named rule: which blocks its matches share, which fields it compares, its test.

    ``test`` takes two profiles and returns ``None`` or ``(confidence,
    explanation, details)``. ``blocks`` tells the scan which blocking keys
    a pair this rule can match must share (at least one of them).
    """

    name: str = attrs.field()
    fields: tuple[str, ...] = attrs.field(converter=_strings)
    blocks: tuple[Block, ...] = attrs.field(converter=_blocks)
    test: Callable[[Any, Any], Outcome] = attrs.field(eq=False)

    @name.validator
    def _named(self, _: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValidationFailed("name", "must be a lower-case identifier", value=value)

    def match(self, a: Any, b: Any) -> RuleMatch | None:
        """Apply the rule to two profiles; ``None`` when it does not hold."""
        outcome = self.test(a, b)
        if outcome is None:
            return None
        confidence, explanation, details = outcome
        values = {f: [getattr(a, f, None), getattr(b, f, None)] for f in self.fields}
        return RuleMatch(self.name, confidence, explanation, self.fields, values, details)


@attrs.frozen
class DuplicateRules:
    """An ordered set of rules, edited by returning a new set (a host keeps its own).

    >>> rules = DEFAULT_PERSON_RULES.without("phone")
    >>> [r.name for r in rules]
    ['email', 'similar_name']
    """

    rules: tuple[DuplicateRule, ...] = attrs.field(converter=_rules)

    @rules.validator
    def _distinct(self, _: attrs.Attribute[Any], value: tuple[DuplicateRule, ...]) -> None:
        for rule in value:
            if not isinstance(rule, DuplicateRule):
                raise ValidationFailed("rules", "must hold DuplicateRule values", value=rule)
        names = [r.name for r in value]
        if len(names) != len(set(names)):
            raise ValidationFailed("rules", "names a rule twice", value=names)

    def __iter__(self) -> Iterator[DuplicateRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def names(self) -> tuple[str, ...]:
        """The rules' names, in order."""
        return tuple(r.name for r in self.rules)

    @property
    def blocks(self) -> frozenset[Block]:
        """Every blocking key some rule needs."""
        return frozenset(b for r in self.rules for b in r.blocks)

    def with_rule(self, rule: DuplicateRule) -> DuplicateRules:
        """The set with ``rule`` added at the end, or in place of the rule of its name."""
        if rule.name in self.names:
            return DuplicateRules(rule if r.name == rule.name else r for r in self.rules)
        return DuplicateRules((*self.rules, rule))

    def without(self, name: str) -> DuplicateRules:
        """The set without the rule ``name`` (``ValidationFailed`` if there is none)."""
        if name not in self.names:
            raise ValidationFailed(
                "name", f"is no rule; rules: {', '.join(self.names)}", value=name
            )
        return DuplicateRules(r for r in self.rules if r.name != name)

    def matches(self, a: Any, b: Any) -> list[RuleMatch]:
        """Every rule that holds for the pair, strongest first."""
        found = [m for rule in self.rules if (m := rule.match(a, b)) is not None]
        return sorted(found, key=lambda m: -m.confidence)

    def compare(self, a: Any, b: Any) -> RuleMatch | None:
        """The strongest match of the pair (the first rule wins a tie), or ``None``."""
        best: RuleMatch | None = None
        for rule in self.rules:
            match = rule.match(a, b)
            if match is not None and (best is None or match.confidence > best.confidence):
                best = match
        return best


# -- names ---------------------------------------------------------------------


def name_key(normalized_name: str) -> str:
    """The name blocking key: the normalised name's words, sorted.

    >>> name_key("rao asha") == name_key("asha rao")
    True
    """
    return " ".join(sorted(normalized_name.split()))


def swapped_name(normalized_name: str) -> str | None:
    """The name with its first and last words swapped; ``None`` for a one-word name.

    >>> swapped_name("asha k rao"), swapped_name("asha")
    ('rao k asha', None)
    """
    words = normalized_name.split()
    if len(words) < 2:
        return None
    return " ".join([words[-1], *words[1:-1], words[0]])


def _words_agree(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == 1 or len(b) == 1:  # an initial
        return a[0] == b[0]
    shorter = min(len(a), len(b))
    allowed = 0 if shorter <= 3 else 1 if shorter < 8 else 2
    return allowed > 0 and Levenshtein.distance(a, b, score_cutoff=allowed) <= allowed


def names_agree(a: str, b: str) -> bool:
    """Whether two normalised names can be one person's: word for word, in any order.

    Every word of the shorter name must agree with a different word of the
    longer one: the same word, an initial of it, or a typo (one letter in a
    word of four to seven letters, two in a longer one). So a missing middle
    name agrees and a family's different first names do not.

    >>> names_agree("asha rao", "rao asha"), names_agree("a rao", "asha k rao")
    (True, True)
    >>> names_agree("anita rao", "anitha rao"), names_agree("ravi sharma", "priya sharma")
    (True, False)
    """
    if a == b:
        return bool(a.split())
    short, long = sorted((a.split(), b.split()), key=len)
    if not short:
        return False
    # A matching of the shorter name's words into the longer's (augmenting paths),
    # so that the answer never depends on which name is given first.
    owner: dict[int, int] = {}

    def place(i: int, tried: set[int]) -> bool:
        for j, other in enumerate(long):
            if j not in tried and _words_agree(short[i], other):
                tried.add(j)
                if j not in owner or place(owner[j], tried):
                    owner[j] = i
                    return True
        return False

    return all(place(i, set()) for i in range(len(short)))


# -- the default person rules -------------------------------------------------


def _exact(field: str, what: str) -> Callable[[Any, Any], Outcome]:
    def test(a: Any, b: Any) -> Outcome:
        value = getattr(a, field)
        if value is None or value != getattr(b, field):
            return None
        if names_agree(a.normalized_name, b.normalized_name):
            return 0.95 if field == "primary_email" else 0.9, f"the same {what} and name", {}
        return (
            0.5 if field == "primary_email" else 0.4,
            f"the same {what} but different names (shared by a family or an office?)",
            {"names": [a.full_name, b.full_name]},
        )

    return test


def _corroboration(a: Any, b: Any) -> dict[str, Any] | None:
    """The first signal besides the name that says two namesakes are one person."""
    pa, pb = a.primary_phone, b.primary_phone
    if pa and pb:
        if pa[-PHONE_SUFFIX:] == pb[-PHONE_SUFFIX:]:
            return {"signal": "phone_suffix", "signal_values": [pa, pb]}
        edits = Levenshtein.distance(pa[-10:], pb[-10:], score_cutoff=PHONE_EDITS)
        if edits <= PHONE_EDITS:
            return {"signal": "phone", "edits": edits, "signal_values": [pa, pb]}
    shared: frozenset[UUID] = getattr(a, "account_ids", frozenset()) & getattr(
        b, "account_ids", frozenset()
    )
    if shared:
        return {"signal": "employer_account", "account_ids": sorted(str(i) for i in shared)}
    ha, hb = getattr(a, "household_id", None), getattr(b, "household_id", None)
    if ha is not None and ha == hb:
        return {"signal": "household", "household_id": str(ha)}
    ra, rb = getattr(a, "source_ref", None), getattr(b, "source_ref", None)
    if ra and ra == rb:
        return {"signal": "source_ref", "signal_values": [ra, rb]}
    ea, eb = a.primary_email, b.primary_email
    if ea and eb and ea != eb and mailbox(ea) == mailbox(eb):
        return {"signal": "email", "signal_values": [ea, eb]}
    return None


_SEPARATORS = str.maketrans("", "", "._-")


def mailbox(email: str) -> str:
    """An address as one mailbox: the local part without dots, dashes, underscores or ``+tag``.

    Two addresses of one domain that differ only so are one person's
    mailbox written another way. (An address merely alike is no signal:
    namesakes' addresses are made of the same name.)

    >>> mailbox("Asha.Rao+expo@example.in") == mailbox("asha_rao@example.in")
    True
    """
    local, _, domain = email.lower().rpartition("@")
    return f"{local.split('+', 1)[0].translate(_SEPARATORS)}@{domain}"


def _similar_name(a: Any, b: Any) -> Outcome:
    if not names_agree(a.normalized_name, b.normalized_name):
        return None
    signal = _corroboration(a, b)
    if signal is None:
        return None
    score = fuzz.token_sort_ratio(a.normalized_name, b.normalized_name)
    why = f"names that agree ({round(score)}%) and the same {signal['signal'].replace('_', ' ')}"
    return 0.8, why, {"name_score": round(score, 1), **signal}


#: The default rules for people.
DEFAULT_PERSON_RULES = DuplicateRules(
    (
        DuplicateRule(
            "email", ("primary_email",), (Block.EMAIL,), _exact("primary_email", "email")
        ),
        DuplicateRule(
            "phone", ("primary_phone",), (Block.PHONE,), _exact("primary_phone", "phone")
        ),
        DuplicateRule("similar_name", ("full_name",), (Block.NAME,), _similar_name),
    )
)


# -- accounts ------------------------------------------------------------------

_LEGAL_FORMS = frozenset(
    {"pvt", "private", "ltd", "limited", "llp", "inc", "co", "corp", "llc", "plc", "the"}
)
_DOMAIN = re.compile(r"^(?:https?://)?(?:www\.)?([^/@\s]+\.[a-z]{2,})", re.IGNORECASE)


def account_name_key(name: str) -> str:
    """An account name as the rules compare it: folded, without legal forms.

    >>> account_name_key("Prestige Estates Pvt. Ltd.") == account_name_key("PRESTIGE ESTATES")
    True
    """
    words = normalize_name(name, "account_name").split()
    kept = [w for w in words if w not in _LEGAL_FORMS]
    return " ".join(kept or words)


def _domain_of(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    found = _DOMAIN.match(text)
    return found.group(1) if found else None


@attrs.frozen
class AccountProfile:
    """One account as the rules see it: its name key and its web domain, if known."""

    account_id: UUID
    account_name: str
    domain: str | None = attrs.field(default=None, converter=_domain_of)
    name_key: str = attrs.field(kw_only=True)

    @name_key.default
    def _key(self) -> str:
        return account_name_key(self.account_name)

    @classmethod
    def of(cls, account: Any) -> AccountProfile:
        """The profile of a stored account; the domain is read from ``metadata_json``.

        The keys looked at are ``domain``, ``website`` and ``email_domain``.
        """
        meta: Mapping[str, Any] = getattr(account, "metadata_json", None) or {}
        domain = next((meta[k] for k in ("domain", "website", "email_domain") if meta.get(k)), None)
        return cls(account.account_id, account.account_name, domain)


def _same_domain(a: AccountProfile, b: AccountProfile) -> Outcome:
    if a.domain is None or a.domain != b.domain:
        return None
    return 0.9, "the same web domain", {}


def _same_account_name(a: AccountProfile, b: AccountProfile) -> Outcome:
    if a.name_key != b.name_key:
        return None
    return 0.85, "the same name once legal forms and punctuation are set aside", {}


#: The default rules for accounts.
DEFAULT_ACCOUNT_RULES = DuplicateRules(
    (
        DuplicateRule("domain", ("domain",), (), _same_domain),
        DuplicateRule("account_name", ("account_name",), (), _same_account_name),
    )
)
