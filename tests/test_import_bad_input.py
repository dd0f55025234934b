"""Every kind of bad import file ends as a typed error or as invalid rows with reasons.

Row-level faults are kept as invalid rows naming the problem, and the good
rows of the same file still reach the canonical tables; a file that cannot
be read at all is refused with ``UnreadableImport`` and nothing is stored.
Each case runs the whole pipeline on both stores.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tests.support.world import World
from velocity_domain.crm.entities import ImportBatchStatus
from velocity_domain.errors import UnreadableImport
from velocity_domain.testing import unit_of_work

HEADER = "Name,Email,Mobile\r\n"
GOOD = "Asha Iyer,asha.good@example.in,9840011111\r\nRavi Menon,ravi.good@example.in,9840022222\r\n"
GOOD_EMAILS = {"asha.good@example.in", "ravi.good@example.in"}


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


#: name -> (file bytes, what the bad row's reason says)
ROW_FAULTS: dict[str, tuple[bytes, str]] = {
    "broken quoting": (
        (HEADER + '"Broken Quote,broken@example.in,9840033333\r\n' + GOOD).encode(),
        "quote",
    ),
    "too many fields": (
        (HEADER + "Too,many@example.in,9840044444,extra\r\n" + GOOD).encode(),
        "4 fields",
    ),
    "too few fields": ((HEADER + "Too Few,few@example.in\r\n" + GOOD).encode(), "2 fields"),
    "invalid email": ((HEADER + "Bad Mail,not-an-email,\r\n" + GOOD).encode(), "primary_email"),
    "impossible phone": ((HEADER + "Bad Phone,,12345\r\n" + GOOD).encode(), "primary_phone"),
    "no name and no contact point": ((HEADER + ",,\r\n,  ,x\r\n" + GOOD).encode(), "full_name"),
    "a 10 MB cell": (
        (HEADER + "Huge," + "x" * 10_000_000 + "@example.in,9840055555\r\n" + GOOD).encode(),
        "Email",
    ),
    "a NUL byte": ((HEADER + "Nul\x00Byte,nul@example.in,9840066666\r\n" + GOOD).encode(), "NUL"),
}

#: Enough good rows that one row of stray bytes is a fault of that row, not of the file.
MANY = "".join(f"Person {n},person{n}@example.in,98{n:08d}\r\n" for n in range(3000))


def _import(world: World, data: bytes, **options: Any) -> Any:
    imports = world.velocity.imports
    manager = world.by_role["sales_manager"]
    batch = imports.submit(manager, data, source_system="bad", **options)
    batch = imports.map(manager, batch.key, expected_version=batch.version)
    batch = imports.propose(manager, batch.key, expected_version=batch.version)
    return imports.commit(manager, batch.key)


def _emails(world: World) -> set[str]:
    with unit_of_work(world.velocity) as uow:
        return {p.primary_email for p in uow.crm.people.where_in("source_system", ["bad"])}


@pytest.mark.parametrize("case", sorted(ROW_FAULTS))
def test_a_bad_row_is_kept_with_its_reason_and_the_good_rows_land(world: World, case: str) -> None:
    data, says = ROW_FAULTS[case]
    batch = _import(world, data)
    assert batch.status is ImportBatchStatus.COMMITTED
    rows = world.velocity.imports.rows(world.admin, batch.key, status="invalid", limit=50).items
    assert rows, f"{case}: no invalid row"
    assert any(says in (r.error_reason or "") for r in rows), [r.error_reason for r in rows]
    assert _emails(world) == GOOD_EMAILS
    out = io.StringIO()
    written = world.velocity.imports.write_errors(world.admin, batch.key, out)
    assert written == len(rows)
    assert out.getvalue().splitlines()[0] == "Name,Email,Mobile,row,error"


def test_bytes_invalid_in_the_declared_encoding_spoil_only_their_row(world: World) -> None:
    data = (HEADER + MANY).encode() + b"Bad \xff\xfe Bytes,bytes@example.in,9840077777\r\n"
    batch = _import(world, data + GOOD.encode(), encoding="utf-8")
    rows = world.velocity.imports.rows(world.admin, batch.key, status="invalid").items
    assert [r.row_number for r in rows] == [3001]
    assert "not valid utf-8" in (rows[0].error_reason or "")
    assert len(_emails(world)) == 3002
    assert _emails(world) >= GOOD_EMAILS


def test_duplicate_header_names_are_both_kept(world: World) -> None:
    data = b"Name,Email,Email,Mobile\r\nAsha Iyer,asha.good@example.in,a2@example.in,9840011111\r\n"
    batch = _import(world, data)
    assert batch.stats_json["headers"] == ["Name", "Email", "Email (2)", "Mobile"]
    row = world.velocity.imports.rows(world.admin, batch.key).items[0]
    assert row.raw_json["Email (2)"] == "a2@example.in"
    assert row.mapped_json["primary_email"] == "asha.good@example.in"


#: name -> (file bytes, options, the field the refusal names)
FILE_FAULTS: dict[str, tuple[bytes, dict[str, str], str]] = {
    "an empty file": (b"", {}, "file"),
    "only blank lines": (b"\r\n\r\n   \r\n", {}, "file"),
    "an .xlsx saved as .csv": (_xlsx(), {"file_name": "contacts.csv"}, "file"),
    "no header row": (
        b"Asha Iyer,asha@example.in,9840011111\r\nRavi Menon,ravi@example.in,9840022222\r\n",
        {},
        "file",
    ),
    "no header row, numbers only": (
        b"9840011111,asha@example.in,1.2 Cr\r\n9840022222,ravi@example.in,80 L\r\n",
        {},
        "file",
    ),
    "a wrongly declared encoding": (
        "Name,Email\r\nJos\u00e9 D'Souza,jose@example.in\r\n".encode("utf-16"),
        {"encoding": "cp1252"},
        "encoding",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_FAULTS))
def test_an_unreadable_file_is_refused_naming_why_and_nothing_is_stored(
    world: World, case: str
) -> None:
    data, options, field = FILE_FAULTS[case]
    with pytest.raises(UnreadableImport) as refused:
        world.velocity.imports.submit(
            world.by_role["sales_manager"], data, source_system="bad", **options
        )
    assert refused.value.field == field
    assert refused.value.reason
    assert refused.value.to_dict()["code"] == "unreadable_import"
    with unit_of_work(world.velocity) as uow:
        assert uow.crm.import_batches.count() == 0
