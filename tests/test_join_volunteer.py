"""Volunteers: referral link and QR code, signing up a worker in person, own counts only."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.context import Services
from handlers.dispatcher import Dispatcher
from storage import Role
from storage.signups import SignupSource, SignupStatus
from tests.conftest import ChatDriver
from tests.test_join_form import LAN, current_step, fill_form, press_action, signups_in

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def volunteer(make_chat, store):  # type: ignore[no-untyped-def]
    chat = make_chat("vol")
    await chat.say("/start")
    user = await store.find_user("test", "vol")
    await store.set_role(user.id, Role.VOLUNTEER)
    return chat


def with_username(dispatcher: Dispatcher, username: str | None) -> Dispatcher:
    s = dispatcher.services
    settings = dataclasses.replace(s.settings, bot_username=username)
    return Dispatcher(Services(s.store, s.catalog, settings), dispatcher.router)


async def test_workers_cannot_use_volunteer_commands(chat, store) -> None:
    for command in ("/volunteer", "/collect", "/mystats"):
        await chat.say(command)
        assert "tình nguyện viên" in chat.text(), command
    user = await store.find_user("test", "u1")
    assert await store.volunteer_code(user.id) is None


async def test_volunteer_gets_a_stable_code_link_and_qr(volunteer, dispatcher, store) -> None:
    chat = ChatDriver(with_username(dispatcher, "unionbot_test_bot"), "vol")
    replies = await chat.say("/volunteer")
    user = await store.find_user("test", "vol")
    code = await store.volunteer_code(user.id)
    assert code is not None and code.startswith("v_")
    link = f"https://t.me/unionbot_test_bot?start={code}"
    assert link in replies[0].text
    assert replies[0].photo is not None and replies[0].photo.data.startswith(PNG_MAGIC)
    await chat.say("/volunteer")
    assert link in chat.text(), "the same code every time"


async def test_volunteer_without_a_known_username_gets_the_code_only(volunteer, store) -> None:
    replies = await volunteer.say("/volunteer")
    user = await store.find_user("test", "vol")
    code = await store.volunteer_code(user.id)
    assert code in replies[0].text and "t.me" not in replies[0].text
    assert replies[0].photo is None


async def collect(chat: ChatDriver, **answers: str | None) -> list:  # type: ignore[type-arg]
    return await fill_form(chat, command="/collect", **answers)


async def test_collect_records_the_volunteer_and_consent(volunteer, store) -> None:
    await volunteer.say("/collect")
    assert "người lao động" in volunteer.text() and "Câu 1/6" in volunteer.text()
    await volunteer.say("/cancel")
    await volunteer.say("/collect")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await volunteer.say(text)
    assert await current_step(volunteer) == "consent", "no referral question when collecting"
    assert "đọc nguyên văn" in volunteer.text() and "/forget" in volunteer.text()
    assert "✅ Tôi đã đọc cho họ nghe và họ đồng ý" in volunteer.labels()
    await press_action(volunteer, "a")
    assert "xác nhận đã đọc" in volunteer.text()
    replies = await press_action(volunteer, "g")
    assert "Đã lưu đăng ký" in replies[0].text
    assert LAN["name"] not in replies[0].text and "912" not in replies[0].text
    s = (await signups_in(store))[0]
    v = await store.find_user("test", "vol")
    assert (s.source, s.volunteer_id, s.user_id) == (SignupSource.COLLECTED, v.id, None)
    audit = await store.list_audit(action="signup.collect")
    assert audit[0].target == f"signup:{s.id}" and audit[0].actor_id == v.id


async def test_collect_declined_keeps_nothing(volunteer, store) -> None:
    await volunteer.say("/collect")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await volunteer.say(text)
    await press_action(volunteer, "d")
    assert "không lưu gì" in volunteer.text()
    assert await signups_in(store) == []


async def test_volunteer_sees_nothing_after_submission(volunteer, store) -> None:
    await collect(volunteer)
    await volunteer.say("/mydata")
    assert LAN["name"] not in volunteer.text() and "912" not in volunteer.text()
    await volunteer.say("/signups")
    assert "cán bộ công đoàn" in volunteer.text() and LAN["name"] not in volunteer.text()
    s = (await signups_in(store))[0]
    for forged in (f"jo:v:{s.id}", f"jo:s:{s.id}:joined", "jo:l:*:*:0", f"jo:n:{s.id}"):
        await volunteer.press(forged)
        assert LAN["name"] not in volunteer.text(), forged
    await volunteer.say("/export")
    assert all(r.document is None for r in volunteer.last)


async def test_collecting_a_known_number_reveals_nothing(volunteer, make_chat, store) -> None:
    worker = make_chat("w")
    await fill_form(worker)
    first = (await signups_in(store))[0]
    replies = await collect(volunteer, name="Nguyễn Thị Lan")
    assert "Đã lưu đăng ký" in replies[0].text and f"#{first.id}" not in replies[0].text
    items = await signups_in(store)
    assert len(items) == 1 and items[0].id == first.id and items[0].user_id == first.user_id


async def test_mystats_counts_only(volunteer, make_chat, store) -> None:
    v = await store.find_user("test", "vol")
    code = await store.create_volunteer_code(v.id, "v_StatsCode001")
    await collect(volunteer)
    await collect(volunteer, phone="0987654321")
    w = make_chat("w")
    await w.say(f"/start {code}")
    await fill_form(w, phone="0977000111")
    await fill_form(make_chat("other"), phone="0966000222")  # not this volunteer's
    await volunteer.say("/mystats")
    text = volunteer.text()
    assert "Tổng cộng: 3" in text and "mã QR: 1" in text and "đăng ký hộ: 2" in text
    assert "Tháng này: 3" in text and code in text
    assert LAN["name"] not in text and "Mới" not in text


async def test_role_revoked_mid_collect(volunteer, store) -> None:
    await volunteer.say("/collect")
    await volunteer.say(LAN["name"])
    buttons = volunteer.payloads()
    v = await store.find_user("test", "vol")
    await store.set_role(v.id, Role.WORKER)
    await volunteer.say(LAN["phone"])
    assert "tình nguyện viên" in volunteer.text()
    assert await store.get_state(v.id) is None
    await volunteer.press(buttons[0])
    assert await signups_in(store) == []


async def test_volunteer_can_still_join_themselves(volunteer, store) -> None:
    v = await store.find_user("test", "vol")
    await store.create_volunteer_code(v.id, "v_SelfCode0001")
    await fill_form(volunteer, referral="v_SelfCode0001")
    s = (await signups_in(store))[0]
    assert (s.source, s.volunteer_id, s.user_id) == (SignupSource.SELF, None, v.id)


async def test_collecting_a_known_number_leaves_the_sign_up_untouched(volunteer, make_chat, store) -> None:
    """Review regression: a /collect for a known number moved the worker (status, notes
    and all) into the province the volunteer typed, in sight of its organizers."""
    worker = make_chat("w")
    await fill_form(worker)
    before = (await signups_in(store))[0]
    await store.set_signup_status(before.id, SignupStatus.CONTACTED)
    await store.add_signup_note(before.id, None, "Chỉ gọi sau 8h tối")
    before = await store.get_signup(before.id)
    hanoi = make_chat("org_hn")
    await hanoi.say("/start")
    o = await store.find_user("test", "org_hn")
    await store.set_role(o.id, Role.ORGANIZER)
    await store.add_organizer_provinces(o.id, ["ha_noi"], None)

    replies = await collect(volunteer, name="Trần Văn Giả", workplace="Công ty Khác", province="Hà Nội")
    assert "Đã lưu đăng ký" in replies[0].text and "Hà Nội" in replies[0].text
    items = await signups_in(store)
    assert items == [before], "name, workplace, province, status, consent: all as they were"
    assert [n.text for n in await store.signup_notes(before.id)] == ["Chỉ gọi sau 8h tối"]
    await hanoi.say("/signups")
    assert LAN["name"] not in hanoi.text() and "Giả" not in hanoi.text()
    await hanoi.say(f"/signups {before.id}")
    assert "8h tối" not in hanoi.text() and LAN["name"] not in hanoi.text()
    await worker.say("/mydata")
    assert LAN["workplace"] in worker.text() and "Công ty Khác" not in worker.text()
    v = await store.find_user("test", "vol")
    audit = await store.list_audit(action="signup.collect")
    assert [(e.actor_id, e.target, e.details) for e in audit] == [(v.id, f"signup:{before.id}", {"outcome": "known"})]


async def test_mystats_cannot_tell_a_known_number_from_a_new_one(volunteer, make_chat, store) -> None:
    """Review regression: /mystats counted resulting sign-ups, so it did not move when the
    number collected was already signed up."""
    await fill_form(make_chat("w"))
    await volunteer.say("/mystats")
    assert "đăng ký hộ: 0" in volunteer.text() and "Tổng cộng: 0" in volunteer.text()
    known = await collect(volunteer, name="Trần Văn Bình")
    await volunteer.say("/mystats")
    after_known = volunteer.text()
    new = await collect(volunteer, name="Trần Văn Bình", phone="0911111111")
    await volunteer.say("/mystats")
    after_new = volunteer.text()
    assert [r.text for r in known] == [r.text for r in new], "the same answer, word for word"
    assert "đăng ký hộ: 1" in after_known and "Tổng cộng: 1" in after_known and "Tháng này: 1" in after_known
    assert "đăng ký hộ: 2" in after_new and "Tổng cộng: 2" in after_new and "Tháng này: 2" in after_new
    audit = await store.list_audit(action="signup.collect")
    assert [e.details for e in audit] == [{"outcome": "created"}, {"outcome": "known"}]
    for e in audit:
        # Only the fields an entry writes; its timestamp's digits could contain "912" by chance.
        recorded = f"{e.action} {e.target} {e.details}"
        assert "912" not in recorded and "911" not in recorded and "Bình" not in recorded
    assert len(await signups_in(store)) == 2
