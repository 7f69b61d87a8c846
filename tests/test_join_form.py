"""The worker's sign-up form through the real dispatcher and a real SQLite store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import LANGUAGES, load_catalog
from handlers.join import form as join_form
from handlers.join.form import CONSENT_TEXT_SHA256, CONSENT_VERSION, consent_digest
from handlers.routes import build_router
from handlers.types import Reply
from storage.signups import SignupSource, SignupStatus
from storage.sqlite import SQLiteStore
from tests.conftest import ChatDriver

LAN = {
    "name": "Nguyễn Thị Lan",
    "phone": "0912 345 678",
    "workplace": "Công ty TNHH May Sông Hồng",
    "province": "Bình Dương",
    "commune": "KCN Mỹ Phước",
}
LAN_E164 = "+84912345678"


async def press_action(chat: ChatDriver, action: str, arg: str | None = None) -> list[Reply]:
    """Press the form button `jf:<form id>:<action>[:<arg>]` shown in the last replies."""
    for p in chat.payloads():
        parts = p.split(":")
        if parts[0] == "jf" and parts[2] == action and (arg is None or parts[3:] == [arg]):
            return await chat.press(p)
    raise AssertionError(f"no {action} button in {chat.payloads()}")


async def current_step(chat: ChatDriver) -> str | None:
    store = chat.dispatcher.services.store
    user = await store.find_user(chat.channel, chat.user_id)
    state = await store.get_state(user.id) if user else None
    return state.step if state else None


async def fill_form(
    chat: ChatDriver,
    *,
    command: str = "/join",
    referral: str | None = None,
    submit: bool = True,
    **answers: str | None,
) -> list[Reply]:
    """Go through the whole form; `commune=None` presses Skip."""
    a = {**LAN, **answers}
    await chat.say(command)
    for key in ("name", "phone", "workplace", "province"):
        await chat.say(a[key])  # type: ignore[arg-type]
        assert "Câu" in chat.text() or "Question" in chat.text(), (key, chat.text())
    if a["commune"] is None:
        await press_action(chat, "s")
    else:
        await chat.say(a["commune"])
    if await current_step(chat) == "referral":
        if referral:
            await chat.say(referral)
        else:
            await press_action(chat, "s")
    assert await current_step(chat) == "consent", chat.text()
    await press_action(chat, "a")
    assert await current_step(chat) == "review", chat.text()
    if submit:
        await press_action(chat, "g")
    return chat.last


async def signups_in(store) -> list:  # type: ignore[no-untyped-def]
    return await store.list_signups(provinces=None, limit=1000)


async def test_worker_signs_up_end_to_end(chat, store) -> None:
    replies = await fill_form(chat)
    assert "Cảm ơn" in replies[0].text and "+84 9•• ••• •78" in replies[0].text
    assert "0912" not in replies[0].text
    user = await store.find_user("test", "u1")
    s = await store.signup_of_user(user.id)
    assert s is not None
    assert (s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune) == (
        "Nguyễn Thị Lan",
        LAN_E164,
        "Công ty TNHH May Sông Hồng",
        "ho_chi_minh",
        "KCN Mỹ Phước",
    )
    assert (s.source, s.status, s.volunteer_id) == (SignupSource.SELF, SignupStatus.NEW, None)
    assert (s.consent_version, s.consent_lang, s.consent_channel) == (CONSENT_VERSION, "vi", "test")
    assert f"#{s.id}" in replies[0].text
    assert await store.get_state(user.id) is None, "the form is gone once submitted"


async def test_each_question_comes_one_at_a_time_with_progress(chat) -> None:
    await chat.say("/join")
    assert "Câu 1/7" in chat.text() and "Họ và tên" in chat.text()
    assert chat.payloads() == [p for p in chat.payloads() if p.startswith("jf:")]
    await chat.say(LAN["name"])
    assert "Câu 2/7" in chat.text() and "0912 345 678" in chat.text()


async def test_menu_button_starts_the_form(chat) -> None:
    await chat.say("/start")
    await chat.press("menu:join")
    assert "Câu 1/7" in chat.text()


async def test_form_in_english(chat, store) -> None:
    await chat.say("/lang en")
    replies = await fill_form(chat, province="Saigon")
    assert replies[0].text.startswith("🎉 Thank you!")
    assert "Ho Chi Minh City" in replies[0].text


@pytest.mark.parametrize("typed", ["0912345678", "+84 912 345 678", "84912345678", "0912.345.678", " 091 234 5678 "])
async def test_phone_spellings_are_stored_in_e164(chat, store, typed) -> None:
    await fill_form(chat, phone=typed)
    assert (await signups_in(store))[0].phone_e164 == LAN_E164


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("091234567", "10 chữ số"),  # nine digits
        ("09123abc78", "10 chữ số"),  # letters
        ("024 3825 1234", "máy bàn"),  # a Hà Nội landline
        ("1900 1234", "di động"),
        ("+1 202 555 0143", "+84"),
        ("", "chưa gõ"),
    ],
)
async def test_bad_phones_are_refused_with_an_example(chat, store, typed, expected) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    await chat.say(typed)
    assert expected in chat.text()
    assert "0912 345 678" in chat.text(), "the refusal shows what works"
    assert await current_step(chat) == "phone"
    await chat.say("0912345678")
    assert await current_step(chat) == "workplace"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("A", "ngắn"),
        ("x" * 300, "100 ký tự"),
        ("Lan 😀", "biểu tượng"),
        ("Nguyễn 3", "chữ số"),
        ("!!!", "chữ cái"),
    ],
)
async def test_bad_names_are_refused(chat, typed, expected) -> None:
    await chat.say("/join")
    await chat.say(typed)
    assert expected in chat.text()
    assert await current_step(chat) == "name"
    assert "x" * 300 not in chat.text()


async def test_a_question_typed_in_the_form_is_answered_and_the_form_asked_again(chat, store, make_chat) -> None:
    """Found by an outside tester: "vao cong doan co mat tien ko" was saved as the name,
    a question at the phone step got "Số điện thoại chưa đúng", and the hint "/cancel,
    then ask" erased the form."""
    await chat.say("/join")
    await chat.say("cty em khong dong bhxh thi phai lam sao")  # a sentence, not a name
    said = chat.text()
    assert "BHXH" in said or "bảo hiểm xã hội" in said.lower(), said
    assert "vẫn còn" in chat.last[-1].text and "Câu 1/7" in chat.last[-1].text
    assert await current_step(chat) == "name"
    await chat.say("vao cong doan co mat tien ko")
    assert "Câu 1/7" in chat.last[-1].text and await current_step(chat) == "name"
    await chat.say(LAN["name"])
    await chat.say("lam them chu nhat tinh sao")
    assert "chưa đúng" not in chat.text() and "Câu 2/7" in chat.last[-1].text
    await chat.say(LAN["phone"])
    await chat.say("Cty em co bat dong phi cong doan ko?")
    assert "Câu 3/7" in chat.last[-1].text and await current_step(chat) == "workplace"
    await chat.say(LAN["workplace"])
    state = await store.get_state((await store.find_user(chat.channel, chat.user_id)).id)
    assert (state.data["name"], state.data["phone"], state.data["workplace"]) == (
        LAN["name"],
        LAN_E164,
        LAN["workplace"],
    )
    # Names are still names: ordinary ones with the words a question ends with are not.
    for i, name in enumerate(("Nguyễn Thị Hồng", "Trần Văn Sao", "Lê Huy", "Phạm Thị Chưa")):
        other = make_chat(f"name{i}")
        await other.say("/join")
        await other.say(name)
        assert await current_step(other) == "phone", (name, other.text())


@pytest.mark.parametrize("name", ["Nguyễn Thị Thanh Thủy Tiên", "Maria de la Cruz Santos", "Huy", "Dũng"])
async def test_long_and_short_real_names_are_accepted(chat, name) -> None:
    await chat.say("/join")
    await chat.say(name)
    assert await current_step(chat) == "phone"


async def test_bad_workplace_and_commune(chat) -> None:
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"]):
        await chat.say(text)
    for bad in ("😀😀😀", "x", "y" * 151):
        await chat.say(bad)
        assert await current_step(chat) == "workplace", bad
    await chat.say(LAN["workplace"])
    await chat.say("Hà Nội")
    await chat.say("🏭")
    assert await current_step(chat) == "commune"
    await chat.say("bỏ qua")
    assert await current_step(chat) in {"referral", "consent"}


async def test_province_old_informal_and_unaccented_names(chat, store) -> None:
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"]):
        await chat.say(text)
    await chat.say("thai binh")
    assert "Thái Bình thuộc Hưng Yên" in chat.text()
    await press_action(chat, "b")
    assert await current_step(chat) == "province"
    await chat.say("Sài Gòn")
    assert await current_step(chat) == "commune"
    user = await store.find_user("test", "u1")
    assert (await store.get_state(user.id)).data["province"] == "ho_chi_minh"


async def test_unknown_province_gets_the_list_and_a_typo_gets_suggestions(chat, store) -> None:
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"]):
        await chat.say(text)
    await chat.say("Paris")
    assert "Paris" in chat.text() and "không tìm thấy" in chat.text()
    assert sum(p.startswith("jf:") and ":p:" in p for p in chat.payloads()) == 34
    assert await current_step(chat) == "province"
    await chat.say("Dong Naii")
    assert "Đồng Nai" in chat.labels()
    await chat.press_label("Đồng Nai")
    assert await current_step(chat) == "commune"
    user = await store.find_user("test", "u1")
    assert (await store.get_state(user.id)).data["province"] == "dong_nai"


async def test_province_chosen_by_button(chat, store) -> None:
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"]):
        await chat.say(text)
    await chat.press_label("Quảng Ninh")
    assert await current_step(chat) == "commune"


async def test_back_typed_or_pressed(chat) -> None:
    await chat.say("/join")
    await chat.say("quay lại")
    assert "câu hỏi đầu tiên" in chat.text() and await current_step(chat) == "name"
    await chat.say(LAN["name"])
    await chat.say(LAN["phone"])
    await chat.say("Quay lai")
    assert await current_step(chat) == "phone"
    await press_action(chat, "b")
    assert await current_step(chat) == "name"
    await chat.say("back")
    assert await current_step(chat) == "name"


async def test_cancel_drops_the_form_and_old_buttons_say_it_is_finished(chat, store) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    old = chat.payloads()
    await chat.say("/cancel")
    assert "Đã hủy" in chat.text()
    user = await store.find_user("test", "u1")
    assert await store.get_state(user.id) is None
    for p in old:
        await chat.press(p)
        assert "đã xong hoặc đã được hủy" in chat.text()
    assert await signups_in(store) == []


async def test_cancel_button_and_no_consent_mean_no_record(chat, store) -> None:
    await fill_form(chat, submit=False)
    await press_action(chat, "x")
    assert "không có gì được lưu" in chat.text()
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await chat.say(text)
    await press_action(chat, "s")  # no referral code
    await press_action(chat, "d")
    assert "không lưu gì" in chat.text()
    assert await signups_in(store) == []
    user = await store.find_user("test", "u1")
    assert await store.get_state(user.id) is None


async def test_typing_at_consent_and_review(chat) -> None:
    await chat.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await chat.say(text)
    await press_action(chat, "s")
    await chat.say("hmm")
    assert "bấm một nút" in chat.text() and await current_step(chat) == "consent"
    await chat.say("Đồng ý")
    assert await current_step(chat) == "review"
    await chat.say("ok")
    assert "bấm một nút" in chat.text() and await current_step(chat) == "review"


async def test_review_edits_one_field_and_returns(chat, store) -> None:
    await fill_form(chat, submit=False)
    assert "+84912345678" in chat.text() and "Hồ Chí Minh" in chat.text()
    await press_action(chat, "e", "phone")
    assert await current_step(chat) == "phone"
    await chat.say("0987 654 321")
    assert await current_step(chat) == "review"
    assert "+84987654321" in chat.text()
    await press_action(chat, "e", "province")
    await chat.press_label("Đà Nẵng")
    assert await current_step(chat) == "review" and "Đà Nẵng" in chat.text()
    await press_action(chat, "e", "commune")
    await chat.say("back")
    assert await current_step(chat) == "review"
    await press_action(chat, "g")
    s = (await signups_in(store))[0]
    assert (s.phone_e164, s.province_id) == ("+84987654321", "da_nang")


async def test_forged_form_buttons(chat, store) -> None:
    await fill_form(chat, submit=False)
    fid = chat.payloads()[0].split(":")[1]
    for bogus in (f"jf:{fid}:e:bogus", f"jf:{fid}:p:paris", f"jf:{fid}:zz", f"jf:{fid}:s", "jf", "jf::g", "jf:nope:g"):
        await chat.press(bogus)
        assert chat.text(), bogus
    assert await signups_in(store) == []
    assert await current_step(chat) == "review"


async def test_old_button_of_a_submitted_form_and_double_submit(chat, store) -> None:
    await fill_form(chat, submit=False)
    submit = next(p for p in chat.payloads() if p.endswith(":g"))
    first, second = await asyncio.gather(chat.press(submit), chat.press(submit))
    texts = [first[0].text, second[0].text]
    assert sum("Cảm ơn" in t for t in texts) == 1
    assert sum("đã xong" in t for t in texts) == 1
    # The late tap answers with a new message: editing the pressed one replaced the
    # confirmation and made the sign-up look failed (found by an outside tester).
    late = next(r[0] for r in (first, second) if "đã xong" in r[0].text)
    assert not late.edit
    assert len(await signups_in(store)) == 1
    await chat.press(submit)
    assert "đã xong hoặc đã được hủy" in chat.text() and not chat.last[0].edit
    assert len(await signups_in(store)) == 1


async def test_second_sign_up_with_the_same_phone_updates_and_says_so(chat, store) -> None:
    await fill_form(chat)
    first = (await signups_in(store))[0]
    await chat.say("/join")
    assert f"#{first.id}" in chat.text() and "cập nhật" in chat.text()
    await chat.say("/cancel")
    replies = await fill_form(chat, workplace="Công ty CP Giày Thái Bình", commune=None)
    assert "cập nhật đăng ký" in replies[0].text and f"#{first.id}" in replies[0].text
    items = await signups_in(store)
    assert len(items) == 1 and items[0].id == first.id
    assert (items[0].workplace, items[0].commune) == ("Công ty CP Giày Thái Bình", None)


async def test_same_account_new_number_updates_its_sign_up(chat, store) -> None:
    await fill_form(chat)
    await fill_form(chat, phone="0987654321")
    items = await signups_in(store)
    assert [s.phone_e164 for s in items] == ["+84987654321"]


async def test_same_phone_from_another_account_replaces_without_telling(make_chat, store) -> None:
    """Anyone who knows a number must not learn that it signed up, nor its status."""
    a, b = make_chat("a"), make_chat("b")
    await fill_form(a)
    old = (await signups_in(store))[0]
    await store.set_signup_status(old.id, SignupStatus.JOINED)
    await store.add_signup_note(old.id, None, "gọi sau 18h")
    replies = await fill_form(b, name="Kẻ Giả Mạo")
    assert "Cảm ơn" in replies[0].text and "cập nhật" not in replies[0].text
    items = await signups_in(store)
    assert len(items) == 1
    new = items[0]
    assert new.id != old.id and new.status is SignupStatus.NEW and new.full_name == "Kẻ Giả Mạo"
    assert await store.signup_notes(new.id) == []
    await b.say("/mydata")
    assert "gọi sau 18h" not in b.text() and "Đã gia nhập" not in b.text()
    user_a = await store.find_user("test", "a")
    assert await store.signup_of_user(user_a.id) is None
    log = await store.list_audit(action="signup.replace")
    assert log[0].details == {"replaced": old.id}


async def test_two_forms_at_once_continue_or_start_over(chat, store) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    await chat.say("/join")
    assert "điền dở" in chat.text() and "2/7" in chat.text()
    await chat.press_label("Điền tiếp")
    assert "Câu 2/7" in chat.text()
    await chat.say("/join")
    old_buttons = chat.payloads()
    await chat.press_label("Làm lại")
    assert "Câu 1/7" in chat.text()
    await chat.press(old_buttons[0])
    assert "đã xong" in chat.text(), "the replaced form's buttons are dead"


async def test_a_word_typed_at_continue_or_start_over_is_not_an_answer(chat, store) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    await chat.say(LAN["phone"])
    await chat.say(LAN["workplace"])
    await chat.say("/join")
    assert "điền dở" in chat.text() and "4/7" in chat.text()
    await chat.say("dung")  # "đúng": yes, carry on; not the province "dung"
    assert "Câu 4/7" in chat.text() and "không tìm thấy" not in chat.text()
    await chat.say("Hồ Chí Minh")  # now it is the answer
    assert "Câu 5/7" in chat.text()

    # Any of the form's buttons pressed instead of answering "continue or start over?"
    # ends it too: here a province button from an older message.
    await chat.say("/join")
    fid = next(p for p in chat.payloads() if p.startswith("jf:")).split(":")[1]
    await chat.press(f"jf:{fid}:p:ha_noi")
    await chat.say("Phường Bến Nghé")
    assert "Câu 6/7" in chat.text()


async def test_concurrent_double_join_leaves_one_form(chat, store) -> None:
    await asyncio.gather(chat.say("/join"), chat.say("/join"))
    await fill_form(chat)
    assert len(await signups_in(store)) == 1


async def test_sticker_mid_form(chat) -> None:
    await chat.say("/join")
    await chat.send_sticker()
    assert "chỉ đọc được chữ" in chat.text() and await current_step(chat) == "name"


async def test_form_survives_a_restart(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "restart.sqlite3"
    async with SQLiteStore(path) as s1:
        chat = ChatDriver(Dispatcher(Services(s1, load_catalog(), settings), build_router()))
        await chat.say("/join")
        for text in (LAN["name"], LAN["phone"], LAN["workplace"]):
            await chat.say(text)
        buttons = chat.payloads()
    async with SQLiteStore(path) as s2:
        chat = ChatDriver(Dispatcher(Services(s2, load_catalog(), settings), build_router()))
        await chat.press(buttons[0])  # a province button from before the restart
        assert await current_step(chat) == "commune"
        await chat.say(LAN["commune"])
        await press_action(chat, "s")
        await press_action(chat, "a")
        assert "Nguyễn Thị Lan" in chat.text() and "Công ty TNHH May Sông Hồng" in chat.text()
        await press_action(chat, "g")
        assert len(await s2.list_signups(provinces=None)) == 1


async def _age_state(store, user_id: int, age: timedelta) -> None:  # type: ignore[no-untyped-def]
    then = (datetime.now(UTC) - age).isoformat(timespec="microseconds")
    await store.db.execute("UPDATE conversation_state SET updated_at = ? WHERE user_id = ?", (then, user_id))


async def test_coming_back_a_day_later(chat, store) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    await chat.say(LAN["phone"])
    user = await store.find_user("test", "u1")
    await _age_state(store, user.id, timedelta(days=1))
    await chat.say("luong toi thieu vung 1")  # a question, not the company's name
    assert "quay lại" in chat.text() and "Câu 3/7" in chat.text()
    assert "workplace" not in (await store.get_state(user.id)).data
    await chat.say(LAN["workplace"])
    assert await current_step(chat) == "province"
    state = await store.get_state(user.id)
    assert (state.data["name"], state.data["phone"]) == (LAN["name"], LAN_E164), "nothing lost"


async def test_abandoned_form_expires(chat, store) -> None:
    await chat.say("/join")
    await chat.say(LAN["name"])
    buttons = chat.payloads()
    user = await store.find_user("test", "u1")
    await _age_state(store, user.id, timedelta(days=8))
    await chat.press(buttons[0])
    assert "7 ngày" in chat.text()
    assert await store.get_state(user.id) is None
    await chat.say("/join")
    assert "Câu 1/7" in chat.text()


async def test_referral_code_asked_once_when_the_link_payload_was_dropped(make_chat, store) -> None:
    vol = make_chat("vol")
    await vol.say("/start")
    v = await store.find_user("test", "vol")
    code = await store.create_volunteer_code(v.id, "v_TestCode0001")
    w = make_chat("w")
    await w.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await w.say(text)
    assert await current_step(w) == "referral" and "v_" in w.text()
    await w.say("v_nope")
    assert "không tìm thấy mã" in w.text() and await current_step(w) == "referral"
    await w.say(code)
    await press_action(w, "a")
    assert code in w.text()
    await press_action(w, "g")
    s = (await signups_in(store))[0]
    assert (s.source, s.volunteer_id, s.volunteer_code) == (SignupSource.REFERRAL, v.id, code)
    assert (await store.find_user("test", "w")).referral_code == code
    await w.say("/join")  # updating: not asked again
    await w.say("/cancel")
    await fill_form(w)
    assert (await signups_in(store))[0].source is SignupSource.REFERRAL


async def test_deep_link_attributes_the_volunteer_without_asking(make_chat, store) -> None:
    vol = make_chat("vol")
    await vol.say("/start")
    v = await store.find_user("test", "vol")
    code = await store.create_volunteer_code(v.id, "v_TestCode0002")
    w = make_chat("w")
    await w.say(f"/start {code}")
    replies = await fill_form(w)
    assert "Cảm ơn" in replies[0].text
    s = (await signups_in(store))[0]
    assert (s.source, s.volunteer_id) == (SignupSource.REFERRAL, v.id)


async def test_alerts_go_to_the_province_chats_without_personal_data(store, tmp_path) -> None:
    settings = Settings(join_alert_chats=(("ho_chi_minh", (-1001, -1002)), ("ha_noi", (-2001,))))
    chat = ChatDriver(Dispatcher(Services(store, load_catalog(), settings), build_router()))
    replies = await fill_form(chat)
    alerts = [r for r in replies if r.to_user is not None]
    assert [(r.to_channel, r.to_user) for r in alerts] == [("telegram", "-1001"), ("telegram", "-1002")]
    s = (await signups_in(store))[0]
    for r in alerts:
        assert f"#{s.id}" in r.text and "Hồ Chí Minh" in r.text and "/signups" in r.text
        assert "Lan" not in r.text and "912" not in r.text and "Sông Hồng" not in r.text
    replies = await fill_form(chat, province="Hà Nội")
    alerts = [r for r in replies if r.to_user is not None]
    assert [r.to_user for r in alerts] == ["-2001"] and "Hồ Chí Minh" in alerts[0].text


async def test_button_payloads_fit_telegram_and_hold_no_personal_data(chat) -> None:
    seen: list[str] = []
    original = chat.dispatcher.handle

    async def recording(inbound):  # type: ignore[no-untyped-def]
        replies = await original(inbound)
        seen.extend(b.payload for r in replies for row in r.buttons for b in row)
        return replies

    chat.dispatcher.handle = recording  # type: ignore[method-assign]
    await fill_form(chat, submit=False)
    await press_action(chat, "e", "name")
    assert seen
    for p in seen:
        assert len(p.encode()) <= 64
        assert "912" not in p and "Lan" not in p and "Sông" not in p


def test_consent_text_changes_need_a_new_version() -> None:
    catalog = load_catalog()
    assert consent_digest(catalog.messages) == CONSENT_TEXT_SHA256, (
        "the consent text changed: bump CONSENT_VERSION in handlers/join/form.py and update "
        "CONSENT_TEXT_SHA256 to the new digest"
    )


def test_consent_text_says_purpose_audience_retention_and_rights() -> None:
    catalog = load_catalog()
    vi = catalog.t("vi", "join.consent.text", months=24, hotline="")
    en = catalog.t("en", "join.consent.text", months=24, hotline="")
    for needle in ("Mục đích", "cán bộ công đoàn phụ trách", "24 tháng", "/mydata", "/forget"):
        assert needle in vi
    for needle in ("Purpose", "organizers responsible", "24 months", "/mydata", "/forget"):
        assert needle in en


def test_keys_built_at_run_time_exist_in_every_language() -> None:
    catalog = load_catalog()
    from handlers.join.names import NAME_ERRORS
    from handlers.join.phone import PHONE_ERRORS

    keys = [f"join.form.err.{e}" for e in (*NAME_ERRORS, *PHONE_ERRORS)]
    keys += [f"join.status.{s.value}" for s in SignupStatus]
    keys += [f"join.source.{s.value}_plain" for s in SignupSource]
    keys += [f"join.source.{s.value}" for s in SignupSource if s is not SignupSource.SELF]
    for step in join_form.Step:
        if step not in (join_form.Step.CONSENT, join_form.Step.REVIEW):
            keys.append(f"join.form.q.{step.value}")
            if step is not join_form.Step.REFERRAL:
                keys.append(f"join.form.q.{step.value}_collect")
    keys += [f"join.form.field.{s.value}" for s in join_form.EDITABLE]
    for base in ("join.form.intro", "join.form.resume", "join.form.declined", "join.form.review.consented"):
        keys += [base, f"{base}_collect"]
    for key in keys:
        assert catalog.has(key), key
        assert all(catalog.messages[key].get(lang) for lang in LANGUAGES), key


async def test_the_consent_version_recorded_is_the_one_agreed_to(chat, store, monkeypatch) -> None:
    """Review regression: the version current at submission was recorded instead."""
    await fill_form(chat, submit=False)
    monkeypatch.setattr(join_form, "CONSENT_VERSION", "2099-01.1")
    await press_action(chat, "g")
    assert (await signups_in(store))[0].consent_version == CONSENT_VERSION


async def test_a_form_agreed_to_without_a_recorded_version_asks_again(chat, store) -> None:
    await fill_form(chat, submit=False)
    user = await store.find_user("test", "u1")
    state = await store.get_state(user.id)
    data = {k: v for k, v in state.data.items() if k != "consent_version"}  # an older form
    await store.set_state(user.id, state.flow, state.step, data)
    await press_action(chat, "g")
    assert await current_step(chat) == "consent" and await signups_in(store) == []
    await press_action(chat, "a")
    await press_action(chat, "g")
    assert (await signups_in(store))[0].consent_version == CONSENT_VERSION


@pytest.mark.parametrize("typed", ["ko co", "k có", "chưa có", "không có mã"])
async def test_no_referral_code_typed_in_everyday_words_skips_the_step(make_chat, typed) -> None:
    w = make_chat("wref")
    await w.say("/join")
    for text in (LAN["name"], LAN["phone"], LAN["workplace"], LAN["province"], LAN["commune"]):
        await w.say(text)
    assert await current_step(w) == "referral"
    await w.say(typed)
    assert await current_step(w) == "consent", w.text()


def test_the_sign_up_quit_words_are_those_it_had_before_they_were_shared() -> None:
    # Moved to handlers/forms.py for the workplace report to use: the sign-up form must
    # refuse the same answers as before, and still take "Huy" and "Dũng" as names.
    words = {
        *("huy", "huy bo", "huy dang ky", "thoi", "thoi khong dang ky nua", "khong dang ky nua", "ko dang ky nua"),
        *("thoi khong dang ky", "khong dang ky", "ko dang ky", "dung", "dung lai", "stop", "cancel", "quit", "exit"),
    }
    assert join_form.QUIT.anywhere == words
    assert join_form.QUIT.at_name == {w for w in words if " " in w} | {"stop", "cancel", "quit", "exit"}
    assert join_form.QUIT.typed("Hủy!") and not join_form.QUIT.typed("Huy", name=True)
    assert not join_form.QUIT.typed("Dũng", name=True) and join_form.QUIT.typed("Thôi không đăng ký nữa", name=True)


@pytest.mark.parametrize("typed", ["thôi không đăng ký nữa", "stop", "huy"])
async def test_wanting_to_stop_typed_at_a_question_shows_the_way_out_and_saves_nothing(make_chat, typed) -> None:
    # Found by an outside tester: these were saved as the company's name. Typed words
    # never cancel the form (only /cancel or the button), so the way out is shown.
    w = make_chat("wquit")
    await w.say("/join")
    if typed != "huy":  # "Huy" is a name; the others are not, even at the name step
        await w.say(typed)
        assert "Muốn dừng đăng ký?" in w.text() and await current_step(w) == "name"
    await w.say(LAN["name"])
    await w.say(LAN["phone"])
    assert await current_step(w) == "workplace"
    await w.say(typed)
    assert "Muốn dừng đăng ký?" in w.text() and await current_step(w) == "workplace"
    assert "Câu 3/7" in w.text() and any("Hủy" in label for label in w.labels())
    await w.say(LAN["workplace"])
    assert await current_step(w) == "province"
