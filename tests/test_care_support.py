"""Hardship support: /support (consent, limits, case number, the work-accident rights
answer), /cases for organizers (scoped, paged, filtered, status changes with the
worker told in their language), the CLI, and /forget."""

from __future__ import annotations

import json
import logging

import pytest

from bot.cli import main
from bot.logsetup import OWN_LOGGERS
from handlers.i18n import load_catalog
from storage import Role
from storage.care import CaseCategory, CaseStatus
from tests.test_care_programs import Outbox, deliver
from tests.test_join_form import fill_form

STORY = "Tôi bị ngã giàn giáo ở xưởng, gãy chân, đang nằm viện Chợ Rẫy."


async def organizer(store, external: str, provinces: list[str]):  # type: ignore[no-untyped-def]
    user = await store.touch_user("test", external, language="vi")
    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, provinces, None)
    return user


async def open_case(
    chat,
    *,
    category: str = "Tai nạn lao động",
    text: str = STORY,  # type: ignore[no-untyped-def]
    phone: str | None = "0912 000 111",
    province: str | None = "TP HCM",
) -> str:
    await chat.say("/support")
    await chat.press_label(category)
    await chat.say(text)
    if phone is not None:
        await chat.say(phone)
    if province is not None:
        await chat.say(province)
    assert "Trước khi gửi" in chat.text() and "tháng" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    return chat.text()


async def test_support_case_on_zalo_with_rights_answer_for_a_work_accident(store, make_chat, caplog) -> None:
    caplog.set_level(logging.INFO)
    chat = make_chat("s1", "zalo_oa")
    await chat.say("/support")
    await chat.press_label("Tai nạn lao động")
    await chat.say("x" * 501)
    assert "501 ký tự" in chat.text() and "500" in chat.text()
    await chat.say(STORY)
    await chat.say("12345")
    assert "điện thoại" in chat.text().lower()
    await chat.say("0912 000 111")
    await chat.say("Atlantis")
    assert "Chưa nhận ra" in chat.text()
    await chat.say("Sài Gòn")
    assert "Hồ Chí Minh" in chat.text() and "Trước khi gửi" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    assert "Số hồ sơ của bạn" in chat.text()
    assert "qa:work_accident" in chat.payloads()
    await chat.press("qa:work_accident")
    assert "tai nạn lao động" in chat.text().lower()
    [case] = await store.list_cases(provinces=None)
    assert (case.category, case.status, case.province_id) == (
        CaseCategory.WORK_ACCIDENT,
        CaseStatus.RECEIVED,
        "ho_chi_minh",
    )
    assert STORY not in caplog.text and "0912" not in caplog.text and "+84912000111" not in caplog.text


async def test_no_consent_no_case_and_a_signed_up_worker_is_not_asked_again(store, chat, make_chat) -> None:
    other = make_chat("nc")
    await other.say("/support")
    await other.press_label("Ốm đau")
    await other.say("Con tôi bị ốm nặng")
    await other.say("0912000222")
    await other.press("cs:p:" + next(p for p in other.payloads() if p.startswith("cs:p:")).split(":", 2)[2])
    await other.press_label("Không gửi")
    assert await store.list_cases(provinces=None) == []

    await fill_form(chat)
    text = await open_case(chat, category="Tang gia", phone=None, province=None)
    assert "Hồ Chí Minh" in text and "qa:work_accident" not in chat.payloads()


async def test_cases_are_scoped_paged_and_each_change_reaches_the_worker(store, make_chat) -> None:
    workers = [make_chat(f"w{i}") for i in range(7)]
    for i, w in enumerate(workers):
        await open_case(w, category="Ốm đau", text=f"Hoàn cảnh số {i}", province="Hồ Chí Minh" if i < 6 else "Hà Nội")
    en_worker = workers[0]
    await en_worker.say("/lang en")
    await organizer(store, "hcm", ["ho_chi_minh"])
    await organizer(store, "hn", ["ha_noi"])
    hcm, hn = make_chat("hcm"), make_chat("hn")

    await hcm.say("/cases")
    listed = [p for p in hcm.payloads() if p.startswith("cc:v:")]
    assert len(listed) == 5 and "Hà Nội" not in hcm.text()
    await hcm.press_label("Trang sau")
    assert len([p for p in hcm.payloads() if p.startswith("cc:v:")]) == 1
    await hn.say("/cases")
    assert len([p for p in hn.payloads() if p.startswith("cc:v:")]) == 1

    first = (await store.cases_of_user((await store.find_user("test", "w0")).id))[0]
    await hn.press(f"cc:v:{first.id}")
    assert "Hoàn cảnh số 0" not in hn.text()  # another province's case: never shown
    await hn.press(f"cc:s:{first.id}:contacted")
    assert (await store.get_case(first.id)).status is CaseStatus.RECEIVED

    await hcm.press(f"cc:v:{first.id}")
    assert "Hoàn cảnh số 0" in hcm.text()
    await hcm.press(f"cc:s:{first.id}:contacted")
    await hcm.say("Đã gọi điện, hẹn đến thăm thứ Bảy")
    assert "đã liên hệ" in hcm.text()
    await hcm.press(f"cc:s:{first.id}:closed")
    assert "không chuyển được" not in hcm.text()
    await hcm.press_label("Bỏ qua")
    second = (await store.cases_of_user((await store.find_user("test", "w1")).id))[0]
    await hcm.press(f"cc:s:{second.id}:declined")
    assert "Bỏ qua" not in hcm.labels()  # a refusal needs its reason
    assert "lý do" in hcm.text().lower()
    await hcm.say("Không thuộc diện hỗ trợ của quỹ")
    await hcm.say("/cases declined")
    assert f"#{second.id}" in hcm.text() and f"#{first.id}" not in hcm.text()

    outbox = Outbox()
    await deliver(store, outbox)
    en = [r.text for r in outbox.to("test", "w0")]
    assert en == [f"🤝 Support case no. {first.id}: contacted.", f"🤝 Support case no. {first.id}: closed."]
    [vi] = [r.text for r in outbox.to("test", "w1")]
    assert "không hỗ trợ" in vi and "Không thuộc diện" in vi
    audit = await store.list_audit(action="care.case.status")
    assert len(audit) == 3 and all("Đã gọi" not in json.dumps(a.details, ensure_ascii=False) for a in audit)


async def test_a_worker_cannot_open_cases(make_chat) -> None:
    chat = make_chat("plain")
    await chat.say("/cases")
    assert "#" not in chat.text()
    await chat.press("cc:v:1")
    assert "Hoàn cảnh" not in chat.text()


async def test_mydata_and_forget_cover_cases(store, make_chat) -> None:
    chat = make_chat("fg")
    await open_case(chat)
    await chat.say("/mydata")
    assert STORY in chat.text() and "+84912000111" in chat.text()
    await chat.say("/forget")
    await chat.press(next(p for p in chat.payloads() if p.endswith(":y")))
    assert await store.list_cases(provinces=None) == []


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


async def seed_case(path, province: str = "ho_chi_minh") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from storage.sqlite import SQLiteStore

    async with SQLiteStore(path) as store:
        user = await store.touch_user("telegram", "777", language="en")
        case_id = await store.create_case(
            user_id=user.id,
            category=CaseCategory.DISASTER,
            description="Nhà bị cháy",
            phone_e164="+84912000333",
            province_id=province,
            consent_version="t",
        )
        org = await store.touch_user("telegram", "888", language="vi")
        await store.set_role(org.id, Role.ORGANIZER)
        await store.add_organizer_provinces(org.id, ["ha_noi"], None)
        return case_id, user.id


def test_cases_cli_scope_and_outbox(cli) -> None:
    import asyncio

    case_id, user_id = asyncio.run(seed_case(cli.db))
    code, out, _ = cli("cases", "list", "--json")
    [item] = json.loads(out)
    assert item["id"] == case_id and item["status"] == "received" and item["province"] == "ho_chi_minh"
    code, out, _ = cli("cases", "list", "--json", "--as", "telegram:888")
    assert code == 0 and json.loads(out) == []
    code, _, err = cli("cases", "set", str(case_id), "--status", "contacted", "--as", "telegram:888")
    assert code == 1 and err.strip() == f"unionbot: no case {case_id}"
    code, _, err = cli("cases", "set", str(case_id), "--status", "declined")
    assert code == 2 and "--note" in err
    code, _, err = cli("cases", "set", str(case_id), "--status", "supported")
    assert code == 1 and "cannot become supported" in err
    code, out, _ = cli("cases", "set", str(case_id), "--status", "contacted", "--note", "Đã gọi")
    assert code == 0
    code, out, _ = cli("cases", "list", "--status", "contacted")
    assert str(case_id) in out

    async def pending():  # type: ignore[no-untyped-def]
        from storage.sqlite import SQLiteStore

        async with SQLiteStore(cli.db) as store:
            return await store.pending_outbox(user_id)

    [msg] = asyncio.run(pending())
    assert msg.kind == "case_status" and msg.params["status"] == "contacted"
    from zoneinfo import ZoneInfo

    from handlers.care.common import render_notice

    text = render_notice(load_catalog(), "en", ZoneInfo("Asia/Ho_Chi_Minh"), msg, "telegram").text
    assert text == f"🤝 Support case no. {case_id}: contacted."


def listed_cases(chat) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(p.split(":")[2]) for p in chat.payloads() if p.startswith("cc:v:")]


async def test_cases_newest_first_and_an_admin_sees_every_province(store, make_chat) -> None:
    provinces = ["Hồ Chí Minh", "Hà Nội", "Đà Nẵng", "Hồ Chí Minh", "Hà Nội", "Cần Thơ", "Hồ Chí Minh"]
    for i, province in enumerate(provinces):
        await open_case(make_chat(f"nw{i}"), category="Ốm đau", text=f"Hoàn cảnh {i}", province=province)
    every = [c.id for c in await store.list_cases(provinces=None, limit=100)]
    assert len(every) == 7
    created = sorted(every)  # ids in the order the cases were opened
    admin = await store.touch_user("test", "admin", language="vi")
    await store.set_role(admin.id, Role.ADMIN)
    chat = make_chat("admin")
    await chat.say("/cases")
    seen, pages = listed_cases(chat), chat.text()
    await chat.press_label("Trang sau")
    seen, pages = seen + listed_cases(chat), pages + chat.text()
    assert seen == created[::-1]  # all seven, every province, newest first across pages
    for name in ("Hồ Chí Minh", "Hà Nội", "Đà Nẵng", "Cần Thơ"):
        assert name in pages, name
    await organizer(store, "hcm-new", ["ho_chi_minh"])
    hcm = make_chat("hcm-new")
    await hcm.say("/cases")
    ours = [created[i] for i, p in enumerate(provinces) if p == "Hồ Chí Minh"]
    assert listed_cases(hcm) == ours[::-1]


async def test_case_notes_and_descriptions_never_reach_the_log(store, make_chat, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    note, reason = "Ghi chú bí mật: chồng chị ấy mất việc", "Lý do riêng tư không được ghi"
    await open_case(make_chat("pw"), category="Ốm đau", text="Mô tả riêng tư của chị")
    await organizer(store, "hcm-log", ["ho_chi_minh"])
    hcm = make_chat("hcm-log")
    [case] = await store.list_cases(provinces=None)
    await hcm.press(f"cc:s:{case.id}:contacted")
    await hcm.say(note)
    await hcm.press(f"cc:s:{case.id}:declined")
    await hcm.say(reason)
    assert [e.note for e in await store.case_events(case.id)][-2:] == [note, reason]
    await deliver(store, Outbox())  # the worker's notice carries the reason
    # Our packages log at every level; libraries are capped at WARNING by bot.logsetup
    # (aiosqlite's DEBUG echoes SQL parameters), so those are what the bot can ever write.
    written = [
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in OWN_LOGGERS or r.levelno >= logging.WARNING
    ]
    assert any(r.name.startswith("handlers") or r.name.startswith("bot") for r in caplog.records)
    for secret in (note, reason, "Mô tả riêng tư"):
        assert all(secret not in line for line in written), secret


async def test_a_case_note_step_is_left_by_another_command(store, make_chat) -> None:
    await open_case(make_chat("pw2"), category="Ốm đau", text="Hoàn cảnh khó khăn")
    await organizer(store, "hcm-left", ["ho_chi_minh"])
    hcm = make_chat("hcm-left")
    [case] = await store.list_cases(provinces=None)
    for leave in ("/start", f"cc:v:{case.id}"):  # a command, or another of the cases' buttons
        await hcm.press(f"cc:s:{case.id}:contacted")  # asks for a note
        await (hcm.say(leave) if leave.startswith("/") else hcm.press(leave))
        await hcm.say("lương tối thiểu vùng 1 là bao nhiêu")
        assert all(e.note != "lương tối thiểu vùng 1 là bao nhiêu" for e in await store.case_events(case.id))
