"""`unionbot program ...`: create (validation, scope), list/show JSON, review, the
check-in exit codes (0, 3, 1), close, and the streamed registrations export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.cli import main
from storage import Role
from storage.care import RegistrationDraft
from storage.sqlite import SQLiteStore
from tests.harness import local_today


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("UNIONBOT_DB", str(db))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    run.db = db  # type: ignore[attr-defined]
    return run


def window() -> tuple[str, str]:
    now = datetime.now(UTC).astimezone()
    return ((now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"), (now + timedelta(days=5)).strftime("%Y-%m-%d"))


def create(cli, *extra: str, places: str = "3", province: str = "Hồ Chí Minh") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    opens, closes = window()
    return cli(
        "program",
        "create",
        "--title",
        "Xe về quê Tết",
        "--province",
        province,
        "--places",
        places,
        "--opens",
        opens,
        "--closes",
        closes,
        *extra,
    )


def in_store(cli, body):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with SQLiteStore(cli.db) as store:
            return await body(store)

    return asyncio.run(run())


def test_create_validation_and_scope(cli) -> None:
    opens, closes = window()
    code, _, err = create(cli, places="0")
    assert code == 2 and err.strip() == "unionbot: --places must be 1 or more"
    code, _, err = cli(
        "program",
        "create",
        "--title",
        "T",
        "--province",
        "Hà Nội",
        "--places",
        "5",
        "--opens",
        closes,
        "--closes",
        opens,
    )
    assert code == 2 and "--closes must be after --opens" in err
    code, _, err = create(cli, province="Atlantis")
    assert code == 2 and "unknown province" in err
    code, _, err = create(cli, "--max-per-person", "5", places="3")
    assert code == 2 and "--max-per-person cannot be more than --places" in err
    code, _, err = create(cli, "--opens", "next tuesday")
    assert code == 2 and "not a date" in err
    code, _, err = create(cli, "--question", "Hoàn cảnh?")
    assert code == 2 and "--mode review" in err

    async def organizer(store):  # type: ignore[no-untyped-def]
        u = await store.touch_user("telegram", "55", language="vi")
        await store.set_role(u.id, Role.ORGANIZER)
        await store.add_organizer_provinces(u.id, ["ho_chi_minh"], None)

    in_store(cli, organizer)
    code, out, err = create(cli, "--as", "telegram:55")
    assert code == 0 and out.strip().isdigit()
    code, _, err = create(cli, "--as", "telegram:55", province="Hà Nội")
    assert code == 1 and "own provinces" in err
    code, _, err = create(cli, "--as", "telegram:55", province="*")
    assert code == 1 and "nationwide is for admins" in err
    code, out, _ = create(cli, province="*")
    assert code == 0
    code, out, _ = cli("program", "list", "--json", "--as", "telegram:55")
    assert [p["province"] for p in json.loads(out)] == ["ho_chi_minh"]


def test_show_checkin_exit_codes_close_and_export(cli, tmp_path) -> None:
    # Check-in opens the day before the event: registration closes tonight, the bus leaves tomorrow.
    today = local_today()
    tomorrow = f"{today + timedelta(days=1)} 06:00"
    code, out, _ = create(
        cli, "--max-per-person", "2", "--closes", str(today), "--event-at", tomorrow, "--place", "Ga Sài Gòn"
    )
    pid = int(out)
    code, out, _ = create(cli)
    other = int(out)

    async def register(store):  # type: ignore[no-untyped-def]
        results = []
        for i, name in enumerate(['=HYPERLINK("http://x")', "Nguyễn Văn Bình", "Lê Thị Cúc"]):
            u = await store.touch_user("telegram", f"9{i}", language="vi")
            results.append(await store.register(RegistrationDraft(pid, u.id, f"+8491200000{i}", name, 2 if i else 1)))
        return [r.registration.code for r in results]

    codes = in_store(cli, register)
    code, out, _ = cli("program", "show", str(pid), "--json")
    shown = json.loads(out)
    assert {k: shown[k] for k in ("id", "places", "confirmed_seats", "waitlisted", "checked_in")} == {
        "id": pid,
        "places": 3,
        "confirmed_seats": 3,
        "waitlisted": 1,
        "checked_in": 0,
    }
    assert shown["title"] == "Xe về quê Tết" and shown["event_at"].startswith(tomorrow.replace(" ", "T"))

    code, out, err = cli("program", "checkin", str(pid), codes[1].lower())
    assert code == 0 and out.strip() == "checked in: Nguyễn Văn Bình, 2 seat(s)"
    code, out, err = cli("program", "checkin", str(pid), codes[1])
    assert code == 3 and err.startswith("unionbot: already checked in at ") and len(err.strip().split()[-1]) == 5
    code, out, err = cli("program", "checkin", str(other), codes[0])
    assert code == 1 and "not a ticket of program" in err
    code, out, err = cli("program", "checkin", str(pid), "ZZZZZZZ")
    assert code == 1
    code, out, _ = cli("program", "show", str(pid), "--json")
    assert json.loads(out)["checked_in"] == 1

    code, out, _ = cli("program", "registrations", str(pid), "--format", "csv", "--out", str(tmp_path / "r.csv"))
    assert code == 0 and "wrote 3" in out
    rows = list(csv.reader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0] == VI_HEADINGS  # the shell user: the bot's language
    assert rows[1][2].startswith("'=") and rows[1][3] == "+84912000000"
    code, out, _ = cli("program", "registrations", str(pid), "--format", "xlsx", "--out", str(tmp_path / "r.xlsx"))
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert [c.value for c in sheet[1]] == VI_HEADINGS
    assert sheet.cell(2, 3).data_type == "s" and sheet.cell(2, 3).value.startswith("=HYPERLINK")
    assert sheet.cell(3, 3).value == "Nguyễn Văn Bình" and sheet.max_row == 4
    assert sheet.cell(2, 5).value is None and rows[1][4] == ""  # no shared number: nothing said

    assert cli("program", "close", str(pid))[0] == 0
    code, _, err = cli("program", "close", str(pid))
    assert code == 1 and "closed already" in err
    code, out, _ = cli("program", "show", str(pid), "--json")
    assert json.loads(out)["closed"] is True


VI_HEADINGS = [
    "Mã đăng ký",
    "Thời gian đăng ký",
    "Họ và tên",
    "Số điện thoại",
    "Trùng số điện thoại",
    "Số suất",
    "Trạng thái",
    "Mã vé",
    "Thời gian soát vé",
    "Trả lời câu hỏi ưu tiên",
    "Lý do không duyệt",
]
EN_HEADINGS = [
    "ID",
    "Registered at",
    "Full name",
    "Phone",
    "Same phone",
    "Places",
    "Status",
    "Ticket code",
    "Checked in at",
    "Priority answers",
    "Reason for rejection",
]


def test_registrations_export_is_headed_in_the_organizers_language(cli, tmp_path) -> None:
    """Found by an outside tester: the headings were English (`registered_at`) for everyone."""
    _, out, _ = create(cli)
    pid = int(out)

    async def setup(store):  # type: ignore[no-untyped-def]
        for external, lang in (("61", "vi"), ("62", "en")):
            u = await store.touch_user("telegram", external, language=lang)
            await store.set_role(u.id, Role.ORGANIZER)
            await store.add_organizer_provinces(u.id, ["ho_chi_minh"], None)
        worker = await store.touch_user("telegram", "70", language="en")  # the worker's language is not the reader's
        await store.register(RegistrationDraft(pid, worker.id, "+84912000200", "Trần Văn An", 1))

    in_store(cli, setup)

    def export(fmt: str, *extra: str) -> tuple[str | None, list[list[object]]]:
        """(the sheet's title, the rows as read back) of one export."""
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}.{fmt}"
        code, printed, err = cli("program", "registrations", str(pid), "--format", fmt, "--out", str(out), *extra)
        assert code == 0 and "wrote 1" in printed, err
        if fmt == "csv":
            return None, list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        sheet = openpyxl.load_workbook(out).active
        return sheet.title, [[c.value for c in row] for row in sheet.iter_rows()]

    for fmt, vi_title, en_title in (("csv", None, None), ("xlsx", "Đăng ký", "Registrations")):
        title, rows = export(fmt, "--as", "telegram:61")
        assert (title, rows[0], len(rows), rows[1][2]) == (vi_title, VI_HEADINGS, 2, "Trần Văn An")
        assert rows[1][6] == "đã xác nhận"  # the status in words, as the chat says it
        title, rows = export(fmt, "--as", "telegram:62")
        assert (title, rows[0], len(rows), rows[1][2]) == (en_title, EN_HEADINGS, 2, "Trần Văn An")
        assert rows[1][6] == "confirmed"
        assert export(fmt)[1][0] == VI_HEADINGS  # the shell user: the bot's default language
        assert export(fmt, "--lang", "en")[1][0] == EN_HEADINGS
        assert export(fmt, "--as", "telegram:62", "--lang", "vi")[1][0] == VI_HEADINGS  # asked for wins


def test_the_export_flags_a_number_registered_by_two_accounts(cli, tmp_path) -> None:
    """Such registrations are accepted (refusing them told anyone typing a worker's number
    that the worker had registered); the officers' list says which ones share a number."""
    _, out, _ = create(cli, places="2")
    pid = int(out)

    async def register(store):  # type: ignore[no-untyped-def]
        ids = []
        for i, phone in enumerate(("+84911222333", "+84911222444", "+84911222333")):
            u = await store.touch_user("telegram", f"7{i}", language="vi")
            ids.append((await store.register(RegistrationDraft(pid, u.id, phone, f"Người {i}", 1))).registration.id)
        return ids

    first, lone, twin = in_store(cli, register)
    for fmt in ("csv", "xlsx"):
        for lang, said in (("vi", "⚠️ cùng số điện thoại với đăng ký #{}"), ("en", "⚠️ same phone as registration #{}")):
            path = tmp_path / f"r-{lang}.{fmt}"
            code, printed, err = cli(
                "program", "registrations", str(pid), "--format", fmt, "--out", str(path), "--lang", lang
            )
            assert code == 0 and "wrote 3" in printed, err
            if fmt == "csv":
                rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
            else:
                rows = [[c.value or "" for c in row] for row in openpyxl.load_workbook(path).active.iter_rows()]
            flags = {int(row[0]): row[4] for row in rows[1:]}
            assert flags == {first: said.format(twin), lone: "", twin: said.format(first)}, rows


def test_review_from_the_cli(cli) -> None:
    code, out, _ = create(cli, "--mode", "review", "--question", "Mấy năm chưa về quê?", places="1")
    pid = int(out)

    async def register(store):  # type: ignore[no-untyped-def]
        ids = []
        for i in range(2):
            u = await store.touch_user("telegram", f"8{i}", language="vi")
            r = await store.register(RegistrationDraft(pid, u.id, f"+8491200010{i}", f"Người {i}", 1, ("3 năm",)))
            ids.append(r.registration.id)
        return ids

    first, second = in_store(cli, register)
    code, out, _ = cli("program", "review", str(pid))
    assert "2 pending" in out and "3 năm" in out and "+84912000100" not in out
    code, _, err = cli("program", "review", str(pid), "--reject", str(second))
    assert code == 2 and "--reason" in err
    code, out, _ = cli("program", "review", str(pid), "--approve", str(first))
    assert code == 0 and "confirmed, code" in out
    code, out, _ = cli("program", "review", str(pid), "--reject", str(second), "--reason", "Đã đủ suất")
    assert code == 0 and "rejected" in out
    code, _, err = cli("program", "review", str(pid), "--approve", str(second))
    assert code == 1 and "not pending" in err

    async def notices(store):  # type: ignore[no-untyped-def]
        return [m.kind for m in await store.pending_outbox()]

    assert in_store(cli, notices) == ["approved", "rejected"]


def test_event_at_sets_the_reminder_the_day_before_at_nine_vietnam_time(cli) -> None:
    """00:30 on day D in Vietnam is still D-1 in UTC: the reminder is D-1 09:00 local
    (02:00 UTC), not D-2 as a UTC date would give; without --event-at there is none."""
    event_day = local_today() + timedelta(days=10)
    code, out, err = create(cli, "--event-at", f"{event_day} 00:30")
    assert code == 0, err
    with_event = int(out)
    code, out, err = create(cli)
    assert code == 0, err
    without = int(out)

    async def body(store):  # type: ignore[no-untyped-def]
        return await store.get_program(with_event), await store.get_program(without)

    program, plain = in_store(cli, body)
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    assert program.event_at == datetime.combine(event_day, time(0, 30), tzinfo=vn)
    assert program.remind_at == datetime.combine(event_day - timedelta(days=1), time(9, 0), tzinfo=vn)
    assert program.remind_at.astimezone(UTC).hour == 2
    assert plain.remind_at is None


def test_create_refuses_a_past_closing_and_an_event_before_it_and_a_date_closes_at_day_end(cli) -> None:
    """Found by an outside tester: all three were accepted, and --closes 2027-01-20 meant
    00:00 of that day."""
    today = local_today()
    code, _, err = create(cli, "--opens", str(today - timedelta(days=9)), "--closes", str(today - timedelta(days=1)))
    assert code == 2 and "--closes is in the past" in err
    code, _, err = create(cli, "--event-at", f"{today + timedelta(days=2)} 08:00")  # closes in 5 days
    assert code == 2 and "--event-at must not be before --closes" in err
    # A date alone would tell workers 00:00, the night before: a time is asked for.
    code, out, err = create(cli, "--event-at", str(today + timedelta(days=30)))
    assert code == 2 and out == "" and f'needs a time too, e.g. "{today + timedelta(days=30)} 08:00"' in err
    closing_day = today + timedelta(days=5)
    code, out, err = create(cli, "--closes", str(closing_day), "--event-at", f"{closing_day} 23:59:59")
    assert code == 0, err
    code, out, _ = cli("program", "show", out.strip(), "--json")
    assert json.loads(out)["closes_at"] == f"{closing_day}T23:59+07:00"
    code, out, err = create(cli, "--closes", f"{closing_day} 08:00")  # a time given is kept
    assert code == 0, err
    code, out, _ = cli("program", "show", out.strip(), "--json")
    assert json.loads(out)["closes_at"] == f"{closing_day}T08:00+07:00"


def test_list_tells_registration_closed_from_not_yet_open(cli) -> None:
    from tests.test_care_programs import program

    now = datetime.now(UTC)

    async def programs(store):  # type: ignore[no-untyped-def]
        ended = await store.create_program(
            program(title="Đã hết hạn", opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=1))
        )
        later = await store.create_program(program(title="Sắp mở", opens_at=now + timedelta(days=1)))
        closed = await store.create_program(program(title="Đã đóng"))
        await store.close_program(closed)
        return ended, later, closed

    ended, later, closed = in_store(cli, programs)
    opened = int(create(cli)[1])
    assert cli("program", "list")[0] == 0
    out = cli("program", "list")[1]
    lines = {int(line.split()[0]): line for line in out.splitlines()[:-1]}
    assert "registration closed" in lines[ended] and "not yet open" not in lines[ended]
    assert "not yet open" in lines[later]
    assert "closed by organizer" in lines[closed] and " open " in lines[opened]
    out = cli("program", "list", "--json")[1]
    assert {p["id"]: p["state"] for p in json.loads(out)}[ended] == "registration closed"


def test_checkin_before_the_event_day_is_refused_and_a_checkin_can_be_undone(cli) -> None:
    today = local_today()
    code, out, _ = create(cli, "--event-at", f"{today + timedelta(days=30)} 08:00")
    later = int(out)
    code, out, _ = create(cli, "--closes", str(today), "--event-at", f"{today + timedelta(days=1)} 05:00")
    soon = int(out)

    async def register(store):  # type: ignore[no-untyped-def]
        u = await store.touch_user("telegram", "71", language="vi")
        a = await store.register(RegistrationDraft(later, u.id, "+84912000071", "Đinh Văn Sáu", 1))
        b = await store.register(RegistrationDraft(soon, u.id, "+84912000071", "Đinh Văn Sáu", 1))
        return a.registration.code, b.registration.code

    far, near = in_store(cli, register)
    code, _, err = cli("program", "checkin", str(later), far)
    assert code == 1 and "too early" in err and "check-in opens" in err
    assert cli("program", "checkin", str(soon), near)[0] == 0
    code, _, err = cli("program", "uncheckin", str(soon), far)
    assert code == 1 and "not a checked-in ticket" in err
    code, out, _ = cli("program", "uncheckin", str(soon), near.lower())
    assert code == 0 and "undone" in out
    assert cli("program", "checkin", str(soon), near)[0] == 0  # checked in again, not "already"

    async def audit(store):  # type: ignore[no-untyped-def]
        rows = await store.db.execute_fetchall(
            "SELECT action FROM audit_log WHERE action LIKE 'care.checkin%' ORDER BY id"
        )
        return [r[0] for r in rows]

    assert in_store(cli, audit) == ["care.checkin", "care.checkin.undo", "care.checkin"]


def test_english_questions_are_paired_with_the_vietnamese_and_review_shows_the_language(cli) -> None:
    base = ("--mode", "review", "--question", "Mấy năm chưa về quê?", "--question", "Hoàn cảnh?")
    code, _, err = create(cli, *base, "--question-en", "Years since you went home?")
    assert code == 2 and "one --question-en for each --question" in err
    code, out, err = create(cli, *base, "--question-en", "Years since you went home?", "--question-en", "Hardship?")
    assert code == 0, err
    pid = int(out)
    code, out, _ = cli("program", "show", str(pid), "--json")
    assert json.loads(out)["questions_en"] == ["Years since you went home?", "Hardship?"]

    async def register(store):  # type: ignore[no-untyped-def]
        u = await store.touch_user("telegram", "81", language="en")
        await store.register(RegistrationDraft(pid, u.id, "+84912000081", "John Tran", 1, ("3", "none")))

    in_store(cli, register)
    code, out, _ = cli("program", "review", str(pid))
    assert "lang en" in out


def test_review_and_checkin_from_the_cli_flag_a_number_registered_by_two_accounts(cli) -> None:
    """`program review` and `program checkin` say which registrations share a phone number
    (registered by two accounts: accepted, and the officers call and merge or reject)."""
    code, out, _ = create(cli, "--mode", "review", "--question", "Hoàn cảnh?", places="3")
    review = int(out)
    today = local_today()
    code, out, _ = create(cli, "--closes", str(today), "--event-at", f"{today + timedelta(days=1)} 05:00")
    bus = int(out)

    async def register(store):  # type: ignore[no-untyped-def]
        ids, codes = [], []
        for i, phone in enumerate(("+84911222333", "+84911222444", "+84911222333")):
            u = await store.touch_user("telegram", f"6{i}", language="vi")
            r = await store.register(RegistrationDraft(review, u.id, phone, f"Người {i}", 1, ("Khó khăn",)))
            ids.append(r.registration.id)
            t = await store.register(RegistrationDraft(bus, u.id, phone, f"Người {i}", 1))
            codes.append(t.registration.code)
        return ids, codes

    (first, _lone, twin), (code_first, code_lone, _) = in_store(cli, register)
    code, out, _ = cli("program", "review", str(review))
    assert code == 0 and "3 pending" in out
    assert f"⚠️ same phone as registration #{twin}" in out and f"⚠️ same phone as registration #{first}" in out
    assert out.count("⚠️") == 2, out
    code, out, _ = cli("program", "checkin", str(bus), code_first)
    assert code == 0 and "⚠️ same phone as registration #" in out, out
    code, out, _ = cli("program", "checkin", str(bus), code_lone)
    assert code == 0 and "⚠️" not in out
