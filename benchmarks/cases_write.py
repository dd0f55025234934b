"""The write paths on PostgreSQL: creating contacts, and executing approved writebacks.

``contacts.create`` is measured at full size and on an empty database, each
against the raw statements of the same work: the duplicate checks on email
and phone, the person and its audit event, and the commit. Writeback
execution runs 8 threads over approved proposals (made through the library's
own propose/approve flow beforehand), against 8 threads of raw conditional
UPDATEs; afterwards the database must show every writeback executed once.
"""

from __future__ import annotations

import queue
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from benchmarks.cases_read import Context
from benchmarks.datagen import (
    BENCH_DOMAIN,
    conninfo,
    create_staff,
    database_url,
    person_name,
    progress,
    recreate_database,
)
from benchmarks.measure import Budget, Row, interleaved, rate_row
from velocity_domain import Velocity
from velocity_domain.access.principal import Principal
from velocity_domain.adapters.postgres import migrate
from velocity_domain.kernel.ids import new_id
from velocity_domain.workflow.entities import WritebackStatus

THREADS = 8
WRITEBACKS = 1000
CREATE_RATIO = 0.5
FULL_VS_EMPTY = 0.8
WRITEBACK_RATE = 1000.0
WRITEBACK_RATIO = 0.5
ROUNDS = 4

RAW_DUPLICATE_EMAIL = "SELECT person_id FROM crm_people WHERE primary_email = %s LIMIT 20"
RAW_DUPLICATE_PHONE = "SELECT person_id FROM crm_people WHERE primary_phone = %s LIMIT 20"
RAW_INSERT_PERSON = (
    "INSERT INTO crm_people (person_id, full_name, normalized_name, primary_email,"
    " primary_phone, persona_labels, version, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, 1, %s, %s)"
)
RAW_INSERT_AUDIT = (
    "INSERT INTO core_audit_events (audit_event_id, occurred_at, actor_user_id, actor_kind,"
    " action, target_domain, target_ref, before_json, after_json, details_json)"
    " VALUES (%s, %s, %s, 'human', 'crm.contacts.create', 'crm', %s, '{}', %s, '{}')"
)
RAW_UPDATE = (
    "UPDATE crm_opportunities SET value = %s, version = version + 1, updated_at = now()"
    " WHERE opportunity_id = %s AND version = %s"
)


# --- contacts.create ------------------------------------------------------------------------


class NewContacts:
    """Names, emails and phones nobody holds yet (phones in a 6xxxxxxxxx block found free)."""

    def __init__(self, raw: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.rng = random.Random()
        self.token = secrets.token_hex(4)
        while True:
            self.block = f"+916{self.rng.randrange(10_000):04d}"
            taken = raw.execute(
                "SELECT 1 FROM crm_people WHERE primary_phone >= %s AND primary_phone < %s LIMIT 1",
                (self.block + "00000", self.block + "99999~"),
            ).fetchone()
            if taken is None:
                break
        raw.rollback()
        self.count = 0

    def next(self) -> tuple[str, str, str, str]:
        """A full name, its normalised form, an email and a phone, all new.

        The name ends in a three-letter word of its own, so that no two new
        contacts are namesakes: their phones are only digits apart, which the
        duplicate rules rightly take for one person under one name.
        """
        full, norm, first, last = person_name(self.rng)
        n, self.count = self.count, self.count + 1
        tag = "".join(chr(ord("a") + n // 26**i % 26) for i in range(3))
        email = f"{first}.{last}.{self.token}.{n}@{BENCH_DOMAIN}"
        return f"{full} {tag.title()}", f"{norm} {tag}", email, f"{self.block}{n:05d}"


def _raw_create(
    conn: psycopg.Connection[tuple[Any, ...]], actor: UUID, contact: tuple[str, str, str, str]
) -> None:
    full, norm, email, phone = contact
    with conn.cursor() as cur:
        if cur.execute(RAW_DUPLICATE_EMAIL, (email,)).fetchall():
            raise RuntimeError(f"duplicate email {email}")
        if cur.execute(RAW_DUPLICATE_PHONE, (phone,)).fetchall():
            raise RuntimeError(f"duplicate phone {phone}")
        person_id, at = new_id(), datetime.now(UTC)
        cur.execute(RAW_INSERT_PERSON, (person_id, full, norm, email, phone, [], at, at))
        after = {
            "person_id": str(person_id),
            "full_name": full,
            "normalized_name": norm,
            "primary_email": email,
            "primary_phone": phone,
            "persona_labels": [],
            "version": 1,
        }
        cur.execute(RAW_INSERT_AUDIT, (new_id(), at, actor, str(person_id), Jsonb(after)))
    conn.commit()


def _create_rates(
    velocity: Velocity, admin: Principal, url: str, budget: Budget
) -> tuple[int, float, int, float]:
    """Create contacts alternately through the library and raw; return counts and seconds."""
    with psycopg.connect(conninfo(url)) as raw:
        fresh = NewContacts(raw)
        contacts = [fresh.next() for _ in range(2 * (budget.reps + budget.warmup))]

        def library(i: int) -> object:
            full, _, email, phone = contacts[2 * (i + budget.warmup)]
            return velocity.contacts.create(
                admin, full_name=full, primary_email=email, primary_phone=phone
            )

        def plain(i: int) -> None:
            _raw_create(raw, admin.user_id or UUID(int=0), contacts[2 * (i + budget.warmup) + 1])

        lib, raws = interleaved(library, plain, budget)
    return len(lib), sum(lib), len(raws), sum(raws)


def create(ctx: Context) -> list[Row]:
    """contacts.create at full size and on an empty database; and full size against empty."""
    budget = Budget(reps=min(ctx.budget.reps * 2, 500), seconds=ctx.budget.seconds, min_reps=20)
    full = _create_rates(ctx.velocity, ctx.admin, ctx.url, budget)
    name = f"{make_url(ctx.url).database}_empty"
    progress(f"  creating the empty database {name}")
    recreate_database(ctx.server_url, name)
    empty_url = database_url(ctx.server_url, name)
    migrate.upgrade(empty_url)
    staff = create_staff(empty_url, 0)
    with Velocity.from_url(empty_url) as empty_velocity:
        admin = empty_velocity.users.principal_for(Principal.system("bench"), staff.admin_id)
        empty = _create_rates(empty_velocity, admin, empty_url, budget)
    size = f"{ctx.sizes.people:,} people"
    rows = [
        rate_row(f"contacts.create at {size}", *full, min_ratio=CREATE_RATIO),
        rate_row("contacts.create on an empty table", *empty, min_ratio=CREATE_RATIO),
    ]
    full_rate, empty_rate = rows[0].lib_rate, rows[1].lib_rate
    assert full_rate is not None
    assert empty_rate is not None
    rows.append(
        Row(
            f"contacts.create rate at {size} / empty",
            "ratio",
            target=f">= {FULL_VS_EMPTY:g} (within 20%)",
            n=rows[0].n,
            lib_rate=full_rate,
            raw_rate=empty_rate,
            ratio=full_rate / empty_rate,
            verdict="PASS" if full_rate / empty_rate >= FULL_VS_EMPTY else "FAIL",
            notes=["library rate at full size, then on the empty table"],
        )
    )
    return rows


# --- writebacks.execute ---------------------------------------------------------------------


def _prepare(ctx: Context, targets: list[tuple[UUID, int, Decimal | None]]) -> dict[UUID, Any]:
    """Propose (as the admin) and approve (as the operator) a new value for each target deal."""
    started = time.monotonic()
    proposed: dict[UUID, Any] = {}
    rng = random.Random(11)
    for n, (deal, version, value) in enumerate(targets):
        new_value = Decimal(4_000_000 + rng.randrange(46_000) * 1000) + Decimal("0.50")
        if new_value == value:
            new_value += 1
        writeback = ctx.velocity.writebacks.propose(
            ctx.admin,
            target_table="crm_opportunities",
            change_kind="update",
            target_ref=deal,
            base_version=version,
            fields={"value": new_value},
        )
        if writeback.status is not WritebackStatus.REVIEW_REQUIRED:
            raise RuntimeError(f"the policy did not send a value change to review: {writeback}")
        ctx.velocity.writebacks.approve(ctx.operator, writeback.key, comment="benchmark")
        proposed[writeback.key] = (deal, version, new_value)
        if (n + 1) % 250 == 0:
            progress(f"  proposed and approved {n + 1} writebacks")
    progress(f"  prepared {len(targets)} approved writebacks in {time.monotonic() - started:.0f}s")
    return proposed


def _threads(work: list[Any], run: Callable[[Any], bool]) -> tuple[float, int]:
    """Run ``run`` over ``work`` on THREADS threads; return the seconds and the True count."""
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for item in work:
        pending.put(item)
    done: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = 0
        try:
            while True:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
                mine += bool(run(item))
        except BaseException as exc:  # reported below, after the other threads finish
            errors.append(exc)
        with lock:
            done.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds, sum(done)


def _verify(ctx: Context, proposed: dict[UUID, Any]) -> None:
    """Every writeback executed once: status, the deal's value and version, one audit event."""
    keys = list(proposed)
    executed = ctx.rows(
        "SELECT count(*) FROM workflow_writebacks WHERE writeback_id = ANY(%s)"
        " AND status = 'executed' AND executed_at IS NOT NULL",
        (keys,),
    )[0][0]
    deals = {
        row[0]: (row[1], row[2])
        for row in ctx.rows(
            "SELECT opportunity_id, version, value FROM crm_opportunities"
            " WHERE opportunity_id = ANY(%s)",
            ([d for d, _, _ in proposed.values()],),
        )
    }
    events = dict(
        ctx.rows(
            "SELECT target_ref, count(*) FROM core_audit_events"
            " WHERE action = 'workflow.writebacks.executed' AND target_ref = ANY(%s)"
            " GROUP BY target_ref",
            ([str(k) for k in keys],),
        )
    )
    wrong = [
        key
        for key, (deal, version, value) in proposed.items()
        if deals.get(deal) != (version + 1, value) or events.get(str(key)) != 1
    ]
    if executed != len(keys) or wrong:
        raise RuntimeError(
            f"{executed} of {len(keys)} writebacks executed; {len(wrong)} applied other than once"
        )


def writebacks(ctx: Context) -> list[Row]:
    """8 threads executing approved writebacks against 8 threads of raw conditional UPDATEs."""
    count = min(WRITEBACKS, ctx.sizes.opportunities // 4)
    picked = ctx.rows(
        "SELECT opportunity_id, version, value FROM crm_opportunities ORDER BY random() LIMIT %s",
        (2 * count,),
    )
    proposed = _prepare(ctx, [(r[0], r[1], r[2]) for r in picked[:count]])
    plain = [(r[0], r[1], Decimal(5_000_000 + n)) for n, r in enumerate(picked[count:])]
    keys = list(proposed)
    raw_url = conninfo(ctx.url)
    connections = [psycopg.connect(raw_url) for _ in range(THREADS)]
    slots: queue.SimpleQueue[psycopg.Connection[tuple[Any, ...]]] = queue.SimpleQueue()
    for conn in connections:
        slots.put(conn)

    def update(item: tuple[UUID, int, Decimal]) -> bool:
        conn = slots.get()
        try:
            changed = conn.execute(RAW_UPDATE, (item[2], item[0], item[1])).rowcount
            conn.commit()
        finally:
            slots.put(conn)
        return changed == 1

    lib_seconds = raw_seconds = 0.0
    applied = raw_applied = 0
    with Velocity.from_url(ctx.url, pool_size=THREADS + 2) as velocity:
        execute = velocity.writebacks.execute
        operator = ctx.operator

        def run(key: UUID) -> bool:
            return execute(operator, key).applied

        for r in range(ROUNDS):
            lib_part, raw_part = keys[r::ROUNDS], plain[r::ROUNDS]
            order = ("lib", "raw") if r % 2 == 0 else ("raw", "lib")
            for which in order:
                if which == "lib":
                    seconds, ok = _threads(lib_part, run)
                    lib_seconds, applied = lib_seconds + seconds, applied + ok
                else:
                    seconds, ok = _threads(raw_part, update)
                    raw_seconds, raw_applied = raw_seconds + seconds, raw_applied + ok
        again = sum(execute(operator, key).applied for key in keys[:50])
    for conn in connections:
        conn.close()
    if applied != len(keys) or raw_applied != len(plain) or again:
        raise RuntimeError(
            f"applied {applied}/{len(keys)} writebacks ({again} again on a second run),"
            f" {raw_applied}/{len(plain)} raw updates"
        )
    _verify(ctx, proposed)
    row = rate_row(
        f"writebacks.execute, {THREADS} threads",
        len(keys),
        lib_seconds,
        len(plain),
        raw_seconds,
        min_ratio=WRITEBACK_RATIO,
        min_rate=WRITEBACK_RATE,
    )
    row.notes.append(
        f"{len(keys)} writebacks each applied exactly once (checked in the database);"
        " raw: conditional UPDATE + COMMIT per row"
    )
    return [row]
