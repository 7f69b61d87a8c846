"""Importing sign-ups collected on paper (a factory-gate sheet typed into Excel) or a file
the console or `unionbot signups export` produced.

Each row goes through the chat form's own checks (names.clean_name, phone.parse_vn_mobile,
common.clean_text, common.parse_province with old province names), and every problem is
named with its row and column before anything is stored. A phone number twice in the file
is merged into its first row; a number already signed up stays exactly as it is (the
store's import inserts only new numbers), so importing an export back changes nothing.
Consent is recorded as collected on paper, on the date the sheet gives.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo

from handlers.join.common import clean_text, parse_province
from handlers.join.form import COMMUNE_LENGTH, WORKPLACE_LENGTH
from handlers.join.names import clean_name
from handlers.join.phone import parse_vn_mobile
from storage.signups import PAPER_CHANNEL, SignupDraft, SignupSource

PAPER_CONSENT = "paper"
MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024

# Column headings people write, folded (no diacritics, lower case, single spaces).
_COLUMNS: dict[str, str] = {}
for _key, _names in {
    "name": ("ho ten", "ho va ten", "ten", "name", "full name", "fullname"),
    "phone": ("so dien thoai", "dien thoai", "sdt", "so dt", "phone", "phone number", "mobile"),
    "workplace": ("noi lam viec", "cong ty", "doanh nghiep", "workplace", "company", "employer"),
    "province": ("tinh/thanh pho", "tinh", "tinh thanh", "tinh/tp", "thanh pho", "province", "province/city"),
    "commune": ("xa/phuong/kcn", "xa/phuong", "xa phuong", "phuong/xa", "kcn", "commune", "commune/ward", "ward"),
    "date": ("ngay dang ky", "thoi gian dang ky", "ngay", "date", "signed up at", "signup date"),
}.items():
    for _name in _names:
        _COLUMNS[_name] = _key
REQUIRED = ("name", "phone", "workplace", "province")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", str(text).strip().lower()).replace("đ", "d")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return " ".join(text.replace(" / ", "/").split())


@dataclass(frozen=True, slots=True)
class Problem:
    row: int  # as the spreadsheet numbers it (the heading is row 1)
    column: str  # a REQUIRED/optional key, or "" for the whole row/file
    code: str  # catalog key suffix: console.import.err.<code>
    value: str = ""


@dataclass(slots=True)
class ImportRow:
    row: int
    draft: SignupDraft
    signed_at: datetime


@dataclass(slots=True)
class ImportPlan:
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    merged: int = 0  # rows whose phone number appeared earlier in the file

    @property
    def ok(self) -> bool:
        return not self.problems


def read_table(data: bytes, filename: str) -> Iterator[list[object]]:
    """The sheet's rows as lists of cell values (CSV with any common delimiter, or XLSX)."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield list(values)
        finally:
            book.close()
        return
    text = data.decode("utf-8-sig")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    for r in csv.reader(io.StringIO(text, newline=""), dialect):
        row: list[object] = list(r)
        yield row


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    # An export's formula guard (a leading apostrophe) is not part of the value.
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@") else text


def _date(value: object, tz: tzinfo, today: date) -> datetime | None:
    if value is None or value == "":
        return datetime.combine(today, time(12, 0), tz)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(12, 0), tz)
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz) if "%H" in fmt else datetime.combine(parsed.date(), time(12, 0), tz)
    return None


def plan_import(
    table: Iterable[list[object]],
    *,
    scope: frozenset[str] | None,
    tz: tzinfo,
    lang: str,
    today: date,
) -> ImportPlan:
    """Check every row; `scope` the provinces the importer may add to (None: all)."""
    plan = ImportPlan()
    rows = iter(table)
    header = next(rows, None)
    columns: dict[str, int] = {}
    for i, heading in enumerate(header or []):
        key = _COLUMNS.get(_fold(_cell(heading)))
        if key is not None and key not in columns:
            columns[key] = i
    missing = [k for k in REQUIRED if k not in columns]
    if missing:
        plan.problems += [Problem(1, k, "missing_column") for k in missing]
        return plan
    seen: dict[str, int] = {}
    for number, values in enumerate(rows, start=2):
        if number - 1 > MAX_ROWS:
            plan.problems.append(Problem(number, "", "too_many_rows"))
            break

        def get(key: str, values: list[object] = values) -> object:
            i = columns.get(key)
            return values[i] if i is not None and i < len(values) else None

        if all(_cell(v) == "" for v in values):
            continue
        before = len(plan.problems)
        name = clean_name(_cell(get("name")))
        if not name.ok:
            plan.problems.append(Problem(number, "name", "name", _cell(get("name"))))
        phone = parse_vn_mobile(_cell(get("phone")))
        if not phone.ok:
            plan.problems.append(Problem(number, "phone", "phone", _cell(get("phone"))))
        workplace = clean_text(_cell(get("workplace")), min_len=WORKPLACE_LENGTH[0], max_len=WORKPLACE_LENGTH[1])
        if workplace is None:
            plan.problems.append(Problem(number, "workplace", "workplace", _cell(get("workplace"))))
        province, _ = parse_province(_cell(get("province")))
        if province is None:
            plan.problems.append(Problem(number, "province", "province", _cell(get("province"))))
        elif scope is not None and province not in scope:
            plan.problems.append(Problem(number, "province", "out_of_scope", _cell(get("province"))))
        commune_text = _cell(get("commune"))
        commune = None
        if commune_text:
            commune = clean_text(commune_text, min_len=COMMUNE_LENGTH[0], max_len=COMMUNE_LENGTH[1])
            if commune is None:
                plan.problems.append(Problem(number, "commune", "commune", commune_text))
        signed = _date(get("date"), tz, today)
        if signed is None or signed.date() > today:
            plan.problems.append(Problem(number, "date", "date", _cell(get("date"))))
        if len(plan.problems) > before:
            continue
        # Every field checked above: no problem noted, so each holds a value.
        assert phone.e164
        assert name.value
        assert workplace
        assert province
        assert signed
        if phone.e164 in seen:
            plan.merged += 1  # the same person twice on the sheet: one sign-up
            continue
        seen[phone.e164] = number
        plan.rows.append(
            ImportRow(
                number,
                SignupDraft(
                    full_name=name.value,
                    phone_e164=phone.e164,
                    workplace=workplace,
                    province_id=province,
                    commune=commune,
                    source=SignupSource.COLLECTED,
                    volunteer_id=None,
                    consent_version=f"{PAPER_CONSENT}:{signed.date().isoformat()}",
                    consent_lang=lang,
                    consent_channel=PAPER_CHANNEL,
                    owner_id=None,
                ),
                signed,
            )
        )
    return plan
