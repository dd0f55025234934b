"""Quickstart: what velocity_domain gives a host service today.

Run it with ``python3 tasks.py quickstart``. It uses only the in-memory side of
the library: the shared kernel that every canonical entity is built on.
"""

from __future__ import annotations

import enum

from velocity_domain.errors import InvalidCursor, InvalidTransition, ValidationFailed
from velocity_domain.kernel import (
    CursorCodec,
    FixedClock,
    Lifecycle,
    new_id,
    normalize_email,
    normalize_name,
    normalize_phone,
)


class Stage(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    WON = "won"


def main() -> None:
    clock = FixedClock()
    print(f"clock: {clock.now().isoformat()}")

    ids = [new_id() for _ in range(3)]
    print("three UUIDv7 ids, already in creation order:", ids == sorted(ids))
    for value in ids:
        print("  ", value)

    print("one person, written three ways, matches as one:")
    for raw in ["+91 98300 12345", "098300 12345", "9830012345"]:
        print(f"   phone {raw!r:>20} -> {normalize_phone(raw)}")
    print(
        f"   email {'  Asha.Rao@Example.COM ':>20} -> {normalize_email('  Asha.Rao@Example.COM ')}"
    )
    print(f"   name  {'Smt. Ásha  RAO':>20} -> {normalize_name('Smt. Ásha  RAO')}")

    try:
        normalize_email("asha@@example")
    except ValidationFailed as err:
        print(f"bad input is refused with a typed error: {err.to_dict()}")

    codec = CursorCodec()
    cursor = codec.encode("crm_people:full_name", ["asha rao", ids[0]])
    print(f"an opaque cursor for the next page: {cursor[:40]}...")
    try:
        codec.decode(cursor, "crm_accounts:account_name")
    except InvalidCursor as err:
        print(f"used on another listing it is refused: {err}")

    pipeline = Lifecycle(
        "opportunity", {Stage.NEW: {Stage.CONTACTED}, Stage.CONTACTED: {Stage.WON}}
    )
    print("new -> contacted:", pipeline.transition(Stage.NEW, Stage.CONTACTED))
    try:
        pipeline.transition(Stage.NEW, Stage.WON)
    except InvalidTransition as err:
        print(f"new -> won is refused: {err}")


if __name__ == "__main__":
    main()
