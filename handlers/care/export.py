"""`program registrations ID --format csv|xlsx --out FILE`: streamed like the sign-up
export (keyset pages from the store, XlsxWriter in constant memory, formula-safe text,
a temporary file renamed into place only when complete)."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import tempfile
from datetime import datetime, tzinfo
from pathlib import Path

from handlers.join.export import _ILLEGAL, _neutral_text
from storage.care import CareStore, Program, Registration

HEADERS = ("id", "registered_at", "full_name", "phone", "seats", "status", "code", "checked_in_at", "answers", "reason")
FORMATS = ("csv", "xlsx")


def _values(reg: Registration, tz: tzinfo) -> list[object]:
    def when(moment: datetime | None) -> object:
        return moment.astimezone(tz).replace(tzinfo=None) if moment else ""

    return [
        reg.id,
        when(reg.created_at),
        reg.full_name,
        reg.phone_e164,
        reg.seats,
        reg.status.value,
        reg.code or "",
        when(reg.checked_in_at),
        " | ".join(reg.answers),
        reg.reason or "",
    ]


async def write_registrations(
    store: CareStore, program: Program, out: Path, *, fmt: str, tz: tzinfo, page_size: int = 2000
) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unsupported export format: {fmt!r}")
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
                sheet = book.add_worksheet("registrations")
                stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
                sheet.write_row(0, 0, HEADERS, book.add_format({"bold": True}))
                async for page in store.export_registration_pages(program.id, page_size=page_size):
                    for reg in page:
                        count += 1
                        for col, value in enumerate(_values(reg, tz)):
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
                    writer.writerow(HEADERS)
                    async for page in store.export_registration_pages(program.id, page_size=page_size):
                        for reg in page:
                            count += 1
                            writer.writerow(
                                [
                                    v.strftime("%Y-%m-%d %H:%M")
                                    if isinstance(v, datetime)
                                    else v
                                    if not isinstance(v, str) or (v.startswith("+") and v[1:].isdigit())
                                    else _neutral_text(v)
                                    for v in _values(reg, tz)
                                ]
                            )
        os.replace(tmp_name, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return count
