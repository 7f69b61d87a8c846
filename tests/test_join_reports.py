"""What organizers and volunteers get as files: XLSX/CSV exports, the chart, QR codes."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_H

from handlers.join.qr import new_referral_code, qr_png, referral_link
from handlers.join.reports import SignupRow, export_csv, export_xlsx, weekly_chart_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BOM = b"\xef\xbb\xbf"


def make_row(**overrides: object) -> SignupRow:
    values: dict[str, object] = {
        "id": 1,
        "created_at": datetime(2025, 7, 1, 1, 30, tzinfo=UTC),  # 08:30 in Vietnam
        "full_name": "Nguyễn Thị Ánh",
        "phone_e164": "+84912345678",
        "workplace": "Công ty TNHH Sợi Thế Kỷ, KCN Mỹ Phước",
        "province_id": "ho_chi_minh",
        "commune": "Phường Thới Hòa",
        "source": "telegram",
        "volunteer_code": "v_AbC123xyz0",
        "status": "new",
        "notes": "Ca đêm; gọi sau 18h",
    }
    values.update(overrides)
    return SignupRow(**values)  # type: ignore[arg-type]


ROWS = [
    make_row(),
    make_row(
        id=2,
        created_at=datetime(2025, 7, 2, 9, 15),  # naive: already Vietnam time
        full_name="Trần Văn Đức",
        phone_e164="+84351234567",
        workplace=None,
        province_id="hung_yen",
        commune=None,
        source=None,
        volunteer_code=None,
        notes='Nói: "tăng ca, không trả lương"\nvề BHXH',
    ),
]


def read_xlsx(data: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(data)).active


# --- XLSX ------------------------------------------------------------------------------


def test_xlsx_round_trips_vietnamese_with_a_bold_frozen_header():
    sheet = read_xlsx(export_xlsx(ROWS, lang="vi"))
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Mã đăng ký", "Thời gian đăng ký", "Họ và tên", "Số điện thoại"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"

    first = [c.value for c in sheet[2]]
    assert first[0] == 1
    assert first[1] == datetime(2025, 7, 1, 8, 30)  # shown in Vietnam time
    assert first[2] == "Nguyễn Thị Ánh"
    assert first[3] == "+84912345678"
    assert first[5] == "Hồ Chí Minh"  # province name, not the id
    assert first[8] == "v_AbC123xyz0"

    second = [c.value for c in sheet[3]]
    assert second[1] == datetime(2025, 7, 2, 9, 15)
    assert second[2] == "Trần Văn Đức"
    assert second[5] == "Hưng Yên"
    assert second[10] == 'Nói: "tăng ca, không trả lương"\nvề BHXH'
    assert sheet.max_row == 3


def test_xlsx_headers_and_province_in_english():
    sheet = read_xlsx(export_xlsx(ROWS, lang="en"))
    assert [c.value for c in sheet[1]][:3] == ["ID", "Signed up at", "Full name"]
    assert sheet["F2"].value == "Ho Chi Minh City"
    assert sheet["C2"].value == "Nguyễn Thị Ánh"  # data is never translated


def test_xlsx_column_widths_fit_content_within_bounds():
    sheet = read_xlsx(export_xlsx(ROWS, lang="vi"))
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJK"}
    assert all(8 <= w <= 50 for w in widths.values()), widths
    assert widths["E"] > widths["A"]  # workplace is wider than the id


def test_xlsx_keeps_formulas_as_text():
    row = make_row(full_name='=HYPERLINK("http://evil.example","bấm")', notes="@SUM(A1)")
    sheet = read_xlsx(export_xlsx([row], lang="vi"))
    assert sheet["C2"].value == '=HYPERLINK("http://evil.example","bấm")'
    assert sheet["C2"].data_type == "s"
    assert sheet["K2"].data_type == "s"


def test_xlsx_survives_control_characters_and_unknown_province():
    row = make_row(notes="ghi\x07chú", province_id="binh_duong")
    sheet = read_xlsx(export_xlsx([row], lang="vi"))
    assert sheet["K2"].value == "ghichú"
    assert sheet["F2"].value == "binh_duong"  # an old id stays visible rather than vanishing


def test_xlsx_with_no_rows_has_just_the_header():
    sheet = read_xlsx(export_xlsx([], lang="en"))
    assert sheet.max_row == 1
    assert sheet["A1"].value == "ID"


@pytest.mark.parametrize("export", [export_xlsx, export_csv])
def test_unknown_language_is_refused(export):
    with pytest.raises(ValueError, match="fr"):
        export(ROWS, lang="fr")


# --- CSV -------------------------------------------------------------------------------


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_starts_with_bom_and_decodes_as_utf8():
    data = export_csv(ROWS, lang="vi")
    assert data.startswith(BOM)
    assert not data[3:].startswith(BOM)
    text = data[3:].decode("utf-8")
    assert "Nguyễn Thị Ánh" in text
    assert "\r\n" in text  # RFC 4180 line ends, which Excel expects


def test_csv_round_trips_commas_quotes_and_newlines():
    header, first, second = parse_csv(export_csv(ROWS, lang="vi"))
    assert header[2] == "Họ và tên"
    assert first[:4] == ["1", "2025-07-01 08:30", "Nguyễn Thị Ánh", "+84912345678"]
    assert first[4] == "Công ty TNHH Sợi Thế Kỷ, KCN Mỹ Phước"
    assert first[5] == "Hồ Chí Minh"
    assert second[4] == ""  # None becomes an empty cell, not "None"
    assert second[10] == 'Nói: "tăng ca, không trả lương"\nvề BHXH'


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        '=HYPERLINK("http://evil.example")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "  =1+1",
        "\t=1+1",
        "＝1+1",
    ],
)
def test_csv_neutralises_formula_injection(value):
    row = make_row(full_name=value, workplace=value, notes=value)
    _, cells = parse_csv(export_csv([row], lang="en"))
    assert cells[2] == "'" + value
    assert cells[4] == "'" + value
    assert cells[10] == "'" + value


def test_csv_leaves_ordinary_text_and_e164_phone_alone():
    _, cells = parse_csv(export_csv([make_row(notes="Gọi lại - sau Tết")], lang="en"))
    assert cells[3] == "+84912345678"
    assert cells[10] == "Gọi lại - sau Tết"


def test_csv_neutralises_a_phone_column_that_is_not_e164():
    _, cells = parse_csv(export_csv([make_row(phone_e164="+1+cmd")], lang="en"))
    assert cells[3] == "'+1+cmd"


# --- chart -----------------------------------------------------------------------------


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def weeks_of(year: int, counts: list[int]) -> list[tuple[date, int]]:
    monday = date(year, 1, 1) - timedelta(days=date(year, 1, 1).weekday())
    return [(monday + timedelta(weeks=i), n) for i, n in enumerate(counts)]


def test_weekly_chart_is_a_png_with_vietnamese_title():
    image = open_png(
        weekly_chart_png(
            weeks_of(2025, [120, 95, 140, 160, 80, 210]),
            target=3200,
            year=2025,
            title="Phát triển đoàn viên 2025 — LĐLĐ tỉnh Quảng Ninh",
        )
    )
    width, height = image.size
    assert width >= 800 and height >= 400
    # Not blank: the lines and text put more than one colour on the canvas.
    assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or ()) > 10


@pytest.mark.parametrize(
    ("counts", "target", "lang"),
    [([], None, "vi"), ([], 500, "en"), ([(date(2025, 3, 3), 7)], None, "en")],
)
def test_weekly_chart_handles_empty_data_and_no_target(counts, target, lang):
    open_png(weekly_chart_png(counts, target, year=2025, title="Sign-ups", lang=lang))


def test_weekly_chart_accepts_unsorted_weeks_and_one_starting_last_year():
    counts = [(date(2025, 1, 13), 5), (date(2024, 12, 30), 3), (date(2025, 1, 6), 4)]
    open_png(weekly_chart_png(counts, 100, year=2025, title="x"))


def test_weekly_chart_does_not_touch_pyplot():
    # pyplot holds global figure state and may pick a GUI backend; a server must not
    # import it. A fresh interpreter, because another test module might have imported it.
    code = (
        "import sys; from datetime import date;"
        "from handlers.join.reports import weekly_chart_png;"
        "weekly_chart_png([(date(2025, 1, 6), 3)], 10, year=2025, title='t');"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- referral codes and QR -------------------------------------------------------------


def test_referral_codes_are_valid_payloads_and_unguessable():
    codes = {new_referral_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(r"v_[A-Za-z0-9]{10,}", code)
        assert len(code) <= 64


def test_referral_link():
    assert referral_link("unionbot", "v_abc123") == "https://t.me/unionbot?start=v_abc123"
    assert referral_link("@Union_VN_bot", "v_x-y") == "https://t.me/Union_VN_bot?start=v_x-y"


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("unionbot", ""),
        ("unionbot", "v_a b"),
        ("unionbot", "v_ơ"),
        ("unionbot", "v_" + "a" * 63),  # 65 characters
        ("unionbot", "v_a&start=x"),
        ("bot", "v_abc"),  # too short for a Telegram username
        ("union bot", "v_abc"),
        ("1unionbot", "v_abc"),
    ],
)
def test_referral_link_refuses_what_telegram_would_drop(username, code):
    with pytest.raises(ValueError, match=r"^not a (Telegram username|valid deep-link payload): "):
        referral_link(username, code)


def module_grid(image: Image.Image, modules: int, border: int) -> list[list[bool]]:
    """Read the QR back from the pixels: True where the centre of a module is dark."""
    box = image.size[0] // (modules + 2 * border)
    grey = image.convert("L")
    return [
        [grey.getpixel(((border + c) * box + box // 2, (border + r) * box + box // 2)) < 128 for c in range(modules)]
        for r in range(modules)
    ]


def test_qr_png_encodes_the_link_with_high_error_correction():
    url = referral_link("unionbot", new_referral_code())
    image = open_png(qr_png(url))
    assert image.size[0] == image.size[1]

    # The reference symbol for the same text at level H: if qr_png used another level,
    # version, mask or quiet zone, the pixels would not match it module for module.
    expected = qrcode.QRCode(error_correction=ERROR_CORRECT_H, border=0)
    expected.add_data(url)
    expected.make(fit=True)
    matrix = expected.get_matrix()
    modules = len(matrix)
    assert image.size[0] % (modules + 8) == 0, "4-module quiet zone on each side"
    assert image.size[0] // (modules + 8) >= 10, "modules big enough to print"
    assert module_grid(image, modules, border=4) == matrix


def test_qr_png_refuses_empty_url():
    with pytest.raises(ValueError, match="empty URL"):
        qr_png("")
