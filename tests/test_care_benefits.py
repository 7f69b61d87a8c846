"""Partner benefits: the import (all-or-nothing, --skip-bad, updates by key, file
errors), `benefits list`, and /benefits in the chat (province asked once, categories,
six per page, search with or without diacritics, members-only note)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from storage.care import Benefit, BenefitCategory
from tests.harness import local_today
from tests.test_join_form import fill_form

DOCS = Path(__file__).resolve().parent.parent / "docs"
HEADER = "key,title,partner,category,provinces,gives,how_to_claim,valid_from,valid_until,link,members_only\n"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("UNIONBOT_DB", str(tmp_path / "cli.sqlite3"))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_sample_file_imports_and_reimport_updates_by_key(cli, tmp_path) -> None:
    code, out, err = cli("benefits", "import", str(DOCS / "benefits-sample.csv"))
    assert code == 0, err
    assert "4 new" in out
    edited = (DOCS / "benefits-sample.csv").read_text(encoding="utf-8").replace("Giảm 10%", "Giảm 12%")
    code, out, _ = cli("benefits", "import", str(write(tmp_path, "again.csv", edited, bom=True)))
    assert code == 0 and "0 new, 4 updated" in out
    code, out, _ = cli("benefits", "list", "--all", "--json")
    items = json.loads(out)
    assert len(items) == 4
    assert {"key", "title", "provinces", "valid_until"} <= set(items[0])
    shop = next(i for i in items if i["key"] == "sieuthi-bn-2027")
    assert shop["gives"].startswith("Giảm 12%") and shop["provinces"] == ["bac_ninh"]
    assert next(i for i in items if i["key"] == "xe-tet-toanquoc")["provinces"] == ["*"]


def test_a_bad_row_imports_nothing_and_names_row_column_reason(cli, tmp_path) -> None:
    rows = HEADER + (
        "ok1,Giảm giá,Shop A,shopping,Hà Nội,Giảm 5%,Thẻ đoàn viên,2026-01-01,2030-01-01,,no\n"
        "bad1,,Shop B,shopping,Hà Nội,x,y,,,,\n"
        "bad2,T,Shop C,health,Atlantis,x,y,2026-13-01,,,\n"
        "bad3,T,Shop D,health,Hà Nội,x,y,2027-05-01,2027-01-01,,\n"
    )
    code, out, err = cli("benefits", "import", str(write(tmp_path, "b.csv", rows)))
    assert code == 1
    assert "row 3, column title: empty" in err
    assert "row 4, column provinces: unknown province 'Atlantis'" in err
    assert "row 4, column valid_from: not a date" in err
    assert "row 5, column valid_until: before valid_from" in err
    assert "nothing imported" in err
    code, out, _ = cli("benefits", "list", "--all", "--json")
    assert json.loads(out) == []
    code, out, _ = cli("benefits", "import", "--skip-bad", str(tmp_path / "b.csv"))
    assert code == 0 and "1 new" in out and "skipped 3" in out


def test_files_that_are_not_csv_utf8_or_xlsx(cli, tmp_path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        HEADER.encode() + "k,Giảm,P,shopping,*,x,y,,,,\n".encode("cp1258", errors="replace") + b"\xff\xfe\n"
    )
    code, _, err = cli("benefits", "import", str(latin))
    assert code == 1 and "not UTF-8" in err and err.count("\n") == 1
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    code, _, err = cli("benefits", "import", str(pdf))
    assert code == 1 and "not a CSV or XLSX" in err
    broken = tmp_path / "x.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")
    code, _, err = cli("benefits", "import", str(broken))
    assert code == 1 and "XLSX" in err


def test_xlsx_import(cli, tmp_path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(
        [
            "kham-mat",
            "Khám mắt miễn phí",
            "Bệnh viện Mắt",
            "sức khỏe",
            "Đà Nẵng; Quảng Nam",
            "Miễn phí khám",
            "Mang thẻ đoàn viên",
            datetime(2026, 1, 1),
            datetime(2030, 1, 1),
            None,
            "có",
        ]
    )
    book.save(tmp_path / "b.xlsx")
    code, out, err = cli("benefits", "import", str(tmp_path / "b.xlsx"))
    assert code == 0, err
    code, out, _ = cli("benefits", "list", "--province", "quang nam", "--json")
    [item] = json.loads(out)
    assert item["provinces"] == ["da_nang"] and item["members_only"] is True and item["category"] == "health"


def benefit(key: str, **kw) -> Benefit:  # type: ignore[no-untyped-def]
    today = datetime.now(UTC).date()
    base = dict(
        key=key,
        title=f"Ưu đãi {key}",
        partner="Đối tác",
        category=BenefitCategory.SHOPPING,
        provinces=("ho_chi_minh",),
        gives="Giảm 10%",
        how_to_claim="Xuất trình thẻ",
        valid_from=today - timedelta(days=1),
        valid_until=today + timedelta(days=30),
    )
    base.update(kw)
    return Benefit(**base)  # type: ignore[arg-type]


async def test_benefits_in_chat(store, make_chat) -> None:
    today = datetime.now(UTC).date()
    items = [benefit(f"s{i:02d}") for i in range(8)] + [
        benefit(
            "nation",
            title="Vé xe Tết",
            partner="Nhà xe Phương Trang",
            provinces=("*",),
            category=BenefitCategory.TRAVEL,
        ),
        benefit("hanoi", title="Chỉ Hà Nội", provinces=("ha_noi",)),
        benefit("old", title="Đã hết hạn", valid_until=today - timedelta(days=1)),
        benefit("future", title="Chưa bắt đầu", valid_from=today + timedelta(days=3)),
        benefit(
            "member",
            title="Điện máy giảm giá",
            partner="Điện Máy Xanh",
            members_only=True,
            category=BenefitCategory.FINANCE,
        ),
    ]
    await store.upsert_benefits(items)
    chat = make_chat("b1", "zalo_bot")
    await chat.say("/benefits")
    assert "tỉnh/thành nào" in chat.text()
    await chat.say("binh duong")  # an old name: now part of Hồ Chí Minh
    assert "Mua sắm (8)" in chat.labels() and "Du lịch, đi lại (1)" in chat.labels()
    await chat.press_label("Mua sắm")
    assert "trang 1/2" in chat.text() and chat.text().count("🎁 Ưu đãi s") == 6
    await chat.press_label("Trang sau")
    assert "trang 2/2" in chat.text() and chat.text().count("🎁 Ưu đãi s") == 2
    for hidden in ("Chỉ Hà Nội", "Đã hết hạn", "Chưa bắt đầu"):
        assert hidden not in chat.text()
    # Asked once: the next /benefits goes straight to the categories.
    await chat.say("/benefits")
    assert "tỉnh/thành nào" not in chat.text()
    await chat.say("/benefits dien may")
    assert "Điện máy giảm giá" in chat.text() and "/join" in chat.text()
    await chat.say("/benefits phương trang")
    assert "Vé xe Tết" in chat.text()
    await chat.say("/benefits het han")
    assert "Không tìm thấy" in chat.text()
    await chat.say("/mydata")
    assert "Hồ Chí Minh" in chat.text()


async def test_a_signed_up_worker_is_not_asked_and_not_offered_join(store, chat) -> None:
    await store.upsert_benefits([benefit("member", title="Điện máy", members_only=True)])
    await fill_form(chat)
    await chat.say("/benefits dien may")
    assert "tỉnh/thành nào" not in chat.text()
    assert "Chỉ dành cho đoàn viên" in chat.text() and "/join" not in chat.text()


def test_active_on_edges() -> None:
    b = benefit("x", valid_from=date(2027, 1, 1), valid_until=date(2027, 1, 31))
    assert not b.active_on(date(2026, 12, 31))
    assert b.active_on(date(2027, 1, 1)) and b.active_on(date(2027, 1, 31))
    assert not b.active_on(date(2027, 2, 1))


async def test_a_question_typed_at_the_province_prompt_is_answered(make_chat, store) -> None:
    await store.upsert_benefits([benefit("hanoi", title="Chỉ Hà Nội", provinces=("ha_noi",))])
    chat = make_chat("q1")
    await chat.say("/benefits")
    await chat.say("công ty không đóng bảo hiểm xã hội cho tôi thì phải làm sao")
    assert "Chưa nhận ra" not in chat.text() and "BHXH" in chat.text()
    await chat.say("/benefits")
    await chat.say("Thành phố Hồ Chí Minh")
    assert "Ưu đãi cho đoàn viên ở Hồ Chí Minh" in chat.text() or "chưa có ưu đãi" in chat.text()


def test_list_hides_expired_and_not_yet_valid_benefits_unless_all(cli, tmp_path) -> None:
    """Validity is judged on Vietnam's date (local_today), edges included: a benefit valid
    from today or until today is shown."""
    today = local_today()
    day = timedelta(days=1)
    rows = HEADER + (
        f"expired,Hết hạn,Shop A,shopping,*,Giảm 5%,Thẻ,{today - 10 * day},{today - day},,no\n"
        f"future,Chưa tới,Shop B,shopping,*,Giảm 5%,Thẻ,{today + day},{today + 10 * day},,no\n"
        f"starts,Bắt đầu hôm nay,Shop C,shopping,*,Giảm 5%,Thẻ,{today},{today + 10 * day},,no\n"
        f"ends,Hết hôm nay,Shop D,shopping,*,Giảm 5%,Thẻ,{today - 10 * day},{today},,no\n"
        "open,Không thời hạn,Shop E,shopping,*,Giảm 5%,Thẻ,,,,no\n"
    )
    code, _, err = cli("benefits", "import", str(write(tmp_path, "validity.csv", rows)))
    assert code == 0, err
    code, out, _ = cli("benefits", "list", "--json")
    assert code == 0 and sorted(i["key"] for i in json.loads(out)) == ["ends", "open", "starts"]
    code, out, _ = cli("benefits", "list")
    assert code == 0 and "expired" not in out and "future" not in out and "3 benefit(s)" in out
    code, out, _ = cli("benefits", "list", "--all", "--json")
    shown = {i["key"]: i["active"] for i in json.loads(out)}
    assert shown == {"expired": False, "future": False, "starts": True, "ends": True, "open": True}
