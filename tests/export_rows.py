"""A fixed set of awkward sign-up rows for checking that exports stay the same.

The reference files in tests/data/ were written by the pre-streaming exporter (openpyxl,
whole workbook in memory) from exactly these rows, so a test can prove the streamed
exporter writes the same cells.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from handlers.join.reports import SignupRow

_NAMES = [
    "Nguyễn Thị Ánh",
    "Trần Văn Đức",
    '=HYPERLINK("http://x","y")',
    "+84 hack",
    "-1+2",
    "@SUM(A1)",
    "Lê\x07Văn\x1bBa",
    "  =1+1",
    "Phạm Thị Huệ",
    "Võ Huy",
    "＝CMD()",
    "\tTab đầu",
]
_NOTES = [
    None,
    "Ca đêm; gọi sau 18h",
    'Nói: "tăng ca, không trả lương"\nvề BHXH',
    "=2+3",
    "ghi chú\x00lạ\x0b",
    "dòng 1\ndòng 2\ndòng 3",
]
_PROVINCES = ["ho_chi_minh", "ha_noi", "hue", "bac_ninh", "nghe_an", None, "old_unknown_id"]


def awkward_rows(count: int = 300) -> list[SignupRow]:
    rnd = random.Random(17)
    start = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    rows = []
    for i in range(1, count + 1):
        created = start + timedelta(minutes=rnd.randrange(0, 500_000))
        rows.append(
            SignupRow(
                id=i,
                created_at=created if i % 5 else created.replace(tzinfo=None),
                full_name=rnd.choice(_NAMES),
                phone_e164=rnd.choice(["+84912345678", "+84351234567", "=+84912", "+8490000000" + str(i % 10)]),
                workplace=rnd.choice([None, "Công ty TNHH Sợi Thế Kỷ, KCN Mỹ Phước", "-cty", "@home"]),
                province_id=rnd.choice(_PROVINCES),
                commune=rnd.choice([None, "Phường Thới Hòa", "+xã"]),
                source=rnd.choice([None, "telegram", "zalo_oa", "Cộng tác viên"]),
                volunteer_code=rnd.choice([None, "v_AbC123xyz0"]),
                status=rnd.choice(["Mới", "Đã liên hệ", "new"]),
                notes=rnd.choice(_NOTES),
            )
        )
    return rows
