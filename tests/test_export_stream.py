"""The streamed exporter writes the same cells as the whole-workbook exporter it replaced."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from handlers.join.export import XlsxStream, csv_header, csv_lines, export_csv, export_xlsx
from tests.export_rows import awkward_rows

DATA = Path(__file__).parent / "data"


def _cells(data: bytes) -> tuple[dict[str, object], list[list[object]]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = [
        [c.value.isoformat() if hasattr(c.value, "isoformat") else c.value for c in row] for row in sheet.iter_rows()
    ]
    meta = {
        "title": sheet.title,
        "freeze": sheet.freeze_panes,
        "filter": sheet.auto_filter.ref,
        "date_format": sheet.cell(2, 2).number_format,
        "bold_header": all(c.font.bold for c in sheet[1]),
    }
    return meta, cells


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_streamed_xlsx_equals_the_reference_cell_for_cell(lang: str) -> None:
    reference = json.loads((DATA / f"export_reference_{lang}.json").read_text(encoding="utf-8"))
    meta, cells = _cells(export_xlsx(awkward_rows(), lang=lang))
    assert meta == reference["meta"]
    assert len(cells) == len(reference["cells"]) == 301
    for number, (got, want) in enumerate(zip(cells, reference["cells"], strict=True), start=1):
        assert got == want, f"row {number}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_csv_is_byte_for_byte_the_reference(lang: str) -> None:
    assert export_csv(awkward_rows(), lang=lang) == (DATA / f"export_reference_{lang}.csv").read_bytes()


def test_writing_in_pages_to_files_gives_the_same_files(tmp_path: Path) -> None:
    rows = awkward_rows()
    xlsx = tmp_path / "out.xlsx"
    with XlsxStream(xlsx, lang="vi") as book:
        for start in range(0, len(rows), 7):
            book.write(rows[start : start + 7])
    assert _cells(xlsx.read_bytes()) == _cells(export_xlsx(rows, lang="vi"))
    assert book.rows == 300

    out = tmp_path / "out.csv"
    with out.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv_header(f, lang="en")
        assert sum(csv_lines(writer, rows[s : s + 50], lang="en") for s in range(0, 300, 50)) == 300
    assert out.read_bytes() == (DATA / "export_reference_en.csv").read_bytes()


def test_an_empty_export_still_has_its_header() -> None:
    meta, cells = _cells(export_xlsx([], lang="vi"))
    assert len(cells) == 1 and cells[0][0] == "Mã đăng ký"
    assert meta["filter"] == "A1:K1"
