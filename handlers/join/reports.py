"""Sign-up exports for organizers: XLSX, CSV, and a weekly progress chart.

Organizers report progress against yearly targets ("7,965 new members, 66% of plan"),
and they do it in Excel. The exports keep Vietnamese intact in Excel, and never let a
worker-typed value run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from matplotlib.dates import MonthLocator, num2date
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from handlers.join.provinces import get_province

__all__ = ["LANGUAGES", "SignupRow", "export_csv", "export_xlsx", "weekly_chart_png"]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LANGUAGES = ("vi", "en")


@dataclass(frozen=True, slots=True)
class SignupRow:
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
_PHONE_COLUMN = 3  # zero-based, as in _values()
_MIN_WIDTH = 8
_MAX_WIDTH = 50

_SHEET_TITLE = {"vi": "Đăng ký", "en": "Sign-ups"}


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported report language: {lang!r} (expected one of {LANGUAGES})")


def _local(moment: datetime, tz: tzinfo) -> datetime:
    """Wall-clock time in `tz`, naive: Excel has no time zones and openpyxl refuses aware ones."""
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


def export_xlsx(rows: Iterable[SignupRow], *, lang: str, tz: tzinfo = VN_TZ) -> bytes:
    """An .xlsx workbook, one sign-up per row, with a bold frozen header in `lang`.

    Times are shown in `tz` (Vietnam by default). Text cells are always stored as text,
    so a name such as "=HYPERLINK(…)" is shown, never evaluated.
    """
    _check_lang(lang)
    headers = _HEADERS[lang]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = _SHEET_TITLE[lang]
    sheet.append(headers)
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold

    widths = [len(h) for h in headers]
    for row_number, row in enumerate(rows, start=2):
        for column, value in enumerate(_values(row, lang, tz), start=1):
            cell = sheet.cell(row=row_number, column=column)
            if isinstance(value, str):
                # openpyxl rejects control characters outright; drop them rather than lose
                # the whole export to one pasted note.
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.value = value
                # openpyxl turns any string starting with "=" into a formula; forcing the
                # string type is what keeps worker-typed text inert.
                cell.data_type = "s"
            else:
                cell.value = value
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
                width = 16
            else:
                width = max((len(line) for line in str(value).splitlines()), default=0)
            widths[column - 1] = max(widths[column - 1], width)

    for column, width in enumerate(widths, start=1):
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(sheet.max_row, 1)}"

    buffer = io.BytesIO()
    workbook.save(buffer)
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


def _csv_cell(value: object, column: int) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if column == _PHONE_COLUMN and _is_e164(text):
        # "+84912345678" is only digits, so it cannot run anything; an apostrophe would
        # corrupt the one column that tools import back.
        return text
    return _neutralise(text)


def export_csv(rows: Iterable[SignupRow], *, lang: str, tz: tzinfo = VN_TZ) -> bytes:
    """UTF-8 CSV with a byte-order mark, which is what makes Excel read it as UTF-8.

    Values a spreadsheet would take for a formula (leading = + - @) get a leading
    apostrophe, except a well-formed E.164 phone number.
    """
    _check_lang(lang)
    text = io.StringIO(newline="")
    writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(_HEADERS[lang])
    for row in rows:
        writer.writerow([_csv_cell(value, column) for column, value in enumerate(_values(row, lang, tz))])
    return text.getvalue().encode("utf-8-sig")


_CHART_LABELS = {
    "vi": {
        "actual": "Đoàn viên mới (cộng dồn)",
        "target": "Kế hoạch năm",
        "pace": "Tiến độ đều theo kế hoạch",
        "of_target": "{count} / {target} ({percent} kế hoạch)",
        "months": tuple(f"T{m}" for m in range(1, 13)),
    },
    "en": {
        "actual": "New members (cumulative)",
        "target": "Yearly target",
        "pace": "Even pace to target",
        "of_target": "{count} / {target} ({percent} of target)",
        "months": (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ),
    },
}


def _format_int(value: float, lang: str) -> str:
    # Vietnamese groups thousands with dots: "7.965".
    text = f"{round(value):,}"
    return text.replace(",", ".") if lang == "vi" else text


def _format_percent(ratio: float, lang: str) -> str:
    text = f"{ratio * 100:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


def weekly_chart_png(
    counts_by_week: Sequence[tuple[date, int]],
    target: int | None,
    *,
    year: int,
    title: str,
    lang: str = "vi",
) -> bytes:
    """A PNG line chart of cumulative sign-ups by week across `year`, against `target`.

    `counts_by_week` holds (first day of the week, sign-ups that week), in any order.
    With a target, the chart also shows the even-pace line from 0 on 1 January to the
    target on 31 December, so an organizer sees at a glance whether the drive is on track.
    The title comes from the caller, already in the reader's language.
    """
    _check_lang(lang)
    labels = _CHART_LABELS[lang]
    start, end = date(year, 1, 1), date(year, 12, 31)

    weeks = sorted(counts_by_week)
    xs: list[date] = []
    ys: list[int] = []
    total = 0
    for week_start, count in weeks:
        total += count
        # The ISO week holding 1 January can start in December: plot it on 1 January so
        # its sign-ups count without stretching the axis into the previous year.
        xs.append(max(week_start, start))
        ys.append(total)

    # Figure, not pyplot: pyplot keeps global state and picks a GUI backend; a bare
    # Figure renders with Agg when saved and is safe in a server thread.
    figure = Figure(figsize=(10, 5.5), dpi=120, layout="constrained")
    axes = figure.add_subplot()
    if xs:
        axes.plot(xs, ys, marker="o", markersize=3, linewidth=2, color="#c62828", label=labels["actual"])
    if target:
        axes.axhline(
            target,
            color="#1565c0",
            linestyle="--",
            linewidth=1.5,
            label=f"{labels['target']}: {_format_int(target, lang)}",
        )
        axes.plot(
            [start, end],
            [0, target],
            color="#1565c0",
            linestyle=":",
            linewidth=1,
            alpha=0.7,
            label=labels["pace"],
        )
    if xs:
        note = _format_int(total, lang)
        if target:
            note = labels["of_target"].format(
                count=note,
                target=_format_int(target, lang),
                percent=_format_percent(total / target, lang),
            )
        axes.annotate(
            note,
            xy=(xs[-1], total),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=9,
        )

    axes.set_title(title)
    axes.set_xlim(start, end)
    axes.set_ylim(bottom=0, top=max([*ys, target or 0, 1]) * 1.12)
    axes.xaxis.set_major_locator(MonthLocator())
    months = labels["months"]
    axes.xaxis.set_major_formatter(
        # Month names by hand: locale-dependent formatting would follow the server's locale.
        FuncFormatter(lambda x, _pos: months[num2date(x).month - 1])
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _format_int(y, lang)))
    axes.grid(True, alpha=0.3)
    if xs or target:
        axes.legend(loc="upper left")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
