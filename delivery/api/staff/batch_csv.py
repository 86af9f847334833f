"""Reading a CSV batch file: its encoding, its columns, its rows — before anything is stored.

A clerk's CSV comes from Excel or WPS: UTF-8 (with or without a byte-order mark) or GBK. The
bytes are tried as UTF-8 strictly, then as GBK; the one that fits is recorded with the batch.
Anything that is not a readable CSV with the required columns is refused as a whole
(:class:`CsvRejected`, nothing stored). Otherwise every row is returned with every problem this
file alone can show (a document not among the uploaded files, an unknown kind, a reference
repeated in the file); the dispatch itself is validated afterwards, row by row, by the API's
parser, whose problems are added to these — a row with five problems lists five.

Row numbers are as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Blank rows are skipped (spreadsheets leave them at the end).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath

from delivery.api.staff.flat_dispatch import COLUMNS
from delivery.domain import DOCUMENT_KINDS

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
REQUIRED = (
    "reference",
    "case_number",
    "recipient_name",
    "recipient_role",
    "id_number",
    "documents",
    "document_kinds",
)
SEPARATOR = ";"
BOM = b"\xef\xbb\xbf"


class CsvRejected(Exception):
    """The file as a whole cannot be read as a batch; ``reason`` is shown to the clerk."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CsvRow:
    row: int
    fields: dict[str, str]
    # (file name, kind) per document, in the row's order
    documents: list[tuple[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.fields.get("reference", "").strip()

    def error(self, column: str, message: str) -> None:
        self.errors.append({"field": column, "message": message})


@dataclass(frozen=True)
class CsvFile:
    encoding: str  # "utf-8", "utf-8-sig" (with a byte-order mark) or "gbk"
    rows: list[CsvRow]


def document_title(file_name: str) -> str:
    """A document's title is its file name without the extension (民事起诉状.pdf → 民事起诉状)."""
    return PurePath(file_name).stem or file_name


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 strictly (a byte-order mark is dropped), else GBK."""
    candidates = ("utf-8-sig",) if data.startswith(BOM) else ("utf-8", "gbk")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, encoding
    raise CsvRejected("the file is not CSV text in UTF-8 or GBK (save it as CSV from the sheet)")


def _header(cells: list[str]) -> list[str]:
    names = [c.strip().lower() for c in cells]
    named = [n for n in names if n]
    unknown = sorted(set(named) - set(COLUMNS))
    if unknown:
        raise CsvRejected(f"unknown columns: {', '.join(unknown)} (the template lists the columns)")
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise CsvRejected(f"columns named twice: {', '.join(repeated)}")
    missing = [c for c in REQUIRED if c not in named]
    if missing:
        raise CsvRejected(f"missing columns: {', '.join(missing)}; nothing was queued")
    return names


def _row(number: int, header: list[str], cells: list[str], files: set[str]) -> CsvRow:
    row = CsvRow(number, {})
    for i, value in enumerate(cells):
        name = header[i] if i < len(header) else ""
        if name:
            row.fields[name] = value.strip()
        elif value.strip():
            row.error(f"column {i + 1}", "a value in a column without a header")
    names = [n.strip() for n in row.fields.get("documents", "").split(SEPARATOR) if n.strip()]
    kinds = [k.strip() for k in row.fields.get("document_kinds", "").split(SEPARATOR) if k.strip()]
    if not names:
        row.error("documents", "required: the file names of the row's documents, separated by ;")
    for name in names:
        if name not in files:
            row.error("documents", f"no uploaded file is named {name}")
    known = ", ".join(sorted(DOCUMENT_KINDS))
    for kind in sorted(set(kinds) - DOCUMENT_KINDS):
        row.error("document_kinds", f"unknown kind {kind}; one of {known}")
    if len(kinds) == 1:
        kinds = kinds * len(names)
    if names and len(kinds) != len(names):
        row.error("document_kinds", "give one kind for every document, or one kind for all")
    elif names:
        row.documents = list(zip(names, kinds, strict=True))
    return row


def _repeated_references(rows: list[CsvRow]) -> None:
    seen: dict[str, list[CsvRow]] = defaultdict(list)
    for row in rows:
        if row.reference:
            seen[row.reference].append(row)
    for same in seen.values():
        if len(same) > 1:
            numbers = ", ".join(str(r.row) for r in same)
            for row in same:
                row.error("reference", f"the same reference is on rows {numbers}")


def read_csv(data: bytes, files: set[str]) -> CsvFile:
    """The rows of a batch file; ``files`` are the names of the uploaded documents."""
    if len(data) > MAX_BYTES:
        raise CsvRejected(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it")
    text, encoding = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[CsvRow] = []
    header: list[str] | None = None
    try:
        for number, cells in enumerate(reader, start=1):
            if header is None:
                header = _header(cells)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise CsvRejected(f"more than {MAX_ROWS} rows: split the file")
            rows.append(_row(number, header, cells, files))
    except csv.Error as exc:
        raise CsvRejected(f"not a well-formed CSV file (line {reader.line_num}: {exc})") from None
    if header is None:
        raise CsvRejected("the file is empty")
    if not rows:
        raise CsvRejected("the file has a header but no rows")
    _repeated_references(rows)
    return CsvFile(encoding, rows)


def template_csv() -> bytes:
    """The downloadable template: UTF-8 with a byte-order mark (so Excel reads the Chinese),
    the header and one example row."""
    example = {
        "reference": "2026-0106-0001",
        "case_number": "(2026)浙0106民初1234号",
        "recipient_name": "张三",
        "recipient_role": "defendant",
        "id_number": "33010619900101123X",
        "consent": "是",
        "consent_basis": "express",
        "email": "zhang.san@example.com",
        "email_source": "recipient_confirmed",
        "phone": "+8613800138000",
        "phone_source": "recipient_confirmed",
        "postal_address": "浙江省杭州市西湖区文三路100号",
        "postcode": "310012",
        "postal_source": "court_found",
        "hearing_at": "2027-01-20 09:30",
        "policy": "cn-civil",
        "locale": "zh-CN",
        "documents": "民事起诉状.pdf;传票.pdf",
        "document_kinds": "complaint;summons",
        "clerk": "",
    }
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([example[c] for c in COLUMNS])
    return BOM + out.getvalue().encode("utf-8")
