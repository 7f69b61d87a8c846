"""Organizers: scoped follow-up, status and notes, exports, targets; /scope."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from handlers.join.form import CONSENT_VERSION
from storage import Role
from storage.signups import SignupDraft, SignupSource, SignupStatus
from tests.conftest import ChatDriver

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BOM = b"\xef\xbb\xbf"


async def add_signup(store, phone: str, province: str, name: str = "Trần Văn Đức", **kw) -> int:  # type: ignore[no-untyped-def]
    draft = SignupDraft(
        full_name=name,
        phone_e164=phone,
        workplace=kw.get("workplace", "Công ty TNHH Giày Việt"),
        province_id=province,
        commune=kw.get("commune"),
        source=kw.get("source", SignupSource.SELF),
        volunteer_id=kw.get("volunteer_id"),
        consent_version=CONSENT_VERSION,
        consent_lang="vi",
        consent_channel="telegram",
        owner_id=kw.get("owner_id"),
    )
    result = await store.submit_signup(draft)
    assert result is not None
    return result.signup_id


@pytest.fixture
async def org(make_chat, store) -> ChatDriver:  # type: ignore[no-untyped-def]
    chat = make_chat("org")
    await chat.say("/start")
    user = await store.find_user("test", "org")
    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
    return chat


@pytest.fixture
async def data(store):  # type: ignore[no-untyped-def]
    hcm = await add_signup(store, "+84912000001", "ho_chi_minh", "Nguyễn Thị Ánh")
    hn = await add_signup(store, "+84912000002", "ha_noi", "Lê Văn Hà Nội")
    return {"hcm": hcm, "hn": hn}


async def test_organizer_without_provinces_sees_none_and_is_told_to_ask(make_chat, store, data) -> None:
    chat = make_chat("newbie")
    await chat.say("/start")
    user = await store.find_user("test", "newbie")
    await store.set_role(user.id, Role.ORGANIZER)
    for command in ("/signups", f"/signups {data['hcm']}", "/export", "/targets"):
        replies = await chat.say(command)
        assert "/scope newbie" in chat.text(), command
        assert "Nguyễn Thị Ánh" not in chat.text()
        assert all(r.document is None and r.photo is None for r in replies)


async def test_signups_list_is_limited_to_the_organizer_provinces(org, data) -> None:
    await org.say("/signups")
    assert "Nguyễn Thị Ánh" in org.text() and "Lê Văn Hà Nội" not in org.text()
    assert f"jo:v:{data['hcm']}" in org.payloads()
    await org.say("/signups Hà Nội")
    assert "không phụ trách" in org.text() and "Lê Văn" not in org.text()
    await org.say("/signups Paris")
    assert "Paris" in org.text()


async def test_admin_sees_every_province(make_chat, data) -> None:
    admin = make_chat("admin")
    await admin.say("/signups")
    assert "Nguyễn Thị Ánh" in admin.text() and "Lê Văn Hà Nội" in admin.text()
    await admin.say("/signups ha noi")
    assert "Nguyễn Thị Ánh" not in admin.text() and "Lê Văn Hà Nội" in admin.text()


async def test_details_and_forged_payloads_outside_the_scope(org, store, data) -> None:
    await org.say(f"/signups {data['hcm']}")
    assert "+84912000001" in org.text() and "Công ty TNHH Giày Việt" in org.text()
    assert CONSENT_VERSION in org.text()
    for forged in (
        f"jo:v:{data['hn']}",
        f"jo:s:{data['hn']}:joined",
        f"jo:n:{data['hn']}",
        "jo:l:ha_noi:*:0",
        f"jo:v:{data['hn'] + 100}",
    ):
        await org.press(forged)
        assert "Lê Văn" not in org.text() and "+84912000002" not in org.text(), forged
        assert "Không tìm thấy" in org.text(), forged
    await org.say(f"/signups {data['hn']}")
    assert "Không tìm thấy" in org.text()
    assert (await store.get_signup(data["hn"])).status is SignupStatus.NEW
    org_user = await store.find_user("test", "org")
    assert await store.get_state(org_user.id) is None
    for garbled in ("jo", "jo:v", "jo:v:abc", "jo:s:1:married", "jo:l:*:*:x", "jo:zz:1"):
        await org.press(garbled)
        assert org.text(), garbled


async def test_status_change_is_audited_and_shown(org, store, data) -> None:
    await org.press(f"jo:v:{data['hcm']}")
    await org.press_label("Đã liên hệ")
    assert "Đã chuyển trạng thái" in org.text() and org.last[0].edit
    assert (await store.get_signup(data["hcm"])).status is SignupStatus.CONTACTED
    entry = (await store.list_audit(action="signup.status"))[0]
    assert entry.target == f"signup:{data['hcm']}" and entry.details == {"from": "new", "to": "contacted"}
    await org.say("/signups contacted")
    assert "Nguyễn Thị Ánh" in org.text()
    await org.say("/signups moi")
    assert "Nguyễn Thị Ánh" not in org.text()
    await org.press("jo:l:*:contacted:0")
    assert "Nguyễn Thị Ánh" in org.text()


async def test_notes_are_typed_after_the_button(org, store, data) -> None:
    await org.press(f"jo:n:{data['hcm']}")
    assert "Gõ ghi chú" in org.text()
    await org.say("Ca đêm, gọi sau 18h")
    assert "Đã lưu ghi chú" in org.text() and "Ca đêm, gọi sau 18h" in org.text()
    notes = await store.signup_notes(data["hcm"])
    assert [n.text for n in notes] == ["Ca đêm, gọi sau 18h"]
    entry = (await store.list_audit(action="signup.note"))[0]
    assert "Ca đêm" not in str(entry.details), "the audit log holds no free text"


async def test_a_note_step_is_left_by_another_command(org, store, data) -> None:
    await org.press(f"jo:n:{data['hcm']}")
    await org.say("/signups")
    await org.say("nghỉ phép năm")
    assert "Đã lưu ghi chú" not in org.text()
    assert await store.signup_notes(data["hcm"]) == []


async def test_a_note_long_after_the_button_is_not_saved(org, store, data) -> None:
    await org.press(f"jo:n:{data['hcm']}")
    org_user = await store.find_user("test", "org")
    then = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
    await store.db.execute("UPDATE conversation_state SET updated_at = ?", (then,))
    await org.say("lương tối thiểu vùng 1 là bao nhiêu?")
    assert "15 phút" in org.text()
    assert await store.signup_notes(data["hcm"]) == []
    assert await store.get_state(org_user.id) is None


async def test_a_note_started_then_scope_removed_is_not_saved(org, make_chat, store, data) -> None:
    await org.press(f"jo:n:{data['hcm']}")
    org_user = await store.find_user("test", "org")
    await store.remove_organizer_provinces(org_user.id, ["ho_chi_minh"])
    await org.say("ghi chú")
    assert await store.signup_notes(data["hcm"]) == []


async def test_export_asks_the_format_then_sends_one_file_in_scope_and_audited(org, store, data) -> None:
    replies = await org.say("/export")
    assert all(r.document is None for r in replies)
    assert "Hồ Chí Minh" in org.text() and "tất cả" not in org.text()
    assert await store.list_audit(action="signups.export") == []
    replies = await org.press_label("Excel")
    docs = [r.document for r in replies if r.document]
    assert [d.filename.rsplit(".", 1)[1] for d in docs] == ["xlsx"]
    assert "Hồ Chí Minh" in org.text()
    book = openpyxl.load_workbook(io.BytesIO(docs[0].data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][2] == "Họ và tên" and len(rows) == 2
    assert rows[1][2] == "Nguyễn Thị Ánh" and rows[1][5] == "Hồ Chí Minh" and rows[1][9] == "Mới"
    entry = (await store.list_audit(action="signups.export"))[0]
    org_user = await store.find_user("test", "org")
    assert entry.actor_id == org_user.id
    assert entry.details == {"rows": 1, "provinces": ["ho_chi_minh"], "formats": ["xlsx"], "via": "test"}

    replies = await org.say("/export csv")
    docs = [r.document for r in replies if r.document]
    assert [d.filename.rsplit(".", 1)[1] for d in docs] == ["csv"]
    assert docs[0].data.startswith(BOM)
    table = list(csv.reader(io.StringIO(docs[0].data.decode("utf-8-sig"))))
    assert table[1][2] == "Nguyễn Thị Ánh" and len(table) == 2
    assert b"L\xc3\xaa V\xc4\x83n" not in docs[0].data  # "Lê Văn": the other province
    assert (await store.list_audit(action="signups.export"))[0].details["formats"] == ["csv"]


async def test_export_button_for_another_province_is_refused(org, store, data) -> None:
    replies = await org.press("jo:export:xlsx:ha_noi")
    assert all(r.document is None for r in replies)
    assert "Lê Văn" not in org.text()
    assert await store.list_audit(action="signups.export") == []


async def test_export_too_large_for_the_channel_is_zipped_or_refused_with_the_cli_command(
    org, store, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    from handlers.join import export as export_module

    rows = [
        await add_signup(store, f"+849130{i:05d}", "ho_chi_minh", "Nguyễn Văn Nhiều Tên Dài" * 3) for i in range(300)
    ]
    assert len(rows) == 300
    # Small enough for the zip (names repeat), too big as plain CSV.
    monkeypatch.setattr(export_module, "TELEGRAM_DOCUMENT_LIMIT", 20_000)
    replies = await org.say("/export csv")
    docs = [r.document for r in replies if r.document]
    assert len(docs) == 1 and docs[0].filename.endswith(".csv.zip") and docs[0].mime_type == "application/zip"
    assert len(docs[0].data) <= 20_000
    with zipfile.ZipFile(io.BytesIO(docs[0].data)) as archive:
        [name] = archive.namelist()
        assert name.endswith(".csv") and archive.read(name).count(b"\r\n") == 302
    assert "nén" in org.text()

    monkeypatch.setattr(export_module, "TELEGRAM_DOCUMENT_LIMIT", 500)
    replies = await org.say("/export xlsx")
    assert all(r.document is None for r in replies)
    assert "unionbot signups export --format xlsx" in org.text()
    assert "/console" not in org.text(), "no console address while the console is not running"


async def test_too_large_export_also_names_the_web_console_when_it_runs(
    org, services, store, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.join import export as export_module

    services.console_url = "https://cd.example.vn/"
    monkeypatch.setattr(export_module, "TELEGRAM_DOCUMENT_LIMIT", 500)
    await org.say("/export xlsx")
    assert "unionbot signups export --format xlsx" in org.text()
    assert "https://cd.example.vn/console/signups" in org.text() and "trang quản trị" in org.text()


async def test_export_on_zalo_sends_no_file_and_names_the_command(make_chat, store, data) -> None:
    chat = make_chat("zorg", channel="zalo_oa")
    await chat.say("/start")
    user = await store.find_user("zalo_oa", "zorg")
    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
    replies = await chat.say("/export csv Hồ Chí Minh")
    assert all(r.document is None for r in replies)
    assert "unionbot signups export --format csv --out FILE --province ho_chi_minh" in chat.text()


async def test_export_on_zalo_says_at_once_that_files_come_through_the_console_or_cli(
    make_chat, services, store, data
) -> None:
    """Not after asking a format it could not deliver anyway (issue 17, item 3)."""
    services.console_url = "https://cd.example.vn"
    chat = make_chat("zorg", channel="zalo_bot")
    await chat.say("/start")
    user = await store.find_user("zalo_bot", "zorg")
    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
    replies = await chat.say("/export")
    assert all(r.document is None and not r.buttons for r in replies), "no format question"
    assert "không gửi được tệp" in chat.text()
    assert "unionbot signups export --format xlsx --out FILE" in chat.text()
    assert "https://cd.example.vn/console/signups" in chat.text()
    assert await store.list_audit(action="signups.export") == []


async def test_scoped_organizer_titles_name_their_provinces(org, store, data) -> None:
    await org.say("/signups")
    assert "Hồ Chí Minh" in org.text().splitlines()[0] and "tất cả" not in org.text()
    await org.say("/targets")
    assert "Hồ Chí Minh" in org.text().splitlines()[0] and "tất cả" not in org.text()


async def test_export_one_province_and_refusal_outside(make_chat, org, store, data) -> None:
    await org.say("/export ha noi")
    assert all(r.document is None for r in org.last)
    assert await store.list_audit(action="signups.export") == []
    admin = make_chat("admin")
    replies = await admin.say("/export xlsx Hà Nội")
    book = openpyxl.load_workbook(io.BytesIO(replies[0].document.data))
    assert [r[2] for r in book.active.iter_rows(min_row=2, values_only=True)] == ["Lê Văn Hà Nội"]


async def test_targets_progress_and_chart(org, store, data) -> None:
    vol = await store.touch_user("test", "vol", language="vi")
    await store.create_volunteer_code(vol.id, "v_TargetCode01")
    await add_signup(store, "+84912000003", "ho_chi_minh", source=SignupSource.REFERRAL, volunteer_id=vol.id)
    await add_signup(store, "+84912000004", "ho_chi_minh", source=SignupSource.COLLECTED, volunteer_id=vol.id)
    year = datetime.now(UTC).year
    replies = await org.say("/targets set hcm 200")
    assert "200" in replies[0].text
    progress = replies[1]
    assert "3 / kế hoạch 200 (1,5%)" in progress.text
    assert "v_TargetCode01: 1 qua liên kết, 1 đăng ký hộ" in progress.text
    assert "tự đăng ký: 1" in progress.text
    assert progress.photo is not None and progress.photo.data.startswith(PNG_MAGIC)
    assert await store.signup_targets(year) == {"ho_chi_minh": 200}
    entry = (await store.list_audit(action="signups.target"))[0]
    assert entry.details == {"year": year, "target": 200}
    await org.say("/targets")
    assert "Hồ Chí Minh: 3 / 200" in org.text() and "Hà Nội" not in org.text()
    await org.say("/targets set Hà Nội 100")
    assert "không phụ trách" in org.text()
    await org.say(f"/targets set Quảng Ninh 7.965 {year + 1}")
    assert "không phụ trách" in org.text()


@pytest.mark.parametrize(
    "args", ["", "hcm", "hcm abc", "hcm 0", "hcm 999999999999", "Paris 100", "Hà Nội 100 1900", "Hà Nội 100 2100"]
)
async def test_targets_set_bad_usage(make_chat, store, args) -> None:
    admin = make_chat("admin")
    await admin.say(f"/targets set {args}")
    assert "/targets set" in admin.text() or "Paris" in admin.text()
    assert await store.signup_targets(datetime.now(UTC).year) == {}
    if args.endswith(("1900", "2100")):
        assert "không hợp lệ" in admin.text()


async def test_admin_sets_target_for_another_year(make_chat, store) -> None:
    admin = make_chat("admin")
    await admin.say("/targets set Quảng Ninh 7.965 2027")
    assert await store.signup_targets(2027) == {"quang_ninh": 7965}
    await admin.say("/targets quang ninh 2027")
    assert "0 / kế hoạch 7965" in admin.text()


async def test_scope_assigned_by_admin_and_audited(make_chat, store) -> None:
    admin, org = make_chat("admin"), make_chat("o2")
    await org.say("/start")
    await admin.say("/scope o2 hcm")
    assert "/grant o2 organizer" in admin.text()
    await admin.say("/grant o2 organizer")
    await admin.say("/scope o2 Hồ Chí Minh, Đồng Nai")
    assert "Hồ Chí Minh" in admin.text() and "Đồng Nai" in admin.text()
    o2 = await store.find_user("test", "o2")
    assert await store.organizer_provinces(o2.id) == {"ho_chi_minh", "dong_nai"}
    await admin.say("/scope o2 remove dong_nai")
    assert await store.organizer_provinces(o2.id) == {"ho_chi_minh"}
    actions = [(e.action, e.details) for e in await store.list_audit() if e.action.startswith("scope.")]
    assert actions == [
        ("scope.remove", {"provinces": ["dong_nai"]}),
        ("scope.add", {"provinces": ["dong_nai", "ho_chi_minh"]}),
    ]
    await admin.say("/scope o2 Atlantis")
    assert "Atlantis" in admin.text()
    await org.say("/scope")
    assert "Hồ Chí Minh" in org.text()
    await admin.say("/scope")
    assert "quản trị viên" in admin.text()


async def test_organizer_passes_on_only_their_own_provinces(org, make_chat, store) -> None:
    other = make_chat("o3")
    await other.say("/start")
    o3 = await store.find_user("test", "o3")
    await store.set_role(o3.id, Role.ORGANIZER)
    # Someone of no province at all is for an admin to scope (issue 14)...
    await org.say("/scope o3 hcm")
    assert "không thuộc tỉnh/thành phố bạn phụ trách" in org.text()
    # ...one who signed up in the organizer's province is theirs.
    await add_signup(store, "+84912000333", "ho_chi_minh", owner_id=o3.id)
    await org.say("/scope o3 Hà Nội")
    assert "Không phải của bạn" in org.text()
    assert await store.organizer_provinces(o3.id) == frozenset()
    await org.say("/scope o3 hcm")
    assert await store.organizer_provinces(o3.id) == {"ho_chi_minh"}


async def test_workers_and_volunteers_cannot_scope(make_chat, store) -> None:
    worker = make_chat("w")
    await worker.say("/scope w hcm")
    assert "cán bộ công đoàn" in worker.text()
    w = await store.find_user("test", "w")
    assert await store.organizer_provinces(w.id) == frozenset()


async def test_grant_still_works(make_chat, store) -> None:
    admin, x = make_chat("admin"), make_chat("x")
    await x.say("/start")
    await admin.say("/grant x organizer")
    assert (await store.find_user("test", "x")).role is Role.ORGANIZER


async def test_pagination(make_chat, store) -> None:
    for i in range(12):
        await add_signup(store, f"+849120001{i:02d}", "ha_noi", name=f"Người Số {chr(65 + i)}")
    admin = make_chat("admin")
    await admin.say("/signups")
    assert "Người Số L" in admin.text() and "Người Số A" not in admin.text()
    await admin.press_label("Cũ hơn")
    assert "Người Số A" in admin.text() and "Người Số L" not in admin.text()


async def test_a_long_export_tells_the_organizer_once_that_the_file_is_coming(
    org, services, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from handlers.join import organizer as organizer_module
    from handlers.join.export import ExportJob, ExportResult, InProcessExporter

    told: list[tuple[str, str, str]] = []

    async def notify(channel: str, user: str, reply) -> bool:  # type: ignore[no-untyped-def]
        told.append((channel, user, reply.text))
        return True

    class SlowExporter:
        async def export(self, job: ExportJob, *, progress=None) -> ExportResult:  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.3)
            return await InProcessExporter(services.store, services.catalog).export(job)

    monkeypatch.setattr(organizer_module, "PROGRESS_AFTER", 0.05)
    services.exporter = SlowExporter()
    services.deliver = notify
    replies = await org.say("/export csv")
    assert [r.document.filename.rsplit(".", 1)[1] for r in replies if r.document] == ["csv"]
    assert len(told) == 1 and told[0][:2] == ("test", "org") and "⏳" in told[0][2] and "0/1" in told[0][2]

    told.clear()
    monkeypatch.setattr(organizer_module, "PROGRESS_AFTER", 5.0)
    await org.say("/export csv")
    assert told == [], "a quick export sends the file alone"


async def test_a_long_export_edits_one_progress_message_at_most_every_interval(
    org, services, store, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "⏳" message is sent once and then edited with rows written / total, throttled;
    the edits go through the channel-neutral status API, not new messages."""
    import asyncio
    import time

    from handlers.join import organizer as organizer_module
    from handlers.join.export import ExportJob, ExportResult, InProcessExporter

    for i in range(9):
        await add_signup(store, f"+84913100{i:03d}", "ho_chi_minh")
    opened: list[tuple[str, str, str]] = []
    edits: list[tuple[float, str]] = []

    class Status:
        async def edit(self, text: str) -> None:
            edits.append((time.monotonic(), text))

    async def open_status(channel: str, user: str, text: str) -> Status:
        opened.append((channel, user, text))
        return Status()

    class SteppingExporter:
        """Reports a row every 20 ms, as the worker does after each page."""

        async def export(self, job: ExportJob, *, progress=None) -> ExportResult:  # type: ignore[no-untyped-def]
            for rows in range(1, 11):
                await asyncio.sleep(0.02)
                progress(rows)
            await asyncio.sleep(0.1)
            return await InProcessExporter(services.store, services.catalog).export(job)

    monkeypatch.setattr(organizer_module, "PROGRESS_AFTER", 0.01)
    monkeypatch.setattr(organizer_module, "PROGRESS_EVERY", 0.05)
    services.exporter = SteppingExporter()
    services.open_status = open_status
    services.deliver = None
    replies = await org.say("/export csv")
    assert [r.document.filename.rsplit(".", 1)[1] for r in replies if r.document] == ["csv"]
    assert len(opened) == 1 and opened[0][:2] == ("test", "org") and "⏳" in opened[0][2] and "/10" in opened[0][2]
    assert edits, "the progress message is edited as rows are written"
    assert edits[-1][1].count("10/10") == 1
    assert len(edits) < 10, "edits are throttled, not one per page"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(edits)]
    assert all(gap >= 0.04 for gap in gaps), gaps
    assert "⏳" not in org.text(), "the file's reply itself is a new message"


@pytest.mark.parametrize("typed", ["đã gia nhập", "da gia nhap", "Hồ Chí Minh đã gia nhập", "joined"])
async def test_a_status_filter_typed_in_several_words(admin_chat_with_statuses, typed: str) -> None:
    # Found by an outside tester: "đã gia nhập" typed apart was read as part of the
    # province and the filter silently dropped ("trạng thái: Tất cả").
    admin = admin_chat_with_statuses
    await admin.say(f"/signups {typed}")
    assert "Tất cả" not in admin.text().splitlines()[0], admin.text()
    assert "Nguyễn Thị Ánh" in admin.text() and "Lê Văn Hà Nội" not in admin.text()


@pytest.fixture
async def admin_chat_with_statuses(make_chat, store, data):  # type: ignore[no-untyped-def]
    from storage.signups import SignupStatus as Status

    await store.set_signup_status(data["hcm"], Status.JOINED)
    admin = make_chat("admin")
    await admin.say("/start")
    return admin


async def test_the_share_of_the_target_counts_only_provinces_with_a_target(make_chat, store, data, monkeypatch) -> None:
    # Found by an outside tester: "6 / 600 (1.0%)" counted Hà Nội's sign-ups against Bắc
    # Ninh's plan. `data` holds one sign-up in Hồ Chí Minh and one in Hà Nội.
    import handlers.join.reports as reports

    drawn: list[int] = []

    def chart(weeks, target, **kw):  # type: ignore[no-untyped-def]
        drawn.append(sum(n for _, n in weeks))
        return b"\x89PNG"

    monkeypatch.setattr(reports, "weekly_chart_png", chart)
    admin = make_chat("admin")
    await admin.say("/targets set Hồ Chí Minh 100")
    await admin.say("/targets")
    text = admin.text()
    assert "Đăng ký: 1 / kế hoạch 100 (1,0%)" in text, text
    assert "Thêm 1 đăng ký ở tỉnh/thành chưa có kế hoạch" in text
    assert drawn[-1] == 1, "the chart against the target counts the same sign-ups as the text"
