"""Developer price sheets into the inventory: one ``inventory_import_jobs`` row per sheet.

A developer sends a price sheet for a project: one row per unit with its
tower, unit number, configuration, carpet and super area, price and status.
:meth:`PriceSheetService.submit` reads it with the import machinery
(:func:`~velocity_domain.imports.sources.open_source`: any delimiter,
encoding and spreadsheet export) and applies it through the inventory
service, exactly as a user making the same changes by hand would:

1. the sheet is opened and its columns chosen by their headers
   ("Tower"/"Block"/"Wing", "Unit No"/"Flat No", "Type"/"BHK",
   "Carpet Area (sq ft)", "Super Area"/"Saleable Area", "Total Price"/
   "Price"/"Basic Price", "Status"/"Availability") or as the caller names
   them; a sheet that cannot be read, or has no unit column, is refused and
   nothing is recorded;
2. the job is recorded (``queued``: file name, SHA-256, submitter, project)
   and moves to ``running``;
3. each row is read (:mod:`._price_rows`) and its unit found in the project
   by tower and unit number; then, unit by unit:

   - an unknown unit is added (``inventory.units.add``, governed);
   - a status the unit does not have moves it: a unit the sheet marks on
     hold, blocked, booked or sold is taken off sale (``block``), one marked
     available again is put back (``unblock``), a booked unit marked sold is
     sold; a unit the CRM itself holds or books for a buyer is never undone
     by a sheet, and the row says so (``refused``);
   - changed configuration or areas go through ``inventory.units.update``
     (the carpet area is the unit's ``area_sqft``; the super area is kept in
     its ``attributes_json`` as ``super_area_sqft``);
   - a changed price goes through ``inventory.prices.change``, the call a
     user makes: the policy treats it as a money change and sends it to
     review, so the row's proposal is listed with its writeback id; once
     approved and executed its ``inventory_pricing_history`` row carries the
     job's id. A price already awaiting review for the same amount is not
     proposed twice;
   - a row whose unit already has everything the sheet says is unchanged;
   - a row that cannot be read (no unit number, a price, area or status
     that makes no sense, a broken line) is invalid, with its row number,
     field and reason; the other rows still go through;

4. the job ends ``succeeded`` with its counts and findings in
   ``stats_json`` (``failed`` when no row could be imported, or when the
   store failed mid-way, with the reason).

The status move comes before the other changes of a unit, and the price
last, so each proposal is based on the version the sheet's own writes leave.
Importing the same sheet again finds everything as the sheet says and
changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.access.operations import authorize, register
from velocity_domain.access.principal import Principal
from velocity_domain.errors import (
    ApprovalRequired,
    ConcurrencyConflict,
    ConstraintViolation,
    InvalidTransition,
    NotFound,
    PolicyDenied,
    ValidationFailed,
)
from velocity_domain.governance.engine import Governance
from velocity_domain.governance.service import Service, serves
from velocity_domain.imports._price_rows import (
    ColumnPlan,
    SheetRow,
    UnitIndex,
    plan_columns,
    read_row,
    status_move,
    unit_details,
    unit_key,
)
from velocity_domain.imports.sources import RawRow, open_source
from velocity_domain.inventory.entities import ImportJob, ImportJobStatus, Unit, UnitStatus
from velocity_domain.kernel.clock import Clock
from velocity_domain.kernel.lifecycle import Lifecycle
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from velocity_domain.kernel.query import Eq, In, Query, desc, equal
from velocity_domain.services.inventory.catalogue import (
    ADD_UNIT,
    UPDATE_UNIT,
    InventoryService,
    check_places,
)
from velocity_domain.services.inventory.unit_status import CHANGE_PRICE
from velocity_domain.uow import UnitOfWork
from velocity_domain.workflow.entities import WritebackStatus

__all__ = [
    "GET",
    "IMPORT_JOB",
    "LIST",
    "SUBMIT",
    "PriceSheetReport",
    "PriceSheetService",
]

SUBMIT = register(
    "inventory.price_sheets.submit", "inventory.write", "import a developer's price sheet"
)
GET = register("inventory.price_sheets.get", "inventory.read", "read one inventory import job")
LIST = register("inventory.price_sheets.list", "inventory.read", "list inventory import jobs")

_J = ImportJobStatus
#: The lifecycle of an inventory import job.
IMPORT_JOB: Lifecycle[ImportJobStatus] = Lifecycle(
    "inventory import job",
    {_J.QUEUED: {_J.RUNNING, _J.FAILED}, _J.RUNNING: {_J.SUCCEEDED, _J.FAILED}},
)
#: At most this many entries of each finding are kept in a job's ``stats_json``.
KEPT = 1000
#: What the inventory may refuse of one row without stopping the sheet.
_REFUSALS = (
    ValidationFailed,
    InvalidTransition,
    ConcurrencyConflict,
    ConstraintViolation,
    PolicyDenied,
    NotFound,
)
_OFF_SALE = frozenset({UnitStatus.HELD, UnitStatus.BOOKED, UnitStatus.SOLD, UnitStatus.BLOCKED})
_PENDING = (WritebackStatus.REVIEW_REQUIRED, WritebackStatus.APPROVED)

Finding = tuple[int, str, str]


@attrs.frozen
class PriceSheetReport:
    """What importing one price sheet did, row by row; the job holds the same in ``stats_json``.

    ``created``, ``updated``, ``proposed`` and ``unchanged`` count rows: a
    unit added; an existing unit changed now; nothing changed now but a
    proposal filed (a new price, or a change a host policy reviews); nothing
    to do. ``price_changes_for_review`` lists ``(row number, unit id,
    writeback id)`` for each price proposal filed (a new unit's first price
    too); ``already_in_review`` the rows whose price already awaits review.
    ``reviews`` lists ``(row number, operation, writeback id)`` for adds and
    updates the policy sent to review. ``invalid`` lists ``(row number,
    field, reason)`` for rows that could not be read; ``refused`` the same
    for changes the inventory refused (a status move the CRM's own hold or
    booking forbids, a currency that is not the unit's).
    """

    job: ImportJob
    created: int
    updated: int
    unchanged: int
    price_changes_for_review: tuple[tuple[int, UUID, UUID], ...]
    invalid: tuple[Finding, ...]
    proposed: int = 0
    refused: tuple[Finding, ...] = ()
    reviews: tuple[tuple[int, str, UUID], ...] = ()
    already_in_review: tuple[tuple[int, UUID, UUID], ...] = ()


def _proposal(exc: ApprovalRequired) -> UUID:
    key = exc.proposal_id
    return key if isinstance(key, UUID) else UUID(str(key))


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, ValidationFailed) else str(exc)


class _Row:
    """What happened to one row: written, proposed or refused (several may hold)."""

    __slots__ = ("created", "proposed", "refused", "wrote")

    def __init__(self) -> None:
        self.created = self.wrote = self.proposed = self.refused = False


@attrs.frozen
class _Target:
    """Where a sheet goes: the project, the feed it comes from, its default currency."""

    project_id: UUID
    source_system: str
    currency: str


class _Run:
    """One sheet being applied: its job, plan and target, the units, the findings so far."""

    def __init__(self, job: ImportJob, plan: ColumnPlan, target: _Target, units: UnitIndex) -> None:
        self.job = job
        self.plan = plan
        self.target = target
        self.units = units
        self.seen: dict[str, int] = {}
        self.counts = dict.fromkeys(("created", "updated", "proposed", "unchanged"), 0)
        self.rows = 0
        self.failed_rows = 0
        self.prices: list[tuple[int, UUID, UUID]] = []
        self.waiting: list[tuple[int, UUID, UUID]] = []
        self.reviews: list[tuple[int, str, UUID]] = []
        self.invalid: list[Finding] = []
        self.refused: list[Finding] = []

    def refuse(self, outcome: _Row, row: int, field: str, reason: str) -> None:
        """Record that the inventory refused a change of ``row`` (and mark the row so)."""
        self.refused.append((row, field, reason))
        outcome.refused = True

    def stats(self) -> dict[str, Any]:
        """The findings as the job's ``stats_json`` keeps them (each list cut at :data:`KEPT`)."""

        def kept(items: list[tuple[Any, ...]], *names: str) -> list[dict[str, Any]]:
            return [
                {
                    n: v if isinstance(v, int | str) else str(v)
                    for n, v in zip(names, item, strict=True)
                }
                for item in items[:KEPT]
            ]

        return {
            "columns": dict(self.plan.columns),
            "metric_columns": sorted(self.plan.metric),
            "ignored_columns": list(self.plan.ignored),
            "counts": {
                **self.counts,
                "invalid": len(self.invalid),
                "refused": len(self.refused),
                "price_proposals": len(self.prices),
                "already_in_review": len(self.waiting),
                "reviews": len(self.reviews),
            },
            "price_proposals": kept(self.prices, "row", "unit_id", "writeback_id"),
            "already_in_review": kept(self.waiting, "row", "unit_id", "writeback_id"),
            "reviews": kept(self.reviews, "row", "operation", "writeback_id"),
            "invalid": kept(self.invalid, "row", "field", "reason"),
            "refused": kept(self.refused, "row", "field", "reason"),
        }

    def summary(self) -> str | None:
        """A line on what went wrong, for the job's ``error_summary`` (None when nothing did)."""
        problems = self.invalid + self.refused
        if not problems:
            return None
        number, field, reason = min(problems)
        text = (
            f"{len(self.invalid)} invalid and {len(self.refused)} refused finding(s)"
            f" in {self.failed_rows} of {self.rows} row(s); first: row {number}, {field}: {reason}"
        )
        return text[:2000]


class PriceSheetService(Service):
    """Developer price sheets applied to a project's units, each run an inventory import job."""

    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
        clock: Clock,
        governance: Governance | None = None,
        *,
        inventory: InventoryService | None = None,
    ) -> None:
        super().__init__(unit_of_work, clock, governance)
        self._inventory = inventory or InventoryService(unit_of_work, clock, self.governance)

    @serves(SUBMIT)
    def submit(
        self,
        principal: Principal,
        source: Any,
        *,
        project_id: UUID,
        source_system: str,
        file_name: str | None = None,
        format: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        columns: Mapping[str, str] | None = None,
        currency: str = "INR",
    ) -> PriceSheetReport:
        """Import a price sheet into the project ``project_id``; return what each row did.

        ``source`` is a path, bytes, a binary file object or an iterable of
        mappings; the format, encoding and delimiter are detected unless
        given. ``columns`` maps headers to fields (``tower``, ``unit``,
        ``configuration``, ``carpet_area``, ``super_area``, ``price``,
        ``status``, or ``ignore``) where the header synonyms are not enough;
        amounts without a currency are in ``currency``. A sheet that cannot
        be read at all, or lacks a unit column, raises ``UnreadableImport``
        with nothing recorded; an unknown project is ``ValidationFailed`` on
        ``project_id``.
        """
        authorize(principal, SUBMIT)
        if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            raise ValidationFailed(
                "currency", "must be an ISO 4217 code such as INR", value=currency
            )
        currency = currency.upper()
        with self._reading(principal, SUBMIT) as uow:
            check_places(uow, project_id, None)
        if isinstance(source, str | os.PathLike) and file_name is None:
            file_name = os.path.basename(os.fspath(source)) or None
        opened = open_source(
            source, format=format, encoding=encoding, delimiter=delimiter, file_name=file_name
        )
        with opened:
            info = opened.info
            plan = plan_columns(info.headers, columns)
            now = self.clock.now()
            job = self._create_audited(
                principal,
                SUBMIT,
                lambda _uow: ImportJob(
                    source_system=source_system,
                    file_name=file_name,
                    content_sha256=info.content_sha256,
                    submitted_by_user_id=principal.user_id,
                    stats_json={
                        "kind": "price_sheet",
                        "project_id": str(project_id),
                        "format": info.format,
                        "encoding": info.encoding,
                        "delimiter": info.delimiter,
                        "byte_size": info.byte_size,
                        "headers": list(info.headers),
                    },
                    created_at=now,
                    updated_at=now,
                ),
                domain="inventory",
            )
            try:
                job = self._move(principal, job, _J.RUNNING, started_at=self.clock.now())
                with self._reading(principal, SUBMIT) as uow:
                    units = UnitIndex(uow.inventory.units.where_in("project_id", [project_id]))
                run = _Run(job, plan, _Target(project_id, source_system, currency), units)
                for raw in opened.rows():
                    self._row(principal, run, raw)
            except Exception as exc:
                self._fail(principal, job, f"the import stopped: {type(exc).__name__}: {exc}")
                raise
        return self._finish(principal, run)

    # -- one row --------------------------------------------------------------------------

    def _row(self, principal: Principal, run: _Run, raw: RawRow) -> None:
        """Apply one row of the sheet, counting what it did and noting what went wrong."""
        run.rows += 1
        row, problems = read_row(raw, run.plan, run.target.currency)
        found = None if row is None else run.units.find(row)
        if row is not None:
            name = unit_key(row.label if found is None else found.unit_label)
            first = run.seen.setdefault(name, row.number)
            if first != row.number:
                problems = [("unit", f"appears again: row {first} already gave {row.label!r}")]
        if row is None or problems:
            run.invalid.extend((raw.number, field, reason) for field, reason in problems)
            run.failed_rows += 1
            return
        outcome = _Row()
        unit: Unit | None
        if found is None:
            unit = self._add(principal, run, row, outcome)
        else:
            unit = self._status(principal, run, row, found, outcome)
            unit = self._update(principal, run, row, unit, outcome)
        if unit is not None:
            self._price(principal, run, row, unit, outcome)
        if outcome.created:
            run.counts["created"] += 1
        elif outcome.wrote:
            run.counts["updated"] += 1
        elif outcome.proposed:
            run.counts["proposed"] += 1
        elif outcome.refused:
            run.failed_rows += 1
        else:
            run.counts["unchanged"] += 1

    def _where(self, run: _Run, row: SheetRow) -> str:
        return f"price sheet {run.job.file_name or run.job.key}, row {row.number}"

    def _add(self, principal: Principal, run: _Run, row: SheetRow, outcome: _Row) -> Unit | None:
        """Add the row's unit as a user would; take it off sale if the sheet says so."""
        extra = {} if row.super_area is None else {"super_area_sqft": str(row.super_area)}
        try:
            unit = self._inventory.add_unit(
                principal,
                run.target.project_id,
                unit_label=row.label,
                tower=row.tower,
                configuration=row.configuration,
                area_sqft=row.carpet_area,
                currency=row.currency or run.target.currency,
                attributes_json=extra,
                source_system=run.target.source_system,
                source_ref=row.label,
            )
        except ApprovalRequired as exc:
            run.reviews.append((row.number, ADD_UNIT.name, _proposal(exc)))
            outcome.proposed = True
            return None
        except _REFUSALS as exc:
            run.refuse(outcome, row.number, getattr(exc, "field", "unit"), _reason(exc))
            return None
        outcome.created = True
        run.units.put(unit)
        return self._status(principal, run, row, unit, outcome)

    def _status(
        self, principal: Principal, run: _Run, row: SheetRow, unit: Unit, outcome: _Row
    ) -> Unit:
        move, why = status_move(unit.status, row.status)
        if why is not None:
            run.refuse(outcome, row.number, "status", why)
        if move is None:
            return unit
        moved: Callable[..., Unit] = getattr(self._inventory, move)
        reason = f"{self._where(run, row)}: {row.status_text}"
        try:
            unit = moved(principal, unit.key, expected_version=unit.version, reason=reason)
        except _REFUSALS as exc:
            run.refuse(outcome, row.number, "status", _reason(exc))
            return unit
        outcome.wrote = True
        run.units.put(unit)
        return unit

    def _update(
        self, principal: Principal, run: _Run, row: SheetRow, unit: Unit, outcome: _Row
    ) -> Unit:
        diffs = unit_details(unit, row)
        if not diffs:
            return unit
        try:
            unit = self._inventory.update_unit(
                principal, unit.key, expected_version=unit.version, **diffs
            )
        except ApprovalRequired as exc:
            run.reviews.append((row.number, UPDATE_UNIT.name, _proposal(exc)))
            outcome.proposed = True
            return unit
        except _REFUSALS as exc:
            run.refuse(outcome, row.number, getattr(exc, "field", "unit"), _reason(exc))
            return unit
        outcome.wrote = True
        run.units.put(unit)
        return unit

    def _price(
        self, principal: Principal, run: _Run, row: SheetRow, unit: Unit, outcome: _Row
    ) -> None:
        """Propose the row's price through the governed price change, unless nothing changes."""
        price = row.price
        if price is None:
            return
        if row.currency is not None and row.currency != unit.currency:
            why = f"is in {row.currency}; the unit is priced in {unit.currency}"
            run.refuse(outcome, row.number, "price", why)
            return
        if unit.price_current == price:
            return
        waiting = self._waiting(unit, price)
        if waiting is not None:
            run.waiting.append((row.number, unit.key, waiting))
            return
        try:
            self._inventory.change_price(
                principal,
                unit.key,
                price=price,
                effective_from=self.clock.now(),
                reason=self._where(run, row),
                import_job_id=run.job.key,
            )
        except ApprovalRequired as exc:
            run.prices.append((row.number, unit.key, _proposal(exc)))
            outcome.proposed = True
            return
        except _REFUSALS as exc:
            run.refuse(outcome, row.number, "price", _reason(exc))
            return
        outcome.wrote = True

    def _waiting(self, unit: Unit, price: Decimal) -> UUID | None:
        """A price proposal for ``unit`` at its version, for the same price, awaiting a decision."""
        where = (
            Eq("target_table", Unit.table_name),
            Eq("target_entity_ref", unit.key),
            In("status", _PENDING),
        )
        with self._unit_of_work(read_only=True) as uow:
            found = uow.workflow.writebacks.list(Query(where, (), MAX_PAGE_SIZE)).items
        for writeback in found:
            doc = writeback.change_json
            proposed = doc.get("fields", {}).get("price_current")
            if (
                doc.get("operation") == CHANGE_PRICE.name
                and writeback.base_version == unit.version
                and proposed is not None
                and Decimal(str(proposed)) == price
            ):
                return writeback.key
        return None

    # -- the job --------------------------------------------------------------------------

    def _move(
        self, principal: Principal, job: ImportJob, target: ImportJobStatus, **changes: Any
    ) -> ImportJob:
        IMPORT_JOB.transition(job.status, target)
        with self._begin(principal, SUBMIT) as uow:
            after = self._update_audited(
                uow,
                principal,
                f"inventory.price_sheets.{target.value}",
                job,
                attrs.evolve(job, status=target, **changes),
                domain="inventory",
                expected_version=job.version,
                details={"from": job.status.value, "to": target.value},
            )
            uow.commit()
        return after

    def _fail(self, principal: Principal, job: ImportJob, reason: str) -> None:
        """Record the job as failed when a run stops; the caller sees the run's own error."""
        try:
            with self._reading(principal, SUBMIT) as uow:
                job = uow.inventory.import_jobs.get(job.key)
            self._move(
                principal, job, _J.FAILED, finished_at=self.clock.now(), error_summary=reason[:2000]
            )
        except Exception:  # the store may be what failed; the run's own error matters
            return

    def _finish(self, principal: Principal, run: _Run) -> PriceSheetReport:
        ok = run.rows - run.failed_rows
        failed = run.rows > 0 and ok == 0
        summary = run.summary()
        if failed:
            summary = f"no row of the sheet could be imported: {summary}"[:2000]
        job = self._move(
            principal,
            run.job,
            _J.FAILED if failed else _J.SUCCEEDED,
            finished_at=self.clock.now(),
            rows_total=run.rows,
            rows_ok=ok,
            rows_failed=run.failed_rows,
            error_summary=summary,
            stats_json={**run.job.stats_json, **run.stats()},
        )
        return PriceSheetReport(
            job=job,
            created=run.counts["created"],
            updated=run.counts["updated"],
            unchanged=run.counts["unchanged"],
            price_changes_for_review=tuple(run.prices),
            invalid=tuple(run.invalid),
            proposed=run.counts["proposed"],
            refused=tuple(run.refused),
            reviews=tuple(run.reviews),
            already_in_review=tuple(run.waiting),
        )

    # -- reads ----------------------------------------------------------------------------

    @serves(GET)
    def get(self, principal: Principal, job_id: UUID) -> ImportJob:
        """Read one inventory import job, with its counts and findings."""
        with self._reading(principal, GET) as uow:
            return uow.inventory.import_jobs.get(job_id)

    @serves(LIST)
    def list(
        self,
        principal: Principal,
        *,
        source_system: str | None = None,
        status: ImportJobStatus | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ImportJob]:
        """List inventory import jobs, newest first, by source system and status."""
        where = equal(source_system=source_system, status=status)
        order = (desc("created_at"), desc("import_job_id"))
        with self._reading(principal, LIST) as uow:
            return uow.inventory.import_jobs.list(Query(where, order, limit, cursor))
