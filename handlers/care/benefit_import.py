"""Reading a benefits file (CSV or XLSX, header row, UTF-8 with or without BOM).

Every row is validated before anything is written: the caller gets the good benefits
and a list of (row, column, reason) for the bad ones, rows counted with the header as
row 1, and decides (all-or-nothing by default, `--skip-bad` to import the good ones).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from handlers.join.common import parse_province
from storage.care import NATIONWIDE, Benefit, BenefitCategory, fold_text

COLUMNS = (
    "key",
    "title",
    "partner",
    "category",
    "provinces",
    "gives",
    "how_to_claim",
    "valid_from",
    "valid_until",
    "link",
    "members_only",
)
REQUIRED = ("key", "title", "partner", "category", "provinces", "gives", "how_to_claim")
MAX_ROWS = 10_000
MAX_TEXT = 500

_CATEGORY_WORDS = {
    "mua sam": "shopping",
    "suc khoe": "health",
    "y te": "health",
    "hoc tap": "education",
    "giao duc": "education",
    "du lich": "travel",
    "di lai": "travel",
    "tai chinh": "finance",
    "ngan hang": "finance",
    "khac": "other",
}
_YES = {"1", "yes", "y", "true", "co", "x"}
_NO = {"", "0", "no", "n", "false", "khong"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV/XLSX, not UTF-8, no header...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The data rows as {column: value}, header names normalised to COLUMNS."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".xlsx" or (suffix != ".csv" and data[:4] == b"PK\x03\x04"):
        table = _xlsx(data)
    elif suffix in (".csv", ".txt") or suffix == "":
        table = _csv(data)
    else:
        raise ImportFileError(f"not a CSV or XLSX file: {path.name}")
    if not table or not any(str(c or "").strip() for c in table[0]):
        raise ImportFileError("the file has no header row")
    header = [fold_text(str(c or "")).replace(" ", "_") for c in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(f"missing column(s): {', '.join(missing)}")
    if len(table) - 1 > MAX_ROWS:
        raise ImportFileError(f"more than {MAX_ROWS} rows")
    return [{name: (row[i] if i < len(row) else None) for i, name in enumerate(header)} for row in table[1:]]


def _csv(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFileError(f"not UTF-8 text (byte {e.start}); save the file as CSV UTF-8") from None
    if "\x00" in text:
        raise ImportFileError("not a CSV file (binary content)")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    except csv.Error as e:  # a cell over the csv module's field limit, a stray quote at the end...
        raise ImportFileError(f"not a readable CSV file ({e})") from None


def _xlsx(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise ImportFileError(f"not a readable XLSX file ({type(e).__name__})") from None
    try:
        sheet = book.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True) if any(c not in (None, "") for c in r)]
    finally:
        book.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text[:30]!r} (use YYYY-MM-DD or DD/MM/YYYY)")


def _category(value: str) -> BenefitCategory:
    folded = fold_text(value)
    try:
        return BenefitCategory(_CATEGORY_WORDS.get(folded, folded))
    except ValueError:
        raise ValueError(
            f"unknown category {value[:30]!r} (one of: {', '.join(c.value for c in BenefitCategory)})"
        ) from None


def _provinces(value: str) -> tuple[str, ...]:
    parts = [p.strip() for p in value.replace(";", "|").replace(",", "|").split("|") if p.strip()]
    if not parts:
        raise ValueError("empty")
    if NATIONWIDE in parts:
        return (NATIONWIDE,)
    ids = []
    for part in parts:
        province, _ = parse_province(part)
        if province is None:
            raise ValueError(f"unknown province {part[:40]!r}")
        ids.append(province)
    return tuple(dict.fromkeys(ids))


def parse_benefits(rows: list[dict[str, Any]]) -> tuple[list[Benefit], list[RowError]]:
    good: list[Benefit] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(rows, start=2):
        row_errors: list[RowError] = []

        def field(
            name: str, *, required: bool, n: int = n, row_errors: list[RowError] = row_errors, raw: dict[str, Any] = raw
        ) -> str:
            value = _text(raw.get(name))
            if required and not value:
                row_errors.append(RowError(n, name, "empty"))
            elif len(value) > MAX_TEXT:
                row_errors.append(RowError(n, name, f"longer than {MAX_TEXT} characters"))
            return value

        key, title = field("key", required=True), field("title", required=True)
        partner = field("partner", required=True)
        gives, how = field("gives", required=True), field("how_to_claim", required=True)
        category_text, provinces_text = field("category", required=True), field("provinces", required=True)
        link = field("link", required=False) or None
        category = provinces = None
        if category_text:
            try:
                category = _category(category_text)
            except ValueError as e:
                row_errors.append(RowError(n, "category", str(e)))
        if provinces_text:
            try:
                provinces = _provinces(provinces_text)
            except ValueError as e:
                row_errors.append(RowError(n, "provinces", str(e)))
        dates: dict[str, date | None] = {}
        for name in ("valid_from", "valid_until"):
            try:
                dates[name] = _date(raw.get(name))
            except ValueError as e:
                row_errors.append(RowError(n, name, str(e)))
        valid_from, valid_until = dates.get("valid_from"), dates.get("valid_until")
        if valid_from and valid_until and valid_until < valid_from:
            row_errors.append(RowError(n, "valid_until", "before valid_from"))
        members = fold_text(_text(raw.get("members_only")))
        if members not in _YES | _NO:
            row_errors.append(RowError(n, "members_only", f"not yes/no: {members[:20]!r}"))
        if link and not link.startswith(("https://", "http://")):
            row_errors.append(RowError(n, "link", "not a web address (http:// or https://)"))
        if key and key in seen:
            row_errors.append(RowError(n, "key", f"same key as row {seen[key]}"))
        if key:
            seen.setdefault(key, n)
        if row_errors or category is None or provinces is None:
            errors += row_errors
            continue
        good.append(
            Benefit(
                key=key,
                title=title,
                partner=partner,
                category=category,
                provinces=provinces,
                gives=gives,
                how_to_claim=how,
                valid_from=dates.get("valid_from"),
                valid_until=dates.get("valid_until"),
                link=link,
                members_only=members in _YES,
            )
        )
    return good, errors
