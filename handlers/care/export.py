"""`program registrations ID --format csv|xlsx --out FILE`: streamed like the sign-up
export (keyset pages from the store, XlsxWriter in constant memory, formula-safe text,
a temporary file renamed into place only when complete), with its column headings in
the reader's language. A registration whose phone number another registration of the
program has too (another account's) says so in its own column, as /review and /checkin
do: such registrations are accepted, and the officers call and merge or reject them."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Collection
from datetime import datetime, tzinfo
from pathlib import Path

from handlers.i18n import LANGUAGES, Catalog
from handlers.join.export import _ILLEGAL, _neutral_text
from storage.care import CareStore, Program, Registration, RegStatus

# In file order; each column is headed by `care.export.col.<column>` in the reader's
# language (English headings were found by an outside tester in files for Vietnamese readers).
COLUMNS = (
    "id",
    "registered_at",
    "full_name",
    "phone",
    "same_phone",
    "seats",
    "status",
    "code",
    "checked_in_at",
    "answers",
    "reason",
)
FORMATS = ("csv", "xlsx")


def registration_refs(ids: Collection[int]) -> str:
    """Registration numbers as the officers read them: "#12, #15"."""
    return ", ".join(f"#{i}" for i in ids)


def headers(catalog: Catalog, lang: str) -> list[str]:
    """The heading row in `lang`."""
    if lang not in LANGUAGES:
        # The catalog would fall back to Vietnamese: a typo must not pass for a choice.
        raise ValueError(f"unsupported export language: {lang!r} (expected one of {LANGUAGES})")
    return [catalog.t(lang, f"care.export.col.{column}") for column in COLUMNS]


def _values(reg: Registration, tz: tzinfo, status: dict[str, str], same_phone: str) -> list[object]:
    def when(moment: datetime | None) -> object:
        return moment.astimezone(tz).replace(tzinfo=None) if moment else ""

    return [
        reg.id,
        when(reg.created_at),
        reg.full_name,
        reg.phone_e164,
        same_phone,
        reg.seats,
        # In words, as the chat says it: a filter on "danh sách chờ" must match.
        status.get(reg.status.value, reg.status.value),
        reg.code or "",
        when(reg.checked_in_at),
        " | ".join(reg.answers),
        reg.reason or "",
    ]


async def _page_rows(
    store: CareStore,
    program_id: int,
    page: list[Registration],
    tz: tzinfo,
    status: dict[str, str],
    catalog: Catalog,
    lang: str,
) -> list[list[object]]:
    """One page's rows, each registration sharing its phone number flagged in `lang`."""
    twins = await store.same_phone(program_id, [reg.id for reg in page])
    flags = {
        reg_id: catalog.t(lang, "care.review.same_phone", ids=registration_refs(others))
        for reg_id, others in twins.items()
    }
    return [_values(reg, tz, status, flags.get(reg.id, "")) for reg in page]


async def write_registrations(
    store: CareStore,
    program: Program,
    out: Path,
    *,
    fmt: str,
    tz: tzinfo,
    catalog: Catalog,
    lang: str,
    page_size: int = 2000,
) -> int:
    """Writes the program's registrations to `out` (headings in `lang`); the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported export format: {fmt!r}")
    heading = headers(catalog, lang)
    status = {s.value: catalog.t(lang, f"care.reg.status.{s.value}") for s in RegStatus}
    os.makedirs(out.parent or Path("."), exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            if fmt == "xlsx":
                import xlsxwriter

                book = xlsxwriter.Workbook(
                    raw,
                    {
                        "constant_memory": True,
                        "strings_to_formulas": False,
                        "strings_to_urls": False,
                        "strings_to_numbers": False,
                    },
                )
                sheet = book.add_worksheet(catalog.t(lang, "care.export.sheet"))
                stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
                sheet.write_row(0, 0, heading, book.add_format({"bold": True}))
                async for page in store.export_registration_pages(program.id, page_size=page_size):
                    for values in await _page_rows(store, program.id, page, tz, status, catalog, lang):
                        count += 1
                        for col, value in enumerate(values):
                            if isinstance(value, datetime):
                                sheet.write_datetime(count, col, value, stamp)
                            elif isinstance(value, str):
                                if value:
                                    sheet.write_string(count, col, _ILLEGAL.sub("", value))
                            else:
                                sheet.write_number(count, col, value)
                book.close()
            else:
                raw.write(codecs.BOM_UTF8)
                with io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                    writer = csv.writer(text)
                    writer.writerow(heading)
                    async for page in store.export_registration_pages(program.id, page_size=page_size):
                        for values in await _page_rows(store, program.id, page, tz, status, catalog, lang):
                            count += 1
                            writer.writerow(
                                [
                                    v.strftime("%Y-%m-%d %H:%M")
                                    if isinstance(v, datetime)
                                    else v
                                    if not isinstance(v, str) or (v.startswith("+") and v[1:].isdigit())
                                    else _neutral_text(v)
                                    for v in values
                                ]
                            )
        os.replace(tmp_name, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return count
