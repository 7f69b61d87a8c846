"""Sign-up exports for organizers: XLSX and CSV, written row by row as the rows arrive.

Organizers report progress against yearly targets, and they do it in Excel. The
exports keep Vietnamese intact in Excel, never let a worker-typed value run as a
spreadsheet formula, and stream: a federation's 200,000 sign-ups go from the store to
the file a page at a time, so memory stays flat whatever the size (XlsxWriter's
constant-memory mode for XLSX; openpyxl is kept for reading imports only).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

from handlers.i18n import LANGUAGES
from handlers.join.provinces import get_province
from handlers.types import Channel

if TYPE_CHECKING:
    from _csv import Writer as CsvWriter

    from handlers.i18n import Catalog
    from storage import Store
    from storage.console import ConsoleStore, SignupQuery
    from storage.signups import SignupExport, SignupStore

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "NO_DOCUMENTS",
    "TELEGRAM_DOCUMENT_LIMIT",
    "VN_TZ",
    "ExportJob",
    "ExportResult",
    "Exporter",
    "InProcessExporter",
    "Progress",
    "QueryExportJob",
    "SignupRow",
    "XlsxStream",
    "csv_header",
    "csv_lines",
    "document_limit",
    "export_csv",
    "export_xlsx",
    "finish_file",
    "run_export_job",
    "write_export_file",
    "write_query_export",
]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T = TypeVar("T")


class SignupRow(NamedTuple):
    """One exported line, labels already in the reader's language (a tuple: exports build 200,000)."""

    id: int
    created_at: datetime  # aware (stored UTC) or naive local Vietnam time
    full_name: str
    phone_e164: str
    workplace: str | None
    province_id: str | None
    commune: str | None  # xã/phường: the level below the province since July 2025
    source: str | None  # channel or campaign the sign-up came from
    volunteer_code: str | None
    status: str
    notes: str | None


# Column headings live here rather than in the message catalogs because they are part
# of a file format organizers build formulas on: they change with the columns, not with
# the bot's wording.
_HEADERS: dict[str, tuple[str, ...]] = {
    "vi": (
        "Mã đăng ký",
        "Thời gian đăng ký",
        "Họ và tên",
        "Số điện thoại",
        "Nơi làm việc",
        "Tỉnh/thành phố",
        "Xã/phường",
        "Nguồn",
        "Mã cộng tác viên",
        "Trạng thái",
        "Ghi chú",
    ),
    "en": (
        "ID",
        "Signed up at",
        "Full name",
        "Phone",
        "Workplace",
        "Province",
        "Commune/ward",
        "Source",
        "Volunteer code",
        "Status",
        "Notes",
    ),
}
_MIN_WIDTH = 8
_MAX_WIDTH = 50
_DATE_WIDTH = 16
_SHEET_TITLE = {"vi": "Đăng ký", "en": "Sign-ups"}
# XML 1.0 cannot hold these; drop them rather than lose the whole export to one pasted
# note (the same set openpyxl refuses).
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported report language: {lang!r} (expected one of {LANGUAGES})")


def _local(moment: datetime, tz: tzinfo) -> datetime:
    """Wall-clock time in `tz`, naive: Excel has no time zones."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(tz).replace(tzinfo=None)


def _province_name(province_id: str | None, lang: str) -> str:
    if not province_id:
        return ""
    province = get_province(province_id)
    # An id from an older data file still shows up rather than vanishing from the report.
    return province.name(lang) if province else province_id


def _values(row: SignupRow, lang: str, tz: tzinfo) -> list[object]:
    return [
        row.id,
        _local(row.created_at, tz),
        row.full_name,
        row.phone_e164,
        row.workplace or "",
        _province_name(row.province_id, lang),
        row.commune or "",
        row.source or "",
        row.volunteer_code or "",
        row.status,
        row.notes or "",
    ]


class XlsxStream:
    """An .xlsx workbook written row by row: one sign-up per row, a bold frozen header in `lang`.

    Times are shown in `tz`. Text cells are always written as text, so a name such as
    "=HYPERLINK(…)" is shown, never evaluated. Use as a context manager; `close()`
    finishes the file (column widths and the filter range are only known at the end).
    """

    def __init__(self, out: str | Path | IO[bytes], *, lang: str, tz: tzinfo = VN_TZ) -> None:
        import xlsxwriter  # only exports need it

        _check_lang(lang)
        self._lang, self._tz = lang, tz
        # strings_to_* off: XlsxWriter would otherwise turn "=..." into a formula and
        # "http://..." into a link; a worker's text must stay inert text.
        self._book = xlsxwriter.Workbook(
            str(out) if isinstance(out, Path) else out,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self._sheet = self._book.add_worksheet(_SHEET_TITLE[lang])
        self._date = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        headers = _HEADERS[lang]
        self._sheet.write_row(0, 0, headers, self._book.add_format({"bold": True}))
        self._sheet.freeze_panes(1, 0)
        self._widths = [len(h) for h in headers]
        self.rows = 0

    def write(self, rows: Iterable[SignupRow]) -> None:
        sheet, widths = self._sheet, self._widths
        for row in rows:
            self.rows += 1
            for column, value in enumerate(_values(row, self._lang, self._tz)):
                if isinstance(value, datetime):
                    sheet.write_datetime(self.rows, column, value, self._date)
                    width = _DATE_WIDTH
                elif isinstance(value, str):
                    if not value:
                        continue  # an empty cell, as openpyxl reads it back
                    value = _ILLEGAL.sub("", value)
                    sheet.write_string(self.rows, column, value)
                    width = max((len(line) for line in value.splitlines()), default=0)
                else:
                    sheet.write_number(self.rows, column, value)  # ids only
                    width = len(str(value))
                if width > widths[column]:
                    widths[column] = width

    def close(self) -> None:
        for column, width in enumerate(self._widths):
            self._sheet.set_column(column, column, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))
        self._sheet.autofilter(0, 0, self.rows, len(self._widths) - 1)
        self._book.close()

    def __enter__(self) -> XlsxStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def export_xlsx(rows: Iterable[SignupRow], *, lang: str, tz: tzinfo = VN_TZ) -> bytes:
    """The whole workbook as bytes: for small sets (tests, a few hundred rows)."""
    buffer = io.BytesIO()
    with XlsxStream(buffer, lang=lang, tz=tz) as book:
        book.write(rows)
    return buffer.getvalue()


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and carriage return per OWASP; the full-width forms for CJK-locale Excel).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _is_e164(value: str) -> bool:
    return value.startswith("+") and value[1:].isascii() and value[1:].isdigit()


def _neutralise(value: str) -> str:
    # Leading spaces do not stop every spreadsheet from reading a formula.
    if value.lstrip(" ").startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value


_TRIGGER_FIRST = frozenset(_FORMULA_TRIGGERS)


def _neutral_text(value: str) -> str:
    """`_neutralise` with a one-character fast path: most cells start with a letter."""
    if not value or (value[0] not in _TRIGGER_FIRST and value[0] != " "):
        return value
    return _neutralise(value)


def csv_header(out: IO[str], *, lang: str) -> CsvWriter:
    """Start a CSV on a text stream opened with encoding "utf-8-sig" (the BOM makes Excel
    read UTF-8) and newline=""; returns the writer for `csv_lines`."""
    _check_lang(lang)
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(_HEADERS[lang])
    return writer


def csv_lines(writer: CsvWriter, rows: Iterable[SignupRow], *, lang: str, tz: tzinfo = VN_TZ) -> int:
    """Write rows; values a spreadsheet would take for a formula (leading = + - @) get a
    leading apostrophe, except a well-formed E.164 phone number.

    The hot loop of every CSV export (200,000 rows at a federation's size), so the
    per-cell work is inlined rather than spread over helpers.
    """
    count = 0
    neutral = _neutral_text
    provinces: dict[str | None, str] = {}
    for row in rows:
        phone = row.phone_e164
        province = provinces.get(row.province_id)
        if province is None:
            province = provinces[row.province_id] = neutral(_province_name(row.province_id, lang))
        created = row.created_at
        # isoformat(" ", "minutes")[:16] is "YYYY-MM-DD HH:MM" without the offset, and
        # several times cheaper than strftime.
        when = (created.astimezone(tz) if created.tzinfo is not None else created).isoformat(" ", "minutes")[:16]
        writer.writerow(
            (
                row.id,
                when,
                neutral(row.full_name),
                # "+84912345678" is only digits, so it cannot run anything; an apostrophe would
                # corrupt the one column that tools import back.
                phone if phone[:1] == "+" and phone[1:].isdecimal() and phone.isascii() else neutral(phone),
                neutral(row.workplace or ""),
                province,
                neutral(row.commune or ""),
                neutral(row.source or ""),
                neutral(row.volunteer_code or ""),
                neutral(row.status),
                neutral(row.notes or ""),
            )
        )
        count += 1
    return count


def export_csv(rows: Iterable[SignupRow], *, lang: str, tz: tzinfo = VN_TZ) -> bytes:
    """UTF-8 CSV with a byte-order mark, as bytes: for small sets."""
    text = io.StringIO(newline="")
    csv_lines(csv_header(text, lang=lang), rows, lang=lang, tz=tz)
    return text.getvalue().encode("utf-8-sig")


FORMATS = ("xlsx", "csv")


async def _prefetched(pages: AsyncIterator[T]) -> AsyncIterator[T]:
    """Ask the store for the next page while the current one is being written: the
    database thread reads while this thread formats."""
    iterator = aiter(pages)
    upcoming = asyncio.ensure_future(anext(iterator, None))
    try:
        while (page := await upcoming) is not None:
            upcoming = asyncio.ensure_future(anext(iterator, None))
            yield page
    finally:
        upcoming.cancel()


class PageSource(Protocol):
    """Where an export's rows come from: the store (a province export) or a filter."""

    def export_pages(
        self, *, provinces: Collection[str] | None, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]: ...


async def write_export_file(
    store: PageSource,
    out: Path,
    *,
    fmt: str,
    provinces: Collection[str] | None,
    catalog: Catalog,
    lang: str,
    tz: tzinfo = VN_TZ,
    page_size: int = 5000,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Stream the sign-ups of `provinces` from the store into `out`; the number of rows.
    `on_rows` is told the rows written so far after each page.

    The file is written under a temporary name beside `out` and renamed into place only
    when complete, so an interrupted export never leaves half a file under the asked name.
    File writes block: this runs in the export worker process or the CLI, never on the
    bot's event loop.
    """
    from handlers.join.common import export_rows  # common imports the handler context

    if fmt not in FORMATS:
        raise ValueError(f"unsupported export format: {fmt!r}")
    os.makedirs(out.parent, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    tmp = Path(tmp_name)
    count = 0
    pages = _prefetched(store.export_pages(provinces=provinces, page_size=page_size))
    try:
        with os.fdopen(fd, "wb") as raw:
            if fmt == "xlsx":
                with XlsxStream(raw, lang=lang, tz=tz) as book:
                    async for page in pages:
                        book.write(export_rows(page, catalog, lang))
                        if on_rows is not None:
                            on_rows(book.rows)
                count = book.rows
            else:
                # The BOM by hand: the utf-8-sig codec encodes in Python, utf-8 in C.
                raw.write(codecs.BOM_UTF8)
                with io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                    writer = csv_header(text, lang=lang)
                    async for page in pages:
                        count += csv_lines(writer, export_rows(page, catalog, lang), lang=lang, tz=tz)
                        if on_rows is not None:
                            on_rows(count)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return count


# -- export jobs (the chat's /export) -------------------------------------------------------
# Telegram bots may send documents of up to 50 MB (Bot API sendDocument). The Zalo
# adapters send no documents at all (see handlers/catalog/zalo.toml `zalo.file_unavailable`),
# so /export on Zalo says at once that the file comes through the web console or the
# command line (or /export on Telegram). Why not upload it: the Zalo OA API has a file
# upload (POST /v2.0/oa/upload/file, then an attachment {"type": "file", "payload":
# {"token": ...}}; official PHP and .NET SDKs, /work/shared/reference/zalo-api.md §1.3), but
# no source there documents its size limit or the file types it accepts, and the Zalo
# Bot API has no document method at all (sendPhoto by URL only, same file §4). A
# sign-up list is personal data: not sent through an endpoint whose limits are unknown.
TELEGRAM_DOCUMENT_LIMIT = 50 * 1024 * 1024
NO_DOCUMENTS = frozenset({Channel.ZALO_BOT, Channel.ZALO_OA})


def document_limit(channel: str) -> int | None:
    """The largest file the channel can deliver; None when it delivers no files."""
    return None if channel in NO_DOCUMENTS else TELEGRAM_DOCUMENT_LIMIT


@dataclass(frozen=True, slots=True)
class ExportJob:
    fmt: str
    provinces: frozenset[str] | None
    lang: str
    timezone: str
    filename: str  # without the extension
    max_bytes: int  # larger files are zipped; still larger ones are not sent


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: int
    data: bytes | None  # None: too large to send even zipped
    filename: str
    zipped: bool = False


def finish_file(path: Path, job: ExportJob) -> tuple[Path, bool, bool]:
    """(file to send, zipped, too large): zip a file over the channel's limit."""
    if path.stat().st_size <= job.max_bytes:
        return path, False, False
    zipped = path.with_name(path.name + ".zip")
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, arcname=f"{job.filename}.{job.fmt}")
    path.unlink()
    return zipped, True, zipped.stat().st_size > job.max_bytes


async def run_export_job(
    store: SignupStore,
    catalog: Catalog,
    job: ExportJob,
    work_dir: Path,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[Path, int, bool, bool]:
    """Write the job's file into `work_dir`: (path, rows, zipped, too large)."""
    out = work_dir / f"{job.filename}.{job.fmt}"
    rows = await write_export_file(
        store,
        out,
        fmt=job.fmt,
        provinces=job.provinces,
        catalog=catalog,
        lang=job.lang,
        tz=ZoneInfo(job.timezone),
        on_rows=on_rows,
    )
    path, zipped, too_large = finish_file(out, job)
    return path, rows, zipped, too_large


@dataclass(frozen=True, slots=True)
class QueryExportJob:
    """The console's export: the sign-ups of a filter, into a file the caller serves."""

    fmt: str
    query: SignupQuery
    lang: str
    timezone: str


class _QueryPages:
    """Hands write_export_file a filter's pages in place of a province-only export."""

    def __init__(self, store: ConsoleStore, query: SignupQuery) -> None:
        self.store, self.query = store, query

    def export_pages(
        self, *, provinces: Collection[str] | None, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        return self.store.export_query_pages(self.query, page_size=page_size)


async def write_query_export(store: ConsoleStore, catalog: Catalog, job: QueryExportJob, out: Path) -> int:
    """Write the filter's sign-ups into `out`; the number of rows."""
    return await write_export_file(
        _QueryPages(store, job.query),
        out,
        fmt=job.fmt,
        provinces=job.query.provinces,
        catalog=catalog,
        lang=job.lang,
        tz=ZoneInfo(job.timezone),
        page_size=1000,
    )


# Told the rows written so far, now and then while an export runs.
Progress = Callable[[int], None]


class Exporter(Protocol):
    async def export(self, job: ExportJob, *, progress: Progress | None = None) -> ExportResult: ...

    async def export_file(self, job: QueryExportJob, out: Path) -> int:
        """Write a filter's export into `out` (the console streams it from there); rows."""
        ...

    async def call(self, job: Callable[[], T]) -> T:
        """Run a picklable CPU-heavy job (a chart) away from the event loop."""
        ...


class InProcessExporter:
    """Runs the export on the current event loop, a page at a time: the fallback for set-ups
    without the worker process (tests, tools). The bot itself uses bot.export_worker."""

    def __init__(self, store: Store, catalog: Catalog) -> None:
        self._store, self._catalog = store, catalog

    async def export_file(self, job: QueryExportJob, out: Path) -> int:
        return await write_query_export(self._store, self._catalog, job, out)

    async def call(self, job: Callable[[], T]) -> T:
        return await asyncio.to_thread(job)

    async def export(self, job: ExportJob, *, progress: Progress | None = None) -> ExportResult:
        with tempfile.TemporaryDirectory(prefix="unionbot-export-") as tmp:
            path, rows, zipped, too_large = await run_export_job(self._store, self._catalog, job, Path(tmp), progress)
            data = None if too_large else await asyncio.to_thread(path.read_bytes)
            return ExportResult(rows, data, path.name, zipped)
