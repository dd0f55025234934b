"""The compiled plan behind ``ColumnMapping.apply``: everything decided once per mapping.

A plan knows, per canonical field, which columns to read, and holds the
vocabularies and small memos (status, stage, budget and configuration texts
repeat across a file, so each distinct text is read once). Applying it to a
row touches only the mapped columns and never raises: bad cells become
``(field, reason)`` problems. Targets are named by their ``Target`` values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.imports.transforms import (
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
from velocity_domain.kernel.normalize import HONORIFICS, normalize_email, normalize_name

_MEMO_LIMIT: Final = 50_000  # distinct texts remembered per memo before it starts afresh
_NO_CONTACT: Final = "the row has neither an email nor a phone to match on"
_Budget = tuple[Decimal | None, Decimal | None, str] | str  # the reading, or why it failed


def _memo_get(memo: dict[str, Any], key: str, read: Callable[[str], Any]) -> Any:
    found = memo.get(key, memo)
    if found is memo:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        found = memo[key] = read(key)
    return found


def _has_name(name: str) -> bool:
    """Whether anything but titles and punctuation is left of ``name``."""
    last = name.rsplit(None, 1)[-1]
    if last.isascii() and last.isalnum() and last.lower() not in HONORIFICS:
        return True  # a plain last word that is not a title survives normalize_name
    try:
        normalize_name(name)
    except ValidationFailed:
        return False
    return True


def _few(words: Mapping[str, str]) -> str:
    """A few known texts for a problem's reason (the enum values come first by default)."""
    return ", ".join(itertools.islice(words, 8))


@attrs.define(eq=False)
class Plan:
    """Which columns feed which field, and the options to read them, for one mapping."""

    targets: dict[str, str | None]
    used: tuple[str, ...]  # the columns that feed something
    full_name: str | None
    name_parts: tuple[str | None, str | None, str | None]
    emails: tuple[str, ...]
    phones: tuple[str, ...]  # mobiles first: the first valid number becomes primary
    notes: tuple[str, ...]
    single: dict[str, str]  # target -> its one column
    region: str
    currency: str
    day_first: bool
    status_words: Mapping[str, str]
    stage_words: Mapping[str, str]
    hints: dict[str, str] = attrs.field(factory=dict)  # target -> a few known words
    memos: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    @classmethod
    def compile(
        cls,
        rules: Sequence[tuple[str, str | None]],
        *,
        region: str,
        currency: str,
        day_first: bool,
        status_vocabulary: Mapping[str, str],
        stage_vocabulary: Mapping[str, str],
    ) -> Plan:
        """Build the plan of a mapping whose rules were already checked."""

        def columns_of(*targets: str) -> tuple[str, ...]:
            return tuple(c for t in targets for c, target in rules if target == t)

        single = {
            target: column
            for column, target in rules
            if target is not None and target not in ("email", "phone", "mobile", "notes")
        }
        return cls(
            targets=dict(rules),
            used=tuple(column for column, target in rules if target is not None),
            full_name=single.get("full_name"),
            name_parts=(
                single.get("first_name"),
                single.get("middle_name"),
                single.get("last_name"),
            ),
            emails=columns_of("email"),
            phones=columns_of("mobile", "phone"),
            notes=columns_of("notes"),
            single=single,
            region=region,
            currency=currency,
            day_first=day_first,
            status_words=dict(status_vocabulary),
            stage_words=dict(stage_vocabulary),
            hints={"lead_status": _few(status_vocabulary), "stage": _few(stage_vocabulary)},
            memos={
                key: {} for key in ("lead_status", "stage", "budget", "configuration", "created_at")
            },
        )

    def apply(self, row: Mapping[str, str]) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
        """Map one row to ``(values, problems)``."""
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        cells: dict[str, str] = {}
        get = row.get
        for name in self.used:
            text = get(name)
            cells[name] = text.strip() if text.__class__ is str else _cell_text(text)
        self._name(cells, values, problems)
        had_email = self._emails(cells, values, problems)
        had_phone = self._phones(cells, values, problems)
        if not (had_email or had_phone):
            problems.append(("primary_phone", _NO_CONTACT))
        single = self.single
        for target, key in _PLAIN_TEXT:
            column = single.get(target)
            if column is not None and cells[column]:
                values[key] = cells[column]
        if "source_ref" in single:
            self._source_ref(single["source_ref"], cells, values, problems)
        for target, words, what in (
            ("lead_status", self.status_words, "lead status"),
            ("stage", self.stage_words, "stage"),
        ):
            column = single.get(target)
            if column is not None and cells[column]:
                self._word(
                    target,
                    words=words,
                    what=what,
                    column=column,
                    text=cells[column],
                    values=values,
                    problems=problems,
                )
        column = single.get("created_at")
        if column is not None and cells[column]:
            text = cells[column]
            ok, when = _memo_get(self.memos["created_at"], text, self._read_when)
            if ok:
                values["source_created_at"] = when
            else:
                problems.append(("source_created_at", f"column {column!r} value {text!r} {when}"))
        self._budget(cells, values, problems)
        self._interest(cells, values)
        texts = [(column, cells[column]) for column in self.notes if cells[column]]
        if len(texts) == 1:
            values["notes"] = texts[0][1]
        elif texts:
            values["notes"] = "\n".join(f"{column}: {text}" for column, text in texts)
        return values, tuple(problems)

    def _name(
        self, cells: dict[str, str], values: dict[str, Any], problems: list[tuple[str, str]]
    ) -> None:
        name, where = "", ""
        if self.full_name is not None and cells[self.full_name]:
            name, where = display_name(cells[self.full_name]), repr(self.full_name)
        if not name and self.name_parts != (None, None, None):
            parts = [cells[c] if c is not None else "" for c in self.name_parts]
            name = join_name(*parts)
            where = " + ".join(repr(c) for c in self.name_parts if c is not None and cells[c])
        if not name:
            problems.append(("full_name", "is empty"))
        elif _has_name(name):
            values["full_name"] = name
        else:
            problems.append(
                (
                    "full_name",
                    f"column {where} value {name!r} has no name left once titles and"
                    " punctuation are removed",
                )
            )

    def _emails(
        self, cells: dict[str, str], values: dict[str, Any], problems: list[tuple[str, str]]
    ) -> bool:
        found: list[str] = []
        seen = False
        for column in self.emails:
            text = cells[column]
            if not text:
                continue
            for piece in text.replace(",", " ").replace(";", " ").split():
                seen = True
                try:
                    email = normalize_email(piece)
                except ValidationFailed as err:
                    field = "other_emails" if found else "primary_email"
                    problems.append(
                        (
                            field,
                            f"column {column!r} value {piece!r} is not an email address:"
                            f" {err.reason}",
                        )
                    )
                    continue
                if email not in found:
                    found.append(email)
        if found:
            values["primary_email"] = found[0]
            if len(found) > 1:
                values["other_emails"] = found[1:]
        return seen

    def _phones(
        self, cells: dict[str, str], values: dict[str, Any], problems: list[tuple[str, str]]
    ) -> bool:
        found: list[str] = []
        seen = False
        region = self.region
        for column in self.phones:
            text = cells[column]
            if not text:
                continue
            for piece in split_phones(text):
                seen = True
                try:
                    phone = fast_phone(undo_excel_number(piece), region)
                except ValidationFailed as err:
                    field = "other_phones" if found else "primary_phone"
                    problems.append((field, f"column {column!r} value {piece!r} {err.reason}"))
                    continue
                if phone not in found:
                    found.append(phone)
        if found:
            values["primary_phone"] = found[0]
            if len(found) > 1:
                values["other_phones"] = found[1:]
        return seen

    def _source_ref(
        self,
        column: str,
        cells: dict[str, str],
        values: dict[str, Any],
        problems: list[tuple[str, str]],
    ) -> None:
        text = cells[column]
        if not text:
            return
        try:
            values["source_ref"] = undo_excel_number(text, "source_ref")
        except ValidationFailed as err:
            problems.append(("source_ref", f"column {column!r} value {text!r} {err.reason}"))

    def _word(
        self,
        target: str,
        *,
        words: Mapping[str, str],
        what: str,
        column: str,
        text: str,
        values: dict[str, Any],
        problems: list[tuple[str, str]],
    ) -> None:
        meaning = _memo_get(self.memos[target], text, lambda t: words.get(vocabulary_key(t)))
        if meaning is not None:
            values[target] = meaning
            return
        problems.append(
            (
                target,
                f"column {column!r} value {text!r} is not a known {what}"
                f" (known: {self.hints[target]}, ...); the reviewer may add it to the"
                f" {what.rsplit(maxsplit=1)[-1]} vocabulary",
            )
        )

    def _read_when(self, text: str) -> tuple[bool, str]:
        """``(True, ISO 8601 text)`` or ``(False, why not)``: a memo entry."""
        try:
            return True, parse_when(text, day_first=self.day_first).isoformat()
        except ValidationFailed as err:
            return False, err.reason

    def _read_budget(self, text: str) -> _Budget:
        try:
            return parse_budget(text, currency=self.currency)
        except ValidationFailed as err:
            return err.reason

    def _budget(
        self, cells: dict[str, str], values: dict[str, Any], problems: list[tuple[str, str]]
    ) -> None:
        low: Decimal | None = None
        high: Decimal | None = None
        currencies: list[str] = []
        texts: list[str] = []
        memo = self.memos["budget"]
        for target, field in _BUDGET_FIELDS:
            column = self.single.get(target)
            if column is None or not cells[column]:
                continue
            text = cells[column]
            reading = _memo_get(memo, text, self._read_budget)
            if isinstance(reading, str):
                problems.append((field, f"column {column!r} value {text!r} {reading}"))
                continue
            texts.append(text)
            lo, hi, code = reading
            currencies.append(code)
            if target == "budget":
                low, high = lo, hi
            elif target == "budget_min":
                low = lo if lo is not None else hi
            else:
                high = hi if hi is not None else lo
        if not texts:
            return
        if len(set(currencies)) > 1:
            problems.append(
                ("currency", f"the budget columns name different currencies: {currencies}")
            )
            return
        if low is not None and high is not None and low > high:
            problems.append(("budget_max", f"budget {high} is below the minimum {low}"))
            return
        if low is not None:
            values["budget_min"] = str(low)
        if high is not None:
            values["budget_max"] = str(high)
        values["currency"] = currencies[0]
        values["budget_text"] = " - ".join(texts)

    def _interest(self, cells: dict[str, str], values: dict[str, Any]) -> None:
        configuration = None
        column = self.single.get("configuration")
        if column is not None and cells[column]:
            configuration = configuration_of(cells[column]) or cells[column]
        column = self.single.get("interest")
        if column is not None and cells[column]:
            interest = cells[column]
            values["interest"] = interest
            if configuration is None:
                configuration = _memo_get(self.memos["configuration"], interest, configuration_of)
        if configuration is not None:
            values["configuration"] = configuration


def _cell_text(value: object) -> str:
    """The text of a cell that is not a string: missing or None is empty, others as text."""
    return "" if value is None else str(value).strip()


_PLAIN_TEXT: Final = (
    ("company", "company"),
    ("lead_source", "lead_source"),
    ("owner", "owner"),
    ("city", "city"),
)
_BUDGET_FIELDS: Final = (
    ("budget", "budget_text"),
    ("budget_min", "budget_min"),
    ("budget_max", "budget_max"),
)
