"""The duplicate scan: clusters of duplicate people found among those on file, filed as merges.

:meth:`DuplicateScanService.scan` finds the people the duplicate rules take
for one person and files each cluster as a merge proposal (a reviewed
writeback, see :mod:`velocity_domain.services.crm.merges`) carrying its
evidence: every matched pair's rule, fields, values and confidence.

It is not O(n²): only people who share a blocking key one of the rules
needs (``DuplicateRules.blocks``: the email, the phone, the name key) are
compared, and a very large block only among members who also share a
narrower key (see :mod:`~velocity_domain.services.crm.duplicate_clusters`).
On PostgreSQL the blocks are made in SQL and streamed (the store's
``DuplicateBlocks`` step); on a store without that step they are made in
Python from the people read through the repository. Both give the same
clusters. People merged into another are never scanned.

Filing is batched, :data:`FILE_BATCH` clusters per unit of work. The
suggested survivor of a cluster is its oldest record (earliest
``created_at``, then the smallest id); a reviewer can merge the other way
round by proposing anew. A cluster is filed once: when a merge of exactly
those people already exists and its proposal has not failed (it is
proposed, under review, approved, executed or rejected), it is counted as
known and left alone; a merge whose proposal failed may be filed again.
A principal who cannot see every client files only the clusters among the
clients they see (the matches between them joined again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import authorize, register
from velocity_domain.access.principal import Principal
from velocity_domain.access.visibility import Visibility
from velocity_domain.crm.duplicates import PROPOSE_AT, DuplicateRules
from velocity_domain.crm.entities import PersonMerge
from velocity_domain.crm.ports import DuplicateBlocks
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, serves
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.query import IsNull
from velocity_domain.services.crm import merging
from velocity_domain.services.crm.duplicate_clusters import (
    CAP,
    Cluster,
    Clusterer,
    members_of,
)
from velocity_domain.services.crm.merges import MAX_MERGE, MergeService
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import Writeback, WritebackStatus

__all__ = [
    "FILE_BATCH",
    "DuplicateScanService",
    "ScanProgress",
    "ScanProgressCallback",
    "ScanReport",
]

SCAN = register(
    "crm.merges.scan",
    "crm.merges.propose",
    "find duplicate people and propose merging each cluster",
)

#: How many clusters one unit of work files.
FILE_BATCH = 100
#: How many block members the store reads per fetch.
READ_CHUNK = 5000


@attrs.frozen
class ScanProgress:
    """How far a scan has come.

    Each stage is told when it begins, and some again as it goes:
    ``reading`` (``done``: the live people), ``comparing`` (``done``:
    blocks compared so far, ``pairs``: pairs compared), ``clustering``
    (``done``: every block, ``pairs``: every pair compared), ``filing``
    (``done``: clusters looked at, of ``total``) and ``done`` (``done``:
    clusters filed, of ``total`` found).
    """

    stage: str
    done: int
    total: int | None = None
    pairs: int = 0


#: ``progress(ScanProgress)``: how far a scan has come.
ScanProgressCallback = Callable[[ScanProgress], None]


@attrs.frozen
class ScanReport:
    """What a scan did, in counts, and the merges it filed."""

    #: Live people (not merged into another) in the store.
    people: int
    #: Blocks of two or more people compared.
    blocks: int
    #: Blocks larger than the cap, compared only within narrower keys.
    capped_blocks: int
    #: Pairs of people the rules compared.
    pairs_compared: int
    #: Distinct pairs that matched from ``PROPOSE_AT``.
    matches: int
    #: Clusters of two or more people the matches make.
    clusters_found: int
    #: Clusters filed as merge proposals by this scan.
    filed: int
    #: Clusters already proposed, under review, approved, executed or rejected.
    skipped_known: int
    #: Clusters not filed for another reason: too large for one merge, people
    #: merged or changed since they were read, or not visible to the principal.
    skipped_other: int
    #: The merges filed, in the order filed.
    merge_ids: tuple[UUID, ...] = ()
    #: The largest block compared all pairs with all.
    cap: int = CAP
    #: The confidence from which a pair was kept.
    propose_at: float = PROPOSE_AT


def _quiet(_: ScanProgress) -> None:
    return None


def _evidence(cluster: Cluster, rules: DuplicateRules) -> dict[str, Any]:
    return {
        "scan": {"rules": list(rules.names), "propose_at": PROPOSE_AT, "survivor": "oldest"},
        "pairs": [
            {"person_ids": [str(a), str(b)], **match.to_json()} for a, b, match in cluster.matches
        ],
    }


def _reason(cluster: Cluster) -> str:
    used = sorted({m.rule for _, _, m in cluster.matches})
    return f"duplicate scan: {len(cluster.person_ids)} people matched by {', '.join(used)}"


def _batches(clusters: Sequence[Cluster], size: int) -> Iterator[Sequence[Cluster]]:
    for start in range(0, len(clusters), size):
        yield clusters[start : start + size]


@attrs.define
class _Filed:
    merge_ids: list[UUID] = attrs.field(factory=list)
    known: int = 0
    other: int = 0


class DuplicateScanService(Service):
    """Find duplicate people among those on file and propose merging each cluster."""

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
        *,
        merges: MergeService | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        self._merges = merges or MergeService(unit_of_work, clock, self.governance)

    @serves(SCAN)
    def scan(
        self,
        principal: Principal,
        *,
        rules: DuplicateRules | None = None,
        progress: ScanProgressCallback | None = None,
    ) -> ScanReport:
        """Find the clusters of duplicate people and file each new one as a merge proposal.

        ``rules`` default to the host's person rules
        (``governance.person_rules``). ``progress`` is called as the scan
        moves through its stages (see :class:`ScanProgress`).
        Returns the counts of what was compared, found, filed and skipped.
        """
        authorize(principal, SCAN)
        chosen = rules if rules is not None else self.governance.person_rules
        tell = progress or _quiet
        clusterer = Clusterer(
            chosen, lambda blocks, pairs: tell(ScanProgress("comparing", blocks, None, pairs))
        )
        with self._begin(principal, SCAN) as uow:
            people = uow.crm.people.count(IsNull("merged_into_person_id"))
            tell(ScanProgress("reading", people))
            store_blocks = uow.extension(DuplicateBlocks)  # type: ignore[type-abstract]
            if store_blocks is None:
                members = members_of(uow, chosen.blocks)
            else:
                members = store_blocks.members(chosen.blocks, chunk=READ_CHUNK)
            tell(ScanProgress("comparing", 0))
            clusterer.feed(members)
        tell(ScanProgress("clustering", clusterer.blocks, None, clusterer.pairs))
        clusters = clusterer.clusters()
        tell(ScanProgress("filing", 0, len(clusters)))
        filed = _Filed()
        for done, batch in enumerate(_batches(clusters, FILE_BATCH)):
            self._file_batch(principal, batch, chosen, filed)
            looked = min((done + 1) * FILE_BATCH, len(clusters))
            tell(ScanProgress("filing", looked, len(clusters)))
        report = ScanReport(
            people=people,
            blocks=clusterer.blocks,
            capped_blocks=clusterer.capped,
            pairs_compared=clusterer.pairs,
            matches=clusterer.matches,
            clusters_found=len(clusters),
            filed=len(filed.merge_ids),
            skipped_known=filed.known,
            skipped_other=filed.other,
            merge_ids=tuple(filed.merge_ids),
        )
        tell(ScanProgress("done", report.filed, len(clusters)))
        return report

    def _file_batch(
        self,
        principal: Principal,
        batch: Sequence[Cluster],
        rules: DuplicateRules,
        filed: _Filed,
    ) -> None:
        """File the new clusters of ``batch`` in one unit of work."""
        with self._begin(principal, SCAN) as uow:
            everyone = [p for c in batch for p in c.person_ids]
            found = uow.crm.people.get_many(everyone)
            visible = Visibility(uow, principal).visible(found)
            live = frozenset(
                p
                for p, person in found.items()
                if p in visible and person.merged_into_person_id is None
            )
            candidates: list[Cluster] = []
            for cluster in batch:
                kept = (
                    cluster.within(live) if not live.issuperset(cluster.person_ids) else [cluster]
                )
                if len(kept) != 1 or kept[0].person_ids != cluster.person_ids:
                    filed.other += 1
                    continue
                if len(cluster.person_ids) > MAX_MERGE:
                    filed.other += 1
                    continue
                candidates.append(cluster)
            known = self._known(uow, [PersonMerge.cluster_of(c.person_ids) for c in candidates])
            for cluster in candidates:
                if PersonMerge.cluster_of(cluster.person_ids) in known:
                    filed.known += 1
                    continue
                survivor, *merged = (found[p] for p in cluster.person_ids)
                plan = merging.plan(uow, survivor, merged, rows=False)
                merge = self._merges._file(
                    uow,
                    principal,
                    plan,
                    reason=_reason(cluster),
                    evidence=_evidence(cluster, rules),
                    origin="scan",
                )
                filed.merge_ids.append(merge.key)
            uow.commit()

    @staticmethod
    def _known(uow: UnitOfWork, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that already have a merge whose proposal has not failed."""
        if not keys:
            return set()
        merges = uow.table(PersonMerge).where_in("cluster_key", list(keys))
        proposals = uow.table(Writeback).get_many(
            [m.writeback_id for m in merges if m.writeback_id is not None]
        )
        known: set[str] = set()
        for merge in merges:
            proposal = None if merge.writeback_id is None else proposals.get(merge.writeback_id)
            if proposal is None or proposal.status is not WritebackStatus.FAILED:
                known.add(merge.cluster_key)
        return known
