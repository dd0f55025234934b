"""Duplicate clusters from blocks: the pairs of each block compared by the rules, then joined.

The duplicate scan reads the members of every block (people who share a
blocking key: an email, a phone, a name key) in block order, from the
store's own set-based step or, where the store has none, from the people
read through the repository (:func:`members_of`). :class:`Clusterer`
compares the pairs of each block with :meth:`DuplicateRules.compare
<velocity_domain.crm.duplicates.DuplicateRules.compare>`, keeps the matches
from :data:`~velocity_domain.crm.duplicates.PROPOSE_AT`, and joins matched
pairs into clusters (union-find): each cluster is one person, as far as the
rules can tell.

A block of more than :data:`CAP` members is *capped*: its members are not
compared all pairs with all, only those who also share a narrower key. In
a name block: a segment of the phone's last ten digits (split 4-3-3, so two
numbers a digit or two apart, or ending alike, share one), the household,
the source reference, an account, or the letters of the email's local part
(dots, underscores and digits left out). In an email or phone block: a word of the name.
A narrower group still larger than :data:`CAP` is compared in sliding
windows of :data:`CAP` members. So a common name, or an office phone shared
by hundreds, costs time in proportion to its size, not its square.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs

from velocity_domain.crm.duplicates import (
    PROPOSE_AT,
    Block,
    DuplicateRules,
    PersonProfile,
    RuleMatch,
    name_key,
)
from velocity_domain.crm.entities import Lead, Opportunity, Person
from velocity_domain.crm.ports import BlockMember
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.query import IsNull
from velocity_domain.kernel.repository import every
from velocity_domain.uow import UnitOfWork

__all__ = ["CAP", "Cluster", "Clusterer", "members_of"]

E = TypeVar("E", bound=Entity)

#: The largest block compared all pairs with all.
CAP = 50
#: How the last ten digits of a phone are cut into segments for a capped name block.
_PHONE_SEGMENTS = ((0, 4), (4, 7), (7, 10))


@attrs.frozen
class Cluster:
    """People the rules take for one person, and the matches that joined them.

    ``person_ids`` are in the order of the suggested survivor first: the
    oldest record (earliest ``created_at``, then the smallest id), then the
    others by the same order. ``matches`` are ``(a, b, match)`` for every
    matched pair, ``a < b``.
    """

    person_ids: tuple[UUID, ...]
    matches: tuple[tuple[UUID, UUID, RuleMatch], ...]

    @property
    def survivor_id(self) -> UUID:
        """The suggested survivor: the oldest record."""
        return self.person_ids[0]

    def within(self, keep: frozenset[UUID]) -> list[Cluster]:
        """The clusters left when only the people ``keep`` remain (their matches rejoined)."""
        matches = [m for m in self.matches if m[0] in keep and m[1] in keep]
        order = {p: i for i, p in enumerate(self.person_ids)}
        return _components(matches, order.__getitem__)


def _components(
    matches: Sequence[tuple[UUID, UUID, RuleMatch]], rank: Callable[[UUID], Any]
) -> list[Cluster]:
    """Join matched pairs into clusters; each cluster's people ordered by ``rank``."""
    parent: dict[UUID, UUID] = {}

    def root(node: UUID) -> UUID:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b, _ in matches:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    people: dict[UUID, list[UUID]] = {}
    for node in parent:
        people.setdefault(root(node), []).append(node)
    pairs: dict[UUID, list[tuple[UUID, UUID, RuleMatch]]] = {}
    for match in matches:
        pairs.setdefault(root(match[0]), []).append(match)
    clusters = [
        Cluster(tuple(sorted(members, key=rank)), tuple(sorted(pairs[top], key=_pair_order)))
        for top, members in people.items()
    ]
    return sorted(clusters, key=lambda c: c.person_ids)


def _pair_order(match: tuple[UUID, UUID, RuleMatch]) -> tuple[UUID, UUID]:
    return match[0], match[1]


def _profile(member: BlockMember) -> PersonProfile:
    return PersonProfile(
        member.person_id,
        member.full_name,
        member.primary_email,
        member.primary_phone,
        member.household_id,
        member.source_ref,
        member.account_ids,
        normalized_name=member.normalized_name,
    )


def _narrower(block: Block, member: BlockMember) -> set[str]:
    """The keys that split a capped block (see the module)."""
    keys: set[str] = set()
    if block is Block.NAME:
        if member.primary_phone:
            digits = member.primary_phone[-10:]
            keys.update(f"p{i}:{digits[a:b]}" for i, (a, b) in enumerate(_PHONE_SEGMENTS))
        if member.household_id is not None:
            keys.add(f"h:{member.household_id}")
        if member.source_ref:
            keys.add(f"s:{member.source_ref}")
        keys.update(f"a:{account}" for account in member.account_ids)
        if member.primary_email:
            local = member.primary_email.split("@")[0]
            keys.add("e:" + "".join(c for c in local if c.isalpha()))
    else:
        keys.update(f"w:{word}" for word in member.normalized_name.split() if len(word) > 1)
        keys.add(f"n:{name_key(member.normalized_name)}")
    return keys


@attrs.define
class Clusterer:
    """Compares the pairs of each block as they come and joins the matches into clusters.

    ``tell(blocks_done, pairs_compared)`` is called every ``every`` blocks.
    """

    rules: DuplicateRules
    tell: Callable[[int, int], None] = lambda _blocks, _pairs: None
    every: int = 10_000
    cap: int = CAP
    blocks: int = 0
    capped: int = 0
    pairs: int = 0
    _edges: dict[tuple[UUID, UUID], RuleMatch] = attrs.field(factory=dict)
    _created: dict[UUID, tuple[datetime, UUID]] = attrs.field(factory=dict)

    @property
    def matches(self) -> int:
        """How many distinct pairs matched from :data:`PROPOSE_AT`."""
        return len(self._edges)

    def feed(self, members: Iterable[BlockMember]) -> None:
        """Take members in block order (kind, key); compare each block once it is whole."""
        current: list[BlockMember] = []
        for member in members:
            if current and (member.block, member.key) != (current[0].block, current[0].key):
                self._block(current)
                current = []
            current.append(member)
        if current:
            self._block(current)

    def _block(self, members: list[BlockMember]) -> None:
        self.blocks += 1
        if len(members) <= self.cap:
            groups: Iterable[list[BlockMember]] = [members]
        else:
            self.capped += 1
            narrow: dict[str, list[BlockMember]] = {}
            for member in members:
                for key in _narrower(member.block, member):
                    narrow.setdefault(key, []).append(member)
            groups = (g for _, g in sorted(narrow.items()) if len(g) > 1)
        profiles: dict[UUID, PersonProfile] = {}
        seen: set[tuple[UUID, UUID]] = set()
        for group in groups:
            for a, b in self._pairs(group):
                pair = (a.person_id, b.person_id)
                if pair in seen:
                    continue
                seen.add(pair)
                self._compare(a, b, profiles)
        if self.blocks % self.every == 0:
            self.tell(self.blocks, self.pairs)

    def _pairs(self, group: list[BlockMember]) -> Iterator[tuple[BlockMember, BlockMember]]:
        ordered = sorted(group, key=lambda m: m.person_id)
        span = len(ordered) if len(ordered) <= self.cap else self.cap
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 : i + span]:
                yield a, b

    def _compare(self, a: BlockMember, b: BlockMember, profiles: dict[UUID, PersonProfile]) -> None:
        self.pairs += 1
        edge = (a.person_id, b.person_id)
        if edge in self._edges:
            return
        pa = profiles.get(a.person_id) or profiles.setdefault(a.person_id, _profile(a))
        pb = profiles.get(b.person_id) or profiles.setdefault(b.person_id, _profile(b))
        match = self.rules.compare(pa, pb)
        if match is None or match.confidence < PROPOSE_AT:
            return
        self._edges[edge] = match
        for m in (a, b):
            self._created[m.person_id] = (m.created_at, m.person_id)

    def clusters(self) -> list[Cluster]:
        """The clusters found so far (people joined through matched pairs)."""
        matches = [(a, b, m) for (a, b), m in self._edges.items()]
        return _components(matches, self._created.__getitem__)


def members_of(uow: UnitOfWork, blocks: Iterable[Block]) -> Iterator[BlockMember]:
    """The blocks' members read through the repository: what ``DuplicateBlocks`` answers.

    For a store without its own set-based step; it reads every live person.
    """
    accounts: dict[UUID, set[UUID]] = {}
    linked: list[Lead | Opportunity] = [
        *every(uow.crm.leads, IsNull("account_id", is_null=False)),
        *every(uow.crm.opportunities, IsNull("account_id", is_null=False)),
    ]
    for link in linked:
        if link.account_id is not None:
            accounts.setdefault(link.person_id, set()).add(link.account_id)
    chosen = sorted({Block(b) for b in blocks})
    grouped: dict[Block, dict[str, list[Person]]] = {b: {} for b in chosen}
    for row in every(uow.crm.people, IsNull("merged_into_person_id")):
        keys = {
            Block.EMAIL: row.primary_email,
            Block.PHONE: row.primary_phone,
            Block.NAME: name_key(row.normalized_name),
        }
        for block in chosen:
            key = keys[block]
            if key is not None:
                grouped[block].setdefault(key, []).append(row)
    for block in chosen:
        for key, people in sorted(grouped[block].items()):
            if len(people) < 2:
                continue
            for p in sorted(people, key=lambda p: p.key):
                yield BlockMember(
                    block,
                    key,
                    len(people),
                    p.key,
                    p.full_name,
                    p.normalized_name,
                    p.primary_email,
                    p.primary_phone,
                    p.household_id,
                    p.source_ref,
                    p.created_at,
                    tuple(sorted(accounts.get(p.key, ()))),
                )
