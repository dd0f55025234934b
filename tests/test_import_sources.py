"""Reading import files: formats, encodings, delimiters, headers, and rows that go wrong."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocity_domain.errors import UnreadableImport, ValidationFailed
from velocity_domain.imports.sources import RawRow, SourceInfo, open_source

# --- realistic fixtures, generated ----------------------------------------------------------

HUBSPOT_HEADERS = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Mobile Phone Number",
    "Lifecycle Stage",
    "Lead Status",
    "Contact owner",
    "Create Date",
]
SALESFORCE_HEADERS = [
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Company",
    "LeadSource",
    "Status",
    "OwnerId",
]
EXCEL_HEADERS = ["Name", "Mobile", "Email ID", "Budget", "Interested In", "Remarks"]
FIRST = ["Asha", "Rohan", "Priya", "Vikram", "Zoë", "Anil", "Meera", "Karthik"]
LAST = ["Rao", "Mehta", "Iyer", "Singh", "Fernandes", "Kulkarni", "Nair", "Reddy"]


def _csv_text(headers: list[str], rows: list[list[str]], **dialect: object) -> str:
    out = io.StringIO()
    writer = csv.writer(out, **dialect)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def hubspot_contacts(count: int = 40) -> bytes:
    """A HubSpot contacts export: UTF-8 with a BOM, comma, every field quoted."""
    rows = []
    for n in range(count):
        first, last = FIRST[n % 8], LAST[(n * 3) % 8]
        rows.append(
            [
                str(51_000_000_000 + n),
                first,
                last,
                f"{first.lower()}.{last.lower()}{n}@example.in",
                f"+91 98{n:03d} 12345",
                "" if n % 3 else f"+91 99{n:03d} 54321",
                ["Lead", "Marketing Qualified Lead", "Opportunity"][n % 3],
                ["NEW", "OPEN", "IN_PROGRESS", ""][n % 4],
                "Priya Nair",
                f"2024-03-{n % 28 + 1:02d} 10:{n % 60:02d}",
            ]
        )
    text = _csv_text(HUBSPOT_HEADERS, rows, quoting=csv.QUOTE_ALL, lineterminator="\n")
    return text.encode("utf-8-sig")


def salesforce_leads(count: int = 25) -> bytes:
    """A Salesforce lead export: UTF-8 without a BOM, comma, CRLF, every field quoted."""
    rows = [
        [
            f"00Q5j00000Ab{n:03d}EAA",
            FIRST[n % 8],
            LAST[n % 8],
            f"lead{n}@corp.example.com",
            f"(022) 2{n:03d} 4567",
            f"98{n:08d}",
            "Sharma & Sons, Pune" if n % 2 else "Acme Realty",
            "Web",
            "Open - Not Contacted",
            "0055j000004XyZAAA",
        ]
        for n in range(count)
    ]
    text = _csv_text(SALESFORCE_HEADERS, rows, quoting=csv.QUOTE_ALL)
    return text.encode("utf-8")


EXCEL_ROWS = [
    ["José D'Souza", "98200 12345", "jose.dsouza@example.in", "1.2 Cr", "3 BHK", "Call after 6"],
    [
        "Zoë Fernandes",
        "+91 98330 11122",
        "zoe@example.in",
        "80 L",
        "2 BHK \u2013 sea view",
        'Wants "Tower B" only\nvisit on Sunday',
    ],
    ["Ramesh Kulkarni", "9820011122", "", "90 lakhs", "Villa", "Budget €? no, ₹"],
]


def excel_windows_sheet() -> bytes:
    """A hand-typed Excel sheet saved on Windows: ';', cp1252, CRLF, everything quoted."""
    rows = [list(row) for row in EXCEL_ROWS]
    rows[2][5] = "Budget flexible"  # ₹ does not exist in cp1252
    text = _csv_text(EXCEL_HEADERS, rows, delimiter=";", quoting=csv.QUOTE_ALL)
    return text.encode("cp1252")


def excel_unicode_text() -> bytes:
    """Excel's "Unicode text": UTF-16LE with a BOM, tab-separated, CRLF."""
    text = _csv_text(EXCEL_HEADERS, EXCEL_ROWS, delimiter="\t")
    return b"\xff\xfe" + text.encode("utf-16-le")


def read(source: object, **options: object) -> tuple[SourceInfo, list[RawRow]]:
    with open_source(source, **options) as opened:
        return opened.info, list(opened.rows())


def unreadable(source: object, **options: object) -> UnreadableImport:
    with pytest.raises(UnreadableImport) as caught:
        open_source(source, **options)
    return caught.value


# --- the realistic exports ------------------------------------------------------------------


def test_hubspot_contacts_export() -> None:
    data = hubspot_contacts()
    info, rows = read(data, file_name="hubspot-crm-exports-all-contacts.csv")
    assert (info.format, info.encoding, info.encoding_detected) == ("csv", "utf-8-sig", True)
    assert info.delimiter == ","
    assert info.headers == tuple(HUBSPOT_HEADERS)
    assert info.byte_size == len(data)
    assert info.content_sha256 == hashlib.sha256(data).hexdigest()
    assert len(rows) == 40
    assert all(row.error is None for row in rows)
    assert rows[0] == RawRow(
        1,
        {
            "Record ID": "51000000000",
            "First Name": "Asha",
            "Last Name": "Rao",
            "Email": "asha.rao0@example.in",
            "Phone Number": "+91 98000 12345",
            "Mobile Phone Number": "+91 99000 54321",
            "Lifecycle Stage": "Lead",
            "Lead Status": "NEW",
            "Contact owner": "Priya Nair",
            "Create Date": "2024-03-01 10:00",
        },
        None,
        2,
    )
    assert rows[4].values["First Name"] == "Zoë"
    assert rows[1].values["Mobile Phone Number"] == ""
    assert [row.number for row in rows] == list(range(1, 41))


def test_salesforce_lead_export() -> None:
    info, rows = read(salesforce_leads())
    assert (info.encoding, info.delimiter) == ("utf-8", ",")
    assert info.headers == tuple(SALESFORCE_HEADERS)
    assert len(rows) == 25
    assert rows[1].values["Company"] == "Sharma & Sons, Pune"
    assert rows[1].values["Id"] == "00Q5j00000Ab001EAA"
    assert rows[1].values["Phone"] == "(022) 2001 4567"
    assert rows[24].line == 26
    assert all(row.error is None for row in rows)


def test_hand_typed_excel_sheet_on_windows() -> None:
    info, rows = read(excel_windows_sheet())
    assert (info.encoding, info.encoding_detected, info.delimiter) == ("cp1252", True, ";")
    assert info.headers == tuple(EXCEL_HEADERS)
    assert [row.values["Name"] for row in rows] == [
        "José D'Souza",
        "Zoë Fernandes",
        "Ramesh Kulkarni",
    ]
    assert [row.values["Budget"] for row in rows] == ["1.2 Cr", "80 L", "90 lakhs"]
    assert rows[1].values["Interested In"] == "2 BHK \u2013 sea view"
    assert rows[1].values["Remarks"] == 'Wants "Tower B" only\nvisit on Sunday'
    assert [row.line for row in rows] == [2, 3, 5]
    assert all(row.error is None for row in rows)


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    info, rows = read(excel_unicode_text())
    assert (info.encoding, info.delimiter) == ("utf-16", "\t")
    assert info.headers == tuple(EXCEL_HEADERS)
    assert [list(row.values.values()) for row in rows] == EXCEL_ROWS
    assert rows[2].values["Remarks"] == "Budget €? no, ₹"


def test_utf16_big_endian_with_bom() -> None:
    text = "Name\tCity\r\nअनिल शर्मा\tपुणे\r\n"
    info, rows = read(b"\xfe\xff" + text.encode("utf-16-be"))
    assert info.encoding == "utf-16"
    assert rows[0].values == {"Name": "अनिल शर्मा", "City": "पुणे"}


# --- delimiters, quoting, line ends ---------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(delimiter: str) -> None:
    rows = [
        ["Asha Rao", "1,2 Cr; maybe", "a|b\tc", 'said "hi"\nthen left'],
        ["Ravi", "80 L", "", "x"],
        ["Mia", "90, lakhs", "ok", "y"],
    ]
    text = _csv_text(["Name", "Budget", "Notes", "Remarks"], rows, delimiter=delimiter)
    info, parsed = read(text.encode())
    assert info.delimiter == delimiter
    assert [list(row.values.values()) for row in parsed] == rows


def test_declared_delimiter_wins_over_sniffing() -> None:
    info, rows = read(b"a;b,c\n1;2,3\n", delimiter=",")
    assert info.delimiter == ","
    assert info.headers == ("a;b", "c")
    assert rows[0].values == {"a;b": "1;2", "c": "3"}


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_ends_crlf_lf_cr(newline: str) -> None:
    body = newline.join(["Name,Note", 'Ana,"two', 'lines"', "Ravi,plain", ""])
    info, rows = read(body.encode())
    assert info.headers == ("Name", "Note")
    assert [row.values for row in rows] == [
        {"Name": "Ana", "Note": f"two{newline}lines"},
        {"Name": "Ravi", "Note": "plain"},
    ]
    assert [row.line for row in rows] == [2, 4]


def test_doubled_quotes_and_quoted_delimiters() -> None:
    _, rows = read(b'Name,Quote\n"Rao, Asha","She said ""yes"", twice"\n')
    assert rows[0].values == {"Name": "Rao, Asha", "Quote": 'She said "yes", twice'}


def test_a_one_column_file_reads_with_a_comma() -> None:
    info, rows = read(b"Email\nasha@example.in\nravi@example.in\n")
    assert (info.delimiter, info.headers) == (",", ("Email",))
    assert [row.values["Email"] for row in rows] == ["asha@example.in", "ravi@example.in"]


# --- encodings ------------------------------------------------------------------------------


def test_utf8_with_rupee_sign_is_utf8_even_when_short() -> None:
    info, rows = read("Name,Budget\nAsha,₹80 L\n".encode())
    assert (info.encoding, info.encoding_detected) == ("utf-8", True)
    assert rows[0].values["Budget"] == "₹80 L"


def test_cp1252_accents_and_punctuation_decode_right() -> None:
    data = "Name,Note\nJosé,“VIP” \u2013 call\nRenée,café €5\n".encode("cp1252")
    info, rows = read(data)
    assert info.encoding == "cp1252"
    assert [row.values["Note"] for row in rows] == ["“VIP” \u2013 call", "café €5"]


def test_latin1_text_reads_right_as_cp1252_which_fits_both() -> None:
    info, rows = read("Name,City\nRenée,Genève\nAndré,Zürich\n".encode("latin-1"))
    assert info.encoding == "cp1252"
    assert [row.values["City"] for row in rows] == ["Genève", "Zürich"]


def test_latin1_is_detected_when_cp1252_does_not_fit() -> None:
    data = "Name,City\nRenée,Genève\nAndré,Zürich\n".encode("latin-1") + b"Ol\x8da,Oslo\n"
    info, rows = read(data)
    assert info.encoding == "iso8859-1"
    assert rows[0].values["City"] == "Genève"
    assert rows[2].values["Name"] == "Ol\x8da"


def test_declared_encoding_is_used_not_detected() -> None:
    info, rows = read("Name\nJosé\n".encode("cp1252"), encoding="windows-1252")
    assert (info.encoding, info.encoding_detected) == ("cp1252", False)
    assert rows[0].values["Name"] == "José"


def test_declared_utf8_for_a_bom_file_drops_the_bom() -> None:
    info, _ = read(hubspot_contacts(2), encoding="utf-8")
    assert info.encoding == "utf-8-sig"
    assert info.headers[0] == "Record ID"


def test_declared_encoding_that_does_not_decode_is_refused_naming_both() -> None:
    err = unreadable("Name,City\nJosé,Pune\nZoë,Goa\n".encode("cp1252"), encoding="utf-8")
    assert err.field == "encoding"
    assert "'utf-8'" in err.reason
    assert "cp1252" in err.reason


def test_declared_utf16_for_an_8bit_file_is_refused() -> None:
    err = unreadable(b"Name,City\nAsha,Pune\n", encoding="utf-16")
    assert err.field == "encoding"
    assert "'utf-16'" in err.reason
    assert "8-bit" in err.reason


def test_declared_8bit_for_utf16_or_utf8_text_is_refused() -> None:
    assert "UTF-16" in unreadable(excel_unicode_text(), encoding="cp1252").reason
    err = unreadable("Name\nZoë Fernandes\n".encode(), encoding="latin-1")
    assert "utf-8" in err.reason


def test_unknown_declared_encoding_is_refused() -> None:
    err = unreadable(b"Name\nAsha\n", encoding="klingon-8")
    assert (err.field, err.value) == ("encoding", "klingon-8")


def _padded(rows: int = 1500) -> str:
    """Enough plain ASCII rows to push what follows past the 64 KB detection sample."""
    return "".join(
        f"Person {n},person{n}@example.in,plain ascii filler text\n" for n in range(rows)
    )


def test_bytes_invalid_in_the_detected_encoding_later_make_only_their_row_invalid() -> None:
    head = "Name,Email,Note\n" + _padded()
    data = head.encode() + b"Jos\xe9,jose@example.in,ok\n" + b"Last,last@example.in,ok\n"
    info, rows = read(data)
    assert info.encoding == "utf-8"
    bad = rows[1500]
    assert bad.error == "bytes not valid utf-8 in column 'Name' (0xe9)"
    assert bad.values["Name"] == "Jos\ufffd"
    assert bad.line == 1502
    assert rows[1501] == RawRow(
        1502, {"Name": "Last", "Email": "last@example.in", "Note": "ok"}, None, 1503
    )
    assert sum(row.error is not None for row in rows) == 1


def test_cp1252_undefined_byte_later_names_the_column_and_byte() -> None:
    head = "Name,Email,Note\nJosé,jose@example.in,x\n" + _padded()
    data = head.encode("cp1252") + b"Ana,ana@example.in,bad \x81 byte\n"
    info, rows = read(data, encoding="cp1252")
    assert info.encoding == "cp1252"
    assert rows[-1].error == "bytes not valid cp1252 in column 'Note' (0x81)"
    assert rows[-1].values == {"Name": "Ana", "Email": "ana@example.in", "Note": "bad \ufffd byte"}


def test_a_few_stray_bytes_in_a_utf8_sample_keep_it_utf8() -> None:
    text = "Name,City\n" + "Zoë,Pune\nJosé,Goa\n" * 5
    info, rows = read(text.encode() + b"Ren\xe9e,Paris\n")
    assert info.encoding == "utf-8"
    assert rows[0].values["Name"] == "Zoë"
    assert rows[-1].error == "bytes not valid utf-8 in column 'Name' (0xe9)"


def test_a_truncated_utf16_file_spoils_only_its_last_row() -> None:
    data = b"\xff\xfe" + "Name\tCity\r\nAsha\tPune\r\nRavi\tGoa".encode("utf-16-le") + b"\x00"
    _, rows = read(data)
    assert rows[0].error is None
    assert rows[1].error is not None
    assert "bytes not valid utf-16" in rows[1].error


# --- headers --------------------------------------------------------------------------------


def test_header_names_are_stripped_blank_ones_numbered_duplicates_made_unique() -> None:
    info, rows = read(b' Name ,,Email,Email,"Email (2)", \n a ,b,c,d,e,f\n')
    assert info.headers == ("Name", "column_2", "Email", "Email (2)", "Email (2) (2)", "column_6")
    assert rows[0].values == dict(zip(info.headers, [" a ", "b", "c", "d", "e", "f"], strict=True))


def test_header_after_blank_lines_and_a_bom_inside_the_first_name() -> None:
    info, rows = read(b"\r\n\r\n\xef\xbb\xbfName,City\r\nAsha,Pune\r\n", encoding="utf-8")
    assert info.headers == ("Name", "City")
    assert rows[0].line == 4


def test_header_only_file_has_zero_rows() -> None:
    info, rows = read(b"Name,Email,Phone\r\n")
    assert info.headers == ("Name", "Email", "Phone")
    assert rows == []


def test_a_first_row_of_data_is_no_header() -> None:
    err = unreadable(b"asha@example.in,+91 98300 12345,42\nravi@example.in,9820011122,7\n")
    assert err.field == "file"
    assert err.reason.startswith("the file has no header row")


@pytest.mark.parametrize(
    "first_line",
    [b"2023,2024,2025", b"Asha Rao,9830012345", b"Email,Phone", b"id,123456789"],
)
def test_header_heuristic_is_conservative(first_line: bytes) -> None:
    info, _ = read(first_line + b"\n1,2,3\n")
    assert len(info.headers) >= 2


def test_too_many_header_columns_is_unreadable() -> None:
    header = ",".join(f"c{n}" for n in range(30)).encode()
    err = unreadable(header + b"\n", max_header_columns=20)
    assert "30 columns" in err.reason


def test_an_unclosed_quote_in_the_header_is_unreadable() -> None:
    err = unreadable(b'Name,"Email\nAsha,a@x.in\n')
    assert "header row" in err.reason
    assert "never closed" in err.reason


# --- rows -----------------------------------------------------------------------------------


def test_rows_with_too_many_or_too_few_fields_are_invalid_and_kept() -> None:
    data = b"a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5,6,7\n1,2,3\nx,y,z,w,v\n"
    _, rows = read(data)
    assert [row.error for row in rows] == [
        None,
        "row has 7 fields, the header has 5",
        "row has 3 fields, the header has 5",
        None,
    ]
    assert rows[1].values == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    assert rows[2].values == {"a": "1", "b": "2", "c": "3", "d": "", "e": ""}
    assert [row.number for row in rows] == [1, 2, 3, 4]


def test_blank_lines_and_empty_records_are_skipped_and_not_numbered() -> None:
    _, rows = read(b"Name,City\n\nAsha,Pune\n   \n,,\n\r\nRavi,Goa\n\n")
    assert [(row.number, row.line, row.values["Name"]) for row in rows] == [
        (1, 3, "Asha"),
        (2, 7, "Ravi"),
    ]


def test_every_value_is_text() -> None:
    _, rows = read(b"a,b,c\n1,,3\n,,x\n")
    assert all(isinstance(v, str) for row in rows for v in row.values.values())


def test_a_cell_longer_than_the_limit_makes_only_its_row_invalid() -> None:
    _, rows = read(b"Name,Note\nAsha,short\nRavi,far too long a note\nMia,ok\n", max_cell_chars=10)
    assert rows[1].error == "the cell in column 'Note' has 19 characters (at most 10)"
    assert rows[1].values == {"Name": "Ravi", "Note": ""}
    assert [rows[0].error, rows[2].error] == [None, None]
    assert rows[2].values == {"Name": "Mia", "Note": "ok"}


def test_a_10_mb_cell_in_the_middle_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "big-cell.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Name,Notes,City\n")
        out.writelines(f"Before {n},note {n},Pune\n" for n in range(100))
        out.write('Huge,"' + "x" * (10 * 1024 * 1024) + '",Goa\n')
        out.writelines(f"After {n},note {n},Goa\n" for n in range(100))
    _, rows = read(path)
    assert len(rows) == 201
    assert (
        rows[100].error
        == "the cell in column 'Notes' has 10,485,760 characters (at most 1,000,000)"
    )
    assert rows[100].values == {"Name": "Huge", "Notes": "", "City": "Goa"}
    assert rows[101] == RawRow(
        102, {"Name": "After 0", "Notes": "note 0", "City": "Goa"}, None, 103
    )
    assert rows[-1].values["Name"] == "After 99"
    assert sum(row.error is not None for row in rows) == 1


def test_a_nul_byte_makes_its_row_invalid_and_no_other() -> None:
    _, rows = read(b"Name,City\r\nAsha,Pune\r\nRa\x00vi,Goa\r\nMia,Delhi\r\n")
    assert rows[1].error == "contains a NUL byte in column 'Name'"
    assert rows[1].values == {"Name": "Ra\ufffdvi", "City": "Goa"}
    assert [rows[0].values["Name"], rows[2].values["Name"]] == ["Asha", "Mia"]
    assert [rows[0].error, rows[2].error] == [None, None]


def test_several_problems_in_one_row_are_all_named() -> None:
    _, rows = read(b"Name,City\nRa\x00vi,Goa,extra\n")
    assert (
        rows[0].error == "row has 3 fields, the header has 2; contains a NUL byte in column 'Name'"
    )


def test_an_unclosed_quote_running_to_the_end_resumes_after_its_line() -> None:
    data = b'Name,Note\nAsha,fine\nRavi,"never closed\nMia,ok\nZed,plain\n'
    _, rows = read(data)
    assert rows[1].error == "unclosed quote opened on line 3 (it runs to the end of the file)"
    assert rows[1].values == {"Name": "Ravi", "Note": "never closed"}
    assert [(row.number, row.line, row.values["Name"], row.error) for row in rows] == [
        (1, 2, "Asha", None),
        (2, 3, "Ravi", rows[1].error),
        (3, 4, "Mia", None),
        (4, 5, "Zed", None),
    ]


def test_a_stray_quote_closed_by_a_later_one_gives_the_swallowed_rows_back() -> None:
    data = b'Name,Note\nAsha,fine\nRavi,"stray\nMia,ok\nZed,"fine, quoted"\nLast,x\n'
    _, rows = read(data)
    assert rows[1].error == (
        "unclosed quote opened on line 3 (read on to line 5 it gives 3 fields, the header has 2)"
    )
    assert [(row.line, row.values, row.error) for row in rows[2:]] == [
        (4, {"Name": "Mia", "Note": "ok"}, None),
        (5, {"Name": "Zed", "Note": "fine, quoted"}, None),
        (6, {"Name": "Last", "Note": "x"}, None),
    ]


def test_an_unclosed_quote_running_past_1000_lines_gives_the_rows_after_it_back() -> None:
    good = "".join(f"Person {n},note {n}\n" for n in range(1500))
    _, rows = read(('Name,Note\nBroken,"opens here\n' + good).encode())
    assert (
        rows[0].error == "unclosed quote opened on line 2 (the quoted field runs past 1000 lines)"
    )
    assert len(rows) == 1501
    assert rows[1] == RawRow(2, {"Name": "Person 0", "Note": "note 0"}, None, 3)
    assert rows[-1] == RawRow(1501, {"Name": "Person 1499", "Note": "note 1499"}, None, 1502)
    assert all(row.error is None for row in rows[1:])


def test_a_multiline_quoted_field_past_max_cell_chars_is_cut_off() -> None:
    data = b'Name,Note\nBroken,"' + b"long line of text\n" * 20 + b'end"\nMia,ok\n'
    _, rows = read(data, max_cell_chars=100)
    assert rows[0].error == (
        "unclosed quote opened on line 2 (the quoted field runs past 100 characters)"
    )
    assert rows[-1] == RawRow(len(rows), {"Name": "Mia", "Note": "ok"}, None, 23)


def test_a_legit_multiline_field_is_one_row() -> None:
    note = "\n".join(f"line {n}" for n in range(200))
    _, rows = read(_csv_text(["Name", "Note"], [["Asha", note], ["Ravi", "x"]]).encode())
    assert [row.values["Note"] for row in rows] == [note, "x"]
    assert [row.line for row in rows] == [2, 202]


# --- files that cannot be read --------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   ", b"\n\n\r\n", b"\xef\xbb\xbf\r\n", b" \t \n"])
def test_an_empty_file_is_unreadable(data: bytes) -> None:
    assert unreadable(data).reason == "the file is empty"


def test_a_file_of_only_delimiters_is_empty() -> None:
    assert unreadable(b",,,\n , ,\n\n" + b"\n" * 70_000).reason == "the file is empty"


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml\x00\x00xl/workbook.xml", "Excel workbook"),
        (
            b"PK\x03\x04\x14\x00\x00\x00mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
            "OpenDocument",
        ),
        (b"PK\x03\x04" + bytes(40), "ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Excel 97-2003"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        (b"Name,City\n" + b"\x00\x01\x02\x03garbage" * 50, "binary data"),
    ],
)
def test_binary_files_are_refused_saying_what_they_look_like(data: bytes, looks_like: str) -> None:
    err = unreadable(data)
    assert err.field == "file"
    assert looks_like in err.reason
    assert "not a CSV or JSON Lines file" in err.reason


def test_an_xlsx_is_told_to_be_saved_as_csv() -> None:
    err = unreadable(b"PK\x03\x04\x14\x00xl/worksheets/sheet1.xml", file_name="leads.xlsx")
    assert "Excel workbook (.xlsx)" in err.reason
    assert "save it as CSV" in err.reason
    assert err.value == "leads.xlsx"


def test_a_json_document_is_told_to_be_json_lines() -> None:
    err = unreadable(b'[\n  {"name": "Asha"}\n]\n')
    assert "JSON document" in err.reason


def test_a_missing_path_is_unreadable(tmp_path: Path) -> None:
    err = unreadable(tmp_path / "nope.csv")
    assert "there is no file" in err.reason


# --- JSON Lines -----------------------------------------------------------------------------


def test_json_lines_values_become_text() -> None:
    lines = [
        {"name": "Asha", "age": 31, "budget": 1.25, "vip": True, "notes": None},
        {"name": "Ravi", "tags": ["hot", "nri"], "address": {"city": "Pune"}, "budget": 1e7},
    ]
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    info, rows = read(data)
    assert (info.format, info.delimiter) == ("jsonl", None)
    assert info.headers == ("name", "age", "budget", "vip", "notes", "tags", "address")
    assert rows[0].values == {
        "name": "Asha",
        "age": "31",
        "budget": "1.25",
        "vip": "true",
        "notes": "",
        "tags": "",
        "address": "",
    }
    assert rows[1].values["tags"] == '["hot","nri"]'
    assert rows[1].values["address"] == '{"city":"Pune"}'
    assert rows[1].values["budget"] == "10000000.0"


def test_json_lines_bad_lines_are_invalid_rows_with_their_line_number() -> None:
    data = b'{"a": 1}\n\n{"a": 2,}\n[1, 2]\n"text"\n{"a": 3}\n'
    _, rows = read(data, file_name="export.ndjson")
    assert [(row.number, row.line) for row in rows] == [(1, 1), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert rows[1].error is not None
    assert rows[1].error.startswith("line 3 is not valid JSON")
    assert rows[2].error == "line 4 holds an array, not a JSON object"
    assert rows[3].error == "line 5 holds a string, not a JSON object"
    assert [rows[0].values, rows[4].values] == [{"a": "1"}, {"a": "3"}]


def test_json_lines_headers_come_from_the_first_1000_lines_but_values_keep_later_keys() -> None:
    lines = [json.dumps({"id": n, "name": f"P{n}"}) for n in range(1000)]
    lines.append(json.dumps({"id": 1000, "late": "x"}))
    info, rows = read("\n".join(lines).encode(), format="jsonl")
    assert info.headers == ("id", "name")
    assert rows[-1].values == {"id": "1000", "name": "", "late": "x"}


def test_json_lines_in_cp1252_with_a_nul_and_a_bad_byte() -> None:
    good = '{"name": "José"}\n'.encode("cp1252")
    data = good + b'{"name": "R\x00avi"}\n' + good
    info, rows = read(data, file_name="people.jsonl")
    assert info.format == "jsonl"
    assert rows[1].error == "contains a NUL byte in column 'name'"
    assert rows[2].values == {"name": "José"}


def test_json_lines_that_are_not_objects_at_all_are_unreadable() -> None:
    err = unreadable(b"not json\nneither\n", format="jsonl")
    assert "does not look like JSON Lines" in err.reason


def test_a_long_json_value_makes_its_row_invalid() -> None:
    _, rows = read(b'{"a": "xxxxxxxxxxxxxxxxxxxx", "b": 1}\n{"a": "ok"}\n', max_cell_chars=10)
    assert rows[0].error == "the cell in column 'a' has 20 characters (at most 10)"
    assert rows[0].values == {"a": "", "b": "1"}
    assert rows[1].error is None


# --- records from code ----------------------------------------------------------------------


RECORDS = [
    {"name": "Asha", "budget": Decimal("1.20"), "visited": date(2024, 5, 1), "tags": ["a"]},
    {"name": "Ravi", "phone": 9830012345, "vip": False, "notes": None},
    ["not", "a", "mapping"],
]


def test_records_become_text_rows_and_a_list_reads_twice() -> None:
    with open_source(RECORDS) as source:
        info = source.info
        first, second = list(source.rows()), list(source.rows())
    assert (info.format, info.encoding, info.delimiter, info.byte_size) == (
        "records",
        None,
        None,
        0,
    )
    assert info.headers == ("name", "budget", "visited", "tags", "phone", "vip", "notes")
    assert first == second
    assert first[0].values["budget"] == "1.20"
    assert first[0].values["visited"] == "2024-05-01"
    assert first[0].values["tags"] == '["a"]'
    assert first[1].values["vip"] == "false"
    assert first[1].values["notes"] == ""
    assert first[1].values["phone"] == "9830012345"
    assert first[2].error == "item 3 is not a mapping (it is a list)"
    assert all(row.line is None for row in first)


def test_a_generator_of_records_is_spooled_so_it_reads_twice_with_the_same_hash() -> None:
    def generate() -> Iterator[object]:
        yield from RECORDS

    listed = open_source(RECORDS)
    with open_source(generate()) as spooled:
        assert spooled.info == listed.info
        assert list(spooled.rows()) == list(spooled.rows()) == list(listed.rows())


def test_records_hash_follows_content_not_key_order() -> None:
    one = open_source([{"a": 1, "b": 2}]).info.content_sha256
    assert open_source([{"b": 2, "a": 1}]).info.content_sha256 == one
    assert open_source([{"a": 1, "b": 3}]).info.content_sha256 != one


def test_records_with_a_nul_or_a_long_value_are_invalid_rows() -> None:
    _, rows = read([{"a": "x\x00y"}, {"a": "z" * 20}], max_cell_chars=10)
    assert rows[0].error == "contains a NUL byte in column 'a'"
    assert rows[0].values == {"a": "x\ufffdy"}
    assert rows[1].error == "the cell in column 'a' has 20 characters (at most 10)"


def test_no_records_is_a_source_with_no_rows() -> None:
    info, rows = read([])
    assert (info.headers, rows) == ((), [])


# --- paths, bytes and streams ---------------------------------------------------------------


def test_path_bytes_and_streams_give_the_same_info_and_rows(tmp_path: Path) -> None:
    data = salesforce_leads(5)
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    expected = read(data)
    assert read(path) == expected
    assert read(str(path)) == expected
    assert read(io.BytesIO(data)) == expected
    assert read(_OneWay(data)) == expected
    assert expected[0].content_sha256 == hashlib.sha256(data).hexdigest()


class _OneWay(io.RawIOBase):
    """A stream that cannot seek, like a pipe or an upload body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_seekable_stream_is_read_from_where_it_stood_and_rows_interleave() -> None:
    stream = io.BytesIO(b"junk before\n" + b"Name\nA\nB\nC\n")
    stream.seek(12)
    with open_source(stream) as source:
        one, two = source.rows(), source.rows()
        pairs = [(next(one).values, next(two).values) for _ in range(3)]
    assert pairs == [({"Name": v}, {"Name": v}) for v in "ABC"]


def test_a_stream_closed_by_its_owner_is_reported_when_read() -> None:
    stream = io.BytesIO(b"Name\nA\n")
    source = open_source(stream)
    stream.close()
    with pytest.raises(UnreadableImport, match="stream was closed") as caught:
        list(source.rows())
    assert caught.value.field == "source"


def test_a_spooled_stream_reads_twice_and_close_releases_it() -> None:
    source = open_source(_OneWay(hubspot_contacts(3)))
    assert list(source.rows()) == list(source.rows())
    source.close()
    source.close()
    with pytest.raises(UnreadableImport, match="closed"):
        source.rows()


def test_a_text_stream_is_a_bad_argument() -> None:
    with pytest.raises(ValidationFailed) as caught:
        open_source(io.StringIO("Name\nAsha\n"))
    assert caught.value.field == "source"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"format": "records"}, "format"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"delimiter": '"'}, "delimiter"),
        ({"max_cell_chars": 0}, "max_cell_chars"),
        ({"max_header_columns": 0}, "max_header_columns"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        open_source(b"Name\nAsha\n", **options)
    assert caught.value.field == field
    assert not isinstance(caught.value, UnreadableImport)


def test_records_cannot_be_read_as_csv_and_one_mapping_is_not_records() -> None:
    with pytest.raises(ValidationFailed) as as_csv:
        open_source([{"a": 1}], format="csv")
    assert as_csv.value.field == "format"
    with pytest.raises(ValidationFailed) as one:
        open_source({"a": 1})
    assert one.value.field == "source"


def test_the_format_is_guessed_from_name_or_first_character() -> None:
    assert read(b'{"a": 1}\n')[0].format == "jsonl"
    assert read(b'"a"\n{"a": 1}\n', file_name="x.ndjson")[1][0].error is not None
    assert read(b'{"a": 1}\n', format="csv")[0].headers == ('{"a": 1}',)


# --- round trip and resource bounds ---------------------------------------------------------

_CELL_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\uffff"
    ).filter(lambda c: c.isprintable())
    | st.sampled_from([",", ";", "\t", "|", '"', "\n", "\r", " "]),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(2, 5),
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_written_tables_read_back_exactly(
    width: int, data: st.DataObject, delimiter: str, encoding: str, newline: str
) -> None:
    headers = data.draw(
        st.lists(
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
            min_size=width,
            max_size=width,
            unique=True,
        )
    )
    cell = _CELL_TEXT
    if newline == "\n":  # csv.writer quotes a lone CR only when it is part of its line end
        cell = cell.map(lambda t: t.replace("\r", ""))
    if encoding == "cp1252":
        cell = cell.filter(_fits_cp1252)
    rows = data.draw(
        st.lists(
            st.tuples(st.text("abcxyz", min_size=1, max_size=5), *[cell] * (width - 1)),
            max_size=8,
        )
    )
    text = _csv_text(
        headers, [list(row) for row in rows], delimiter=delimiter, lineterminator=newline
    )
    declared = "cp1252" if encoding == "cp1252" else None
    info, parsed = read(text.encode(encoding), encoding=declared)
    assert info.headers == tuple(headers)
    assert info.delimiter == delimiter
    assert [tuple(row.values.values()) for row in parsed] == rows
    assert all(row.error is None for row in parsed)


def _fits_cp1252(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def test_memory_stays_bounded_on_a_50_mb_file(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    filler = "x" * 90
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(f"Column {n}" for n in range(10)) + "\n")
        out.writelines(
            ",".join(f"{n}-{c}-{filler}" for c in range(10)) + "\n" for n in range(52_000)
        )
    assert path.stat().st_size > 50_000_000
    tracemalloc.start()
    try:
        with open_source(path) as source:
            count = sum(1 for _ in source.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 52_000
    assert peak < 8 * 1024 * 1024  # about 0.5 MB in practice; the file is 50 MB
